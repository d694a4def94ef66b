// Turns the rounds into what the issue asks for: per-cell medians, the ratios that matter against
// their targets, per-layer costs, and the Markdown tables that go into docs/benchmarks.md.
import type { PolicyBenchRow } from "./policies.ts";
import type { ScannerRow } from "./scanners.ts";
import type { WindowResult } from "./load/drive.ts";
import type { Generator, Revision } from "./load/types.ts";
import type { MemoryResult } from "./memory.ts";
import { median, ratio, round } from "./lib/stats.ts";
import type { LayerProbe, TargetGroup } from "./targets.ts";

export interface CellKey {
  readonly target: string;
  readonly revision: Revision;
  readonly generator: Generator;
  readonly concurrency: number;
}

/** The medians of a cell: the measured figures of a window, each possibly missing. */
export type Figures = Partial<
  Pick<
    WindowResult,
    "throughput" | "p50" | "p90" | "p99" | "targetCpuMsPerCall" | "processCpuMsPerCall" | "clientCpuMsPerCall"
  >
>;

export interface Cell extends CellKey {
  readonly rounds: (WindowResult & { readonly round: number })[];
  /** Medians across rounds. */
  median: Figures;
  errors: number;
  /** Why the cell has no figures (the target does not support the revision, the client failed…). */
  skipped?: string;
}

export interface Check {
  readonly name: string;
  readonly revision?: Revision;
  readonly generator?: Generator;
  readonly value?: number;
  readonly unit: string;
  /** The target to steer by, e.g. ">= 1.5"; absent for figures reported for information. */
  readonly goal?: { readonly op: ">=" | "<="; readonly bound: number };
  readonly met?: boolean;
  readonly detail: string;
}

export interface LayerCost {
  readonly layer: string;
  /** The echoed text of the calls measured (the main matrix's, or the layer pass's). */
  readonly payloadBytes: number;
  readonly revision: Revision;
  readonly concurrency: number;
  /** Throughput with the layer on ÷ with every layer off (raw generator). */
  readonly throughputRatio?: number;
  readonly addedP50Ms?: number;
  readonly addedCpuMsPerCall?: number;
  /** The added CPU ÷ the CPU of a `portcullis-strict` call (every layer on): the layer's share of a call. */
  readonly shareOfStrictCpu?: number;
}

/** The layer pass: dev, strict and each layer alone again, raw generator, with a larger payload. */
export interface LayerPassResult {
  readonly payloadBytes: number;
  readonly concurrencies: readonly number[];
  readonly targets: readonly string[];
  readonly cells: Cell[];
}

export interface Results {
  readonly date: string;
  readonly startedAt: string;
  durationSeconds: number;
  readonly quick: boolean;
  readonly machine: Record<string, string | number>;
  readonly versions: Record<string, string>;
  readonly git: { readonly commit: string; readonly dirty: boolean };
  readonly method: Record<string, unknown>;
  /** The layers the measured build has (strict runs them all). */
  readonly layersPresent: readonly string[];
  readonly targets: { name: string; group: TargetGroup; description: string }[];
  readonly cells: Cell[];
  memory: MemoryResult[];
  layers: LayerCost[];
  checks: Check[];
  /** The policy engine measured in process (bench/policies.ts). */
  policyDecisions?: PolicyBenchRow[];
  layerPass?: LayerPassResult;
  /** The content scanners measured in process (bench/scanners.ts). */
  scanners?: ScannerRow[];
}

export function summarize(cell: Cell): void {
  const pick = (f: (r: WindowResult) => number | undefined) => median(cell.rounds.map(f));
  cell.median = {
    throughput: pick((r) => r.throughput),
    p50: pick((r) => r.p50),
    p90: pick((r) => r.p90),
    p99: pick((r) => r.p99),
    targetCpuMsPerCall: pick((r) => r.targetCpuMsPerCall),
    processCpuMsPerCall: pick((r) => r.processCpuMsPerCall),
    clientCpuMsPerCall: pick((r) => r.clientCpuMsPerCall),
  };
  cell.errors = cell.rounds.reduce((sum, r) => sum + r.errors, 0);
}

