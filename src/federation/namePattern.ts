// Name patterns in the config (tool names with `*` and `?` wildcards, case-insensitive), compiled
// once into one regular expression per list.

/** A matcher for a list of patterns; an empty list matches nothing. */
export function namePatterns(patterns: readonly string[]): (name: string) => boolean {
  if (patterns.length === 0) return () => false;
  const alternatives = patterns.map((pattern) =>
    pattern
      .split("")
      .map((ch) => (ch === "*" ? ".*" : ch === "?" ? "." : ch.replace(/[\\^$.|+()[\]{}]/g, "\\$&")))
      .join(""),
  );
  const regex = new RegExp(`^(?:${alternatives.join("|")})$`, "i");
  return (name) => regex.test(name);
}
