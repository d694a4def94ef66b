// Runs the official MCP conformance suite against the fixture server directly and then through the
// gateway, and fails when a check that passes directly does not pass through the gateway.
//
// Usage: npm run conformance [-- --upstream http|stdio] [--protocol auto|2025-11-25|…] [--keep]
// Suites: @modelcontextprotocol/conformance 0.1.16 (default suite) and 0.2.0-alpha.12 (npm alias
// conformance-alpha) with --requirements 2025-11-25 and 2026-07-28. The last output line is
// "N passed, M failed": M counts the checks that pass directly but not through the gateway.
import { spawn, type ChildProcess } from "node:child_process";
import {
  createWriteStream,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { parse as parseYaml } from "yaml";
import { fixture, nodeUpstream, repoRoot, permitAll } from "../test/helpers/gatewayProcess.ts";

const MINIMUM_NODE_MAJOR = 22;
/** A suite run that takes longer than this is stuck (the alpha also bounds each scenario itself). */
const SUITE_RUN_TIMEOUT_MS = 240_000;
/** Per-scenario bound of the alpha; its default of 30 s makes a hanging gateway cost minutes. */
const SCENARIO_TIMEOUT_MS = 15_000;

type CheckStatus = "SUCCESS" | "FAILURE" | "WARNING" | "SKIPPED" | "INFO";

interface ConformanceCheck {
  readonly id: string;
  readonly status: CheckStatus;
  readonly errorMessage: string | undefined;
}

interface SuiteRun {
  readonly label: string;
  /** Folder under node_modules of the conformance package whose CLI runs this suite. */
  readonly cliPackage: string;
  readonly args: readonly string[];
  /** The revision whose frozen `server:` list is scored; without it every scenario counts. */
  readonly requirements?: string;
}

/** Checks by scenario name, as the suite wrote them to `<out>/server-<scenario>-<time>/checks.json`. */
type ChecksByScenario = ReadonlyMap<string, readonly ConformanceCheck[]>;

interface Regression {
  readonly scenario: string;
  readonly checkId: string;
  readonly scored: boolean;
  readonly gatewayError: string;
}

const SUITE_RUNS: readonly SuiteRun[] = [
  { label: "0.1.16 default suite", cliPackage: "@modelcontextprotocol/conformance", args: [] },
  {
    label: "0.2.0-alpha.12 --requirements 2025-11-25",
    cliPackage: "conformance-alpha",
    args: ["--requirements", "2025-11-25", "--timeout", String(SCENARIO_TIMEOUT_MS)],
    requirements: "2025-11-25",
  },
  {
    label: "0.2.0-alpha.12 --requirements 2026-07-28",
    cliPackage: "conformance-alpha",
    args: ["--requirements", "2026-07-28", "--timeout", String(SCENARIO_TIMEOUT_MS)],
    requirements: "2026-07-28",
  },
];

const children = new Set<ChildProcess>();

function track(child: ChildProcess): ChildProcess {
  children.add(child);
  child.once("exit", () => children.delete(child));
  return child;
}

function killChildren(): void {
  for (const child of children)
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
}

function say(line = ""): void {
  process.stdout.write(`${line}\n`);
}

/**
 * Spawns a Node script that logs a JSON line `{"msg": <listeningMessage>, "url": …}` on stderr once
 * it serves HTTP; resolves with that URL. Its stderr goes to `logPath`.
 */
function startListening(args: readonly string[], logPath: string, listeningMessage: string): Promise<string> {
  const child = track(spawn(process.execPath, args, { stdio: ["ignore", "ignore", "pipe"] }));
  child.stderr?.pipe(createWriteStream(logPath));
  return new Promise<string>((resolve, reject) => {
    let partial = "";
    const timer = setTimeout(
      () => reject(new Error(`${args[0]} did not start listening; see ${logPath}`)),
      30_000,
    );
    child.stderr?.setEncoding("utf8");
    child.stderr?.on("data", (text: string) => {
      const lines = (partial + text).split("\n");
      partial = lines.pop() ?? "";
      for (const line of lines) {
        const url = listeningUrl(line, listeningMessage);
        if (url === undefined) continue;
        clearTimeout(timer);
        resolve(url);
      }
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`${args[0]} exited with ${code}; see ${logPath}`));
    });
  });
}

