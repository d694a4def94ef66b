// `npm run bench [-- --quick]`: builds if needed, runs the throughput/latency matrix, the layer pass and
// the memory probes, then the in-process policy engine and content scanners; writes
// bench/results/<date>.json and the tables of docs/benchmarks.md, prints a JSON summary last.
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { arch, cpus, loadavg, release, tmpdir, totalmem, type } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { ensureBuilt } from "./lib/build.ts";
import { sleep, stopAll } from "./lib/processes.ts";
import { measureMemory, type MemoryResult } from "./memory.ts";
import { parsePlan, usage, type LayerPass, type Plan } from "./plan.ts";
import {
  computeChecks,
  computeLayerCosts,
  fmt,
  renderMarkdown,
  summarize,
  type LayerPassResult,
  type Results,
} from "./report.ts";
import { runMatrix, type Entry } from "./rounds.ts";
import { measurePolicyDecisions, policyMarkdown } from "./policies.ts";
import { measureScanners, scannerMarkdown, sizeLabel } from "./scanners.ts";
import { detectLayers, layerProbes, repoRoot, TARGETS, targetNamed, type LayerProbe } from "./targets.ts";

const log = (text: string): void => {
  process.stderr.write(`${text}\n`);
};

function packageVersion(name: string): string {
  const path = join(repoRoot, name === "portcullis" ? "package.json" : `node_modules/${name}/package.json`);
  return (JSON.parse(readFileSync(path, "utf8")) as { version: string }).version;
}

function gitState(): { commit: string; dirty: boolean } {
  try {
    const commit = execFileSync("git", ["rev-parse", "HEAD"], { cwd: repoRoot }).toString().trim();
    const dirty = execFileSync("git", ["status", "--porcelain"], { cwd: repoRoot }).toString().trim() !== "";
    return { commit, dirty };
  } catch {
    return { commit: "unknown", dirty: true };
  }
}

function machineFacts(): Record<string, string | number> {
  return {
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model.trim() ?? "unknown",
    memoryGb: Math.round(totalmem() / 2 ** 30),
    node: process.versions.node,
    os: `${type()} ${release()} ${arch()}`,
    // Other work on the machine skews every figure; the 1-minute load before and after says how much.
    loadBefore: Number(loadavg()[0]!.toFixed(2)),
  };
}

