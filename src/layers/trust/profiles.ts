// Trust profiles: what the gateway has learnt of each principal (violations, tools, networks,
// countries, devices, hours, request rate), cached in memory and written back to the state store.
import { createHash, randomInt } from "node:crypto";
import type { Logger } from "pino";
import type { StateStore } from "../../state/store.ts";
import { BoundedMap } from "../../events/detectors/windows.ts";

export interface RateWindow {
  /** Start of the current window (aligned to the window length). */
  windowStart: number;
  /** Requests in the current window. */
  count: number;
  /** Moving average of requests per active window, over the windows closed so far. */
  baseline: number;
  /** Active windows folded into the baseline. */
  windows: number;
}

/** When a violation happened, and a random id that tells two at the same millisecond apart. */
export type Violation = readonly [at: number, id: number];

export interface TrustProfile {
  /** When the principal was first allowed through (undefined: never yet). */
  firstSeen: number | undefined;
  /** Violations, oldest first (bounded; old ones are pruned). */
  violations: Violation[];
  /** Each key with the last time it was seen in an allowed request, least recently seen first. */
  readonly tools: Map<string, number>;
  readonly networks: Map<string, number>;
  readonly countries: Map<string, number>;
  readonly devices: Map<string, number>;
  /** The country of the last allowed request, for impossible travel. */
  lastCountry: { code: string; at: number } | undefined;
  /** Allowed requests per hour of the day (UTC). */
  readonly hours: number[];
  /** Allowed requests observed (the history the hours are judged against). */
  allowed: number;
  /**
   * The store could not be read: the principal's history is unknown, and is scored as the worst it
   * could be until a read succeeds (never kept in the store).
   */
  unread?: boolean;
  readonly rate: RateWindow;
}

/** Violations remembered per principal at most (more never change the score). */
const MAX_VIOLATIONS = 64;
/** After a failed read, how soon the store is asked again (on the principal's next request). */
const RETRY_MS = 1_000;
const WARN_EVERY_MS = 10_000;
/** Profiles written to the store at once. */
const WRITE_CONCURRENCY = 32;

export function newProfile(): TrustProfile {
  return {
    firstSeen: undefined,
    violations: [],
    tools: new Map(),
    networks: new Map(),
    countries: new Map(),
    devices: new Map(),
    lastCountry: undefined,
    hours: new Array<number>(24).fill(0),
    allowed: 0,
    rate: { windowStart: 0, count: 0, baseline: 0, windows: 0 },
  };
}

/** Records a violation now, forgetting those at or before `horizon`. */
export function addViolation(profile: TrustProfile, now: number, horizon: number): void {
  const kept = profile.violations.filter(([at]) => at > horizon);
  kept.push([now, randomInt(2 ** 47)]);
  profile.violations = kept.slice(-MAX_VIOLATIONS);
}

/** Violations after `since`. */
export function violationsSince(profile: TrustProfile, since: number): number {
  let n = 0;
  for (const [at] of profile.violations) if (at > since) n++;
  return n;
}

/** Marks a key as seen now; beyond `max` keys the least recently seen is forgotten. */
export function touch(map: Map<string, number>, key: string, now: number, max: number): void {
  map.delete(key);
  map.set(key, now);
  while (map.size > max) {
    const oldest = map.keys().next();
    if (oldest.done) break;
    map.delete(oldest.value);
  }
}

export function serializeProfile(profile: TrustProfile): string {
  return JSON.stringify({
    v: 1,
    firstSeen: profile.firstSeen,
    violations: profile.violations,
    tools: [...profile.tools],
    networks: [...profile.networks],
    countries: [...profile.countries],
    devices: [...profile.devices],
    lastCountry: profile.lastCountry,
    hours: profile.hours,
    allowed: profile.allowed,
    rate: profile.rate,
  });
}

const isTime = (value: unknown): value is number => typeof value === "number" && Number.isFinite(value);

