// Scans a tool, prompt or resource definition for poisoning: every text of the definition (its
// description and title, schema property names and descriptions, defaults, enums, examples, _meta) is
// normalised, joined, and read once by one combined regular expression of all the phrase rules. Blobs
// it finds encoded are decoded and read once more. Results are cached by the definition's hash.
import {
  ENCODED_TEXT_RULE,
  ENCODED_TEXT_WEIGHT,
  HIDDEN_RULES,
  HIDDEN_WEIGHTS,
  OVERSIZED_RULE,
  PHRASE_RULES,
  TRUNCATED_RULE,
  type PhraseRule,
} from "./rules.ts";
import { directiveAnalysis } from "../../content/directives.ts";
import { wordCount } from "../../content/linearModel.ts";
import { LEARNED_POISONING_RULE, learnedPoisoningScore } from "./poisoningModel.ts";
import { prepareText } from "./text.ts";

export interface Finding {
  readonly rule: string;
  readonly weight: number;
  /** Where in the definition: `description`, `inputSchema.properties.path.description`, … */
  readonly where: string;
  /** The matched text, shortened (never more than 80 characters). */
  readonly excerpt?: string;
}

export interface ScanResult {
  /** One finding per rule (the heaviest), in the order found. */
  readonly findings: readonly Finding[];
  /** The normalised prose of the definition (not its names), for the cross-reference check. */
  readonly text: string;
}

interface Pass {
  readonly expression: RegExp;
  readonly rules: readonly PhraseRule[];
}

interface Segment {
  readonly where: string;
  readonly raw: string;
  /** A name (of the definition or of a schema property), not prose. */
  readonly name?: true;
}

// Structural keywords whose values are not prose: a type, a reference or a URI is not read as text,
// unless it holds whitespace (then it is prose where a token belongs, and read as any other text).
// `pattern`, `format`, `required` and `icons` are read: a client never checks what they say.
const STRUCTURAL = new Set([
  "type",
  "$schema",
  "$ref",
  "$id",
  "$anchor",
  "$dynamicRef",
  "$dynamicAnchor",
  "mimeType",
  "uri",
  "uriTemplate",
  "contentEncoding",
  "contentMediaType",
]);
/** Keys whose children are named by their keys (schema properties): the names are read too. */
const NAMED_CHILDREN = new Set(["properties", "patternProperties", "$defs", "definitions"]);

const MAX_DEPTH = 32;
// Enough for every string of a definition of the default size limit (64 KiB); beyond it, or deeper than
// MAX_DEPTH, what is left unread is itself a finding (poison.truncated), weighted at the threshold.
const MAX_SEGMENTS = 16_384;
const SEPARATOR = "\u0001";
const EXCERPT = 80;

export class DefinitionScanner {
  /**
   * The word-initial rules, the rules that may start inside a word, and the rules with long gaps: each
   * a combined expression and its rules in order. A second set reads decoded blobs (a read within a
   * read); the expressions are reused, because V8 compiles a regular expression to machine code only
   * once the same object has run a few times.
   */
  private readonly passes: readonly Pass[];
  private readonly innerPasses: readonly Pass[];
  private readonly cache = new Map<string, ScanResult>();
  private readonly cacheSize: number;
  private readonly maxBytes: number;

  constructor(options: { readonly cacheSize?: number; readonly maxDefinitionBytes?: number } = {}) {
    // One capturing group per rule, in order: the group that matched names the rule. Word-initial
    // rules sit behind one lookbehind, so that inside a word the whole alternation is skipped at once.
    const combine = (rules: readonly PhraseRule[], gated: boolean): Pass => ({
      expression: new RegExp(
        `${gated ? "(?<![A-Za-z0-9_])(?:" : ""}${rules.map((r) => `(${r.pattern})`).join("|")}${gated ? ")" : ""}`,
        "gi",
      ),
      rules,
    });
    const passes = () => [
      combine(
        PHRASE_RULES.filter((r) => !r.span && !r.midWord),
        true,
      ),
      combine(
        PHRASE_RULES.filter((r) => r.midWord),
        false,
      ),
      combine(
        PHRASE_RULES.filter((r) => r.span),
        true,
      ),
    ];
    this.passes = passes();
    this.innerPasses = passes();
    this.cacheSize = options.cacheSize ?? 10_000;
    this.maxBytes = options.maxDefinitionBytes ?? 65_536;
  }

