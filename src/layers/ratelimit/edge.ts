// The edge half of the rate limits: the address and principal buckets, checked once per HTTP request
// (every message of a batch counted) or stdio message, right after authentication and before any
// session is looked up or created, trust is assessed or a record is written. They are the same for
// every tool, so checking them this early tells a caller nothing about which tools exist.
import { randomUUID } from "node:crypto";
import { GatewayError } from "../../errors.ts";
import type { Era, Principal, RequestContext } from "../../pipeline/types.ts";
import type { LimitChecker, LimitVerdict } from "./checker.ts";
import type { EdgeLoad, LimitPlan } from "./plan.ts";

/** Who sends a request at the edge, and what its refusal's event names. */
export interface EdgeCaller {
  readonly principal: Principal;
  readonly clientAddress: string | undefined;
  readonly transport: "http" | "stdio";
  readonly era: Era;
  /** The (first) message's method, or the HTTP method of a request that carries none (GET). */
  readonly method: string;
  /** The session digest, when there is one (an anonymous stdio caller is keyed by it). */
  readonly sessionDigest?: string;
}

export type EdgeVerdict = GatewayError | undefined;

export interface EdgeRateLimit {
  /**
   * Spends the caller's address and principal tokens for `load`, or refuses (spending none): 429
   * `PORTCULLIS_E_RATE_LIMITED` with `retryAfterSeconds`, or 503 `PORTCULLIS_E_STATE_UNAVAILABLE`
   * when Redis is away (fail-secure). Synchronous in memory.
   */
  admit(caller: EdgeCaller, load: EdgeLoad): EdgeVerdict | Promise<EdgeVerdict>;
}

export function edgeRateLimit(plan: LimitPlan, checker: LimitChecker): EdgeRateLimit {
  return {
    admit(caller, load) {
      const checks = plan.forEdge(caller.principal, caller.clientAddress, load, caller.sessionDigest);
      const verdict = checker.check(checks, { ctx: () => edgeContext(caller), method: caller.method });
      return verdict instanceof Promise ? verdict.then(edgeRefusal) : edgeRefusal(verdict);
    },
  };
}

/** The refusal as the client gets it: the same code, rule and data as a refusal of the layer chain. */
function edgeRefusal(verdict: LimitVerdict): EdgeVerdict {
  if (!verdict) return undefined;
  return new GatewayError(verdict.code ?? "PORTCULLIS_E_RATE_LIMITED", verdict.reason, {
    layer: "ratelimit",
    rule: verdict.rule,
    verdict: "deny",
    ...verdict.data,
  });
}

/** The context of a refusal's event (no session yet at the edge of a new one). */
function edgeContext(caller: EdgeCaller): RequestContext {
  return {
    id: randomUUID(),
    transport: caller.transport,
    era: caller.era,
    protocolVersion: "",
    clientAddress: caller.clientAddress,
    principal: caller.principal,
    sessionDigest: caller.sessionDigest,
    clientInfo: undefined,
    findings: {},
  };
}
