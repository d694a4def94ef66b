// A linear text classifier (logistic regression over hashed features), its training and its file
// form. Wording rules find the phrasings someone thought of; a model learned from the corpora weighs
// every word, word pair and character run of a text at once, and carries over to wording no rule
// names. Scoring is one pass over the text: the features are hashed into a fixed table, no
// vocabulary is kept, and the cost grows with the text's length only.

/** The number of hashed feature slots (a power of two). */
export const MODEL_DIMENSIONS = 1 << 16;
/** Characters per character run ("char n-gram"): they carry across inflections and languages. */
const CHAR_RUN = 4;
const FNV_PRIME = 16777619;
const MASK = MODEL_DIMENSIONS - 1;
/**
 * Features are weighted 1/√n so that a long text does not run away, but never more than 1/√MIN_SLOTS:
 * a text of a sentence or two gives little evidence, and its few words must not each weigh a lot.
 */
const MIN_SLOTS = 200;
const UNKNOWN_CLASS = 255;
const UNSPACED_LETTER = /[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Hangul}]/u;
const WORD_UNIT = /[\p{L}\p{N}_'’-]/u;

/** FNV-1a over a string's UTF-16 units, from a seed (a feature kind's own): a slot in the table. */
function slot(text: string, from: number, to: number, seed: number): number {
  let h = seed;
  for (let i = from; i < to; i++) h = Math.imul(h ^ text.charCodeAt(i), FNV_PRIME);
  return (h >>> 0) & MASK;
}
const seedOf = (kind: string): number => slot(kind, 0, kind.length, 2166136261) | 0x811c0000;
const SEEDS = {
  word: seedOf("word"),
  pair: seedOf("pair"),
  run: seedOf("run"),
  unspaced: seedOf("unspaced"),
  token: seedOf("token"),
};

/** Per UTF-16 unit: 0 other, 1 part of a word, 2 a letter of a script written without spaces (filled on first sight). */
const UNIT_CLASS = new Uint8Array(0x10000).fill(UNKNOWN_CLASS);
function unitClass(c: number): number {
  const known = UNIT_CLASS[c] as number;
  if (known !== UNKNOWN_CLASS) return known;
  const ch = String.fromCharCode(c);
  const kind = UNSPACED_LETTER.test(ch) ? 2 : WORD_UNIT.test(ch) || (c >= 0xd800 && c <= 0xdfff) ? 1 : 0;
  UNIT_CLASS[c] = kind;
  return kind;
}
const isSpace = (c: number): boolean => c <= 32 || c === 0xa0 || c === 0x3000 || (c >= 0x2000 && c <= 0x200a);

/** Marks the slots already taken by the text being read (cleared after each text). */
const taken = new Uint8Array(MODEL_DIMENSIONS);

/**
 * The feature slots of a text, each once: its words and word pairs, its character runs (spaces
 * folded to one), the character pairs of scripts written without spaces, and `tokens` (named
 * signals a caller adds, such as the rules that fired). Lower case throughout.
 */
export function featureSlots(text: string, tokens: Iterable<string> = []): number[] {
  const lower = text.toLowerCase();
  const slots: number[] = [];
  const add = (s: number) => {
    if (taken[s] === 0) {
      taken[s] = 1;
      slots.push(s);
    }
  };
  let wordStart = -1;
  let previousStart = -1;
  let previousEnd = -1;
  // The last CHAR_RUN units with spaces folded, as a ring.
  const ring = [0, 0, 0, 0];
  let filled = 0;
  let lastSpace = true;
  for (let i = 0; i <= lower.length; i++) {
    const c = i < lower.length ? lower.charCodeAt(i) : 32;
    const kind = i < lower.length ? unitClass(c) : 0;
    if (kind !== 0) {
      if (wordStart < 0) wordStart = i;
      if (kind === 2 && i > 0 && unitClass(lower.charCodeAt(i - 1)) === 2)
        add(slot(lower, i - 1, i + 1, SEEDS.unspaced));
    } else if (wordStart >= 0) {
      add(slot(lower, wordStart, i, SEEDS.word));
      if (previousStart >= 0) {
        let h = Math.imul(slot(lower, previousStart, previousEnd, SEEDS.pair) ^ 32, FNV_PRIME);
        for (let j = wordStart; j < i; j++) h = Math.imul(h ^ lower.charCodeAt(j), FNV_PRIME);
        add((h >>> 0) & MASK);
      }
      previousStart = wordStart;
      previousEnd = i;
      wordStart = -1;
    }
    if (i === lower.length) break;
    const space = isSpace(c);
    if (space && lastSpace) continue;
    lastSpace = space;
    ring[filled % CHAR_RUN] = space ? 32 : c;
    filled++;
    if (filled >= CHAR_RUN) {
      let h = SEEDS.run;
      for (let k = filled - CHAR_RUN; k < filled; k++)
        h = Math.imul(h ^ (ring[k % CHAR_RUN] as number), FNV_PRIME);
      add((h >>> 0) & MASK);
    }
  }
  for (const token of tokens) add(slot(token, 0, token.length, SEEDS.token));
  for (const s of slots) taken[s] = 0;
  return slots;
}

/** How many words a text has, as featureSlots reads them. */
export function wordCount(text: string): number {
  let words = 0;
  let inWord = false;
  for (let i = 0; i < text.length; i++) {
    const word = unitClass(text.charCodeAt(i)) !== 0;
    if (word && !inWord) words++;
    inWord = word;
  }
  return words;
}

/** The slot a named token takes (to explain a score by the tokens that raised it). */
export function tokenSlot(token: string): number {
  return slot(token, 0, token.length, SEEDS.token);
}

/** A trained model: one weight per slot and a bias, with the operating point it was chosen at. */
export interface LinearModel {
  readonly weights: Float32Array;
  readonly bias: number;
  /** The raw probability at which the model calls a text positive; scores are shifted so it reads 0.5. */
  readonly operatingPoint: number;
}

/** The raw log-odds of a text's slots. */
function logOdds(model: Pick<LinearModel, "weights" | "bias">, slots: readonly number[]): number {
  const scale = 1 / Math.sqrt(Math.max(slots.length, MIN_SLOTS));
  let z = model.bias;
  for (const s of slots) z += (model.weights[s] ?? 0) * scale;
  return z;
}

const sigmoid = (z: number): number => 1 / (1 + Math.exp(-z));
const logit = (p: number): number => Math.log(p / (1 - p));

/** The model's score of a text's slots, shifted so that the operating point reads 0.5. */
export function modelScore(model: LinearModel, slots: readonly number[]): number {
  return sigmoid(logOdds(model, slots) - logit(model.operatingPoint));
}

/** Of the named tokens given, those whose weight raised the score most, strongest first. */
export function strongestTokens(model: LinearModel, tokens: Iterable<string>, count: number): string[] {
  return [...new Set(tokens)]
    .map((token) => [token, model.weights[tokenSlot(token)] ?? 0] as const)
    .filter(([, weight]) => weight > 0)
    .sort((a, b) => b[1] - a[1])
    .slice(0, count)
    .map(([token]) => token);
}

export interface TrainingExample {
  readonly slots: readonly number[];
  /** 1 for an attack, 0 for benign. */
  readonly label: 0 | 1;
}

export interface TrainingOptions {
  readonly epochs: number;
  readonly learningRate: number;
  readonly l2: number;
  /** Seeds the order the examples are visited in, so training gives the same weights every time. */
  readonly seed: number;
}

export const TRAINING_DEFAULTS: TrainingOptions = { epochs: 60, learningRate: 0.1, l2: 1e-5, seed: 1 };

/**
 * Logistic regression by stochastic gradient descent, classes weighted to count equally (benign
 * texts outnumber attacks). Deterministic for given examples and options.
 */
export function trainLinearModel(
  examples: readonly TrainingExample[],
  options: TrainingOptions = TRAINING_DEFAULTS,
): Pick<LinearModel, "weights" | "bias"> {
  const weights = new Float64Array(MODEL_DIMENSIONS);
  let bias = 0;
  const positives = examples.filter((e) => e.label === 1).length;
  const negatives = examples.length - positives;
  if (positives === 0 || negatives === 0) throw new Error("training needs examples of both classes");
  const classWeight = [examples.length / (2 * negatives), examples.length / (2 * positives)];
  const order = examples.map((_, i) => i);
  let state = options.seed;
  const random = () => (state = (Math.imul(state, 1103515245) + 12345) & 0x7fffffff) / 0x7fffffff;
  for (let epoch = 0; epoch < options.epochs; epoch++) {
    for (let i = order.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [order[i], order[j]] = [order[j] as number, order[i] as number];
    }
    for (const index of order) {
      const { slots, label } = examples[index] as TrainingExample;
      const scale = 1 / Math.sqrt(Math.max(slots.length, MIN_SLOTS));
      let z = bias;
      for (const s of slots) z += (weights[s] as number) * scale;
      const gradient = (sigmoid(z) - label) * (classWeight[label] as number);
      for (const s of slots)
        weights[s] =
          (weights[s] as number) -
          options.learningRate * (gradient * scale + options.l2 * (weights[s] as number));
      bias -= options.learningRate * gradient;
    }
  }
  return { weights: Float32Array.from(weights), bias };
}

/** A model as a file holds it: the weights as little-endian float32, base64. */
export interface StoredModel {
  readonly format: "portcullis-linear-v1";
  readonly dimensions: number;
  readonly bias: number;
  readonly operatingPoint: number;
  readonly weights: string;
}

export function storeModel(model: LinearModel): StoredModel {
  const bytes = Buffer.alloc(model.weights.length * 4);
  model.weights.forEach((w, i) => bytes.writeFloatLE(w, i * 4));
  return {
    format: "portcullis-linear-v1",
    dimensions: model.weights.length,
    bias: model.bias,
    operatingPoint: model.operatingPoint,
    weights: bytes.toString("base64"),
  };
}

export function loadModel(stored: StoredModel): LinearModel {
  const bytes = Buffer.from(stored.weights, "base64");
  if (stored.format !== "portcullis-linear-v1" || stored.dimensions !== MODEL_DIMENSIONS)
    throw new Error(`unsupported model file (${stored.format}, ${stored.dimensions} dimensions)`);
  if (bytes.length !== stored.dimensions * 4) throw new Error("model weights are truncated");
  const weights = new Float32Array(stored.dimensions);
  for (let i = 0; i < weights.length; i++) weights[i] = bytes.readFloatLE(i * 4);
  return { weights, bias: stored.bias, operatingPoint: stored.operatingPoint };
}
