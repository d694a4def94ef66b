// Personal data rules: e-mail addresses (found from each `@`), and numbers read as card numbers,
// telephone numbers and national identity numbers only when their layout and check digits say so
// (Luhn, mod 97, Verhoeff, mod 11, check letters). One pass finds every run of digits that could be
// one; one pass finds every letter-led number (IBAN, UK National Insurance, Italian codice fiscale).
import {
  aadhaarValid,
  cardValid,
  cpfValid,
  digitsOf,
  dniValid,
  fiscalCodeValid,
  ibanValid,
  nirValid,
  ninoValid,
  sinValid,
  ssnValid,
} from "./checksums.ts";
import { afterEscape, PRIORITY, type Finding } from "./finding.ts";
import { isPlaceholderPii } from "./placeholders.ts";

export function scanPii(text: string, out: Finding[]): void {
  scanEmails(text, out);
  scanNumbers(text, out);
  scanLetterLed(text, out);
}

function finding(kind: string, text: string, start: number, end: number): Finding {
  const value = text.slice(start, end);
  return {
    kind,
    category: "pii",
    start,
    end,
    rule: `portcullis/${kind}`,
    placeholder: isPlaceholderPii(kind, value, digitsOf(value)),
    priority: PRIORITY.pii,
  };
}

const LOCAL_PART = /[A-Za-z0-9._%+-]/;
const FILE_EXTENSION = /\.(?:png|jpe?g|gif|webp|svg|avif|ico|css|js|json|pdf|txt|md|html?)$/i;
const DOMAIN = /[A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63}){0,8}\.[A-Za-z]{2,24}(?![A-Za-z0-9-])/y;

function scanEmails(text: string, out: Finding[]): void {
  for (let at = text.indexOf("@"); at >= 0; at = text.indexOf("@", at + 1)) {
    let start = at;
    while (
      start > 0 &&
      at - start < 64 &&
      LOCAL_PART.test(text[start - 1] ?? "") &&
      !afterEscape(text, start)
    )
      start--;
    while (start < at && text[start] === ".") start++;
    if (start === at || text[at - 1] === ".") continue;
    if (start > 0 && LOCAL_PART.test(text[start - 1] ?? "") && !afterEscape(text, start)) continue;
    DOMAIN.lastIndex = at + 1;
    const domain = DOMAIN.exec(text);
    if (!domain) continue;
    const end = at + 1 + domain[0].length;
    // `git@github.com:org/repo`: an scp-style address, not a mailbox.
    if (text[end] === ":" && /[A-Za-z0-9~._/-]/.test(text[end + 1] ?? "")) continue;
    // `icon@2x.png`: a file name.
    if (FILE_EXTENSION.test(domain[0])) continue;
    out.push(finding("email", text, start, end));
    at = end - 1;
  }
}

