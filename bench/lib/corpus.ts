// Deterministic text for the benchmark, built from the security tests' corpora: ordinary tool output
// (prose, JSON, logs, code, tables, links) joined to any size, with or without findings (credentials,
// personal data, exfiltration links) every couple of kilobytes, and the echo payload the matrix sends.
import { dataGuardSection } from "../../src/config/dataGuardSchema.ts";
import { dataGuardLayer } from "../../src/layers/data/index.ts";
import { scoreInjection } from "../../src/layers/data/injection.ts";
import type { Layer, RouteTarget } from "../../src/pipeline/types.ts";
import { testContext } from "../../test/helpers/context.ts";
import { resultBenign } from "../../test/security/results/benign.ts";
import { linkAttacks, linkBenign } from "../../test/security/results/links.ts";
import { secretAttacks } from "../../test/security/secrets/attacks.ts";
import { secretBenign } from "../../test/security/secrets/benign.ts";
import { piiAttacks, piiBenign } from "../../test/security/secrets/pii.ts";
import { Random } from "../../test/security/secrets/random.ts";

/** A tool of the echo upstream, as the data guard sees it. */
export const benchTool: RouteTarget = {
  upstream: "echo",
  kind: "tool",
  name: "echo",
  publicName: "echo__echo",
};

/** The data guard with its defaults, as `strict` runs it. */
export function defaultDataGuard(): Layer {
  return dataGuardLayer({ config: dataGuardSection.parse({}), quarantineId: () => "bench" });
}

/** Whether the default data guard returns a result holding `text` as it is, without a finding. */
function untouched(guard: Layer, text: string): boolean {
  const ctx = testContext();
  const result = { content: [{ type: "text", text }] };
  const verdict = guard.onResult?.({ method: "tools/call", target: benchTool, result }, ctx);
  return verdict === undefined && ctx.findings.data === undefined;
}

let pools: { readonly clean: readonly string[]; readonly findings: readonly string[] } | undefined;

/**
 * Ordinary pieces (each one the data guard leaves alone and no injection rule fires on; the
 * corpora's hard cases, people's prose that uses the words attacks use, are left out so that a long
 * text of them does not add up to an injection score) and pieces with one finding each.
 */
function corpusPools() {
  if (pools) return pools;
  const guard = defaultDataGuard();
  const clean = [...resultBenign(), ...secretBenign(), ...piiBenign(), ...linkBenign()]
    .map((item) => item.text)
    .filter((text) => scoreInjection(text, [], { scorer: "rules" }).score === 0 && untouched(guard, text));
  const findings = [...secretAttacks(), ...piiAttacks(), ...linkAttacks()].map((item) => item.text);
  return (pools = { clean, findings });
}

export interface MixedTextOptions {
  /** Roughly how many bytes of clean text between two findings; 0: none. */
  readonly findingEvery?: number;
  readonly seed?: number;
}

/** `bytes` bytes (UTF-8) of tool output, pieces separated by blank lines, the same on every run. */
export function mixedText(bytes: number, options: MixedTextOptions = {}): string {
  const { clean, findings } = corpusPools();
  const every = options.findingEvery ?? 0;
  const r = new Random(options.seed ?? 42);
  const parts: string[] = [];
  let length = 0;
  let sinceFinding = every; // the first piece is a finding: small texts hold one too
  while (length < bytes) {
    const finding = every > 0 && sinceFinding >= every;
    const piece = r.pick(finding ? findings : clean);
    sinceFinding = finding ? 0 : sinceFinding + piece.length;
    parts.push(piece);
    length += piece.length + 2;
  }
  return cutToBytes(parts.join("\n\n"), bytes);
}

/** The longest prefix of `text` of at most `bytes` bytes, never ending inside a surrogate pair. */
function cutToBytes(text: string, bytes: number): string {
  let out = text.slice(0, bytes);
  for (let excess = Buffer.byteLength(out) - bytes; excess > 0; excess = Buffer.byteLength(out) - bytes)
    out = out.slice(0, out.length - Math.ceil(excess / 3));
  const last = out.charCodeAt(out.length - 1);
  return last >= 0xd800 && last <= 0xdbff ? out.slice(0, -1) : out;
}

/**
 * The `text` every matrix call sends and expects back: clean tool output that every layer of
 * `strict` passes unchanged (checked here against the data guard), so that a content layer's cost
 * is its scan, never a rewrite the load generators would count as a wrong answer.
 */
export function echoPayload(bytes: number): string {
  const text = mixedText(bytes, { seed: 7 });
  if (!untouched(defaultDataGuard(), text))
    throw new Error(
      `the ${bytes}-byte echo payload is no longer clean for the data guard (bench/lib/corpus.ts picks its pieces)`,
    );
  return text;
}
