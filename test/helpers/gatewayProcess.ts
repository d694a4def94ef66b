// Runs the real gateway as a child process (the `portcullis` CLI from src) with a config written
// to a temporary folder, and waits until its HTTP ingress listens and every upstream has settled.
import { NATIVE_REGEXP_FLAG } from "../../src/content/nativeRegExp.ts";
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

export const repoRoot = fileURLToPath(new URL("../..", import.meta.url));
export const cliPath = join(repoRoot, "src/cli/main.ts");
export const everythingServer = join(
  repoRoot,
  "node_modules/@modelcontextprotocol/server-everything/dist/index.js",
);
export const filesystemServer = join(
  repoRoot,
  "node_modules/@modelcontextprotocol/server-filesystem/dist/index.js",
);
export const fixture = (name: string) => join(repoRoot, "test/fixtures", name);

export interface RunningGateway {
  readonly url: string;
  readonly base: string;
  readonly process: ChildProcess;
  readonly configPath: string;
  readonly dir: string;
  /** Every log line so far, parsed. */
  readonly logs: Record<string, unknown>[];
  waitForLog(
    predicate: (line: Record<string, unknown>) => boolean,
    timeoutMs?: number,
  ): Promise<Record<string, unknown>>;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

export async function startGateway(
  configYaml: string,
  options: {
    env?: NodeJS.ProcessEnv;
    waitReady?: boolean;
    /** Writes files the config refers to (keys, policy files) into its folder before the start. */
    prepare?: (dir: string) => void;
  } = {},
): Promise<RunningGateway> {
  const dir = mkdtempSync(join(tmpdir(), "portcullis-test-"));
  const configPath = join(dir, "portcullis.yaml");
  options.prepare?.(dir);
  writeFileSync(configPath, configYaml);
  const child = spawn(
    process.execPath,
    [NATIVE_REGEXP_FLAG, cliPath, "serve", "--config", configPath, "--port", "0"],
    {
      env: { ...process.env, ...options.env },
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  const logs: Record<string, unknown>[] = [];
  const waiters = new Set<() => void>();
  let partial = "";
  child.stderr.setEncoding("utf8");
  child.stderr.on("data", (text: string) => {
    const lines = (partial + text).split("\n");
    partial = lines.pop() ?? "";
    for (const line of lines) {
      try {
        logs.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        logs.push({ msg: line, raw: true });
      }
    }
    for (const wake of waiters) wake();
  });
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));

  const waitForLog = (predicate: (line: Record<string, unknown>) => boolean, timeoutMs = 20_000) =>
    new Promise<Record<string, unknown>>((resolve, reject) => {
      const check = () => {
        const hit = logs.find(predicate);
        if (hit) {
          waiters.delete(check);
          clearTimeout(timer);
          resolve(hit);
        }
      };
      const timer = setTimeout(() => {
        waiters.delete(check);
        reject(
          new Error(
            `timed out waiting for a log line; last lines:\n${logs
              .slice(-15)
              .map((l) => JSON.stringify(l))
              .join("\n")}`,
          ),
        );
      }, timeoutMs);
      waiters.add(check);
      check();
    });

  const listening = await Promise.race([
    waitForLog((l) => l.msg === "HTTP ingress listening"),
    exited.then((code) => {
      throw new Error(
        `gateway exited with ${code} before listening:\n${logs.map((l) => JSON.stringify(l)).join("\n")}`,
      );
    }),
  ]);
  const url = String(listening.url);
  const base = url.slice(0, url.lastIndexOf("/"));
  if (options.waitReady !== false) await waitReady(base);

  return {
    url,
    base,
    process: child,
    configPath,
    dir,
    logs,
    waitForLog,
    async stop(signal: NodeJS.Signals = "SIGTERM") {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      const timer = setTimeout(() => child.kill("SIGKILL"), 15_000);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}

async function waitReady(base: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const res = await fetch(`${base}/readyz`).catch(() => undefined);
    if (res?.status === 200) return;
    if (Date.now() > deadline) throw new Error(`gateway at ${base} not ready in time: ${await res?.text()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Runs the `portcullis` CLI without blocking this process (a call of ours may be waiting on the gateway). */
export function runCli(
  ...args: string[]
): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [cliPath, ...args], { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout?.on("data", (c: Buffer) => (stdout += c.toString()));
    child.stderr?.on("data", (c: Buffer) => (stderr += c.toString()));
    child.on("close", (status) => resolve({ status, stdout, stderr }));
  });
}

/** YAML for a stdio upstream running a Node script with this Node binary. */
export function nodeUpstream(name: string, script: string, extra: string[] = [], more = ""): string {
  return `  ${name}:
    transport: stdio
    command: ${JSON.stringify(process.execPath)}
    args: ${JSON.stringify([script, ...extra])}
    restart: { initialDelayMs: 200, maxDelayMs: 1000 }
${more}`;
}

/**
 * A policy that permits everything, for tests of other layers: a gateway without policies denies
 * every method (default deny), which the authorization tests cover.
 */
export const permitAll = "authorization: { policies: [{ id: test-permit-all, effect: permit }] }";