async function main(plan: Plan): Promise<void> {
  const started = performance.now();
  const startedAt = new Date();
  if (plan.build) ensureBuilt(repoRoot, log);
  const machine = machineFacts();
  log(
    `machine: ${machine.cpus} cores (${machine.cpuModel}), ${machine.memoryGb} GB, Node ${machine.node}, ` +
      `load ${machine.loadBefore}`,
  );
  const dir = mkdtempSync(join(tmpdir(), "portcullis-bench-"));
  const layersPresent = detectLayers(dir);
  const layers = layerProbes(layersPresent);
  log(`layers in this build: ${layersPresent.join(", ") || "none"}`);

  const names = plan.targets ?? TARGETS.map((t) => t.name);
  const entries: Entry[] = names.map((name) => ({
    target: targetNamed(name, layers.targets),
    generators: plan.generators,
  }));
  if (!plan.targets && plan.generators.includes("raw")) {
    // Per-layer targets feed only the layer-cost table, which uses the raw generator.
    entries.push(...layers.targets.map((target) => ({ target, generators: ["raw" as const] })));
  }
  const windows =
    entries.reduce((n, e) => n + e.generators.length, 0) * plan.revisions.length * plan.concurrencies.length;
  log(
    `plan: ${entries.length} targets, ${windows} cells × ${plan.rounds} rounds ≈ ` +
      `${Math.round((windows * plan.rounds * (plan.warmupMs + plan.measureMs + 50)) / 1000)} s of load, then memory`,
  );

  let results: Results | undefined;
  try {
    const cells = await runMatrix(plan, entries, { dir }, log);
    for (const cell of cells) summarize(cell);
    const pass = plan.layerPass && passProbes(plan.layerPass, layers.probes);
    let layerPass: LayerPassResult | undefined;
    if (plan.layerPass && pass) {
      log(
        `layer pass: ${pass.targets.length} targets with ${plan.layerPass.payloadBytes} bytes each way, ` +
          `c=${plan.layerPass.concurrencies.join(",")}`,
      );
      const passEntries: Entry[] = pass.targets.map((name) => ({
        target: targetNamed(name, layers.targets),
        generators: ["raw"],
      }));
      layerPass = await runLayerPass(plan, plan.layerPass, passEntries, dir);
    }
    const memory: MemoryResult[] = [];
    for (const probe of plan.memory) {
      try {
        const result = await measureMemory(probe, targetNamed(probe.target), { dir });
        memory.push(result);
        log(
          `memory ${probe.target} (${probe.sessions} sessions${probe.callOnce ? ", one call each" : ""}): ` +
            `${fmt(result.baseMb, 1)} → ${fmt(result.afterMb, 1)} MB ` +
            `(tree ${fmt(result.treeBaseMb, 1)} → ${fmt(result.treeAfterMb, 1)} MB)`,
        );
      } catch (err) {
        log(`memory ${probe.target}: ${String(err)}`);
      }
    }
    log("policy engine: decisions per second against 10, 100 and 1,000 policies");
    const policyDecisions = measurePolicyDecisions();
    // In this process, once every target has stopped: nothing else of the run competes for the cores.
    if (plan.scanners) log("content scanners: MB/s at 1 KiB, 64 KiB and 1 MiB");
    const scanners = plan.scanners ? await measureScanners(plan.scanners, undefined, log) : undefined;
    const layerCosts = [
      ...computeLayerCosts(layers.probes, cells, plan.revisions, plan.concurrencies, plan.payloadBytes),
      ...(layerPass && pass
        ? computeLayerCosts(
            pass.probes,
            layerPass.cells,
            plan.revisions,
            layerPass.concurrencies,
            layerPass.payloadBytes,
          )
        : []),
    ];
    results = {
      policyDecisions,
      scanners,
      layerPass,
      date: startedAt.toISOString().slice(0, 10),
      startedAt: startedAt.toISOString(),
      durationSeconds: 0,
      quick: plan.quick,
      machine,
      versions: {
        portcullis: packageVersion("portcullis"),
        sdkClient: packageVersion("@modelcontextprotocol/client"),
        sdkServer: packageVersion("@modelcontextprotocol/server"),
        supergateway: packageVersion("supergateway"),
        "mcp-proxy": packageVersion("mcp-proxy"),
        undici: packageVersion("undici"),
      },
      git: gitState(),
      method: {
        payloadBytes: plan.payloadBytes,
        payload:
          "deterministic tool output (prose, JSON, logs, code, tables, links) that every layer passes unchanged",
        layerPass: plan.layerPass,
        scannerBudget: plan.scanners,
        rounds: plan.rounds,
        warmupMs: plan.warmupMs,
        measureMs: plan.measureMs,
        maxMeasureMs: plan.maxMeasureMs,
        minCalls: plan.minCalls,
        concurrencies: plan.concurrencies,
        generators: plan.generators,
        revisions: plan.revisions,
        skipped: plan.skip,
        logging:
          "Portcullis logging.level info (decision log on stderr, drained); peers with their logging off",
      },
      layersPresent,
      targets: entries.map(({ target: { name, group, description } }) => ({ name, group, description })),
      cells,
      memory,
      layers: layerCosts,
      checks: computeChecks(cells, memory, plan.revisions, plan.generators, plan.concurrencies),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  results.durationSeconds = Math.round((performance.now() - started) / 1000);
  results.machine.loadAfter = Number(loadavg()[0]!.toFixed(2));
  const markdown = [
    renderMarkdown(results, plan.concurrencies),
    policyMarkdown(results.policyDecisions ?? []),
    ...(results.scanners ? [scannerMarkdown(results.scanners)] : []),
  ].join("\n\n");
  if (plan.writeResults) {
    const resultsDir = join(repoRoot, "bench/results");
    mkdirSync(resultsDir, { recursive: true });
    const file = join(resultsDir, `${results.date}.json`);
    writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);
    log(`wrote ${file}`);
    await updateDocs(markdown);
  }
  process.stdout.write(`${markdown}\n\n`);
  const summary = {
    bench: "portcullis",
    quick: plan.quick,
    seconds: results.durationSeconds,
    errors: results.cells.reduce((sum, c) => sum + c.errors, 0),
    layers: layersPresent,
    checks: Object.fromEntries(
      results.checks
        .filter((c) => c.goal && (c.generator ?? "raw") === "raw")
        .map((c) => [
          `${c.name} [${c.revision ?? ""}]`,
          { value: Number(fmt(c.value, 3)), met: c.met ?? null },
        ]),
    ),
    scannersMbPerSecond: Object.fromEntries(
      (results.scanners ?? []).map((r) => [
        `${r.scanner} ${sizeLabel(r.size)}`,
        Number(fmt(r.mbPerSecond, 1)),
      ]),
    ),
  };
  process.stdout.write(`${JSON.stringify(summary)}\n`);
}

/** The layer pass's probes and the targets they need (dev, strict, each layer alone). */
function passProbes(
  pass: LayerPass,
  probes: readonly LayerProbe[],
): { probes: LayerProbe[]; targets: string[] } | undefined {
  const chosen = probes.filter((p) => pass.layers?.includes(p.layer) ?? true);
  if (chosen.length === 0) return undefined;
  const targets = new Set(["portcullis-dev", "portcullis-strict"]);
  for (const probe of chosen) targets.add(probe.on).add(probe.off);
  return { probes: chosen, targets: [...targets] };
}

/** The matrix again for the layer pass's targets: raw generator, its payload and concurrencies. */
async function runLayerPass(
  plan: Plan,
  pass: LayerPass,
  entries: readonly Entry[],
  dir: string,
): Promise<LayerPassResult> {
  const passPlan: Plan = {
    ...plan,
    generators: ["raw"],
    concurrencies: pass.concurrencies,
    payloadBytes: pass.payloadBytes,
  };
  const cells = await runMatrix(passPlan, entries, { dir }, log);
  for (const cell of cells) summarize(cell);
  const targets = entries.map((e) => e.target.name);
  return { payloadBytes: pass.payloadBytes, concurrencies: pass.concurrencies, targets, cells };
}

const DOC_START = "<!-- bench:results:start -->";
const DOC_END = "<!-- bench:results:end -->";

/** Replaces the generated block of docs/benchmarks.md, formatted the way `prettier --check` wants it. */
async function updateDocs(markdown: string): Promise<void> {
  const path = join(repoRoot, "docs/benchmarks.md");
  if (!existsSync(path)) return log(`${path} is missing; tables printed only`);
  const text = readFileSync(path, "utf8");
  const start = text.indexOf(DOC_START);
  const end = text.indexOf(DOC_END);
  if (start < 0 || end < start)
    return log(`${path} has no ${DOC_START} … ${DOC_END} block; tables printed only`);
  const next = `${text.slice(0, start + DOC_START.length)}\n\n${markdown}\n\n${text.slice(end)}`;
  const prettier = await import("prettier");
  const options = (await prettier.resolveConfig(path)) ?? {};
  writeFileSync(path, await prettier.format(next, { ...options, filepath: path }));
  log(`updated ${path}`);
}

let stopping = false;
const bail = (code: number) => {
  if (stopping) return;
  stopping = true;
  void stopAll().finally(() => process.exit(code));
};
process.once("SIGINT", () => {
  log("interrupted: stopping every process of this run");
  bail(130);
});
process.once("SIGTERM", () => bail(143));

let plan: Plan | undefined;
try {
  plan = parsePlan(process.argv.slice(2));
} catch (err) {
  log(`${err instanceof Error ? err.message : String(err)}\n\n${usage}`);
  process.exit(2);
}
if (!plan) {
  process.stdout.write(usage);
  process.exit(0);
}
main(plan).then(
  async () => {
    await stopAll();
    await sleep(50);
    process.exit(0);
  },
  (err: unknown) => {
    log(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    bail(1);
  },
);