function entries(value: unknown, max: number): Map<string, number> {
  const map = new Map<string, number>();
  if (!Array.isArray(value)) return map;
  const pairs = value.filter(
    (pair): pair is [string, number] => Array.isArray(pair) && typeof pair[0] === "string" && isTime(pair[1]),
  );
  for (const [key, at] of pairs.sort((a, b) => a[1] - b[1])) touch(map, key, at, max);
  return map;
}

/** A stored profile, read leniently: what is malformed is left out (another version may have written it). */
export function parseProfile(text: string, maxEntries: number): TrustProfile | undefined {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof raw !== "object" || raw === null || (raw as { v?: unknown }).v !== 1) return undefined;
  const r = raw as Record<string, unknown>;
  const rate = (typeof r.rate === "object" && r.rate !== null ? r.rate : {}) as Record<string, unknown>;
  const hours = Array.isArray(r.hours) ? r.hours : [];
  const last = r.lastCountry as { code?: unknown; at?: unknown } | undefined;
  return {
    firstSeen: isTime(r.firstSeen) ? r.firstSeen : undefined,
    violations: (Array.isArray(r.violations) ? r.violations : [])
      .filter((v): v is Violation => Array.isArray(v) && isTime(v[0]) && isTime(v[1]))
      .map(([at, id]): Violation => [at, id])
      .sort((a, b) => a[0] - b[0])
      .slice(-MAX_VIOLATIONS),
    tools: entries(r.tools, maxEntries),
    networks: entries(r.networks, maxEntries),
    countries: entries(r.countries, maxEntries),
    devices: entries(r.devices, maxEntries),
    lastCountry:
      last && typeof last.code === "string" && isTime(last.at) ? { code: last.code, at: last.at } : undefined,
    hours: Array.from({ length: 24 }, (_, h) => {
      const n: unknown = hours[h];
      return isTime(n) && n >= 0 ? n : 0;
    }),
    allowed: isTime(r.allowed) && r.allowed >= 0 ? r.allowed : 0,
    rate: {
      windowStart: isTime(rate.windowStart) ? rate.windowStart : 0,
      count: isTime(rate.count) && rate.count >= 0 ? rate.count : 0,
      baseline: isTime(rate.baseline) && rate.baseline >= 0 ? rate.baseline : 0,
      windows: isTime(rate.windows) && rate.windows >= 0 ? rate.windows : 0,
    },
  };
}

function absorbMap(into: Map<string, number>, from: Map<string, number>, max: number): void {
  const merged = new Map(into);
  for (const [key, at] of from) merged.set(key, Math.max(at, merged.get(key) ?? at));
  into.clear();
  for (const [key, at] of [...merged].sort((a, b) => a[1] - b[1])) touch(into, key, at, max);
}

/**
 * Folds what another node learnt into a profile. Sets are unions and times the latest; counts take
 * the larger side (an under-estimate of history, never an over-estimate); violations are a union,
 * so that none is lost to a concurrent write.
 */
export function absorbProfile(into: TrustProfile, from: TrustProfile, maxEntries: number): void {
  if (from.firstSeen !== undefined)
    into.firstSeen = Math.min(into.firstSeen ?? from.firstSeen, from.firstSeen);
  const union = new Map<string, Violation>();
  for (const v of [...into.violations, ...from.violations]) union.set(`${v[0]}:${v[1]}`, v);
  into.violations = [...union.values()].sort((a, b) => a[0] - b[0]).slice(-MAX_VIOLATIONS);
  absorbMap(into.tools, from.tools, maxEntries);
  absorbMap(into.networks, from.networks, maxEntries);
  absorbMap(into.countries, from.countries, maxEntries);
  absorbMap(into.devices, from.devices, maxEntries);
  if (from.lastCountry && from.lastCountry.at > (into.lastCountry?.at ?? -Infinity)) {
    into.lastCountry = from.lastCountry;
  }
  for (let h = 0; h < 24; h++) into.hours[h] = Math.max(into.hours[h] ?? 0, from.hours[h] ?? 0);
  into.allowed = Math.max(into.allowed, from.allowed);
  // The current window is this node's own; the baseline is the better-informed side's.
  if (from.rate.windows > into.rate.windows) {
    into.rate.baseline = from.rate.baseline;
    into.rate.windows = from.rate.windows;
  }
}

