// Many expressions over one text, in about one pass. The directive analysis looks for some forty
// features, most of them long alternations of phrases ("the user's passwords", "without telling
// the user", …). Run one by one over a text, each expression tries its alternatives at every word
// of it, so the cost was the text's length times the number of alternatives.
//
// Nearly every alternative starts with a word it names ("without", "the", "assistant"). So each
// alternative's possible first words are read from its syntax tree (`@eslint-community/regexpp`),
// once, and put in an index; the text's word starts are read in one pass, and at each word only the
// alternatives that may start with that word are tried, anchored there (a sticky expression). The
// alternatives whose first word cannot be told (one that starts with punctuation, with `\w+`, with a
// line start) run over the whole text as before. The index only prunes: the anchored expression
// still decides, so a feature's matches are the expression's own. `reference()` runs the plain
// expressions, and the tests compare the two on the attack and benign corpora.
import { RegExpParser, type AST } from "@eslint-community/regexpp";

/** A feature: one or more expressions; each keeps its own matches apart (as separate scans would). */
export interface FeatureSpec {
  readonly sources: readonly string[];
  /** `i` or none; matching is always global. */
  readonly flags: string;
}

/**
 * An alternative starting right after a word (a clause start after a stop, a tag, a lookbehind of
 * its own) is tried as it is; one that starts a word sits behind one lookbehind with the others, so
 * that inside long tokens (base64, hashes, identifiers) they are all skipped at once.
 */
