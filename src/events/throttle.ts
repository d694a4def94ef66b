// Once per key per interval: floods (a refused address hammering, a limited principal retrying)
// raise one event per second per subject, not one per request. Bounded: the oldest keys go first.
export class EventThrottle {
  private readonly last = new Map<string, number>();
  private readonly intervalMs: number;
  private readonly maxKeys: number;
  private readonly now: () => number;

  constructor(intervalMs = 1000, maxKeys = 10_000, now: () => number = Date.now) {
    this.intervalMs = intervalMs;
    this.maxKeys = maxKeys;
    this.now = now;
  }

  /** True when an event for `key` may be raised now (and records that it was). */
  take(key: string): boolean {
    const now = this.now();
    const previous = this.last.get(key);
    if (previous !== undefined && now - previous < this.intervalMs) return false;
    this.last.delete(key); // re-inserted last: Map order is the eviction order
    this.last.set(key, now);
    if (this.last.size > this.maxKeys) {
      const oldest = this.last.keys().next().value;
      if (oldest !== undefined) this.last.delete(oldest);
    }
    return true;
  }
}
