// Name patterns in the config (tool names and resource URIs with `*` and `?` wildcards), compiled
// once per list. Matching is linear in the name's length for each pattern (no regular expression,
// so a long name a client sends cannot make matching take quadratic or exponential time).

export interface PatternOptions {
  /** Tool and prompt names match case-insensitively by default; resource URIs need exact case. */
  readonly caseSensitive?: boolean;
}

/** A matcher for a list of patterns; an empty list matches nothing. */
export function namePatterns(
  patterns: readonly string[],
  options: PatternOptions = {},
): (name: string) => boolean {
  if (patterns.length === 0) return () => false;
  const fold = options.caseSensitive ? (text: string) => text : (text: string) => text.toLowerCase();
  const compiled = patterns.map((pattern) => fold(pattern).split("*"));
  return (name) => {
    const text = fold(name);
    return compiled.some((parts) => matchesGlob(parts, text));
  };
}

/**
 * Whether `text` matches a pattern split at its `*`s: the first part anchors the start, the last
 * the end, and each middle part is taken at its leftmost place (which is always safe for `*`).
 */
function matchesGlob(parts: readonly string[], text: string): boolean {
  const first = parts[0] ?? "";
  if (parts.length === 1) return text.length === first.length && partAt(first, text, 0);
  const last = parts[parts.length - 1] ?? "";
  if (text.length < first.length + last.length) return false;
  if (!partAt(first, text, 0) || !partAt(last, text, text.length - last.length)) return false;
  let position = first.length;
  const end = text.length - last.length;
  for (let i = 1; i < parts.length - 1; i++) {
    const part = parts[i] ?? "";
    const found = findPart(part, text, position, end);
    if (found < 0) return false;
    position = found + part.length;
  }
  return true;
}

/** The leftmost place in [from, end) where `part` (with `?` for any character) fits, or -1. */
function findPart(part: string, text: string, from: number, end: number): number {
  if (!part.includes("?")) {
    const found = text.indexOf(part, from);
    return found >= 0 && found + part.length <= end ? found : -1;
  }
  for (let at = from; at + part.length <= end; at++) if (partAt(part, text, at)) return at;
  return -1;
}

function partAt(part: string, text: string, at: number): boolean {
  for (let i = 0; i < part.length; i++) {
    const ch = part[i];
    if (ch !== "?" && ch !== text[at + i]) return false;
  }
  return true;
}
