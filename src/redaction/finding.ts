// What the scanner reports for one match: where it is, what it is and which rule found it. The
// value itself is never part of a finding, so findings can go into events and logs as they are.
import type { DataCategory } from "./kinds.ts";

export interface Finding {
  readonly kind: string;
  readonly category: DataCategory;
  /** UTF-16 offsets in the scanned text, end exclusive. */
  readonly start: number;
  readonly end: number;
  /** The rule that fired: `portcullis/<rule>` or `secretlint/<rule>`. */
  readonly rule: string;
  /** A published example or a placeholder (`AKIAIOSFODNN7EXAMPLE`, `<your-token>`), not a live value. */
  readonly placeholder: boolean;
  /** Which of two overlapping findings is kept: the higher (a provider's format over a keyword guess). */
  readonly priority: number;
}

/**
 * Whether `at` follows a JSON escape of a line break or tab (`\n`, `\t`, `\r` in JSON text): there a
 * token starts afresh although a letter comes before it.
 */
export function afterEscape(text: string, at: number): boolean {
  const c = text[at - 1];
  return (c === "n" || c === "t" || c === "r") && text[at - 2] === "\\" && text[at - 3] !== "\\";
}

/** Priorities: a provider's exact format, then a credential found by its context, then personal data. */
export const PRIORITY = { format: 3, secretlint: 2, context: 1, pii: 0 } as const;