export interface TrustProfilesOptions {
  readonly store: StateStore;
  readonly logger: Logger;
  readonly now: () => number;
  readonly maxPrincipals: number;
  readonly maxEntries: number;
  readonly refreshMs: number;
  readonly writeDelayMs: number;
  /** How long a profile lives in the store after it was written. */
  readonly ttlOf: (profile: TrustProfile) => number;
}

interface Cached {
  readonly profile: TrustProfile;
  /** When it was last read from the store (set back after a failed read, to read again soon). */
  loadedAt: number;
  refreshing: boolean;
}

/**
 * The profiles of the principals seen recently, by principal key: read from the store once, then
 * served from memory (refreshed in the background) and written back after a delay. The store is
 * read-merged-written, so that two nodes learning about one principal lose nothing that matters.
 */
export class TrustProfiles {
  private readonly cache: BoundedMap<Cached>;
  private readonly loading = new Map<string, Promise<Cached>>();
  /** Changed profiles not yet written, by principal key (held even if the cache forgets them). */
  private dirty = new Map<string, TrustProfile>();
  private timer: NodeJS.Timeout | undefined;
  private writing: Promise<void> = Promise.resolve();
  /** Unwritten profiles forgotten because too many were pending. */
  private dropped = 0;
  private readFailures = 0;
  private lastReadWarning = -Infinity;
  private readonly options: TrustProfilesOptions;

  constructor(options: TrustProfilesOptions) {
    this.options = options;
    this.cache = new BoundedMap(options.maxPrincipals);
  }

  get size(): number {
    return this.cache.size;
  }

  /** The cached profile, without I/O (a stale one is refreshed in the background). */
  peek(key: string): TrustProfile | undefined {
    const cached = this.cache.get(key);
    if (!cached) return undefined;
    this.cache.set(key, cached); // most recently used
    if (this.options.now() - cached.loadedAt >= this.options.refreshMs) this.refresh(key, cached);
    return cached.profile;
  }

  /** The profile, read from the store when it is not cached (a new one when the store has none). */
  load(key: string): Promise<TrustProfile> {
    const cached = this.peek(key);
    if (cached) return Promise.resolve(cached);
    let pending = this.loading.get(key);
    if (!pending) {
      pending = this.read(key).finally(() => this.loading.delete(key));
      this.loading.set(key, pending);
    }
    return pending.then((entry) => entry.profile);
  }

  /** Schedules a changed profile to be written back. */
  changed(key: string, profile: TrustProfile): void {
    this.dirty.delete(key);
    this.dirty.set(key, profile);
    // A flood of principals while the store is slow must not hold unbounded unwritten profiles.
    if (this.dirty.size > this.options.maxPrincipals) {
      const oldest = this.dirty.keys().next();
      if (!oldest.done) this.dirty.delete(oldest.value);
      this.dropped++;
    }
    if (this.timer) return;
    this.timer = setTimeout(() => void this.flush(), this.options.writeDelayMs);
    this.timer.unref();
  }

  /** Writes every changed profile now; failures are logged and the profiles stay pending. */
  flush(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.writing = this.writing
      .then(() => this.writeAll())
      .catch((err: unknown) => this.options.logger.error({ err }, "writing trust profiles failed"));
    return this.writing;
  }

  async close(): Promise<void> {
    await this.flush();
  }

