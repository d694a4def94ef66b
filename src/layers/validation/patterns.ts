// The regular-expression engine of upstream schemas: `pattern` and `patternProperties` come from the
// upstream and are untrusted, so they never run on V8's backtracking engine (`^(a+)+$` on 28
// characters takes it half a minute). RE2JS matches in time linear in the input; what RE2 cannot
// express in linear time (backreferences, lookaround) makes the schema unusable.
import type { Options } from "ajv";
import { RE2JS } from "re2js";
import { checkCompileDeadline, spendCharacters } from "./budget.ts";

type RegExpEngine = NonNullable<NonNullable<Options["code"]>["regExp"]>;

/** The longest pattern compiled: no real schema needs more, and compiling costs per character. */
export const MAX_PATTERN_LENGTH = 2048;
const CACHE_LIMIT = 512;

/** Compiled patterns by source, shared by every schema (common patterns compile once). */
const compiled = new Map<string, RE2JS>();

class LinearPattern {
  readonly source: string;
  private readonly re: RE2JS;

  constructor(source: string, re: RE2JS) {
    this.source = source;
    this.re = re;
  }

  test(input: string): boolean {
    spendCharacters(input.length);
    return this.re.test(input);
  }

  /** Ajv keys its compiled patterns by this: it must tell patterns apart. */
  toString(): string {
    return `/${this.source}/`;
  }
}

/** Compiles an ECMA-262 pattern (as JSON Schema defines them) for linear-time matching, or throws. */
export function linearPattern(source: string): LinearPattern {
  if (source.length > MAX_PATTERN_LENGTH)
    throw new Error(`a pattern is longer than ${MAX_PATTERN_LENGTH} characters`);
  let re = compiled.get(source);
  if (!re) {
    // Valid ECMA-262 first (constructing a RegExp only parses it; it never runs here), so that RE2
    // syntax that JavaScript lacks (`(?i)`, `\z`) is refused as the JSON Schema spec would.
    new RegExp(source, "u");
    try {
      re = RE2JS.compile(RE2JS.translateRegExp(source));
    } catch (err) {
      const why = err instanceof Error ? err.message : String(err);
      throw new Error(`pattern ${JSON.stringify(source.slice(0, 80))} cannot run in linear time: ${why}`, {
        cause: err,
      });
    } finally {
      checkCompileDeadline();
    }
    if (compiled.size >= CACHE_LIMIT) compiled.delete(compiled.keys().next().value as string);
    compiled.set(source, re);
  }
  return new LinearPattern(source, re);
}

/** The engine handed to Ajv (`code.regExp`); `code` only matters for standalone code, never built here. */
export const linearRegExpEngine: RegExpEngine = Object.assign((source: string) => linearPattern(source), {
  code: "linearPattern",
});
