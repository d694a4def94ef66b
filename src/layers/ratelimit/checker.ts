// Checks a request's limits against this node's memory or the Redis every node shares, and turns
// the answer into a verdict: the refusal that waits longest, a bounded event, fail-secure (or local)
// while Redis is away. The edge check and the message-stage layer of one config share one checker.
import type { Redis } from "ioredis";
import type { Logger } from "pino";
import type { RateLimitConfig } from "../../config/rateLimitSchema.ts";
import type { SecurityEventBus } from "../../events/bus.ts";
import type { RequestContext } from "../../pipeline/types.ts";
import { MemoryLimiter, type Waits } from "./memoryLimiter.ts";
import type { LimitCheck, LimitScope } from "./plan.ts";
import { RedisLimiter } from "./redisLimiter.ts";
import {
  limitDenial,
  RefusalEvents,
  STATE_UNAVAILABLE_RULE,
  storeUnavailableDenial,
  type Denial,
} from "./refusals.ts";

export interface LimitCheckerOptions {
  readonly config: RateLimitConfig;
  /**
   * A client of the Redis every node shares: limits are then shared. It should be created with
   * `enableOfflineQueue: false` and an `error` listener; the checker never closes it. Absent: memory.
   */
  readonly redis?: Redis;
  /** Put before every key in Redis (the state store's `state.redis.keyPrefix`); default `portcullis:`. */
  readonly keyPrefix?: string;
  /** `state.onUnavailable`: what to do while Redis is unreachable, unless the section says otherwise. */
  readonly onUnavailable?: "deny" | "local";
  readonly events?: SecurityEventBus;
  readonly logger: Logger;
  /**
   * This node's limits, created once per process so that a config reload (a new chain) does not
   * hand every caller a fresh burst; the checker's own when absent.
   */
  readonly memory?: MemoryLimiter;
  /** The clock of the memory limiter and of event bounding (Redis uses its own clock). */
  readonly now?: () => number;
}

/** What a refusal's event says about the request: made only when an event is due. */
export interface CheckedRequest {
  readonly ctx: () => RequestContext;
  readonly method: string;
  readonly tool?: string;
}

/** Counters for metrics (monotonic since the checker was built, except the gauges). */
export interface RateLimitStatus {
  readonly backend: "memory" | "redis";
  /** Gauge: whether the shared store answered the last check (always true in memory). */
  readonly storeAvailable: boolean;
  /** Refusals by scope, and by the unreachable store (`state-unavailable`). */
  readonly refusals: Readonly<Record<LimitScope | typeof STATE_UNAVAILABLE_RULE, number>>;
  /** Times the shared store became unreachable (one `state_unavailable` event each). */
  readonly outages: number;
  /** Checks the shared store failed (not connected, timed out, errors). */
  readonly storeErrors: number;
  /** Requests decided by this node alone while the store was unreachable (`onStoreUnavailable: local`). */
  readonly localDecisions: number;
  /** Refusals answered from this node's memory of an earlier refusal, without a Redis round trip. */
  readonly localBlockHits: number;
  /** Refusals that did not get an event of their own (bounded events). */
  readonly eventsSuppressed: number;
  /** Gauge: limit subjects held in this node's memory. */
  readonly trackedKeys: number;
}

export type LimitVerdict = Denial | undefined;

export class LimitChecker {
  private readonly local: MemoryLimiter;
  private readonly ownsMemory: boolean;
  private readonly shared: RedisLimiter | undefined;
  private readonly onUnavailable: "deny" | "local";
  private readonly blocks = new LocalBlocks();
  private readonly refusalEvents: RefusalEvents;
  private readonly events: SecurityEventBus | undefined;
  private readonly logger: Logger;
  private readonly now: () => number;
  private readonly refusals: Record<LimitScope | typeof STATE_UNAVAILABLE_RULE, number> = {
    principal: 0,
    "principal-tool": 0,
    address: 0,
    upstream: 0,
    quota: 0,
    [STATE_UNAVAILABLE_RULE]: 0,
  };
  private readonly counts = { outages: 0, storeErrors: 0, localDecisions: 0, localBlockHits: 0 };
  private available = true;
  private outageSince = 0;

  constructor(options: LimitCheckerOptions) {
    const { config, redis } = options;
    this.local = options.memory ?? new MemoryLimiter();
    this.ownsMemory = !options.memory;
    this.shared = redis
      ? new RedisLimiter(redis, config.storeTimeoutMs, options.keyPrefix ?? "portcullis:")
      : undefined;
    this.onUnavailable = config.onStoreUnavailable ?? options.onUnavailable ?? "deny";
    this.events = options.events;
    this.refusalEvents = new RefusalEvents(options.events);
    this.logger = options.logger;
    this.now = options.now ?? Date.now;
  }

