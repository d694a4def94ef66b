// Child processes of a benchmark run: spawned with stdout and stderr drained (a full pipe would stall
// them), stopped by their own id, and found again by the run tag when a parent left one behind.
import { spawn, type ChildProcess } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { createServer } from "node:net";

/** Marks every echo server of this run (an argument), so that none outlives the harness. */
export const runTag = `portcullis-bench-${process.pid}-${Date.now().toString(36)}`;

const TAIL_BYTES = 32 * 1024;

export interface Spawned {
  readonly name: string;
  readonly child: ChildProcess;
  readonly pid: number;
  /** The last bytes the process wrote to stdout and stderr, for error reports. */
  tail(): string;
  /** The first output line matching `pattern`; rejects when the process exits or time runs out. */
  waitForLine(pattern: RegExp, timeoutMs: number): Promise<string>;
  /** SIGTERM, then SIGKILL after `graceMs`. */
  stop(graceMs?: number): Promise<void>;
}

const live = new Set<Spawned>();

export function spawnTracked(
  name: string,
  command: string,
  args: readonly string[],
  options: { env?: NodeJS.ProcessEnv; cwd?: string } = {},
): Spawned {
  const child = spawn(command, [...args], {
    cwd: options.cwd,
    env: options.env ?? process.env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  if (child.pid === undefined) throw new Error(`could not start ${name}: ${command}`);
  const chunks: Buffer[] = [];
  let size = 0;
  let partial = "";
  const waiters = new Set<(line: string) => void>();
  const onOutput = (chunk: Buffer) => {
    chunks.push(chunk);
    size += chunk.length;
    while (chunks.length > 1 && size - chunks[0]!.length > TAIL_BYTES) size -= chunks.shift()!.length;
    if (waiters.size === 0) return; // after start-up the output is only kept as a tail, never parsed
    const lines = (partial + chunk.toString("utf8")).split("\n");
    partial = lines.pop() ?? "";
    for (const line of lines) for (const wake of waiters) wake(line);
  };
  child.stdout?.on("data", onOutput);
  child.stderr?.on("data", onOutput);
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));

  const spawned: Spawned = {
    name,
    child,
    pid: child.pid,
    tail: () => Buffer.concat(chunks).toString("utf8"),
    waitForLine(pattern, timeoutMs) {
      return new Promise<string>((resolve, reject) => {
        const done = (err?: Error, line?: string) => {
          clearTimeout(timer);
          waiters.delete(check);
          child.off("exit", onExit);
          if (err) reject(err);
          else resolve(line ?? "");
        };
        const check = (line: string) => {
          if (pattern.test(line)) done(undefined, line);
        };
        const onExit = (code: number | null) =>
          done(new Error(`${name} exited (${code}) before ${pattern}:\n${spawned.tail().slice(-2000)}`));
        const timer = setTimeout(
          () => done(new Error(`${name}: no ${pattern} in ${timeoutMs} ms:\n${spawned.tail().slice(-2000)}`)),
          timeoutMs,
        );
        waiters.add(check);
        child.once("exit", onExit);
        for (const line of spawned.tail().split("\n")) check(line);
      });
    },
    async stop(graceMs = 5000) {
      live.delete(spawned);
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
  live.add(spawned);
  return spawned;
}

/** Stops every process this run started and still holds, then any tagged process left behind. */
export async function stopAll(): Promise<void> {
  await Promise.allSettled([...live].map((p) => p.stop(3000)));
  killTagged();
}

/** SIGKILLs, by id, every process whose command line carries this run's tag (orphaned echo servers). */
export function killTagged(): number {
  let killed = 0;
  for (const pid of listPids()) {
    if (pid === process.pid) continue;
    let cmdline: string;
    try {
      cmdline = readFileSync(`/proc/${pid}/cmdline`, "utf8");
    } catch {
      continue;
    }
    if (!cmdline.includes(runTag)) continue;
    try {
      process.kill(pid, "SIGKILL");
      killed++;
    } catch {
      // already gone
    }
  }
  return killed;
}

function listPids(): number[] {
  return readdirSync("/proc")
    .filter((entry) => /^\d+$/.test(entry))
    .map(Number);
}

interface ProcStat {
  readonly ppid: number;
  /** user + system CPU of the process itself, in clock ticks. */
  readonly ownTicks: number;
  /** …plus that of its children it has waited for. */
  readonly ticks: number;
}

function readStat(pid: number): ProcStat | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return undefined;
  }
  // Fields after the command name, which may itself hold spaces and parentheses.
  const rest = text.slice(text.lastIndexOf(")") + 2).split(" ");
  const field = (n: number) => Number(rest[n - 3]);
  const ownTicks = field(14) + field(15);
  return { ppid: field(4), ownTicks, ticks: ownTicks + field(16) + field(17) };
}

/** `root` and every process below it. */
export function processTree(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const pid of listPids()) {
    const stat = readStat(pid);
    if (!stat) continue;
    const siblings = children.get(stat.ppid);
    if (siblings) siblings.push(pid);
    else children.set(stat.ppid, [pid]);
  }
  const tree: number[] = [];
  const queue = [root];
  while (queue.length > 0) {
    const pid = queue.pop()!;
    tree.push(pid);
    queue.push(...(children.get(pid) ?? []));
  }
  return tree;
}

/** Linux USER_HZ: /proc reports CPU time in hundredths of a second. */
const MS_PER_TICK = 10;

/** CPU milliseconds used so far by a process tree (reaped children included). */
export function treeCpuMs(roots: readonly number[]): number {
  let ticks = 0;
  for (const root of roots) for (const pid of processTree(root)) ticks += readStat(pid)?.ticks ?? 0;
  return ticks * MS_PER_TICK;
}

/** CPU milliseconds used so far by the given processes themselves (no children). */
export function ownCpuMs(pids: readonly number[]): number {
  return pids.reduce((sum, pid) => sum + (readStat(pid)?.ownTicks ?? 0), 0) * MS_PER_TICK;
}

/** Resident memory of one process, in bytes (0 when it is gone); `RssAnon` leaves out mapped files. */
export function rssBytes(pid: number, field: "VmRSS" | "RssAnon" = "VmRSS"): number {
  try {
    const match = new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return match ? Number(match[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/**
 * Private (anonymous) resident memory of a process and everything below it, in bytes. Plain RSS
 * would count the pages every Node process shares (its binary, mapped files) once per process.
 */
export function treeAnonBytes(root: number): number {
  return processTree(root).reduce((sum, pid) => sum + rssBytes(pid, "RssAnon"), 0);
}

/** A TCP port that was free a moment ago on 127.0.0.1 (for peers that cannot report theirs). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** Polls `url` until it answers with a status `accept` likes. */
export async function waitForHttp(
  url: string,
  accept: (status: number) => boolean,
  timeoutMs: number,
  alive: () => boolean,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = "no answer";
  while (Date.now() < deadline) {
    if (!alive()) throw new Error(`the process behind ${url} exited`);
    const status = await fetch(url, { signal: AbortSignal.timeout(1000) }).then(
      async (res) => {
        await res.arrayBuffer();
        return res.status;
      },
      () => undefined,
    );
    if (status !== undefined && accept(status)) return;
    last = status === undefined ? "no answer" : `HTTP ${status}`;
    await sleep(100);
  }
  throw new Error(`${url} not ready in ${timeoutMs} ms (${last})`);
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