function listeningUrl(line: string, listeningMessage: string): string | undefined {
  try {
    const parsed = JSON.parse(line) as { msg?: unknown; url?: unknown };
    return parsed.msg === listeningMessage && typeof parsed.url === "string" ? parsed.url : undefined;
  } catch {
    return undefined;
  }
}

async function waitUntilReady(gatewayUrl: string): Promise<void> {
  const readyz = new URL("/readyz", gatewayUrl);
  const deadline = Date.now() + 30_000;
  for (;;) {
    const status = await fetch(readyz)
      .then((res) => res.status)
      .catch(() => 0);
    if (status === 200) return;
    if (Date.now() > deadline)
      throw new Error(`the gateway did not become ready (last /readyz status ${status})`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Runs one suite against `url`, writing results under `outDir`; resolves with the CLI's exit code. */
function runSuite(run: SuiteRun, url: string, outDir: string, logPath: string): Promise<number | null> {
  const cli = join(repoRoot, "node_modules", run.cliPackage, "dist/index.js");
  const child = track(
    spawn(process.execPath, [cli, "server", "--url", url, ...run.args, "-o", outDir], {
      stdio: ["ignore", "pipe", "pipe"],
    }),
  );
  const log = createWriteStream(logPath);
  child.stdout?.pipe(log, { end: false });
  child.stderr?.pipe(log, { end: false });
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      log.write(`\n[conformance script] killed after ${SUITE_RUN_TIMEOUT_MS} ms\n`);
      child.kill("SIGKILL");
    }, SUITE_RUN_TIMEOUT_MS);
    child.once("close", (code) => {
      clearTimeout(timer);
      log.end();
      resolve(code);
    });
  });
}

function isCheckStatus(value: unknown): value is CheckStatus {
  return ["SUCCESS", "FAILURE", "WARNING", "SKIPPED", "INFO"].includes(value as string);
}

/** Reads every `checks.json` a suite run wrote; entries without an id or a known status are skipped. */
function readChecks(outDir: string): ChecksByScenario {
  const scenarios = new Map<string, ConformanceCheck[]>();
  for (const entry of readdirSync(outDir, { withFileTypes: true })) {
    if (!entry.isDirectory()) continue;
    const scenario = entry.name.replace(/^server-/, "").replace(/-\d{4}-\d\d-\d\dT[\d-]+Z$/, "");
    let raw: unknown;
    try {
      raw = JSON.parse(readFileSync(join(outDir, entry.name, "checks.json"), "utf8"));
    } catch {
      continue;
    }
    const checks = scenarios.get(scenario) ?? [];
    for (const item of Array.isArray(raw) ? (raw as unknown[]) : []) {
      const { id, status, errorMessage } = (item ?? {}) as Record<string, unknown>;
      if (typeof id !== "string" || !isCheckStatus(status)) continue;
      checks.push({ id, status, errorMessage: typeof errorMessage === "string" ? errorMessage : undefined });
    }
    scenarios.set(scenario, checks);
  }
  return scenarios;
}

/** The scenarios a requirement revision scores: the frozen `server:` list shipped with the alpha. */
function scoredScenarios(revision: string): ReadonlySet<string> {
  const path = join(repoRoot, "node_modules/conformance-alpha/requirements", `${revision}.yaml`);
  const doc = parseYaml(readFileSync(path, "utf8")) as { server?: unknown };
  if (!Array.isArray(doc.server)) throw new Error(`${path} has no server: list`);
  return new Set(doc.server.filter((s): s is string => typeof s === "string"));
}