export function findCell(cells: readonly Cell[], key: CellKey): Cell | undefined {
  return cells.find(
    (c) =>
      c.target === key.target &&
      c.revision === key.revision &&
      c.generator === key.generator &&
      c.concurrency === key.concurrency,
  );
}

const PEERS = ["supergateway", "mcp-proxy"];

/** The ratios the issue asks for, per revision and generator, against the targets to steer by. */
export function computeChecks(
  cells: readonly Cell[],
  memory: readonly MemoryResult[],
  revisions: readonly Revision[],
  generators: readonly Generator[],
  concurrencies: readonly number[],
): Check[] {
  const checks: Check[] = [];
  const mid = concurrencies.includes(8) ? 8 : concurrencies[Math.floor(concurrencies.length / 2)]!;
  const low = Math.min(...concurrencies);
  const goal = (op: ">=" | "<=", bound: number, value: number | undefined) => ({
    goal: { op, bound },
    met: value === undefined ? undefined : op === ">=" ? value >= bound : value <= bound,
  });
  for (const generator of generators) {
    for (const revision of revisions) {
      const at = (target: string, concurrency: number) =>
        findCell(cells, { target, revision, generator, concurrency })?.median;
      const strict = at("portcullis-strict", mid)?.throughput;
      const peers = PEERS.map((name) => ({ name, rps: at(name, mid)?.throughput })).filter(
        (p): p is { name: string; rps: number } => p.rps !== undefined,
      );
      const best = peers.sort((a, b) => b.rps - a.rps)[0];
      const base = { revision, generator };
      const vsPeer = ratio(strict, best?.rps);
      checks.push({
        name: `strict ÷ best peer throughput (c=${mid})`,
        ...base,
        value: vsPeer,
        unit: "×",
        ...goal(">=", 1.5, vsPeer),
        detail: `strict ${fmt(strict, 0)}/s vs ${best?.name ?? "no peer"} ${fmt(best?.rps, 0)}/s`,
      });
      const shared = at("portcullis-strict-shared", mid)?.throughput;
      const vsPeerShared = ratio(shared, best?.rps);
      checks.push({
        name: `strict (isolation shared) ÷ best peer throughput (c=${mid})`,
        ...base,
        value: vsPeerShared,
        unit: "×",
        detail: `strict-shared ${fmt(shared, 0)}/s vs ${best?.name ?? "no peer"} ${fmt(best?.rps, 0)}/s`,
      });
      const dev = at("portcullis-dev", mid)?.throughput;
      const vsDev = ratio(strict, dev);
      checks.push({
        name: `strict ÷ dev throughput (c=${mid})`,
        ...base,
        value: vsDev,
        unit: "×",
        ...goal(">=", 0.9, vsDev),
        detail: `strict ${fmt(strict, 0)}/s vs dev ${fmt(dev, 0)}/s`,
      });
      for (const direct of ["direct-stdio", "direct-http"]) {
        const s = at("portcullis-strict", low);
        const d = at(direct, low);
        const added50 = diff(s?.p50, d?.p50);
        checks.push({
          name: `added p50 over ${direct} (c=${low})`,
          ...base,
          value: added50,
          unit: "ms",
          ...(direct === "direct-stdio" ? goal("<=", 0.5, added50) : {}),
          detail: `strict ${fmt(s?.p50, 3)} ms vs ${direct} ${fmt(d?.p50, 3)} ms`,
        });
        const added99 = diff(s?.p99, d?.p99);
        checks.push({
          name: `added p99 over ${direct} (c=${low})`,
          ...base,
          value: added99,
          unit: "ms",
          detail: `strict ${fmt(s?.p99, 3)} ms vs ${direct} ${fmt(d?.p99, 3)} ms`,
        });
      }
    }
  }
  for (const m of memory) {
    const headline = m.target === "portcullis-strict" && !m.callOnce;
    const value = headline ? m.processAt1000Mb : m.treeAt1000Mb;
    const measured = m.sessions >= 1000 ? "measured" : `extrapolated from ${m.sessions} sessions`;
    checks.push({
      name: `${m.target}: ${headline ? "gateway RSS" : "process tree, private memory,"} with 1,000 ${m.callOnce ? "used, then idle" : "idle"} sessions`,
      revision: "2025-11-25",
      value,
      unit: "MB",
      ...(headline ? goal("<=", 150, value) : {}),
      detail: `${measured}; process RSS ${fmt(m.processAt1000Mb, 1)} MB, tree private ${fmt(m.treeAt1000Mb, 1)} MB, ${fmt(m.perSessionKb, 1)} KB per session (tree)`,
    });
  }
  return checks;
}

