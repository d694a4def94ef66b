// `node bench/profile.ts`: runs one HTTP target under `node --cpu-prof`, drives it with the raw
// generator for a few seconds, and prints what dominates its CPU (by origin, function, and subsystem).
//
// Usage: node bench/profile.ts [--target portcullis-strict] [--revision 2025-11-25] [--concurrency 8]
//                              [--seconds 8] [--top 25] [--payload 1024] [--keep DIR] [--no-build] [--no-pin]
// V8 samples wall time: a process that wakes another on a 2-core machine is often preempted inside
// the write, and that time lands on the write. So by default the target runs alone on CPU 0, and
// its upstreams and this harness on CPU 1 (taskset), which makes the samples read as CPU time.
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { performance } from "node:perf_hooks";
import { parseArgs } from "node:util";
import { ensureBuilt } from "./lib/build.ts";
import { summarizeProfile } from "./lib/cpuProfile.ts";
import { processTree, sleep, stopAll } from "./lib/processes.ts";
import { measureWindow } from "./load/drive.ts";
import { openRawHttp } from "./load/rawHttp.ts";
import { REVISIONS, type Revision } from "./load/types.ts";
import { fmt } from "./report.ts";
import { detectLayers, layerProbes, repoRoot, targetNamed } from "./targets.ts";

/** Subsystems charged inclusively (a sample counts for each one found anywhere on its stack). */
const SUBSYSTEMS: readonly RegExp[] = [
  /dist\/ingress\/http\.js/,
  /dist\/ingress\/transportSession\.js/,
  /dist\/ingress\/modern\.js/,
  /dist\/gateway\.js/,
  /dist\/pipeline\//,
  /dist\/layers\//,
  /dist\/upstream\//,
  /node_modules\/@modelcontextprotocol\/node\//,
  /node_modules\/@hono\/node-server\//,
  /node_modules\/@modelcontextprotocol\/server\//,
  /node_modules\/@modelcontextprotocol\/client\//,
  /node_modules\/@modelcontextprotocol\/core\//,
  /node_modules\/zod\//,
  /node_modules\/pino\//,
  /node_modules\/undici\//,
  /node:internal\/deps\/undici/,
  /node:internal\/streams/,
  /node:_http_/,
  /node:net/,
];

const log = (text: string): void => {
  process.stderr.write(`${text}\n`);
};

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      target: { type: "string", default: "portcullis-strict" },
      revision: { type: "string", default: "2025-11-25" },
      concurrency: { type: "string", default: "8" },
      seconds: { type: "string", default: "8" },
      top: { type: "string", default: "25" },
      payload: { type: "string", default: "1024" },
      keep: { type: "string" },
      "no-build": { type: "boolean", default: false },
      "no-pin": { type: "boolean", default: false },
    },
    strict: true,
  });
  const revision = values.revision as Revision;
  if (!REVISIONS.includes(revision)) throw new Error(`--revision: one of ${REVISIONS.join(", ")}`);
  if (!values["no-build"]) ensureBuilt(repoRoot, log);
  const dir = mkdtempSync(join(tmpdir(), "portcullis-profile-"));
  const definition = targetNamed(values.target, layerProbes(detectLayers(dir)).targets);
  const profileDir = values.keep ? resolve(values.keep) : join(dir, "profiles");
  mkdirSync(profileDir, { recursive: true });
  const spawnedAt = performance.now();
  const running = await definition.start({
    dir,
    nodeArgs: ["--cpu-prof", "--cpu-prof-dir", profileDir, "--cpu-prof-interval", "250"],
  });
  if (running.endpoint.kind !== "http" || running.pid === undefined)
    throw new Error(`${definition.name} has no process to profile`);
  const pinned = !values["no-pin"] && pinApart(running.pid);
  const concurrency = Number(values.concurrency);
  const client = await openRawHttp({
    endpoint: running.endpoint,
    revision,
    tool: definition.tool,
    payload: "x".repeat(Number(values.payload)),
    maxConcurrency: concurrency,
  });
  const seconds = Number(values.seconds);
  if (pinned) pinApart(running.pid); // again: upstream processes opened by the first calls
  const warmupMs = 1000;
  const skipMs = performance.now() - spawnedAt + warmupMs;
  const result = await measureWindow(client, {
    concurrency,
    warmupMs,
    measureMs: seconds * 1000,
    maxMeasureMs: seconds * 1000,
    minCalls: 0,
    cpuRoots: running.pid === undefined ? [] : [running.pid],
  });
  await client.close();
  await running.stop(); // the profile is written as the process exits
  await sleep(200);
  const file = readdirSync(profileDir).find((f) => f.endsWith(".cpuprofile"));
  if (!file) throw new Error(`no profile written in ${profileDir}`);
  const summary = summarizeProfile(join(profileDir, file), SUBSYSTEMS, skipMs);
  const top = Number(values.top);
  const pct = (share: number) => `${(share * 100).toFixed(1).padStart(5)} %`;
  const out: string[] = [
    `${definition.name} ${revision} c=${concurrency}: ${fmt(result.throughput, 0)} calls/s, p50 ${fmt(result.p50)} ms, ` +
      `CPU ms/call ${fmt(result.processCpuMsPerCall)} (process) / ${fmt(result.targetCpuMsPerCall)} (tree), ` +
      `${result.errors} errors${pinned ? "; target pinned to CPU 0, the rest to CPU 1" : ""}`,
    `profile ${join(profileDir, file)}: ${fmt(summary.totalMs, 0)} ms sampled after start-up and warm-up, ` +
      `${fmt(summary.idleMs, 0)} ms idle`,
    "",
    "self time by origin (share of busy time):",
    ...summary.byOrigin.slice(0, top).map((s) => `  ${pct(s.share)}  ${s.name}`),
    "",
    "self time by function:",
    ...summary.byFunction.slice(0, top).map((s) => `  ${pct(s.share)}  ${s.name}`),
    "",
    "inclusive time by subsystem (a sample counts once for each subsystem on its stack):",
    ...summary.inclusive
      .filter((s) => s.ms > 0)
      .sort((a, b) => b.ms - a.ms)
      .map((s) => `  ${pct(s.share)}  ${s.name}`),
  ];
  process.stdout.write(`${out.join("\n")}\n`);
  if (!values.keep) rmSync(dir, { recursive: true, force: true });
}

/** The target alone on CPU 0; its children and this harness on CPU 1. False when that is not possible. */
function pinApart(pid: number): boolean {
  if (cpus().length < 2) return false;
  try {
    execFileSync("taskset", ["-a", "-p", "-c", "0", String(pid)], { stdio: "ignore" });
    for (const child of processTree(pid).filter((p) => p !== pid))
      execFileSync("taskset", ["-a", "-p", "-c", "1", String(child)], { stdio: "ignore" });
    execFileSync("taskset", ["-a", "-p", "-c", "1", String(process.pid)], { stdio: "ignore" });
    return true;
  } catch {
    log("taskset failed: profiling without pinning");
    return false;
  }
}

main().then(
  async () => {
    await stopAll();
    process.exit(0);
  },
  async (err: unknown) => {
    log(`profile failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    await stopAll();
    process.exit(1);
  },
);
