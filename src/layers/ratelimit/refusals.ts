// What a refusal looks like on the wire and on the event bus: one deny verdict shape, and events
// bounded so that a flood of refusals cannot become a flood of events (once per limit subject per
// second, and at most a fixed number per second in all; the rest are counted as suppressed).
import type { SecurityEventBus } from "../../events/bus.ts";
import type { RequestContext, Verdict } from "../../pipeline/types.ts";
import type { LimitCheck } from "./plan.ts";

export type Denial = Extract<Verdict<never>, { kind: "deny" }>;

const EVENT_INTERVAL_MS = 1000;
const EVENTS_PER_SECOND = 100;
const MAX_TRACKED = 10_000;

/** The refusal of a message one limit would not let through for `waitMs`. */
export function limitDenial(check: LimitCheck, waitMs: number): Denial {
  const retryAfterSeconds = retryAfter(waitMs);
  const { limit } = check;
  const quota = limit.kind === "quota";
  const reason = quota
    ? `quota ${check.rule} used up (${limit.limit} per ${limit.per}); retry after ${retryAfterSeconds} s`
    : `rate limit ${check.rule} exceeded (${limit.rate}/s, burst ${limit.burst}); retry after ${retryAfterSeconds} s`;
  return {
    kind: "deny",
    rule: check.rule,
    reason,
    code: quota ? "PORTCULLIS_E_QUOTA_EXCEEDED" : "PORTCULLIS_E_RATE_LIMITED",
    data: { layer: "ratelimit", rule: check.rule, scope: check.scope, retryAfterSeconds },
  };
}

export const STATE_UNAVAILABLE_RULE = "state-unavailable";

export function storeUnavailableDenial(): Denial {
  return {
    kind: "deny",
    rule: STATE_UNAVAILABLE_RULE,
    reason: "the shared rate-limit store cannot be reached; refused (fail-secure)",
    code: "PORTCULLIS_E_STATE_UNAVAILABLE",
    data: { layer: "ratelimit", rule: STATE_UNAVAILABLE_RULE, retryAfterSeconds: 1 },
  };
}

/** Whole seconds, rounded up and at least one: a client that waits this long is never early. */
export function retryAfter(waitMs: number): number {
  return Math.max(1, Math.ceil(waitMs / 1000));
}

interface Subject {
  nextAt: number;
  suppressed: number;
}

export class RefusalEvents {
  private readonly events: SecurityEventBus | undefined;
  private readonly subjects = new Map<string, Subject>();
  private windowStart = 0;
  private inWindow = 0;
  /** Refusals not reported as an event of their own (each later event says how many for its subject). */
  suppressed = 0;

  constructor(events: SecurityEventBus | undefined) {
    this.events = events;
  }

  /** `ctx` is made only when the refusal gets an event (a flood of refusals makes few contexts). */
  refused(
    check: LimitCheck,
    waitMs: number,
    ctx: () => RequestContext,
    method: string,
    tool: string | undefined,
    now: number,
  ): void {
    if (!this.events) return;
    const subject = this.subjects.get(check.key);
    if (subject && now < subject.nextAt) return this.suppress(subject);
    if (now - this.windowStart >= EVENT_INTERVAL_MS) {
      this.windowStart = now;
      this.inWindow = 0;
    }
    if (this.inWindow >= EVENTS_PER_SECOND) return this.suppress(subject);
    this.inWindow++;
    if (!subject && this.subjects.size >= MAX_TRACKED) this.sweep(now);
    this.subjects.set(check.key, { nextAt: now + EVENT_INTERVAL_MS, suppressed: 0 });
    const { limit } = check;
    this.events.emit({
      type: limit.kind === "quota" ? "quota_exceeded" : "rate_limited",
      severity: "low",
      ctx: ctx(),
      details: {
        scope: check.scope,
        rule: check.rule,
        limit:
          limit.kind === "quota"
            ? { limit: limit.limit, per: limit.per }
            : { rate: limit.rate, burst: limit.burst },
        retryAfterSeconds: retryAfter(waitMs),
        method,
        ...(tool === undefined ? {} : { tool }),
        suppressed: subject?.suppressed ?? 0,
      },
    });
  }

  clear(): void {
    this.subjects.clear();
  }

  private suppress(subject: Subject | undefined): void {
    this.suppressed++;
    if (subject) subject.suppressed++;
  }

  private sweep(now: number): void {
    for (const [key, subject] of this.subjects) if (subject.nextAt <= now) this.subjects.delete(key);
    // Still full of subjects refused this very second: start over rather than grow without bound.
    if (this.subjects.size >= MAX_TRACKED) this.subjects.clear();
  }
}