/** A run of digits with the separators numbers are written with: the candidates for every numeric rule. */
const NUMBER = /[+(]?\d[\d ().-]{5,34}\d/g;

function scanNumbers(text: string, out: Finding[]): void {
  // Scanning is synchronous and never re-entered: the compiled regex is shared, its lastIndex reset.
  const numbers = NUMBER;
  numbers.lastIndex = 0;
  for (let m = numbers.exec(text); m !== null; m = numbers.exec(text)) {
    const start = m.index;
    const end = start + m[0].length;
    if (!standsAlone(text, start, end)) continue;
    const found = classifySpans(text, start, end);
    if (found) out.push(...found);
  }
}

/** Not part of a longer token: a version, an address, a time, a hash. */
function standsAlone(text: string, start: number, end: number): boolean {
  const before = text[start - 1] ?? " ";
  const after = text[end] ?? " ";
  if (/[A-Za-z0-9_]/.test(before) && !nieLetter(text, start) && !afterEscape(text, start)) return false;
  // After a separator that follows a letter or digit: the tail of an identifier (`SKU-0319-4602`).
  if (/[.\-/:]/.test(before) && /[A-Za-z0-9]/.test(text[start - 2] ?? "")) return false;
  if (before === "," && /\d/.test(text[start - 2] ?? "")) return false;
  if (/[.\-/:]/.test(after) && /\d/.test(text[end + 1] ?? "")) return false;
  return !/[0-9_]/.test(after);
}

function nieLetter(text: string, start: number): boolean {
  return /[XYZ]/.test(text[start - 1] ?? "") && !/[A-Za-z0-9_]/.test(text[start - 2] ?? " ");
}

/** No numeric rule accepts more groups or digits than these (a NIR in seven groups, a card of 19). */
const MAX_GROUPS = 7;
const MIN_DIGITS = 7;
const MAX_DIGITS = 19;
const MAX_REST = 4;

/** The longest runs of whole digit groups, left to right, that some numeric rule accepts. */
function classifySpans(text: string, start: number, end: number): Finding[] | undefined {
  // Group g spans [starts[g], ends[g]); digitsBefore[g] counts the digits of the groups before it.
  const starts: number[] = [];
  const ends: number[] = [];
  const digitsBefore: number[] = [0];
  for (let i = start; i < end;) {
    if (!isDigit(text.charCodeAt(i))) {
      i++;
      continue;
    }
    let j = i;
    while (j < end && isDigit(text.charCodeAt(j))) j++;
    starts.push(i);
    ends.push(j);
    digitsBefore.push((digitsBefore[digitsBefore.length - 1] ?? 0) + j - i);
    i = j;
  }
  const count = starts.length;
  const total = digitsBefore[count] ?? 0;
  let found: Finding[] | undefined;
  for (let first = 0; first < count;) {
    let next = first + 1;
    for (let last = Math.min(count, first + MAX_GROUPS) - 1; last >= first; last--) {
      const digits = (digitsBefore[last + 1] ?? 0) - (digitsBefore[first] ?? 0);
      if (digits < MIN_DIGITS || digits > MAX_DIGITS) continue;
      // Part of a longer run only with a short rest (a card's CVC, an extension): a run of many
      // groups is one long number (a parcel's tracking number), not a card inside it.
      if (total - digits > MAX_REST) continue;
      // A span starts at a group (or the `+`/`(` before the first) and ends at a group's end.
      const spanStart = first === 0 ? start : (starts[first] ?? start);
      const spanEnd = ends[last] ?? end;
      const kind = numericKind(text, spanStart, spanEnd, digits, first === 0, last === count - 1);
      if (!kind) continue;
      (found ??= []).push(
        finding(kind[0], text, nieLetter(text, spanStart) ? spanStart - 1 : spanStart, kind[1]),
      );
      next = last + 1;
      break;
    }
    first = next;
  }
  return found;
}

function isDigit(code: number): boolean {
  return code >= 48 && code <= 57;
}

const NANP = /^(?:\+?1[ .-]?)?(?:\([2-9]\d{2}\) ?|[2-9]\d{2}[.-])[2-9]\d{2}[.-]\d{4}$/;
const INTERNATIONAL = /^\+\d{1,3}[ .-]?(?:\(\d{1,4}\)[ .-]?)?\d{1,4}(?:[ .-]?\d{2,4}){1,4}$/;
const TRUNK = /^0\d{1,4}([ .-])\d{2,4}(?:\1\d{2,4}){1,3}$/;
const GROUPED_CARD = /^\d{4}([ -]?)\d{4}\1\d{4}\1\d{1,7}$|^\d{4}([ -]?)\d{6}\2\d{4,5}$/;

function numericKind(
  text: string,
  start: number,
  end: number,
  count: number,
  atRunStart: boolean,
  atRunEnd: boolean,
): [string, number] | undefined {
  // Inside a longer run, a span must stand apart from its neighbours by a space.
  if (!atRunStart && !/\s/.test(text[start - 1] ?? " ")) return undefined;
  if (!atRunEnd && !/\s/.test(text[end] ?? " ")) return undefined;
  const span = text.slice(start, end);
  if (count <= 8) {
    const dni = dniAt(text, start, end, span);
    if (dni) return ["es-dni", dni];
  }
  const digits = digitsOf(span);
  if (count === 9 && /^\d{3}-\d{2}-\d{4}$/.test(span) && ssnValid(digits)) return ["us-ssn", end];
  if (count === 9 && /^\d{3}([ -])\d{3}\1\d{3}$/.test(span) && sinValid(digits)) return ["ca-sin", end];
  if (count === 11 && /^\d{3}\.\d{3}\.\d{3}-\d{2}$/.test(span) && cpfValid(digits)) return ["br-cpf", end];
  if (count === 12 && /^\d{4} \d{4} \d{4}$/.test(span) && aadhaarValid(digits)) return ["in-aadhaar", end];
  if (count === 15 && /^[12] ?\d{2} ?\d{2} ?\d{2} ?\d{3} ?\d{3} ?\d{2}$/.test(span) && nirValid(digits))
    return ["fr-nir", end];
  if (count >= 13 && (GROUPED_CARD.test(span) || /^\d{13,19}$/.test(span)) && cardValid(digits))
    return ["card-number", end];
  if (count >= 10 && count <= 11 && (NANP.test(span) || TRUNK.test(span))) return ["phone", end];
  if (count >= 8 && count <= 15 && INTERNATIONAL.test(span)) return ["phone", end];
  return undefined;
}

/** Spanish DNI `12345678Z` or NIE `X1234567L`: the check letter follows the digits. */
function dniAt(text: string, start: number, end: number, span: string): number | undefined {
  const letter = text[end] ?? "";
  if (!/[A-Za-z]/.test(letter) || /[A-Za-z0-9_]/.test(text[end + 1] ?? " ")) return undefined;
  const nie = nieLetter(text, start);
  const digits = nie ? /^\d{7}$/.test(span) : /^\d{8}$/.test(span);
  if (!digits) return undefined;
  return dniValid((nie ? text[start - 1] : "") + span + letter) ? end + 1 : undefined;
}

/** IBAN (spaced in fours or not), UK National Insurance number, Italian codice fiscale. */
const LETTER_LED =
  /[A-Z]{2}(?:\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?| ?\d{2} ?\d{2} ?\d{2} ?[A-D]|[A-Z]{4}\d{2}[A-EHLMPR-T]\d{2}[A-Z]\d{3}[A-Z])(?![A-Za-z0-9])/g;

function scanLetterLed(text: string, out: Finding[]): void {
  const letterLed = LETTER_LED;
  letterLed.lastIndex = 0;
  for (let m = letterLed.exec(text); m !== null; m = letterLed.exec(text)) {
    const start = m.index;
    if (start > 0 && /[A-Za-z0-9_]/.test(text[start - 1] ?? "") && !afterEscape(text, start)) continue;
    const value = m[0];
    if (/^[A-Z]{2}\d{2}/.test(value)) {
      const length = ibanLength(value);
      if (length > 0) {
        out.push(finding("iban", text, start, start + length));
        continue;
      }
    }
    if (ninoValid(value)) out.push(finding("uk-nino", text, start, start + value.length));
    else if (value.length === 16 && fiscalCodeValid(value))
      out.push(finding("it-fiscal-code", text, start, start + value.length));
  }
}

/** The length of the valid IBAN the match starts with, dropping trailing groups that are not part of it. */
function ibanLength(value: string): number {
  for (let candidate = value; candidate.length >= 15;) {
    if (ibanValid(candidate)) return candidate.length;
    const space = candidate.lastIndexOf(" ");
    if (space < 0) return 0;
    candidate = candidate.slice(0, space);
  }
  return 0;
}
