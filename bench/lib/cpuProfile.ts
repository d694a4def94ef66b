// Reads a V8 .cpuprofile (node --cpu-prof) and says what dominates: self time by function and by
// origin (a package under node_modules, a gateway file under dist/, Node's internals, GC, idle).
import { readFileSync } from "node:fs";

interface ProfileNode {
  readonly id: number;
  readonly callFrame: {
    readonly functionName: string;
    readonly url: string;
    readonly lineNumber: number;
  };
  readonly children?: readonly number[];
}

interface CpuProfile {
  readonly nodes: readonly ProfileNode[];
  readonly startTime: number;
  readonly endTime: number;
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

export interface Share {
  readonly name: string;
  readonly ms: number;
  /** Share of the busy (non-idle) time, 0–1. */
  readonly share: number;
}

export interface ProfileSummary {
  readonly totalMs: number;
  readonly idleMs: number;
  readonly byOrigin: Share[];
  readonly byFunction: Share[];
  /** Time spent in frames (inclusive) whose function or origin matches each pattern asked for. */
  readonly inclusive: Share[];
}

/** Where a frame's code comes from: a package, a gateway file, a Node internal, or a V8 pseudo-frame. */
export function originOf(url: string, functionName: string): string {
  if (url === "") return functionName.startsWith("(") ? functionName : "(native)";
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg) return pkg[1]!;
  const dist = /\/dist\/(.+)$/.exec(url);
  if (dist) return `portcullis dist/${dist[1]!}`;
  if (url.startsWith("node:")) return url.replace(/^node:internal\/([^/]+).*/, "node:$1");
  return url;
}

/** `skipMs`: samples of the process's first milliseconds (start-up, warm-up) are left out. */
export function summarizeProfile(
  path: string,
  inclusivePatterns: readonly RegExp[] = [],
  skipMs = 0,
): ProfileSummary {
  const profile = JSON.parse(readFileSync(path, "utf8")) as CpuProfile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
  const selfUs = new Map<number, number>();
  let elapsedUs = 0;
  profile.samples.forEach((id, i) => {
    const delta = profile.timeDeltas[i] ?? 0;
    elapsedUs += delta;
    if (elapsedUs >= skipMs * 1000) selfUs.set(id, (selfUs.get(id) ?? 0) + delta);
  });

  const origin = new Map<string, number>();
  const fn = new Map<string, number>();
  const inclusive = inclusivePatterns.map(() => 0);
  let totalUs = 0;
  let idleUs = 0;
  for (const [id, us] of selfUs) {
    const node = byId.get(id);
    if (!node) continue;
    const { functionName, url, lineNumber } = node.callFrame;
    totalUs += us;
    if (functionName === "(idle)") {
      idleUs += us;
      continue;
    }
    const where = originOf(url, functionName);
    origin.set(where, (origin.get(where) ?? 0) + us);
    const key = `${functionName || "(anonymous)"} ${url ? `${url.replace(/^.*\/(node_modules|dist)\//, "$1/")}:${lineNumber + 1}` : ""}`;
    fn.set(key, (fn.get(key) ?? 0) + us);
    // Inclusive: charge the sample to each pattern matched anywhere on its stack (once per pattern).
    const hit = inclusivePatterns.map(() => false);
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const frame = byId.get(at)?.callFrame;
      if (!frame) break;
      const label = `${frame.functionName} ${frame.url}`;
      inclusivePatterns.forEach((pattern, i) => {
        if (!hit[i] && pattern.test(label)) hit[i] = true;
      });
    }
    hit.forEach((h, i) => {
      if (h) inclusive[i]! += us;
    });
  }
  const busyUs = totalUs - idleUs || 1;
  const shares = (map: Map<string, number>) =>
    [...map].sort((a, b) => b[1] - a[1]).map(([name, us]) => ({ name, ms: us / 1000, share: us / busyUs }));
  return {
    totalMs: totalUs / 1000,
    idleMs: idleUs / 1000,
    byOrigin: shares(origin),
    byFunction: shares(fn),
    inclusive: inclusivePatterns.map((p, i) => ({
      name: p.source,
      ms: inclusive[i]! / 1000,
      share: inclusive[i]! / busyUs,
    })),
  };
}