const AFTER_A_WORD = /^(?:\(\?:\^|\(\?:\(\?:\^|\[|<|\\\/|\(\?<[=!])/;
const NOT_AFTER_A_WORD = "(?<![A-Za-z0-9_])";

/** How much of a first word the index keys on, and how long a whole word it records. */
const PREFIX = 5;
const LONGEST_WORD = 24;
/** A bound on the work of reading one alternative's first words; past it, the alternative runs whole. */
const MAX_STEPS = 20_000;
/** Character classes larger than this are not spelled out letter by letter. */
const MAX_CLASS_LETTERS = 8;

const WORD_CHAR = /[\p{L}\p{N}_]/u;
/** Word starts: a word character not after an ASCII word character (what the lookbehind allows). */
const WORD_START = /(?<![A-Za-z0-9_])[\p{L}\p{N}_]{1,32}/gu;
const WORD_AT = /[\p{L}\p{N}_]{1,32}/uy;
const TOKEN_CAP = 32;
/** The word after a word and white space. */
const NEXT_WORD = /\s+([\p{L}\p{N}_]{1,32})/uy;
/** Words so common that an alternative starting with one is indexed by the next word too. */
const COMMON_WORDS = new Set(
  (
    "the a an to of in on at by for from with as is are was be and or not no do does you your it its " +
    "this that these those all any every each if when who which their his her our my we they i will " +
    "must should can has have"
  ).split(" "),
);
/** Words remembered with what to try at them; the memory starts over past this many. */
const MAX_PLANS = 20_000;
// eslint-disable-next-line no-control-regex -- any character outside ASCII
const NON_ASCII = /[^\u0000-\u007f]/;

/** One expression of one feature: where its matches go, and its alternatives split by kind. */
interface Part {
  readonly feature: string;
  readonly flags: string;
  /** The alternatives tried at word starts, in source order. */
  readonly indexed: readonly string[];
  /** The alternatives run over the whole text, as one expression (null when there are none). */
  readonly whole: RegExp | null;
  /** The plain expression (every alternative over the whole text), for `reference()`. */
  readonly source: string;
}

/** An anchored expression and the part its matches belong to. */
interface Anchored {
  readonly part: number;
  readonly pattern: RegExp;
}

/** What an alternative may start with: whole first words, and prefixes of first words. */
interface Starts {
  readonly words: Set<string>;
  readonly prefixes: Set<string>;
  /** "the user": one of the commonest words, spaces, and a whole word. */
  readonly pairs: Set<string>;
  /** "the passw": one of the commonest words, spaces, and a prefix. */
  readonly pairPrefixes: Set<string>;
}

export class FeatureScanner<F extends string> {
  readonly #parts: Part[] = [];
  readonly #names: readonly F[];
  /** First word (lower case), or a common word and the next ("the user") → the (part, alternative) pairs that may start with it. */
  readonly #byWord = new Map<string, number[]>();
  /** Prefix of a first word (1 to PREFIX characters), or a common word and a prefix of the next → the pairs. */
  readonly #byPrefix = new Map<string, number[]>();
  /** Anchored expressions per part and set of alternatives, built as they are first needed. */
  readonly #anchored = new Map<string, RegExp>();
  /** Lower-case word → what to try there. */
  readonly #plans = new Map<string, readonly Anchored[]>();
  #plain: RegExp[] | undefined;
  /** The pairs, packed: part index × 4096 + alternative index. */
  static readonly #PACK = 4096;

  constructor(features: Readonly<Record<F, FeatureSpec>>) {
    this.#names = Object.keys(features) as F[];
    const parser = new RegExpParser({ ecmaVersion: 2025 });
    for (const name of this.#names) {
      const spec = features[name];
      for (const source of spec.sources) {
        const alternatives = parser.parsePattern(source, 0, source.length, { unicode: false }).alternatives;
        const indexed: string[] = [];
        const wordLed: string[] = [];
        const others: string[] = [];
        const partIndex = this.#parts.length;
        for (const alternative of alternatives) {
          if (AFTER_A_WORD.test(alternative.raw)) {
            others.push(alternative.raw);
            continue;
          }
          const starts = firstWords(alternative);
          if (!starts || indexed.length >= FeatureScanner.#PACK) {
            wordLed.push(alternative.raw);
            continue;
          }
          const packed = partIndex * FeatureScanner.#PACK + indexed.length;
          indexed.push(alternative.raw);
          for (const word of starts.words) addTo(this.#byWord, word, packed);
          for (const prefix of starts.prefixes) addTo(this.#byPrefix, prefix, packed);
          for (const pair of starts.pairs) addTo(this.#byWord, pair, packed);
          for (const prefix of starts.pairPrefixes) addTo(this.#byPrefix, prefix, packed);
        }
        const wholeParts = [
          ...(wordLed.length > 0 ? [`${NOT_AFTER_A_WORD}(?:${wordLed.join("|")})`] : []),
          ...others,
        ];
        this.#parts.push({
          feature: name,
          flags: spec.flags,
          indexed,
          whole: wholeParts.length > 0 ? new RegExp(wholeParts.join("|"), `${spec.flags}g`) : null,
          source,
        });
      }
    }
  }

  /** Per feature, the start offsets of its matches (each expression's matches do not overlap). */
  scan(text: string): Record<F, number[]> {
    const spans: [number, number][][] = this.#parts.map(() => []);
    this.#parts.forEach((part, i) => {
      if (part.whole) collect(part.whole, text, spans[i] as [number, number][]);
    });
    const visit = (at: number, token: string) => {
      for (const { part, pattern } of this.#plan(text, at, token)) {
        pattern.lastIndex = at;
        const m = pattern.exec(text);
        if (m) (spans[part] as [number, number][]).push([at, at + m[0].length]);
      }
    };
    WORD_START.lastIndex = 0;
    for (let m = WORD_START.exec(text); m !== null; m = WORD_START.exec(text)) {
      const token = m[0];
      visit(m.index, token);
      if (!NON_ASCII.test(token)) continue;
      // After a letter outside ASCII, the lookbehind allows a match inside the token too.
      for (let i = 0; i < token.length - 1; i++) {
        if (!NON_ASCII.test(token[i] as string)) continue;
        WORD_AT.lastIndex = m.index + i + 1;
        const inner = WORD_AT.exec(text);
        if (inner) visit(m.index + i + 1, inner[0]);
      }
    }
    const found = Object.fromEntries(this.#names.map((name) => [name, [] as number[]])) as Record<
      F,
      number[]
    >;
    this.#parts.forEach((part, i) => {
      const list = (spans[i] as [number, number][]).sort((a, b) => a[0] - b[0] || b[1] - a[1]);
      const out = found[part.feature as F];
      let covered = -1;
      for (const [start, end] of list) {
        if (start < covered) continue;
        out.push(start);
        covered = end > start ? end : start + 1;
      }
    });
    return found;
  }

  /** The same, by running each plain expression over the whole text (what `scan` must equal). */
  reference(text: string): Record<F, number[]> {
    this.#plain ??= this.#parts.map((part) => new RegExp(plainSource(part.source), `${part.flags}g`));
    const found = Object.fromEntries(this.#names.map((name) => [name, [] as number[]])) as Record<
      F,
      number[]
    >;
    this.#plain.forEach((pattern, i) => {
      const spans: [number, number][] = [];
      collect(pattern, text, spans);
      found[(this.#parts[i] as Part).feature as F].push(...spans.map(([start]) => start));
    });
    return found;
  }

  /** How many alternatives are indexed by their first words, and how many run whole. */
  get coverage(): { indexed: number; whole: number } {
    let indexed = 0;
    let whole = 0;
    for (const part of this.#parts) {
      indexed += part.indexed.length;
      if (part.whole) whole += topLevelCount(part.whole.source);
    }
    return { indexed, whole };
  }

  /** The anchored expressions to try at a word, by part (remembered per word, up to a bound). */
  #plan(text: string, at: number, token: string): readonly Anchored[] {
    const lower = token.toLowerCase();
    const whole = token.length < TOKEN_CAP;
    const key = whole ? lower : `${lower}\u0000`;
    let single = this.#plans.get(key);
    if (!single) {
      single = this.#build(this.#hits(lower, whole, ""));
      this.#remember(key, single);
    }
    if (!whole || !COMMON_WORDS.has(lower)) return single;
    NEXT_WORD.lastIndex = at + token.length;
    const next = (NEXT_WORD.exec(text)?.[1] ?? "").toLowerCase();
    // Most words after "the" start no alternative: only a pair that does gets a plan of its own.
    if (next === "" || !this.#pairHit(lower, next)) return single;
    const pairKey = `${lower} ${next}`;
    let plan = this.#plans.get(pairKey);
    if (!plan) {
      plan = this.#build(this.#hits(lower, true, next));
      this.#remember(pairKey, plan);
    }
    return plan;
  }

  #pairHit(lower: string, next: string): boolean {
    if (next.length < TOKEN_CAP && this.#byWord.has(`${lower} ${next}`)) return true;
    for (let length = 1; length <= PREFIX && length <= next.length; length++)
      if (this.#byPrefix.has(`${lower} ${next.slice(0, length)}`)) return true;
    return false;
  }

  /** The alternatives, by part, that may start at a word (and, after a common word, the next). */
  #hits(lower: string, whole: boolean, next: string): Map<number, Set<number>> {
    const byPart = new Map<number, Set<number>>();
    const gather = (pairs: readonly number[] | undefined) => {
      for (const packed of pairs ?? []) {
        const part = Math.floor(packed / FeatureScanner.#PACK);
        let set = byPart.get(part);
        if (!set) byPart.set(part, (set = new Set()));
        set.add(packed % FeatureScanner.#PACK);
      }
    };
    if (whole) gather(this.#byWord.get(lower));
    for (let length = 1; length <= PREFIX && length <= lower.length; length++)
      gather(this.#byPrefix.get(lower.slice(0, length)));
    if (next !== "") {
      if (next.length < TOKEN_CAP) gather(this.#byWord.get(`${lower} ${next}`));
      for (let length = 1; length <= PREFIX && length <= next.length; length++)
        gather(this.#byPrefix.get(`${lower} ${next.slice(0, length)}`));
    }
    return byPart;
  }

  #build(byPart: Map<number, Set<number>>): readonly Anchored[] {
    return [...byPart].map(([part, ids]) => ({ part, pattern: this.#anchoredFor(part, [...ids]) }));
  }

  #remember(key: string, plan: readonly Anchored[]): void {
    if (this.#plans.size >= MAX_PLANS) this.#plans.clear();
    this.#plans.set(key, plan);
  }

  #anchoredFor(partIndex: number, alternatives: number[]): RegExp {
    const ids = alternatives.sort((a, b) => a - b);
    const key = `${partIndex}:${ids.join(",")}`;
    let pattern = this.#anchored.get(key);
    if (!pattern) {
      const part = this.#parts[partIndex] as Part;
      // The word start is given, so the lookbehind the plain expression has is not needed here.
      pattern = new RegExp(ids.map((id) => part.indexed[id]).join("|"), `${part.flags}y`);
      this.#anchored.set(key, pattern);
    }
    return pattern;
  }
}

/** The plain expression of a part: word-led alternatives behind one lookbehind, the others as they are. */
function plainSource(source: string): string {
  const alternatives = new RegExpParser({ ecmaVersion: 2025 })
    .parsePattern(source, 0, source.length, { unicode: false })
    .alternatives.map((a) => a.raw);
  const words = alternatives.filter((a) => !AFTER_A_WORD.test(a));
  const others = alternatives.filter((a) => AFTER_A_WORD.test(a));
  return [...(words.length > 0 ? [`${NOT_AFTER_A_WORD}(?:${words.join("|")})`] : []), ...others].join("|");
}

function topLevelCount(source: string): number {
  return new RegExpParser({ ecmaVersion: 2025 }).parsePattern(source, 0, source.length, { unicode: false })
    .alternatives.length;
}

function collect(pattern: RegExp, text: string, into: [number, number][]): void {
  pattern.lastIndex = 0;
  for (let m = pattern.exec(text); m !== null; m = pattern.exec(text)) {
    into.push([m.index, m.index + m[0].length]);
    if (m[0].length === 0) pattern.lastIndex++;
  }
}

function addTo(map: Map<string, number[]>, key: string, value: number): void {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}

/** The rest of an alternative to read: elements from an index on, then what follows the group. */
interface Rest {
  readonly elements: readonly AST.Element[];
  readonly index: number;
  readonly next: Rest | null;
}
/** Where a repeated element's first pass ends: what follows may be another pass, so stop there. */
const STOP: Rest = { elements: [], index: 0, next: null };

interface Walk {
  readonly words: Set<string>;
  readonly prefixes: Set<string>;
  readonly pairs: Set<string>;
  readonly pairPrefixes: Set<string>;
  steps: number;
  failed: boolean;
}

/**
 * The first words an alternative may match, or null when that cannot be told: it may start with a
 * character outside a word, with a class too wide to spell out, or match nothing at all. A word
 * ended by a character outside words (a space, a hyphen, an apostrophe) is whole; one cut short (by
 * `\b`, which is ASCII-only, by a repetition or a wide class, or at the length bound) is a prefix.
 * After one of the commonest words ("the", "your", "all") and spaces, the next word is read too, and
 * the two are the key ("the user", "your instr…"): "the" alone would send half the alternatives to
 * every tenth word of English.
 */
export function firstWords(alternative: AST.Alternative): Starts | null {
  const walk: Walk = {
    words: new Set(),
    prefixes: new Set(),
    pairs: new Set(),
    pairPrefixes: new Set(),
    steps: 0,
    failed: false,
  };
  read({ elements: alternative.elements, index: 0, next: null }, "", null, walk);
  if (walk.failed) return null;
  return { words: walk.words, prefixes: walk.prefixes, pairs: walk.pairs, pairPrefixes: walk.pairPrefixes };
}

/**
 * Reads on from `rest` with `word` read so far. `first` is null while reading the first word, and
 * the first word (one of the commonest) while reading the second.
 */
function read(rest: Rest | null, word: string, first: string | null, walk: Walk): void {
  if (walk.failed) return;
  if (++walk.steps > MAX_STEPS) {
    walk.failed = true;
    return;
  }
  if (rest === STOP || rest === null) {
    endAsPrefix(word, first, walk);
    return;
  }
  if (rest.index >= rest.elements.length) {
    read(rest.next, word, first, walk);
    return;
  }
  const element = rest.elements[rest.index] as AST.Element;
  const after: Rest = { elements: rest.elements, index: rest.index + 1, next: rest.next };
  switch (element.type) {
    case "Assertion":
      // \b is ASCII-only: a word may go on past it (into "é"), so the word is a prefix there.
      if (element.kind === "word" && !element.negate && word !== "") endAsPrefix(word, first, walk);
      else read(after, word, first, walk);
      return;
    case "Group":
    case "CapturingGroup":
      for (const alternative of element.alternatives)
        read({ elements: alternative.elements, index: 0, next: after }, word, first, walk);
      return;
    case "Quantifier":
      if (isSpace(element.element)) {
        // Spaces, however many: the text's word reader skips them the same way.
        if (element.min === 0) read(after, word, first, walk);
        if (element.max > 0) space(after, word, first, walk);
        return;
      }
      if (element.min === 0) read(after, word, first, walk);
      if (element.max > 0)
        read(
          { elements: [element.element], index: 0, next: element.max > 1 ? STOP : after },
          word,
          first,
          walk,
        );
      return;
    case "Character":
    case "CharacterClass":
    case "CharacterSet":
    case "ExpressionCharacterClass": {
      if (isSpace(element)) {
        space(after, word, first, walk);
        return;
      }
      const consumed = classify(element);
      if (consumed.wide) {
        endAsPrefix(word, first, walk);
        return;
      }
      if (consumed.nonWord) endAsWhole(word, first, walk);
      for (const letter of consumed.letters) {
        const longer = word + letter;
        if (longer.length >= LONGEST_WORD) endAsPrefix(longer, first, walk);
        else read(after, longer, first, walk);
      }
      return;
    }
    default:
      walk.failed = true;
  }
}

/** Spaces after what was read: a first word that is one of the commonest goes on to the next word. */
function space(after: Rest, word: string, first: string | null, walk: Walk): void {
  if (first !== null && word === "") read(after, "", first, walk);
  else if (first === null && COMMON_WORDS.has(word)) read(after, "", word, walk);
  else endAsWhole(word, first, walk);
}

/** The word ends before a character outside words. */
function endAsWhole(word: string, first: string | null, walk: Walk): void {
  if (first === null) {
    if (word === "") walk.failed = true;
    else walk.words.add(word);
  } else if (word === "") walk.words.add(first);
  else walk.pairs.add(`${first} ${word}`);
}

/** The word may go on: what was read is a prefix. */
function endAsPrefix(word: string, first: string | null, walk: Walk): void {
  if (first === null) {
    if (word === "") walk.failed = true;
    else walk.prefixes.add(word.slice(0, PREFIX));
  } else if (word === "") walk.words.add(first);
  else walk.pairPrefixes.add(`${first} ${word.slice(0, PREFIX)}`);
}

/** Whether an element matches white space only (what `\s` matches). */
function isSpace(element: AST.Element | AST.CharacterClassElement): boolean {
  switch (element.type) {
    case "CharacterSet":
      return element.kind === "space" && !element.negate;
    case "Character":
      return /^\s$/.test(String.fromCodePoint(element.value));
    case "CharacterClass":
      return !element.negate && element.elements.length > 0 && element.elements.every((e) => isSpace(e));
    default:
      return false;
  }
}

interface Consumed {
  /** Word characters it may match, in lower case (when few enough to spell out). */
  readonly letters: string[];
  /** Whether it may match a character outside words. */
  readonly nonWord: boolean;
  /** Whether it may match word characters too many to spell out. */
  readonly wide: boolean;
}

function classify(element: AST.Element | AST.CharacterClassElement): Consumed {
  switch (element.type) {
    case "Character": {
      const char = String.fromCodePoint(element.value);
      return WORD_CHAR.test(char)
        ? {
            letters: [...new Set([char.toLowerCase(), char.toUpperCase().toLowerCase()])],
            nonWord: false,
            wide: false,
          }
        : { letters: [], nonWord: true, wide: false };
    }
    case "CharacterSet":
      // \s and \S, \d, \w, \W, ".", \p{…}: only \s is sure to match no word character.
      if (element.kind === "space" && !element.negate) return { letters: [], nonWord: true, wide: false };
      return { letters: [], nonWord: true, wide: true };
    case "CharacterClassRange": {
      const size = element.max.value - element.min.value + 1;
      if (size > MAX_CLASS_LETTERS) return { letters: [], nonWord: true, wide: true };
      const members: Consumed[] = [];
      for (let code = element.min.value; code <= element.max.value; code++)
        members.push(classify({ ...element.min, value: code }));
      return union(members);
    }
    case "CharacterClass": {
      if (element.negate) return { letters: [], nonWord: true, wide: true };
      const members = (element.elements as AST.CharacterClassElement[]).map(classify);
      const merged = union(members);
      return merged.letters.length > MAX_CLASS_LETTERS ? { ...merged, letters: [], wide: true } : merged;
    }
    default:
      return { letters: [], nonWord: true, wide: true };
  }
}

function union(members: readonly Consumed[]): Consumed {
  return {
    letters: [...new Set(members.flatMap((m) => m.letters))],
    nonWord: members.some((m) => m.nonWord),
    wide: members.some((m) => m.wide),
  };
}