export function computeLayerCosts(
  probes: readonly LayerProbe[],
  cells: readonly Cell[],
  revisions: readonly Revision[],
  concurrencies: readonly number[],
  payloadBytes: number,
): LayerCost[] {
  const costs: LayerCost[] = [];
  for (const probe of probes) {
    for (const revision of revisions) {
      for (const concurrency of concurrencies) {
        const at = (target: string) => findCell(cells, { target, revision, generator: "raw", concurrency });
        const on = at(probe.on)?.median;
        const off = at(probe.off)?.median;
        if (!on || !off) continue;
        const addedCpuMsPerCall = diff(on.targetCpuMsPerCall, off.targetCpuMsPerCall);
        costs.push({
          layer: probe.layer,
          payloadBytes,
          revision,
          concurrency,
          throughputRatio: ratio(on.throughput, off.throughput),
          addedP50Ms: diff(on.p50, off.p50),
          addedCpuMsPerCall,
          shareOfStrictCpu: ratio(addedCpuMsPerCall, at("portcullis-strict")?.median.targetCpuMsPerCall),
        });
      }
    }
  }
  return costs;
}

const diff = (a: number | undefined, b: number | undefined) =>
  a === undefined || b === undefined ? undefined : a - b;

export function fmt(value: number | undefined, digits = 2): string {
  return value === undefined ? "–" : (round(value, digits) ?? 0).toFixed(digits);
}

function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const line = (cells: readonly string[]) => `| ${cells.join(" | ")} |`;
  return [line(header), line(header.map(() => "---")), ...rows.map(line)].join("\n");
}

