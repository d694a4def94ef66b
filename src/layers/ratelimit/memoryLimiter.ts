// The limits of one node, in memory: token buckets as GCRA (each key keeps the time its bucket
// will be full again) and quota counters per calendar period. A message's limits are checked all
// together and spent only if every one allows it, so a refusal never spends any of them.
import type { LimitCheck } from "./plan.ts";

/** Per check, in the order given: 0 when it allows the message, else the ms until it would. */
export type Waits = readonly number[];

interface Entry {
  /** A bucket: its theoretical arrival time (GCRA); a quota: the count in the current period. */
  value: number;
  /** When the entry stops mattering (a full bucket, a period over): then it is dropped. */
  expiresAt: number;
}

/** Expired entries are swept every this many checks, at most once a second (a full bucket is no entry). */
const SWEEP_EVERY = 4096;
const SWEEP_INTERVAL_MS = 1000;

export class MemoryLimiter {
  private readonly entries = new Map<string, Entry>();
  private checks = 0;
  private sweptAt = 0;

  get size(): number {
    return this.entries.size;
  }

  /** Spends each limit's cost if all allow it, else nothing; synchronous, hence atomic. */
  take(checks: readonly LimitCheck[], now: number): Waits {
    if (++this.checks % SWEEP_EVERY === 0 && now - this.sweptAt >= SWEEP_INTERVAL_MS) this.sweep(now);
    const waits: number[] = [];
    const next: number[] = [];
    let refused = false;
    for (const check of checks) {
      const entry = this.entries.get(check.key);
      const stored = entry && entry.expiresAt > now ? entry.value : undefined;
      const { limit } = check;
      if (limit.kind === "bucket") {
        const step = 1000 / limit.rate;
        const tat = Math.max(stored ?? now, now) + check.cost * step;
        const wait = tat - limit.burst * step - now;
        waits.push(wait > 0 ? Math.ceil(wait) : 0);
        next.push(tat);
      } else {
        const used = stored ?? 0;
        waits.push(used + check.cost > limit.limit ? Math.ceil(limit.periodMs - (now % limit.periodMs)) : 0);
        next.push(used + check.cost);
      }
      if ((waits.at(-1) ?? 0) > 0) refused = true;
    }
    if (refused) return waits;
    checks.forEach((check, i) => {
      const value = next[i] ?? 0;
      const { limit } = check;
      const expiresAt = limit.kind === "bucket" ? value : now - (now % limit.periodMs) + limit.periodMs;
      this.entries.set(check.key, { value, expiresAt });
    });
    return waits;
  }

  clear(): void {
    this.entries.clear();
  }

  private sweep(now: number): void {
    this.sweptAt = now;
    for (const [key, entry] of this.entries) if (entry.expiresAt <= now) this.entries.delete(key);
  }
}
