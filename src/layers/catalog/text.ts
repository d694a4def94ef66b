// Normalisation before scanning: NFKC (full-width and mathematical letters become ASCII), invisible
// characters counted and removed (Unicode tag characters decoded: they smuggle ASCII text), and common
// look-alike letters (Cyrillic, Greek) mapped to Latin, so that "іgnore" and "ig\u200Bnore" read as
// "ignore". The same tables fold tool names for the shadowing check.
import { HIDDEN_RULES } from "./rules.ts";

export interface PreparedText {
  /** The text the phrase rules read. */
  readonly text: string;
  /** Invisible-character signals found: rule id → count. */
  readonly hidden: ReadonlyMap<string, number>;
  /** ASCII text carried by Unicode tag characters (U+E0020–U+E007E), if any. */
  readonly smuggled: string | undefined;
}

/** Printable ASCII, tab and line breaks: nothing to normalise (the common case). */
const PLAIN = /^[\t\n\r\x20-\x7e]*$/;

// Controls, invisible and formatting characters, variation selectors and the tag block.
const SPECIAL =
  // eslint-disable-next-line no-control-regex, no-misleading-character-class -- what this class is for
  /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180e\u200b-\u200f\u202a-\u202e\u2060-\u206f\u2800\u3164\ufe00-\ufe0f\ufeff\uffa0\u{e0000}-\u{e007f}\u{e0100}-\u{e01ef}]/gu;

// eslint-disable-next-line no-misleading-character-class -- skin tones and VS16 follow an emoji
const PICTOGRAPHIC = /[\p{Extended_Pictographic}\u{1f3fb}-\u{1f3ff}\ufe0f]/u;

/** Latin and Cyrillic, or Latin and Greek (not µ, which unit texts use), side by side in one word. */
const MIXED_SCRIPT =
  /[A-Za-z][\u0400-\u04ff]|[\u0400-\u04ff][A-Za-z]|[A-Za-z][\u0370-\u03bb\u03bd-\u03ff]|[\u0370-\u03bb\u03bd-\u03ff][A-Za-z]/;

// Look-alikes of Latin letters (a small table of the common ones, after UTS #39's confusables), and
// typographic quotes and dashes: each character of FROM reads as the one at the same place in TO.
const FROM =
  "авеёіїјкмнопрстухѕһԁԛԝӏүАВЕІЈКМНОРСТХЅУҮαεικνορτυχωΑΒΕΖΗΙΚΜΝΟΡΤΥΧıɑɡɪʏօսհ\u2018\u2019\u201a\u201b\u2032\u201c\u201d\u2033\u2010\u2011\u2012\u2013\u2014\u2015\u2212";
const TO = "abeeiijkmhonpctyxshdqwlyABEIJKMHOPCTXSYYaeikvoptuxwABEZHIKMNOPTYXiagiyouh'''''\"\"\"-------";
const LOOK_ALIKES = new Map([...FROM].map((ch, i) => [ch, TO[i] ?? ch]));
const LOOK_ALIKE = new RegExp(`[${FROM}]`, "g");

const NO_HIDDEN: ReadonlyMap<string, number> = new Map();

export function prepareText(raw: string): PreparedText {
  if (PLAIN.test(raw)) return { text: raw, hidden: NO_HIDDEN, smuggled: undefined };
  const hidden = new Map<string, number>();
  let smuggled = "";
  const nfkc = raw.normalize("NFKC");
  const cleaned = nfkc.replace(SPECIAL, (ch: string, offset: number, whole: string) => {
    const cp = ch.codePointAt(0) ?? 0;
    if (cp >= 0xe0020 && cp <= 0xe007e) smuggled += String.fromCharCode(cp - 0xe0000);
    const [rule, replacement] = classify(cp, offset, whole);
    if (rule) hidden.set(rule, (hidden.get(rule) ?? 0) + 1);
    return replacement;
  });
  if (MIXED_SCRIPT.test(cleaned)) hidden.set(HIDDEN_RULES.mixedScript, 1);
  const text = cleaned.replace(LOOK_ALIKE, (ch) => LOOK_ALIKES.get(ch) ?? ch);
  return { text, hidden, smuggled: smuggled === "" ? undefined : smuggled };
}

/** What an invisible or special character signals, and what it leaves in the scanned text. */
function classify(cp: number, offset: number, whole: string): readonly [string | undefined, string] {
  if (cp >= 0xe0000 && cp <= 0xe007f) return [HIDDEN_RULES.tagChars, ""];
  if (cp >= 0xe0100) return [HIDDEN_RULES.variationSelectors, ""];
  if (cp >= 0xfe00 && cp <= 0xfe0f) return [undefined, ""]; // emoji presentation selectors
  if (cp < 0x20 || cp === 0x7f) return [HIDDEN_RULES.controls, " "];
  if ((cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069)) return [HIDDEN_RULES.bidi, ""];
  if (cp === 0x200e || cp === 0x200f || cp === 0x061c) return [HIDDEN_RULES.directionMarks, ""];
  if (FILLERS.has(cp)) return [HIDDEN_RULES.fillers, " "];
  if (cp === 0xfeff && offset === 0) return [undefined, ""];
  // A joiner inside an emoji sequence (👩‍💻) is how emoji are written, not a hidden character.
  if (cp === 0x200d && (pictographicAt(whole, offset - 1) || pictographicAt(whole, offset + 1)))
    return [undefined, ""];
  return [HIDDEN_RULES.zeroWidth, ""];
}

const FILLERS = new Set([0x115f, 0x1160, 0x17b4, 0x17b5, 0x2800, 0x3164, 0xffa0]);

function pictographicAt(text: string, index: number): boolean {
  if (index < 0 || index >= text.length) return false;
  // Step back onto the high surrogate of an astral character.
  const code = text.charCodeAt(index);
  const start = code >= 0xdc00 && code <= 0xdfff && index > 0 ? index - 1 : index;
  const cp = text.codePointAt(start);
  return cp !== undefined && PICTOGRAPHIC.test(String.fromCodePoint(cp));
}

/**
 * The key two names share when a reader (or a model) could take one for the other: NFKC, invisible
 * characters dropped, look-alikes mapped, case folded, separators removed, and l/1/| and 0 folded
 * into i and o.
 */
export function foldName(name: string): string {
  let folded = foldedNames.get(name);
  if (folded === undefined) {
    if (foldedNames.size >= 50_000) foldedNames.clear();
    foldedNames.set(name, (folded = fold(name)));
  }
  return folded;
}

const foldedNames = new Map<string, string>();

function fold(name: string): string {
  const prepared = prepareText(name).text.toLowerCase();
  let out = "";
  for (const ch of prepared) {
    if (ch === "-" || ch === "_" || ch === "." || ch === " " || ch === "\t") continue;
    if (ch === "l" || ch === "1" || ch === "|") out += "i";
    else if (ch === "0") out += "o";
    else out += ch;
  }
  return out;
}

/** Whether a name is plain ASCII as written (a look-alike never wins a name from it). */
export function isPlainName(name: string): boolean {
  return /^[\x21-\x7e]+$/.test(name);
}