  /**
   * The findings of a definition, from the cache when its hash was seen before. `bytes` is the size of
   * its canonical JSON: a larger one than allowed is not read at all.
   */
  scan(definition: Readonly<Record<string, unknown>>, hash: string, bytes: number): ScanResult {
    const cached = this.cache.get(hash);
    if (cached) {
      // Least recently used goes first: re-inserting keeps the map in use order.
      this.cache.delete(hash);
      this.cache.set(hash, cached);
      return cached;
    }
    const result =
      bytes > this.maxBytes
        ? {
            findings: [
              { rule: OVERSIZED_RULE, weight: 10, where: "(whole definition)", excerpt: `${bytes} bytes` },
            ],
            text: "",
          }
        : this.scanDefinition(definition);
    this.cache.set(hash, result);
    if (this.cache.size > this.cacheSize) {
      const oldest = this.cache.keys().next().value;
      if (oldest !== undefined) this.cache.delete(oldest);
    }
    return result;
  }

  /** Scans free text (a test corpus line, a benchmark): what a definition's single text would give. */
  scanText(text: string, where = "text"): ScanResult {
    return this.scanSegments([{ where, raw: text }]);
  }

  get cached(): number {
    return this.cache.size;
  }

  private scanDefinition(definition: Readonly<Record<string, unknown>>): ScanResult {
    const { segments, truncated } = readDefinition(definition);
    const result = this.scanSegments(segments);
    if (!truncated) return result;
    return {
      ...result,
      findings: [
        ...result.findings,
        {
          rule: TRUNCATED_RULE,
          weight: TRUNCATED_WEIGHT,
          where: truncated.where,
          excerpt: truncated.why,
        },
      ],
    };
  }

  private scanSegments(segments: readonly Segment[]): ScanResult {
    return this.readSegments(segments, true).result;
  }

  /**
   * For training (scripts/train-models.ts): what the learned model reads of a definition, and what
   * the rules alone find in it.
   */
  readForTraining(definition: Readonly<Record<string, unknown>>): {
    result: ScanResult;
    input: LearnedInput;
  } {
    return this.readSegments(readDefinition(definition).segments, false);
  }

  private readSegments(
    segments: readonly Segment[],
    learned: boolean,
  ): { result: ScanResult; input: LearnedInput } {
    const found = new Map<string, Finding>();
    const note = (finding: Finding) => {
      const before = found.get(finding.rule);
      if (!before || before.weight < finding.weight) found.set(finding.rule, finding);
    };
    const texts: string[] = [];
    const places: string[] = [];
    const prose: string[] = [];
    const names: boolean[] = [];
    for (const segment of segments) {
      const prepared = prepareText(segment.raw);
      for (const [rule, count] of prepared.hidden) {
        const weight = rule === HIDDEN_RULES.zeroWidth && count < 3 ? 5 : (HIDDEN_WEIGHTS[rule] ?? 5);
        note({ rule, weight, where: segment.where, excerpt: `${count} character${count === 1 ? "" : "s"}` });
      }
      texts.push(prepared.text);
      places.push(segment.where);
      names.push(segment.name === true);
      if (!segment.name) prose.push(prepared.text);
      if (prepared.smuggled !== undefined) {
        // What the tag characters spell is read like any other text of the definition.
        texts.push(prepared.smuggled);
        places.push(`${segment.where} (hidden tag characters)`);
        names.push(false);
        prose.push(prepared.smuggled);
      }
    }
    const text = texts.join(SEPARATOR);
    this.readPhrases(text, texts, places, note, true);
    const directiveTokens = readDirectives(texts, places, names, note);
    const input = learnedInput(texts, names, [...found.values()], directiveTokens);
    if (learned) {
      const score = learnedPoisoningScore(input);
      if (score !== undefined && score >= 0.5)
        note({
          rule: LEARNED_POISONING_RULE,
          weight: 10,
          where: "(whole definition)",
          excerpt: `score ${score.toFixed(2)}`,
        });
    }
    return { result: { findings: [...found.values()], text: prose.join(SEPARATOR) }, input };
  }

