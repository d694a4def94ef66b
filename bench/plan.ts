// What one `npm run bench` measures: targets, revisions, generators, concurrencies, rounds and window
// lengths, from the command line; `--quick` is the smoke check of a few minutes.
import { parseArgs } from "node:util";
import { GENERATORS, REVISIONS, type Generator, type Revision } from "./load/types.ts";
import type { MemoryProbe } from "./memory.ts";
import { FULL_BUDGET, QUICK_BUDGET, type ScannerBudget } from "./scanners.ts";
import { TARGETS } from "./targets.ts";

export interface Plan {
  readonly quick: boolean;
  /** Target names; undefined: every target (and the per-layer targets). */
  readonly targets?: readonly string[];
  readonly revisions: readonly Revision[];
  readonly generators: readonly Generator[];
  readonly concurrencies: readonly number[];
  readonly rounds: number;
  readonly payloadBytes: number;
  readonly warmupMs: number;
  readonly measureMs: number;
  readonly maxMeasureMs: number;
  readonly minCalls: number;
  /** `target@revision` pairs left out (quick mode skips supergateway's process-per-request path). */
  readonly skip: readonly string[];
  readonly memory: readonly MemoryProbe[];
  /** The per-layer targets again, with a larger payload; undefined skips it. */
  readonly layerPass?: LayerPass;
  /** How long the in-process content scanners are measured (bench/scanners.ts); undefined skips them. */
  readonly scanners?: ScannerBudget;
  readonly writeResults: boolean;
  readonly build: boolean;
}

/**
 * A second matrix for the content layers, whose work grows with the message: `portcullis-dev`,
 * `portcullis-strict` and each layer alone, raw generator, with results large enough for a scan to
 * show in a layer's share of a call.
 */
export interface LayerPass {
  readonly payloadBytes: number;
  /** The layers measured alone; undefined: every layer the build has. */
  readonly layers?: readonly string[];
  readonly concurrencies: readonly number[];
}

export const usage = `Usage: npm run bench [-- options]
  --quick                 smoke check (raw generator, c=1 and 8, short windows, short scanner samples)
  --targets a,b           subset of: ${TARGETS.map((t) => t.name).join(", ")}
  --revisions r,s         2025-11-25 and/or 2026-07-28
  --generators g,h        raw and/or sdk
  --concurrency 1,8,32    in-flight calls per window
  --rounds N              measured rounds per cell (the median is reported; default 3)
  --payload BYTES         size of the echoed text (default 1024)
  --layer-payload BYTES   payload of the per-layer pass (default 65536; 0 skips it)
  --measure-ms MS         measured window per cell and round (default 900)
  --sessions N            idle sessions for the memory probes (default 1000; 0 skips them)
  --no-scanners           skip the in-process content scanners (MB/s)
  --no-build              use dist/ as it is
  --no-write              do not write bench/results/ or docs/benchmarks.md
`;

const QUICK_TARGETS = ["direct-stdio", "portcullis-dev", "portcullis-strict", "supergateway", "mcp-proxy"];

export function parsePlan(argv: string[]): Plan | undefined {
  const { values } = parseArgs({
    args: argv,
    options: {
      quick: { type: "boolean", default: false },
      targets: { type: "string" },
      revisions: { type: "string" },
      generators: { type: "string" },
      concurrency: { type: "string" },
      rounds: { type: "string" },
      payload: { type: "string" },
      "layer-payload": { type: "string" },
      "no-scanners": { type: "boolean", default: false },
      "measure-ms": { type: "string" },
      sessions: { type: "string" },
      "no-build": { type: "boolean", default: false },
      "no-write": { type: "boolean", default: false },
      help: { type: "boolean", default: false },
    },
    strict: true,
  });
  if (values.help) return undefined;
  const quick = values.quick;
  // A linear extrapolation from fewer sessions overstates: the first ones pay for heap growth.
  const sessions = positive(values.sessions ?? "1000", "--sessions", true);
  // Supergateway and Portcullis under `isolation: session` with used sessions spawn an echo process
  // per session: a couple of dozen show the slope without exhausting the machine.
  const few = Math.min(sessions, 24);
  const memory: MemoryProbe[] = quick
    ? [{ target: "portcullis-strict", sessions, callOnce: false }]
    : [
        { target: "portcullis-strict", sessions, callOnce: false },
        { target: "portcullis-strict-shared", sessions, callOnce: false },
        { target: "direct-http", sessions, callOnce: false },
        { target: "mcp-proxy", sessions, callOnce: false },
        { target: "supergateway", sessions: few, callOnce: false },
        { target: "portcullis-strict", sessions: few, callOnce: true },
      ];
  const generators = oneOf(GENERATORS, list(values.generators)) ?? (quick ? ["raw"] : GENERATORS);
  const concurrencies =
    list(values.concurrency)?.map((c) => positive(c, "--concurrency")) ?? (quick ? [1, 8] : [1, 8, 32]);
  const layerPayload = positive(values["layer-payload"] ?? "65536", "--layer-payload", true);
  // Like the per-layer targets of the main matrix: not when the targets are chosen by hand.
  const layerPass: LayerPass | undefined =
    layerPayload === 0 || values.targets !== undefined || !generators.includes("raw")
      ? undefined
      : {
          payloadBytes: layerPayload,
          layers: quick ? ["data"] : undefined,
          concurrencies: quick ? [Math.min(...concurrencies)] : passConcurrencies(concurrencies),
        };
  return {
    quick,
    targets: list(values.targets) ?? (quick ? QUICK_TARGETS : undefined),
    revisions: oneOf(REVISIONS, list(values.revisions)) ?? REVISIONS,
    generators,
    concurrencies,
    rounds: positive(values.rounds ?? "3", "--rounds"),
    payloadBytes: positive(values.payload ?? "1024", "--payload", true),
    warmupMs: quick ? 100 : 200,
    measureMs: positive(values["measure-ms"] ?? (quick ? "300" : "900"), "--measure-ms"),
    maxMeasureMs: quick ? 1000 : 4000,
    minCalls: quick ? 5 : 10,
    skip: quick ? ["supergateway@2026-07-28"] : [],
    memory: sessions > 0 ? memory : [],
    layerPass,
    scanners: values["no-scanners"] ? undefined : quick ? QUICK_BUDGET : FULL_BUDGET,
    writeResults: !values["no-write"] && !quick,
    build: !values["no-build"],
  };
}

/** c=1 (latency) and c=8 (throughput) where the plan has them: the pass need not repeat every load. */
function passConcurrencies(concurrencies: readonly number[]): number[] {
  const picked = concurrencies.filter((c) => c === 1 || c === 8);
  return picked.length > 0 ? picked : [Math.min(...concurrencies)];
}

function list(text: string | undefined): string[] | undefined {
  return text?.split(",").map((s) => s.trim());
}

function oneOf<T extends string>(allowed: readonly T[], given: string[] | undefined): T[] | undefined {
  return given?.map((g) => {
    if (!(allowed as readonly string[]).includes(g))
      throw new Error(`${g}: expected one of ${allowed.join(", ")}`);
    return g as T;
  });
}

function positive(text: string, option: string, zeroAllowed = false): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value < (zeroAllowed ? 0 : 1))
    throw new Error(`${option} ${text}: not a count`);
  return value;
}
