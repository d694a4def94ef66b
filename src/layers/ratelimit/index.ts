// The rate limits: token buckets per client address and principal at the edge (before trust and
// authorization), and per principal and tool, per upstream and quotas per period in the message
// stage (after authorization); in memory or shared by every node through Redis (fail-secure).
import type { RateLimitConfig } from "../../config/rateLimitSchema.ts";
import type { Layer } from "../../pipeline/types.ts";
import { LimitChecker, type LimitCheckerOptions, type RateLimitStatus } from "./checker.ts";
import { edgeRateLimit, type EdgeRateLimit } from "./edge.ts";
import { LimitPlan } from "./plan.ts";

export {
  LimitPlan,
  STREAM_LOAD,
  addressSubject,
  callerSubject,
  edgeLoadOf,
  type EdgeLoad,
  type LimitCheck,
  type LimitScope,
} from "./plan.ts";
export { MemoryLimiter } from "./memoryLimiter.ts";
export { RedisLimiter, StoreUnavailableError } from "./redisLimiter.ts";
export type { RateLimitStatus } from "./checker.ts";
export type { EdgeCaller, EdgeRateLimit, EdgeVerdict } from "./edge.ts";
export { SESSION_CAP_RULE, SessionPlace, SessionsPerCaller } from "./sessionCap.ts";

export interface RateLimitLayerOptions extends LimitCheckerOptions {
  readonly config: RateLimitConfig;
}

export interface RateLimitLayer extends Layer {
  /** The address and principal buckets, for the ingress to check before any session or layer. */
  readonly edge: EdgeRateLimit;
  status(): RateLimitStatus;
}

/**
 * The `ratelimit` layer of the message stage (per principal and tool, per upstream, quotas) and the
 * edge check of the same config: one checker, so both count in one status and share the memory.
 */
export function rateLimitLayer(options: RateLimitLayerOptions): RateLimitLayer {
  const plan = new LimitPlan(options.config);
  const checker = new LimitChecker(options);
  const status = () => checker.status();
  if (!options.config.enabled) return { name: "ratelimit", edge: { admit: () => undefined }, status };
  return {
    name: "ratelimit",
    edge: edgeRateLimit(plan, checker),
    onRequest(request, ctx) {
      const tool = request.method === "tools/call" ? request.target?.publicName : undefined;
      return checker.check(plan.forRequest(request, ctx), { ctx: () => ctx, method: request.method, tool });
    },
    status,
    close() {
      checker.close();
    },
  };
}