  private readPhrases(
    text: string,
    texts: readonly string[],
    places: readonly string[],
    note: (finding: Finding) => void,
    decode: boolean,
  ): void {
    const starts = segmentStarts(texts);
    // Irregexp matches case-insensitive literals about twice as fast in lower-case text; the original
    // is kept for what needs the case (a base64 blob) and for excerpts. (Lower-casing keeps offsets
    // unless a character changes length, e.g. "İ"; then the text is read as it is.)
    // Whether each text speaks about attacks (for examples it quotes), worked out once per text.
    const aboutAttacks: (boolean | undefined)[] = [];
    const speaksOfAttacks = (segment: number) =>
      (aboutAttacks[segment] ??= ATTACK_VOCABULARY.test(texts[segment] ?? ""));
    const lowered = text.toLowerCase();
    const read = lowered.length === text.length ? lowered : text;
    for (const { expression: pass, rules } of decode ? this.passes : this.innerPasses) {
      pass.lastIndex = 0;
      for (let match = pass.exec(read); match; match = pass.exec(read)) {
        if (match[0] === "") {
          pass.lastIndex++;
          continue;
        }
        const index = match.findIndex((group, i) => i > 0 && group !== undefined);
        const rule = rules[index - 1];
        if (!rule) continue;
        const original = text.slice(match.index, match.index + match[0].length);
        const segment = segmentAt(starts, match.index);
        const where = places[segment] ?? "text";
        let weight = rule.weight;
        if (rule.check) {
          const decoded = decodeBlob(rule.check, original);
          if (decoded === undefined) continue;
          if (decoded.text !== undefined && decode) {
            note({
              rule: ENCODED_TEXT_RULE,
              weight: ENCODED_TEXT_WEIGHT,
              where,
              excerpt: excerpt(decoded.text),
            });
            const inner = prepareText(decoded.text);
            this.readPhrases(inner.text, [inner.text], [`${where} (decoded)`], note, false);
          }
        } else if (
          speaksOfAttacks(segment) &&
          quotedExample(read, match.index, match.index + match[0].length)
        ) {
          weight = Math.ceil(weight * QUOTED_EXAMPLE_FACTOR);
        }
        note({ rule: rule.id, weight, where, excerpt: excerpt(original) });
      }
    }
  }
}

/**
 * The directive analysis (content/directives.ts) over a definition's prose, all of it in one read (the
 * separator ends a sentence): orders that hand over credentials or bulk data, deceive the user, claim
 * authority or consent, or rewrite the answer. Each is poisoning alone; in a text that speaks about
 * attacks (a scanner describing what it detects) it weighs a fifth, as quoted examples do.
 */
function readDirectives(
  texts: readonly string[],
  places: readonly string[],
  names: readonly boolean[],
  note: (finding: Finding) => void,
): string[] {
  // Names (of the tool, of properties) are not prose.
  const read = texts.map((text, i) => (names[i] ? "" : text));
  const joined = read.join(SEPARATOR);
  const starts = segmentStarts(read);
  const analysis = directiveAnalysis(joined, "definition");
  for (const signal of analysis.signals) {
    const segment = segmentAt(starts, signal.start + (joined[signal.start] === SEPARATOR ? 1 : 0));
    const own = read[segment] ?? "";
    const weight = ATTACK_VOCABULARY.test(own)
      ? Math.ceil(DIRECTIVE_WEIGHT * QUOTED_EXAMPLE_FACTOR)
      : DIRECTIVE_WEIGHT;
    note({
      rule: `poison.directive.${signal.id}`,
      weight,
      where: places[segment] ?? "text",
      excerpt: excerpt(joined.slice(signal.start, signal.end).replaceAll(SEPARATOR, " ").trim()),
    });
  }
  return analysis.tokens;
}

/** What the learned model reads of a definition: its names as words, its prose, and what the rules found. */
export interface LearnedInput {
  readonly text: string;
  readonly tokens: readonly string[];
  /** The words of its prose (names not counted): a definition with too few is left to the rules. */
  readonly words: number;
}

