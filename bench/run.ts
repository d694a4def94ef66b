// `npm run bench [-- --quick]`: builds if needed, runs the throughput/latency matrix and the memory
// probes, writes bench/results/<date>.json and the tables of docs/benchmarks.md, prints a JSON summary last.
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { arch, cpus, loadavg, release, tmpdir, totalmem, type } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { ensureBuilt } from "./lib/build.ts";
import { sleep, stopAll } from "./lib/processes.ts";
import { measureMemory, type MemoryResult } from "./memory.ts";
import { parsePlan, usage, type Plan } from "./plan.ts";
import { computeChecks, computeLayerCosts, fmt, renderMarkdown, summarize, type Results } from "./report.ts";
import { runMatrix, type Entry } from "./rounds.ts";
import { measurePolicyDecisions, policyMarkdown } from "./policies.ts";
import { detectLayers, layerProbes, repoRoot, TARGETS, targetNamed } from "./targets.ts";

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
    results = {
      policyDecisions,
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
      layers: computeLayerCosts(layers.probes, cells, plan.revisions, plan.concurrencies),
      checks: computeChecks(cells, memory, plan.revisions, plan.generators, plan.concurrencies),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  results.durationSeconds = Math.round((performance.now() - started) / 1000);
  results.machine.loadAfter = Number(loadavg()[0]!.toFixed(2));
  const markdown = `${renderMarkdown(results, plan.concurrencies)}\n\n${policyMarkdown(results.policyDecisions ?? [])}`;
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
  };
  process.stdout.write(`${JSON.stringify(summary)}\n`);
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
