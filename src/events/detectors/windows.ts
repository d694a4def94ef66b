// Bounded sliding windows for detectors: per key, the times of recent occurrences. The number of
// keys is capped (the oldest key is forgotten first), so a flood of addresses cannot exhaust memory.

export class BoundedMap<V> {
  private readonly map = new Map<string, V>();
  private readonly maxKeys: number;

  constructor(maxKeys: number) {
    this.maxKeys = maxKeys;
  }

  get(key: string): V | undefined {
    return this.map.get(key);
  }

  /** The value for a key, created when missing; a key used again moves to the young end. */
  upsert(key: string, create: () => V): V {
    let value = this.map.get(key);
    if (value !== undefined) {
      this.map.delete(key);
    } else {
      value = create();
      if (this.map.size >= this.maxKeys) {
        const oldest = this.map.keys().next();
        if (!oldest.done) this.map.delete(oldest.value);
      }
    }
    this.map.set(key, value);
    return value;
  }

  /** Sets a key's value (it moves to the young end). */
  set(key: string, value: V): void {
    this.upsert(key, () => value);
    this.map.set(key, value);
  }

  delete(key: string): void {
    this.map.delete(key);
  }

  get size(): number {
    return this.map.size;
  }
}

/** Counts occurrences per key within the last `windowMs`. */
export class SlidingCounter {
  private readonly times: BoundedMap<number[]>;
  private readonly windowMs: number;
  private readonly limit: number;

  /** `limit`: occurrences kept per key at most (the threshold; more are never needed). */
  constructor(windowMs: number, limit: number, maxKeys: number) {
    this.windowMs = windowMs;
    this.limit = limit;
    this.times = new BoundedMap(maxKeys);
  }

  /** Records one occurrence now and returns how many fall within the window. */
  add(key: string, now: number): number {
    const times = this.times.upsert(key, () => []);
    times.push(now);
    while (times.length > 0 && (times[0] ?? now) <= now - this.windowMs) times.shift();
    if (times.length > this.limit) times.splice(0, times.length - this.limit);
    return times.length;
  }

  reset(key: string): void {
    this.times.delete(key);
  }
}

/** Distinct members per key within the last `windowMs` (e.g. principals tried from one address). */
export class SlidingDistinct {
  private readonly seen: BoundedMap<Map<string, number>>;
  private readonly windowMs: number;
  private readonly limit: number;

  constructor(windowMs: number, limit: number, maxKeys: number) {
    this.windowMs = windowMs;
    this.limit = limit;
    this.seen = new BoundedMap(maxKeys);
  }

  add(key: string, member: string, now: number): number {
    const members = this.seen.upsert(key, () => new Map());
    members.delete(member);
    members.set(member, now);
    for (const [m, at] of members) {
      if (at > now - this.windowMs && members.size <= this.limit) break;
      members.delete(m);
    }
    return members.size;
  }

  reset(key: string): void {
    this.seen.delete(key);
  }
}

/**
 * Requests per minute per key in constant memory: the current minute's count plus the previous
 * minute's, weighted by how much of it still lies within the last 60 seconds.
 */
export class RateMeter {
  private readonly minutes: BoundedMap<{ minute: number; count: number; previous: number }>;

  constructor(maxKeys: number) {
    this.minutes = new BoundedMap(maxKeys);
  }

  /** The rate over the last minute, without counting a request. */
  current(key: string, now: number): number {
    const entry = this.minutes.get(key);
    return entry ? rateAt(entry, now) : 0;
  }

  /** Counts one request now and returns the rate over the last minute, this one included. */
  add(key: string, now: number): number {
    const minute = Math.floor(now / 60_000);
    const entry = this.minutes.upsert(key, () => ({ minute, count: 0, previous: 0 }));
    if (entry.minute !== minute) {
      entry.previous = entry.minute === minute - 1 ? entry.count : 0;
      entry.count = 0;
      entry.minute = minute;
    }
    entry.count++;
    return rateAt(entry, now);
  }
}

/** This minute's count plus the previous minute's, weighted by how much of it lies in the last 60 s. */
function rateAt(entry: { minute: number; count: number; previous: number }, now: number): number {
  const minute = Math.floor(now / 60_000);
  const count = entry.minute === minute ? entry.count : 0;
  const previous = entry.minute === minute ? entry.previous : entry.minute === minute - 1 ? entry.count : 0;
  return Math.round(count + previous * (1 - (now % 60_000) / 60_000));
}
