// One scan of a text for every rule: the project's credential rules (which also record the prefixes
// they saw), secretlint's preset rules gated by those prefixes, and the personal-data rules. The
// findings come back sorted and without overlaps (a provider's format beats a guess from context,
// a live value beats a placeholder), ready to be replaced by markers.
import { PRIORITY, type Finding } from "./finding.ts";
import { scanPii } from "./pii.ts";
import { scanWithSecretlint } from "./secretlint.ts";
import { scanSecrets, type Triggers } from "./secrets.ts";

export type { Finding } from "./finding.ts";

export interface ScanOptions {
  /** Look for credentials (default true). */
  readonly secrets?: boolean;
  /** Look for personal data (default true). */
  readonly pii?: boolean;
}

/** Shorter texts hold nothing any rule finds (the shortest is a 7-character national id). */
const MIN_LENGTH = 7;

export function scanText(text: string, options: ScanOptions = {}): Finding[] {
  if (text.length < MIN_LENGTH) return [];
  const found: Finding[] = [];
  if (options.secrets !== false) {
    const seen: Triggers = new Set();
    scanSecrets(text, found, seen);
    scanWithSecretlint(text, seen, found);
  }
  if (options.pii !== false) scanPii(text, found);
  return withoutOverlaps(found);
}

function withoutOverlaps(found: Finding[]): Finding[] {
  if (found.length < 2) return found;
  found.sort((a, b) => a.start - b.start || b.priority - a.priority || b.end - a.end);
  const kept: Finding[] = [];
  for (const finding of found) {
    const last = kept[kept.length - 1];
    if (!last || finding.start >= last.end) kept.push(finding);
    else if (outranks(finding, last)) kept[kept.length - 1] = finding;
  }
  return kept;
}

function outranks(a: Finding, b: Finding): boolean {
  if (a.placeholder !== b.placeholder) return !a.placeholder;
  if (a.priority !== b.priority) return a.priority > b.priority;
  // Both found by context or both by format: the one that covers more.
  return a.priority !== PRIORITY.pii && a.end - a.start > b.end - b.start;
}

/** The text with each finding replaced by what `replacement` returns for it (undefined: left as it is). */
export function replaceFindings(
  text: string,
  findings: readonly Finding[],
  replacement: (finding: Finding) => string | undefined,
): string {
  let out = "";
  let from = 0;
  for (const finding of findings) {
    const marker = replacement(finding);
    if (marker === undefined) continue;
    out += text.slice(from, finding.start) + marker;
    from = finding.end;
  }
  return from === 0 ? text : out + text.slice(from);
}

export function redactionMarker(kind: string): string {
  return `[REDACTED:${kind}]`;
}

/** Keeps the last four letters and digits and masks the others (all of them when there are fewer than 12). */
export function maskValue(value: string): string {
  let alphanumerics = 0;
  for (let i = 0; i < value.length; i++) if (isAlphanumeric(value.charCodeAt(i))) alphanumerics++;
  const keep = alphanumerics >= 12 ? 4 : 0;
  let seen = 0;
  let out = "";
  for (let i = 0; i < value.length; i++) {
    const ch = value[i] ?? "";
    if (!isAlphanumeric(value.charCodeAt(i))) {
      out += ch;
      continue;
    }
    seen++;
    out += seen > alphanumerics - keep ? ch : "*";
  }
  return out;
}

function isAlphanumeric(code: number): boolean {
  return (code >= 48 && code <= 57) || (code >= 65 && code <= 90) || (code >= 97 && code <= 122);
}