  /** Spends every check if all allow it; else the refusal. Synchronous in memory, one round trip in Redis. */
  check(checks: readonly LimitCheck[], about: CheckedRequest): LimitVerdict | Promise<LimitVerdict> {
    if (checks.length === 0) return undefined;
    const at = this.now();
    if (!this.shared) return this.settle(checks, this.local.take(checks, at), about, at);
    // A subject Redis refused a moment ago is refused here until then: a flood costs no round trips.
    const blocked = this.blocks.waits(checks, at);
    if (blocked) {
      this.counts.localBlockHits++;
      return this.settle(checks, blocked, about, at);
    }
    return this.shared.take(checks).then(
      (waits) => {
        this.storeAnswered(this.now());
        this.blocks.add(checks, waits, at);
        return this.settle(checks, waits, about, at);
      },
      (err: unknown) => {
        const failedAt = this.now();
        this.storeFailed(err, about, failedAt);
        if (this.onUnavailable === "deny") {
          this.refusals[STATE_UNAVAILABLE_RULE]++;
          return storeUnavailableDenial();
        }
        this.counts.localDecisions++;
        return this.settle(checks, this.local.take(checks, failedAt), about, failedAt);
      },
    );
  }

  status(): RateLimitStatus {
    return {
      backend: this.shared ? "redis" : "memory",
      storeAvailable: this.available,
      refusals: { ...this.refusals },
      ...this.counts,
      eventsSuppressed: this.refusalEvents.suppressed,
      trackedKeys: this.local.size + this.blocks.size,
    };
  }

  close(): void {
    if (this.ownsMemory) this.local.clear();
    this.blocks.clear();
    this.refusalEvents.clear();
  }

  /** The verdict for waits per check: pass when none waits, else the refusal that waits longest. */
  private settle(
    checks: readonly LimitCheck[],
    waits: Waits,
    about: CheckedRequest,
    at: number,
  ): LimitVerdict {
    let worst = -1;
    waits.forEach((wait, i) => {
      if (wait > 0 && (worst < 0 || wait > (waits[worst] ?? 0))) worst = i;
    });
    const check = checks[worst];
    if (!check) return undefined;
    const wait = waits[worst] ?? 0;
    this.refusals[check.scope]++;
    this.refusalEvents.refused(check, wait, about.ctx, about.method, about.tool, at);
    return limitDenial(check, wait);
  }

  private storeFailed(err: unknown, about: CheckedRequest, at: number): void {
    this.counts.storeErrors++;
    if (!this.available) return;
    this.available = false;
    this.outageSince = at;
    this.counts.outages++;
    // Our own message only: the driver's errors carry the command and its arguments.
    const error = err instanceof Error ? err.message : String(err);
    const { onUnavailable } = this;
    this.logger.error({ error, onUnavailable }, "rate-limit store unreachable; limits are not shared");
    this.events?.emit({
      type: "state_unavailable",
      severity: "high",
      ctx: about.ctx(),
      details: { layer: "ratelimit", store: "redis", onUnavailable, error },
    });
  }

  private storeAnswered(at: number): void {
    if (this.available) return;
    this.available = true;
    this.logger.info(
      { outageMs: at - this.outageSince },
      "rate-limit store reachable again; limits are shared again",
    );
  }
}

/**
 * Subjects the shared store refused, until the time it said one more message would pass: exact,
 * since nothing but time refills a bucket or ends a period, and other nodes can only push that time
 * later. A bucket's time is kept for a cost of one, so that a batch and a single request both get
 * their own exact wait from it.
 */
class LocalBlocks {
  private readonly until = new Map<string, number>();

  get size(): number {
    return this.until.size;
  }

  waits(checks: readonly LimitCheck[], at: number): Waits | undefined {
    if (this.until.size === 0) return undefined;
    let blocked = false;
    const waits = checks.map((check) => {
      const until = this.until.get(check.key);
      if (until === undefined) return 0;
      if (until <= at) {
        this.until.delete(check.key);
        return 0;
      }
      blocked = true;
      return until - at + extraCost(check);
    });
    return blocked ? waits : undefined;
  }

  add(checks: readonly LimitCheck[], waits: Waits, at: number): void {
    waits.forEach((wait, i) => {
      const check = checks[i];
      if (wait <= 0 || !check) return;
      // A quota refused for a cost above one may still take one: ask the store again then.
      if (check.limit.kind === "quota" && check.cost > 1) return;
      const until = at + wait - extraCost(check);
      if (until <= at) return;
      if (this.until.size >= 10_000) this.sweep(at);
      this.until.set(check.key, until);
    });
  }

  clear(): void {
    this.until.clear();
  }

  private sweep(at: number): void {
    for (const [key, until] of this.until) if (until <= at) this.until.delete(key);
    if (this.until.size >= 10_000) this.until.clear();
  }
}

/** How much longer a bucket makes a check of `cost` messages wait than one of a single message. */
function extraCost(check: LimitCheck): number {
  return check.limit.kind === "bucket" ? ((check.cost - 1) * 1000) / check.limit.rate : 0;
}