/** The generated block of docs/benchmarks.md (Prettier formats it afterwards). */
export function renderMarkdown(results: Results, concurrencies: readonly number[]): string {
  const out: string[] = [];
  const m = results.machine;
  out.push(
    `Run of ${results.date} (${fmt(results.durationSeconds, 0)} s): ${m.cpus} × ${m.cpuModel}, ` +
      `${m.memoryGb} GB RAM, Node ${m.node}, ${m.os}, 1-minute load ${m.loadBefore} before and ${m.loadAfter} after; Portcullis ${results.git.commit.slice(0, 10)}` +
      `${results.git.dirty ? " (uncommitted changes)" : ""}, MCP SDK ${results.versions.sdkClient}, ` +
      `supergateway ${results.versions.supergateway}, mcp-proxy ${results.versions["mcp-proxy"]}. ` +
      `Layers in this build: ${results.layersPresent.join(", ") || "none"}. ` +
      `Payload ${String(results.method.payloadBytes)} bytes; ${String(results.method.rounds)} rounds; ` +
      `raw figures in \`bench/results/${results.date}.json\`.`,
  );
  out.push("", "### Against the targets", "");
  out.push(
    table(
      ["check", "revision", "generator", "value", "target", "met", "detail"],
      results.checks.map((c) => [
        c.name,
        c.revision ?? "",
        c.generator ?? "",
        `${fmt(c.value, c.unit === "MB" ? 1 : 2)} ${c.unit}`,
        c.goal ? `${c.goal.op === ">=" ? "≥" : "≤"} ${c.goal.bound} ${c.unit}` : "(info)",
        c.met === undefined ? "" : c.met ? "yes" : "**no**",
        c.detail,
      ]),
    ),
  );
  const targetNames = results.targets.map((t) => t.name);
  for (const generator of ["raw", "sdk"] as const) {
    for (const revision of ["2025-11-25", "2026-07-28"] as const) {
      const rendered = targetTable(results.cells, targetNames, revision, generator, concurrencies);
      if (!rendered) continue;
      out.push("", `### ${revision}, ${generator === "raw" ? "raw HTTP/pipe" : "SDK client"} generator`, "");
      out.push(rendered);
    }
  }
  const pass = results.layerPass;
  for (const revision of pass ? (["2025-11-25", "2026-07-28"] as const) : []) {
    const rendered = pass && targetTable(pass.cells, pass.targets, revision, "raw", pass.concurrencies);
    if (!rendered) continue;
    out.push(
      "",
      `### ${revision}, raw generator, ${pass.payloadBytes} bytes of text each way (layer pass)`,
      "",
    );
    out.push(rendered);
  }
  if (results.memory.length > 0) {
    out.push("", "### Memory with idle sessions (2025-11-25)", "");
    out.push(
      table(
        [
          "target",
          "sessions",
          "each made a call",
          "process RSS MB before → after",
          "tree private MB before → after",
          "per session KB (tree private)",
          "tree private at 1,000 MB",
        ],
        results.memory.map((r) => [
          r.target,
          String(r.sessions),
          r.callOnce ? "yes" : "no",
          `${fmt(r.baseMb, 1)} → ${fmt(r.afterMb, 1)} (anonymous ${fmt(r.afterAnonMb, 1)})`,
          `${fmt(r.treeBaseMb, 1)} → ${fmt(r.treeAfterMb, 1)}`,
          fmt(r.perSessionKb, 1),
          fmt(r.treeAt1000Mb, 0),
        ]),
      ),
    );
  }
  if (results.layers.length > 0) {
    out.push("", "### Cost of each layer on its own (raw generator)", "");
    out.push(
      table(
        [
          "layer",
          "payload bytes",
          "revision",
          "concurrency",
          "throughput on ÷ off",
          "added p50 ms",
          "added target CPU ms/call",
          "share of a strict call (CPU)",
        ],
        results.layers.map((l) => [
          l.layer,
          String(l.payloadBytes),
          l.revision,
          String(l.concurrency),
          fmt(l.throughputRatio, 3),
          fmt(l.addedP50Ms, 3),
          fmt(l.addedCpuMsPerCall, 3),
          l.shareOfStrictCpu === undefined ? "–" : `${fmt(l.shareOfStrictCpu * 100, 0)} %`,
        ]),
      ),
    );
  }
  return out.join("\n");
}

/** One table row per target that has cells for this revision and generator; undefined when none has. */
function targetTable(
  cells: readonly Cell[],
  targets: readonly string[],
  revision: Revision,
  generator: Generator,
  concurrencies: readonly number[],
): string | undefined {
  const rows = targets.flatMap((target) => {
    const found = concurrencies.map((concurrency) =>
      findCell(cells, { target, revision, generator, concurrency }),
    );
    if (found.every((c) => c === undefined)) return [];
    const skipped = found.find((c) => c?.skipped)?.skipped;
    if (skipped) return [[target, ...concurrencies.flatMap(() => ["–", "–", "–"]), "–", `(${skipped})`]];
    const cpuCell = found[concurrencies.indexOf(8)] ?? found[0];
    return [
      [
        target,
        ...found.flatMap((c) => [fmt(c?.median.throughput, 0), fmt(c?.median.p50), fmt(c?.median.p99)]),
        `${fmt(cpuCell?.median.processCpuMsPerCall)} / ${fmt(cpuCell?.median.targetCpuMsPerCall)} / ${fmt(cpuCell?.median.clientCpuMsPerCall)}`,
        found.reduce((sum, c) => sum + (c?.errors ?? 0), 0) > 0 ? "errors" : "",
      ],
    ];
  });
  if (rows.length === 0) return undefined;
  const cpuAt = concurrencies.includes(8) ? 8 : concurrencies[0];
  return table(
    [
      "target",
      ...concurrencies.flatMap((c) => [`c=${c} calls/s`, `c=${c} p50 ms`, `c=${c} p99 ms`]),
      `CPU ms/call: process / tree / client (c=${cpuAt})`,
      "",
    ],
    rows,
  );
}