function tally(
  checks: ChecksByScenario,
  scored: (scenario: string) => boolean,
): { passed: number; failed: number } {
  let passed = 0;
  let failed = 0;
  for (const [scenario, list] of checks) {
    if (!scored(scenario)) continue;
    for (const check of list) {
      if (check.status === "SUCCESS") passed++;
      else if (check.status === "FAILURE") failed++;
    }
  }
  return { passed, failed };
}

/**
 * Check ids repeat within a scenario (one per probe), so checks are compared by how many times an
 * id succeeded: every success short of the direct count is one regression.
 */
function regressions(
  direct: ChecksByScenario,
  viaGateway: ChecksByScenario,
  scored: (scenario: string) => boolean,
): Regression[] {
  const found: Regression[] = [];
  for (const [scenario, directChecks] of direct) {
    const gatewayChecks = viaGateway.get(scenario) ?? [];
    const ids = [...new Set(directChecks.filter((c) => c.status === "SUCCESS").map((c) => c.id))];
    for (const checkId of ids) {
      const want = directChecks.filter((c) => c.id === checkId && c.status === "SUCCESS").length;
      const got = gatewayChecks.filter((c) => c.id === checkId && c.status === "SUCCESS").length;
      const errors = gatewayChecks
        .filter((c) => c.id === checkId && c.status !== "SUCCESS")
        .map((c) => `${c.status}: ${c.errorMessage ?? "(no message)"}`);
      for (let missing = want - got, i = 0; i < missing; i++) {
        found.push({
          scenario,
          checkId,
          scored: scored(scenario),
          gatewayError: errors[i] ?? errors[0] ?? describeMissing(gatewayChecks),
        });
      }
    }
  }
  return found;
}

function describeMissing(gatewayChecks: readonly ConformanceCheck[]): string {
  const failure = gatewayChecks.find((c) => c.status === "FAILURE");
  if (!failure) return "not reported through the gateway";
  return `not reported; the scenario failed at ${failure.id}: ${failure.errorMessage ?? "(no message)"}`;
}

function gatewayConfig(fixtureUrl: string, upstream: "http" | "stdio", protocol: string): string {
  const upstreamYaml =
    upstream === "http"
      ? `  conformance:\n    transport: streamable-http\n    url: ${JSON.stringify(fixtureUrl)}\n    protocol: ${protocol}\n`
      : nodeUpstream(
          "conformance",
          fixture("conformance-server.ts"),
          ["--stdio"],
          `    protocol: ${protocol}\n`,
        );
  // Unprefixed names: the suite calls exact tool and prompt names such as test_simple_text.
  return `version: 1
${permitAll}
server:
  host: 127.0.0.1
federation:
  prefixSingleUpstream: false
upstreams:
${upstreamYaml}`;
}

