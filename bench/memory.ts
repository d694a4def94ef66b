// Resident memory with many idle client sessions: a fresh target, its RSS before, then N 2025-11-25
// sessions opened (initialize + initialized, optionally one call each) and left idle, then its RSS again.
import { performance } from "node:perf_hooks";
import { rssBytes, sleep, treeAnonBytes } from "./lib/processes.ts";
import { newPool, openSession } from "./load/rawHttp.ts";
import type { RunningTarget, TargetContext, TargetDefinition } from "./targets.ts";

export interface MemoryProbe {
  readonly target: string;
  readonly sessions: number;
  /** Each session makes one echo call before it idles (what a used session costs under isolation). */
  readonly callOnce: boolean;
}

export interface MemoryResult extends MemoryProbe {
  /** RSS of the target's own process, in MB, before and after. */
  readonly baseMb: number;
  readonly afterMb: number;
  /** The anonymous (heap, stacks; no mapped code) part of `afterMb`. */
  readonly afterAnonMb: number;
  /** Private (anonymous) memory of the whole process tree (upstream echo processes included), in MB. */
  readonly treeBaseMb: number;
  readonly treeAfterMb: number;
  /** Tree growth per session, in KB of private memory. */
  readonly perSessionKb: number;
  /** The process's RSS and the tree's private memory extrapolated (or measured) at 1,000 such sessions, in MB. */
  readonly processAt1000Mb: number;
  readonly treeAt1000Mb: number;
  readonly openSeconds: number;
}

const MB = 1024 * 1024;
const OPEN_CONCURRENCY = 8;

export async function measureMemory(
  probe: MemoryProbe,
  definition: TargetDefinition,
  context: TargetContext,
): Promise<MemoryResult> {
  const running: RunningTarget = await definition.start(context);
  try {
    const pid = running.pid;
    if (pid === undefined || running.endpoint.kind !== "http")
      throw new Error(`${probe.target} has no process`);
    const url = running.endpoint.url;
    await sleep(1000);
    const baseMb = rssBytes(pid) / MB;
    const treeBaseMb = treeAnonBytes(pid) / MB;
    const pool = newPool(url, OPEN_CONCURRENCY);
    const started = performance.now();
    let next = 0;
    const opener = async () => {
      while (next < probe.sessions) {
        const n = next++;
        const session = await openSession(pool, url, "2025-11-25", `bench-idle-${n}`);
        if (!probe.callOnce) continue;
        const res = await pool.request({
          path: session.path,
          method: "POST",
          headers: session.headers,
          body: JSON.stringify({
            jsonrpc: "2.0",
            id: 1,
            method: "tools/call",
            params: { name: definition.tool, arguments: { text: "hello" } },
          }),
        });
        const text = await res.body.text();
        if (res.statusCode !== 200 || !text.includes('"result"'))
          throw new Error(`call failed: HTTP ${res.statusCode} ${text.slice(0, 200)}`);
      }
    };
    await Promise.all(Array.from({ length: OPEN_CONCURRENCY }, opener));
    const openSeconds = (performance.now() - started) / 1000;
    await pool.close();
    await sleep(2000); // let the target settle (sockets closed, timers armed)
    const afterMb = rssBytes(pid) / MB;
    const afterAnonMb = rssBytes(pid, "RssAnon") / MB;
    const treeAfterMb = treeAnonBytes(pid) / MB;
    const perSessionKb = ((treeAfterMb - treeBaseMb) * 1024) / probe.sessions;
    return {
      ...probe,
      baseMb,
      afterMb,
      afterAnonMb,
      treeBaseMb,
      treeAfterMb,
      perSessionKb,
      processAt1000Mb: baseMb + ((afterMb - baseMb) * 1000) / probe.sessions,
      treeAt1000Mb: treeBaseMb + (perSessionKb * 1000) / 1024,
      openSeconds,
    };
  } finally {
    await running.stop();
  }
}