function learnedInput(
  texts: readonly string[],
  names: readonly boolean[],
  findings: readonly Finding[],
  directiveTokens: readonly string[],
): LearnedInput {
  const nameWords = texts.filter((_, i) => names[i]).map((name) => name.replace(/[_-]+/g, " "));
  const prose = texts.filter((_, i) => !names[i]);
  return {
    text: [nameWords.join(" "), ...prose].join("\n"),
    tokens: [...new Set(findings.map((f) => `rule:${f.rule}`)), ...directiveTokens],
    words: prose.reduce((sum, text) => sum + wordCount(text), 0),
  };
}

const DIRECTIVE_WEIGHT = 10;

/**
 * Whether a match is an example the text gives while speaking about attacks (a prompt-injection
 * scanner that detects "ignore all previous instructions", or patterns such as <IMPORTANT> blocks):
 * quoted, or right after "such as", "e.g.", "like", in a text that names attacks. It weighs a fifth.
 */
function quotedExample(text: string, start: number, end: number): boolean {
  const before = text.slice(Math.max(0, start - 24), start);
  return (
    (/['"`]\s{0,2}$/.test(before) && CLOSING_QUOTE.test(text.slice(end, end + 61))) ||
    EXAMPLE_CUE.test(before)
  );
}

const EXAMPLE_CUE = /\b(?:such\s+as|e\.g\.|for\s+(?:example|instance)|like|including)[\s:("'`]{0,3}$/i;
// eslint-disable-next-line no-control-regex -- \u0001 separates the texts of a definition
const CLOSING_QUOTE = /^[^'"`\n\u0001]{0,60}['"`]/;
const ATTACK_VOCABULARY =
  /\b(?:prompt[-\s]injections?|injections?|jailbreaks?|attacks?|malicious|adversarial|red[-\s]team\w*|phishing|poison\w*)\b/i;
const QUOTED_EXAMPLE_FACTOR = 0.2;

/** Every text of a definition with its place; names of properties read as words. */
export function segmentsOf(definition: Readonly<Record<string, unknown>>): Segment[] {
  return readDefinition(definition).segments;
}

/**
 * Every text of a definition with its place, and where reading stopped short (too many texts, nested
 * too deep): what is not read cannot be judged, so the guard counts it as poisoned.
 */
export function readDefinition(definition: Readonly<Record<string, unknown>>): {
  readonly segments: Segment[];
  readonly truncated?: { readonly where: string; readonly why: string };
} {
  const segments: Segment[] = [];
  let truncated: { where: string; why: string } | undefined;
  const full = () => segments.length >= MAX_SEGMENTS;
  const push = (segment: Segment): void => {
    if (full()) truncated ??= { where: segment.where, why: `more than ${MAX_SEGMENTS} texts` };
    else segments.push(segment);
  };
  const walk = (value: unknown, where: string, depth: number, structural = false): void => {
    if (typeof value === "string") {
      // A structural value (a type, a URI) is a token; one with whitespace is prose, and read.
      if (value.length > 0 && (!structural || /\s/.test(value))) push({ where, raw: value });
      return;
    }
    if (value === null || typeof value !== "object") return;
    if (depth > MAX_DEPTH) {
      truncated ??= { where, why: `nested deeper than ${MAX_DEPTH} levels` };
      return;
    }
    if (full()) {
      truncated ??= { where, why: `more than ${MAX_SEGMENTS} texts` };
      return;
    }
    if (Array.isArray(value)) {
      value.forEach((item, i) => walk(item, `${where}[${i}]`, depth + 1, structural));
      return;
    }
    for (const [key, child] of Object.entries(value as Record<string, unknown>)) {
      const path = where === "" ? key : `${where}.${key}`;
      if ((key === "name" || key === "required") && !structural) {
        // A name (and the names `required` lists) is read as a name, not prose.
        const names = typeof child === "string" ? [child] : Array.isArray(child) ? child : undefined;
        if (names) {
          names.forEach((n, i) => {
            if (typeof n === "string" && n.length > 0)
              push({ where: typeof child === "string" ? path : `${path}[${i}]`, raw: n, name: true });
            else walk(n, `${path}[${i}]`, depth + 2);
          });
          continue;
        }
      }
      if (key === "src" && typeof child === "string" && /^data:/i.test(child)) {
        // An inline icon: its payload is read only when it decodes to text (an image is not prose).
        const decoded = dataPayload(child);
        if (decoded !== undefined) push({ where: `${path} (decoded)`, raw: decoded });
        continue;
      }
      if (NAMED_CHILDREN.has(key) && child && typeof child === "object" && !Array.isArray(child)) {
        for (const [name, schema] of Object.entries(child as Record<string, unknown>)) {
          push({ where: `${path}.${name} (name)`, raw: name, name: true });
          walk(schema, `${path}.${name}`, depth + 2);
        }
        continue;
      }
      walk(child, path, depth + 1, structural || STRUCTURAL.has(key));
    }
  };
  walk(definition, "", 0);
  return truncated ? { segments, truncated } : { segments };
}

const TRUNCATED_WEIGHT = 10;

/** What a `data:` URI holds, when it is text (an SVG, plain text, base64 of either). */
function dataPayload(uri: string): string | undefined {
  const comma = uri.indexOf(",");
  if (comma < 0) return undefined;
  const head = uri.slice(0, comma);
  const body = uri.slice(comma + 1);
  const text = /;base64$/i.test(head)
    ? Buffer.from(body, "base64").toString("utf8")
    : (safeDecode(body) ?? body);
  return readable(text);
}

function segmentStarts(texts: readonly string[]): number[] {
  const starts: number[] = [];
  let at = 0;
  for (const t of texts) {
    starts.push(at);
    at += t.length + SEPARATOR.length;
  }
  return starts;
}

function segmentAt(starts: readonly number[], offset: number): number {
  let lo = 0;
  let hi = starts.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if ((starts[mid] ?? 0) <= offset) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

function excerpt(text: string): string {
  const flat = text.replace(/\s+/g, " ").trim();
  return flat.length > EXCERPT ? `${flat.slice(0, EXCERPT - 1)}…` : flat;
}

/**
 * What an encoded run decodes to: `undefined` when it is not worth a finding (a hex digest, a path);
 * `text` when it decodes to readable text (which is then scanned).
 */
function decodeBlob(kind: NonNullable<PhraseRule["check"]>, blob: string): { text?: string } | undefined {
  switch (kind) {
    case "base64": {
      // Base64 mixes upper case, lower case and digits; a digest (hex) or a word run does not.
      if (!/[A-Z]/.test(blob) || !/[a-z]/.test(blob) || !/[0-9]/.test(blob)) return undefined;
      const text = readable(
        Buffer.from(blob.replace(/-/g, "+").replace(/_/g, "/"), "base64").toString("utf8"),
      );
      // A long path or URL also matches; it only counts when it decodes to text.
      if (text === undefined && (blob.match(/\//g)?.length ?? 0) >= 2) return undefined;
      return text === undefined ? {} : { text };
    }
    case "percent":
      return { text: readable(safeDecode(blob)) };
    case "escapes":
      return {
        text: readable(
          blob.replace(
            /\\u([0-9A-Fa-f]{4})|\\x([0-9A-Fa-f]{2})/g,
            (_m, u: string | undefined, x: string | undefined) =>
              String.fromCharCode(parseInt(u ?? x ?? "0", 16)),
          ),
        ),
      };
    case "entities":
      return {
        text: readable(
          blob.replace(/&#(x?)([0-9A-Fa-f]+);/g, (_m, hex: string, digits: string) => {
            const cp = parseInt(digits, hex ? 16 : 10);
            return cp <= 0x10ffff ? String.fromCodePoint(cp) : "";
          }),
        ),
      };
  }
}

/** The text, when it reads as text: mostly printable and with at least one space between words. */
function readable(text: string | undefined): string | undefined {
  if (text === undefined || text.length < 12) return undefined;
  let printable = 0;
  for (const ch of text) if (/[\p{L}\p{N}\p{P}\p{Zs}\n\t~<>=|$+^`]/u.test(ch)) printable++;
  return printable / [...text].length >= 0.9 && /\S \S/.test(text) ? text : undefined;
}

function safeDecode(blob: string): string | undefined {
  try {
    return decodeURIComponent(blob);
  } catch {
    return undefined;
  }
}