  private async read(key: string): Promise<Cached> {
    const entry: Cached = { profile: newProfile(), loadedAt: this.options.now(), refreshing: false };
    try {
      const text = await this.options.store.get(storeKey(key));
      const stored = text === undefined ? undefined : this.parse(text);
      if (stored) absorbProfile(entry.profile, stored, this.options.maxEntries);
    } catch (err) {
      // Fail-secure until the store answers (read again, in the background, a moment later): a
      // principal with violations on record must not get a clean slate from an outage.
      this.warnThrottled(err, "could not read a trust profile; scoring its history as the worst it could be");
      entry.profile.unread = true;
      entry.loadedAt = this.retryAt();
    }
    // Learning that happened while the read was in flight lives in the cached entry: keep it.
    const raced = this.cache.get(key);
    if (raced) return raced;
    this.cache.set(key, entry);
    return entry;
  }

  private refresh(key: string, cached: Cached): void {
    if (cached.refreshing) return;
    cached.refreshing = true;
    cached.loadedAt = this.options.now();
    this.options.store
      .get(storeKey(key))
      .then((text) => {
        const stored = text === undefined ? undefined : this.parse(text);
        if (stored) absorbProfile(cached.profile, stored, this.options.maxEntries);
        cached.profile.unread = false;
      })
      .catch((err: unknown) => {
        cached.loadedAt = this.retryAt();
        this.warnThrottled(err, "could not refresh a trust profile");
      })
      .finally(() => {
        cached.refreshing = false;
      });
  }

  private async writeAll(): Promise<void> {
    const batch = [...this.dirty];
    this.dirty = new Map();
    let failed = 0;
    let lastError: unknown;
    const write = async ([key, profile]: [string, TrustProfile]) => {
      try {
        const text = await this.options.store.get(storeKey(key));
        const stored = text === undefined ? undefined : this.parse(text);
        if (stored) absorbProfile(profile, stored, this.options.maxEntries);
        await this.options.store.set(storeKey(key), serializeProfile(profile), this.options.ttlOf(profile));
      } catch (err) {
        failed++;
        lastError = err;
        // Kept for the next write, unless newer learning already queued it or too many are pending.
        if (!this.dirty.has(key) && this.dirty.size < this.options.maxPrincipals) {
          this.dirty.set(key, profile);
        }
      }
    };
    for (let i = 0; i < batch.length; i += WRITE_CONCURRENCY) {
      await Promise.all(batch.slice(i, i + WRITE_CONCURRENCY).map(write));
    }
    if (failed > 0) {
      this.options.logger.warn(
        { err: lastError, failed, pending: this.dirty.size },
        "could not write trust profiles to the state store; will retry with the next change",
      );
    }
    if (this.dropped > 0) {
      this.options.logger.warn(
        { dropped: this.dropped },
        "too many trust profiles waiting to be written; the oldest changes were dropped",
      );
      this.dropped = 0;
    }
  }

  /** A `loadedAt` that makes the next request after RETRY_MS read the store again. */
  private retryAt(): number {
    return this.options.now() - this.options.refreshMs + RETRY_MS;
  }

  /** A store that is down fails every read: say so once in a while, with how often, not per request. */
  private warnThrottled(err: unknown, message: string): void {
    this.readFailures++;
    const now = this.options.now();
    if (now - this.lastReadWarning < WARN_EVERY_MS) return;
    this.options.logger.warn({ err, failures: this.readFailures }, message);
    this.lastReadWarning = now;
    this.readFailures = 0;
  }

  private parse(text: string): TrustProfile | undefined {
    const profile = parseProfile(text, this.options.maxEntries);
    if (!profile) this.options.logger.warn("ignored a malformed trust profile in the state store");
    return profile;
  }
}

/** Store keys hold a digest of the principal key: no identities in the key space, no separators to escape. */
function storeKey(principalKey: string): string {
  return `trust:profile:${createHash("sha256").update(principalKey).digest("base64url")}`;
}
