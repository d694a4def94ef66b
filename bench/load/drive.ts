// The closed-loop driver: `concurrency` workers call back to back for a warm-up (discarded) and a
// measured window; it reports latency percentiles, throughput, and CPU per call of target and client.
import { performance } from "node:perf_hooks";
import { ownCpuMs, treeCpuMs } from "../lib/processes.ts";
import { percentile } from "../lib/stats.ts";
import type { LoadClient } from "./types.ts";

export interface WindowOptions {
  readonly concurrency: number;
  readonly warmupMs: number;
  /** The measured window lasts at least this long… */
  readonly measureMs: number;
  /** …and is stretched, up to this long, until `minCalls` answers are in (slow targets). */
  readonly maxMeasureMs: number;
  readonly minCalls: number;
  /** Processes whose CPU counts as the target's (each with everything below it). */
  readonly cpuRoots: readonly number[];
  /** How long calls still in flight at the end may take before the window is abandoned. */
  readonly drainTimeoutMs?: number;
}

export interface WindowResult {
  /** Calls answered inside the measured window. */
  readonly completed: number;
  readonly errors: number;
  readonly firstError?: string;
  /** Length of the measured window, in ms. */
  readonly windowMs: number;
  /** Calls per second over the measured window. */
  readonly throughput: number;
  readonly p50?: number;
  readonly p90?: number;
  readonly p99?: number;
  /** CPU of the target's processes per answered call, in ms (gateway or proxy plus its upstreams). */
  readonly targetCpuMsPerCall?: number;
  /** CPU of the target's own process per answered call, in ms (the gateway or proxy alone). */
  readonly processCpuMsPerCall?: number;
  /** CPU of the harness (the load generator) per answered call, in ms. */
  readonly clientCpuMsPerCall?: number;
}

const MAX_ERRORS = 20;

interface Snapshot {
  readonly at: number;
  readonly targetCpuMs: number;
  readonly processCpuMs: number;
  readonly client: NodeJS.CpuUsage;
}

export async function measureWindow(client: LoadClient, options: WindowOptions): Promise<WindowResult> {
  const takeSnapshot = (): Snapshot => ({
    at: performance.now(),
    targetCpuMs: treeCpuMs(options.cpuRoots),
    processCpuMs: ownCpuMs(options.cpuRoots),
    client: process.cpuUsage(),
  });
  const latencies: number[] = [];
  let phase: "warmup" | "measure" | "closed" = "warmup";
  let errors = 0;
  let firstError: string | undefined;
  let first: Snapshot | undefined;
  let last: Snapshot | undefined;
  let minEnd = Infinity;
  const close = () => {
    if (phase !== "measure") return;
    last = takeSnapshot();
    phase = "closed";
  };
  const timers = [
    setTimeout(() => {
      first = takeSnapshot();
      minEnd = first.at + options.measureMs;
      phase = "measure";
    }, options.warmupMs),
    setTimeout(() => {
      if (latencies.length >= options.minCalls) close();
    }, options.warmupMs + options.measureMs),
    setTimeout(close, options.warmupMs + options.maxMeasureMs),
  ];

  const worker = async () => {
    while (phase !== "closed" && errors < MAX_ERRORS) {
      const t0 = performance.now();
      try {
        await client.call();
      } catch (err) {
        errors++;
        firstError ??= err instanceof Error ? err.message : String(err);
        continue;
      }
      if (phase !== "measure") continue;
      const t1 = performance.now();
      latencies.push(t1 - t0);
      if (t1 >= minEnd && latencies.length >= options.minCalls) close();
    }
  };
  const workers = Promise.all(Array.from({ length: options.concurrency }, worker));
  let drainTimer: NodeJS.Timeout | undefined;
  const drained = await Promise.race([
    workers.then(() => true),
    new Promise<boolean>((resolve) => {
      drainTimer = setTimeout(
        () => resolve(false),
        options.warmupMs + options.maxMeasureMs + (options.drainTimeoutMs ?? 30_000),
      );
    }),
  ]);
  clearTimeout(drainTimer);
  for (const timer of timers) clearTimeout(timer);
  close(); // a window ended early by errors
  if (!drained) {
    errors++;
    firstError ??= "calls still in flight long after the window closed";
  }
  const calls = latencies.length;
  latencies.sort((a, b) => a - b);
  const windowMs = first && last ? last.at - first.at : 0;
  const perCall = (ms: number) => (calls > 0 ? ms / calls : undefined);
  return {
    completed: calls,
    errors,
    ...(firstError === undefined ? {} : { firstError }),
    windowMs,
    throughput: windowMs > 0 ? (calls * 1000) / windowMs : 0,
    p50: percentile(latencies, 50),
    p90: percentile(latencies, 90),
    p99: percentile(latencies, 99),
    targetCpuMsPerCall:
      first && last && options.cpuRoots.length > 0
        ? perCall(last.targetCpuMs - first.targetCpuMs)
        : undefined,
    processCpuMsPerCall:
      first && last && options.cpuRoots.length > 0
        ? perCall(last.processCpuMs - first.processCpuMs)
        : undefined,
    clientCpuMsPerCall:
      first && last
        ? perCall((last.client.user - first.client.user + last.client.system - first.client.system) / 1000)
        : undefined,
  };
}
