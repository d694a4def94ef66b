// The rate-limit layer: token buckets per principal, principal and tool, client address and
// upstream, and quotas per period, in memory or shared by every node through Redis (fail-secure).
import type { Redis } from "ioredis";
import type { Logger } from "pino";
import type { RateLimitConfig } from "../../config/rateLimitSchema.ts";
import type { SecurityEventBus } from "../../events/bus.ts";
import type { Layer, RequestContext, Verdict } from "../../pipeline/types.ts";
import { MemoryLimiter, type Waits } from "./memoryLimiter.ts";
import { LimitPlan, type LimitCheck, type LimitScope } from "./plan.ts";
import { RedisLimiter } from "./redisLimiter.ts";
import { limitDenial, RefusalEvents, STATE_UNAVAILABLE_RULE, storeUnavailableDenial } from "./refusals.ts";

export { LimitPlan, addressSubject, type LimitCheck, type LimitScope } from "./plan.ts";
export { MemoryLimiter } from "./memoryLimiter.ts";
export { RedisLimiter, StoreUnavailableError } from "./redisLimiter.ts";

export interface RateLimitLayerOptions {
  readonly config: RateLimitConfig;
  /**
   * A client of the Redis every node shares: limits are then shared. It should be created with
   * `enableOfflineQueue: false` and an `error` listener; the layer never closes it. Absent: memory.
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
   * hand every caller a fresh burst; the layer's own when absent.
   */
  readonly memory?: MemoryLimiter;
  /** The clock of the memory limiter and of event bounding (Redis uses its own clock). */
  readonly now?: () => number;
}

/** Counters for metrics (monotonic since the layer was built, except the gauges). */
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
  /** Messages decided by this node alone while the store was unreachable (`onStoreUnavailable: local`). */
  readonly localDecisions: number;
  /** Refusals answered from this node's memory of an earlier refusal, without a Redis round trip. */
  readonly localBlockHits: number;
  /** Refusals that did not get an event of their own (bounded events). */
  readonly eventsSuppressed: number;
  /** Gauge: limit subjects held in this node's memory. */
  readonly trackedKeys: number;
}

export interface RateLimitLayer extends Layer {
  status(): RateLimitStatus;
}

type LayerVerdict = Verdict<Record<string, unknown>> | undefined;

export function rateLimitLayer(options: RateLimitLayerOptions): RateLimitLayer {
  const { config, redis, events, logger } = options;
  const now = options.now ?? Date.now;
  const plan = new LimitPlan(config);
  const local = options.memory ?? new MemoryLimiter();
  const shared = redis
    ? new RedisLimiter(redis, config.storeTimeoutMs, options.keyPrefix ?? "portcullis:")
    : undefined;
  const onUnavailable = config.onStoreUnavailable ?? options.onUnavailable ?? "deny";
  const blocks = new LocalBlocks();
  const refusalEvents = new RefusalEvents(events);
  const refusals: Record<LimitScope | typeof STATE_UNAVAILABLE_RULE, number> = {
    principal: 0,
    "principal-tool": 0,
    address: 0,
    upstream: 0,
    quota: 0,
    [STATE_UNAVAILABLE_RULE]: 0,
  };
  const counts = { outages: 0, storeErrors: 0, localDecisions: 0, localBlockHits: 0 };
  let available = true;
  let outageSince = 0;

  /** The verdict for waits per check: pass when none waits, else the refusal that waits longest. */
  const settle = (
    checks: readonly LimitCheck[],
    waits: Waits,
    ctx: RequestContext,
    method: string,
    tool: string | undefined,
    at: number,
  ): LayerVerdict => {
    let worst = -1;
    waits.forEach((wait, i) => {
      if (wait > 0 && (worst < 0 || wait > (waits[worst] ?? 0))) worst = i;
    });
    const check = checks[worst];
    if (!check) return undefined;
    const wait = waits[worst] ?? 0;
    refusals[check.scope]++;
    refusalEvents.refused(check, wait, ctx, method, tool, at);
    return limitDenial(check, wait);
  };

  const storeFailed = (err: unknown, ctx: RequestContext, at: number): void => {
    counts.storeErrors++;
    if (!available) return;
    available = false;
    outageSince = at;
    counts.outages++;
    // Our own message only: the driver's errors carry the command and its arguments.
    const error = err instanceof Error ? err.message : String(err);
    logger.error({ error, onUnavailable }, "rate-limit store unreachable; limits are not shared");
    events?.emit({
      type: "state_unavailable",
      severity: "high",
      ctx,
      details: {
        layer: "ratelimit",
        store: "redis",
        onUnavailable,
        error,
      },
    });
  };

  const storeAnswered = (at: number): void => {
    if (available) return;
    available = true;
    logger.info({ outageMs: at - outageSince }, "rate-limit store reachable again; limits are shared again");
  };

  const check = (
    checks: readonly LimitCheck[],
    ctx: RequestContext,
    method: string,
    tool: string | undefined,
  ): LayerVerdict | Promise<LayerVerdict> => {
    if (checks.length === 0) return undefined;
    const at = now();
    if (!shared) return settle(checks, local.take(checks, at), ctx, method, tool, at);
    // A subject Redis refused a moment ago is refused here until then: a flood costs no round trips.
    const blocked = blocks.waits(checks, at);
    if (blocked) {
      counts.localBlockHits++;
      return settle(checks, blocked, ctx, method, tool, at);
    }
    return shared.take(checks).then(
      (waits) => {
        storeAnswered(now());
        blocks.add(checks, waits, at);
        return settle(checks, waits, ctx, method, tool, at);
      },
      (err: unknown) => {
        const failedAt = now();
        storeFailed(err, ctx, failedAt);
        if (onUnavailable === "deny") {
          refusals[STATE_UNAVAILABLE_RULE]++;
          return storeUnavailableDenial();
        }
        counts.localDecisions++;
        return settle(checks, local.take(checks, failedAt), ctx, method, tool, failedAt);
      },
    );
  };

  const status = (): RateLimitStatus => ({
    backend: shared ? "redis" : "memory",
    storeAvailable: available,
    refusals: { ...refusals },
    ...counts,
    eventsSuppressed: refusalEvents.suppressed,
    trackedKeys: local.size + blocks.size,
  });

  if (!config.enabled) return { name: "ratelimit", status };
  return {
    name: "ratelimit",
    onRequest(request, ctx) {
      const tool = request.method === "tools/call" ? request.target?.publicName : undefined;
      return check(plan.forRequest(request, ctx), ctx, request.method, tool);
    },
    onNotification(notification, ctx) {
      if (notification.direction !== "to-server") return undefined;
      return check(plan.forNotification(notification.method, ctx), ctx, notification.method, undefined);
    },
    status,
    close() {
      if (!options.memory) local.clear();
      blocks.clear();
      refusalEvents.clear();
    },
  };
}

/**
 * Subjects the shared store refused, until the time it said they would pass: exact, since nothing
 * but time refills a bucket or ends a period, and other nodes can only push that time later.
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
      return until - at;
    });
    return blocked ? waits : undefined;
  }

  add(checks: readonly LimitCheck[], waits: Waits, at: number): void {
    waits.forEach((wait, i) => {
      const check = checks[i];
      if (wait <= 0 || !check) return;
      if (this.until.size >= 10_000) this.sweep(at);
      this.until.set(check.key, at + wait);
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