async function main(): Promise<number> {
  const major = Number(process.versions.node.split(".")[0]);
  if (major < MINIMUM_NODE_MAJOR) {
    process.stderr.write(
      `npm run conformance needs Node.js ${MINIMUM_NODE_MAJOR} or newer (this is ${process.versions.node})\n`,
    );
    return 1;
  }
  const { values: options } = parseArgs({
    options: {
      upstream: { type: "string", default: "http" },
      protocol: { type: "string", default: "auto" },
      keep: { type: "boolean", default: false },
    },
  });
  if (options.upstream !== "http" && options.upstream !== "stdio") {
    process.stderr.write(`--upstream must be http or stdio, not ${options.upstream}\n`);
    return 1;
  }
  const started = Date.now();
  const workDir = mkdtempSync(join(tmpdir(), "portcullis-conformance-"));
  say(`conformance: results and logs in ${workDir}`);

  const fixtureUrl = await startListening(
    [fixture("conformance-server.ts"), "--port", "0", "--host", "127.0.0.1"],
    join(workDir, "fixture.log"),
    "conformance fixture listening",
  );
  say(`conformance: fixture at ${fixtureUrl}`);
  const direct: ChecksByScenario[] = [];
  const viaGateway: ChecksByScenario[] = [];
  let incomplete = false;
  try {
    for (const [i, run] of SUITE_RUNS.entries()) {
      const outDir = join(workDir, `direct-${i}`);
      mkdirSync(outDir);
      await runSuite(run, fixtureUrl, outDir, `${outDir}.log`);
      direct.push(readChecks(outDir));
    }
    const configPath = join(workDir, "portcullis.yaml");
    writeFileSync(configPath, gatewayConfig(fixtureUrl, options.upstream, options.protocol));
    const gatewayUrl = await startListening(
      [join(repoRoot, "src/cli/main.ts"), "serve", "--config", configPath, "--port", "0"],
      join(workDir, "gateway.log"),
      "HTTP ingress listening",
    );
    await waitUntilReady(gatewayUrl);
    say(
      `conformance: gateway at ${gatewayUrl} (upstream over ${options.upstream}, protocol ${options.protocol})`,
    );
    for (const [i, run] of SUITE_RUNS.entries()) {
      const outDir = join(workDir, `gateway-${i}`);
      mkdirSync(outDir);
      await runSuite(run, gatewayUrl, outDir, `${outDir}.log`);
      viaGateway.push(readChecks(outDir));
    }
  } finally {
    killChildren();
  }

  let passed = 0;
  let failed = 0;
  for (const [i, run] of SUITE_RUNS.entries()) {
    const scoredSet = run.requirements ? scoredScenarios(run.requirements) : undefined;
    const scored = (scenario: string) => scoredSet?.has(scenario) ?? true;
    const directChecks = direct[i] ?? new Map<string, readonly ConformanceCheck[]>();
    const gatewayChecks = viaGateway[i] ?? new Map<string, readonly ConformanceCheck[]>();
    const directTally = tally(directChecks, scored);
    const gatewayTally = tally(gatewayChecks, scored);
    if (directChecks.size === 0) incomplete = true;
    say();
    say(`== ${run.label}${scoredSet ? " (scored scenarios only)" : ""}`);
    say(`   direct:  ${directTally.passed} passed, ${directTally.failed} failed`);
    say(`   gateway: ${gatewayTally.passed} passed, ${gatewayTally.failed} failed`);
    const lost = regressions(directChecks, gatewayChecks, scored);
    const lostScored = lost.filter((r) => r.scored);
    passed += directTally.passed - lostScored.length;
    failed += lostScored.length;
    for (const [heading, list] of [
      ["passes directly, not through the gateway", lostScored],
      ["not scored, passes directly, not through the gateway (informational)", lost.filter((r) => !r.scored)],
    ] as const) {
      if (list.length === 0) continue;
      say(`   ${heading}:`);
      for (const r of list) say(`     ${r.scenario} / ${r.checkId}: ${oneLine(r.gatewayError)}`);
    }
  }
  say();
  say(`conformance: took ${Math.round((Date.now() - started) / 1000)} s`);
  if (incomplete) say("conformance: a direct run reported no checks: the comparison is not meaningful");
  const ok = failed === 0 && !incomplete;
  if (ok && !options.keep) rmSync(workDir, { recursive: true, force: true });
  else say(`conformance: kept ${workDir}`);
  say(`${passed} passed, ${failed} failed`);
  return ok ? 0 : 1;
}

function oneLine(text: string): string {
  const flat = text.replace(/\s+/g, " ").trim();
  return flat.length > 300 ? `${flat.slice(0, 297)}...` : flat;
}

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    killChildren();
    process.exit(130);
  });
}
process.once("exit", killChildren);

try {
  process.exitCode = await main();
} catch (err) {
  killChildren();
  process.stderr.write(`conformance: ${err instanceof Error ? err.message : String(err)}\n`);
  say("0 passed, 1 failed");
  process.exitCode = 1;
}
