// Event-driven response: feeds every security event to the detectors (synchronously, on the bus),
// raises what they detect as an event of its own (once per subject per cooldown) and carries out the
// detection's playbook: block the address, revoke the session, lower trust, require step-up, alert.
import { isIPv6 } from "node:net";
import { canonicalRange } from "../layers/network/addressList.ts";
import type { Logger } from "pino";
import type { DetectionConfig, ResponseAction, ResponsesConfig } from "../config/detectionSchema.ts";
import type { Enforcements } from "../state/enforcements.ts";
import type { SecurityEventBus, StampedEvent } from "./bus.ts";
import { createDetectors, type Detection, type Detector } from "./detectors/index.ts";
import { subjectOf } from "./detectors/types.ts";
import { BoundedMap } from "./detectors/windows.ts";

export interface DetectionEngineOptions {
  readonly events: SecurityEventBus;
  readonly enforcements: Enforcements;
  readonly logger: Logger;
  readonly detection: DetectionConfig;
  readonly responses: ResponsesConfig;
  /** Told of each response carried out (metrics). */
  readonly onResponse?: (action: ResponseAction["action"], detection: Detection["kind"]) => void;
  readonly now?: () => number;
  /** Addresses never blocked (the trusted proxies every client comes through). */
  readonly protectedAddress?: (address: string) => boolean;
}

export class DetectionEngine {
  private detectors: Detector[];
  private detection: DetectionConfig;
  private responses: ResponsesConfig;
  private lastRaised: BoundedMap<number>;
  private unsubscribe: (() => void) | undefined;
  private readonly options: DetectionEngineOptions;
  private readonly now: () => number;

  constructor(options: DetectionEngineOptions) {
    this.options = options;
    this.now = options.now ?? Date.now;
    this.detection = options.detection;
    this.responses = options.responses;
    this.detectors = createDetectors(options.detection);
    this.lastRaised = new BoundedMap(options.detection.maxSubjects);
  }

  start(): void {
    this.unsubscribe = this.options.events.subscribe((event) => this.observe(event));
  }

  stop(): void {
    this.unsubscribe?.();
  }

  /** A reloaded config: playbooks apply at once; changed thresholds start their windows anew. */
  reconfigure(detection: DetectionConfig, responses: ResponsesConfig): void {
    this.responses = responses;
    if (JSON.stringify(detection) === JSON.stringify(this.detection)) return;
    this.detection = detection;
    this.detectors = createDetectors(detection);
    this.lastRaised = new BoundedMap(detection.maxSubjects);
  }

  private observe(event: StampedEvent): void {
    const now = this.now();
    for (const detector of this.detectors) {
      const found = detector.observe(event, now);
      if (found) this.raise(found, now);
    }
  }

  private raise(found: Detection, now: number): void {
    const key = `${found.kind}|${found.key}`;
    const last = this.lastRaised.get(key);
    if (last !== undefined && now - last < this.detection.cooldownMs) return;
    this.lastRaised.set(key, now);
    this.options.events.emit({
      type: found.kind,
      severity: found.severity,
      ctx: found.ctx,
      details: { summary: found.summary, ...found.details },
    });
    for (const action of this.responses[found.kind]) {
      this.carryOut(action, found).catch((err: unknown) =>
        this.options.logger.error({ err, action: action.action, detection: found.kind }, "response failed"),
      );
    }
  }

  private async carryOut(action: ResponseAction, found: Detection): Promise<void> {
    const { enforcements, events } = this.options;
    const reason = found.summary;
    const subject = subjectOf(found.ctx);
    let target: string | undefined;
    let until: number | undefined;
    switch (action.action) {
      case "block-address": {
        // A detection about an address names it; one about a caller's behaviour blocks where it
        // came from; one about a principal attacked from many places blocks nobody.
        target = found.address ?? (found.kind === "brute_force" ? undefined : found.ctx?.clientAddress);
        if (target && this.options.protectedAddress?.(target)) {
          this.options.logger.warn(
            { address: target, detection: found.kind },
            "not blocking a trusted proxy's address (its clients are told apart by X-Forwarded-For)",
          );
          target = undefined;
        }
        // An IPv6 attacker holds a whole /64 as a rule, and would step to its next address (unless
        // that /64 holds a trusted proxy: then the address alone).
        if (target && isIPv6(target) && !target.includes(".")) {
          const range = canonicalRange(`${target}/64`);
          if (!this.options.protectedAddress?.(range)) target = range;
        }
        if (target) {
          until = (await enforcements.blockAddress(target, action.forMs, reason, found.kind)).until;
          events.emit({
            type: "ip_blocked",
            severity: "medium",
            ctx: found.ctx,
            details: { address: target, source: found.kind, reason, until: new Date(until).toISOString() },
          });
        }
        break;
      }
      case "revoke-session": {
        target = found.ctx?.sessionDigest;
        if (target)
          until = (await enforcements.revokeSession(target, action.forMs, reason, found.kind)).until;
        break;
      }
      case "lower-trust": {
        target = subject;
        if (target)
          until = (await enforcements.lowerTrust(target, action.by, action.forMs, reason, found.kind)).until;
        break;
      }
      case "step-up": {
        target = subject;
        if (target)
          until = (await enforcements.requireStepUp(target, action.forMs, reason, found.kind)).until;
        break;
      }
      case "alert": {
        target = subject ?? found.address;
        events.emit({
          type: "alert",
          severity: action.severity,
          ctx: found.ctx,
          details: { detection: found.kind, summary: found.summary, ...found.details },
        });
        break;
      }
    }
    if (target === undefined) {
      this.options.logger.info(
        { action: action.action, detection: found.kind },
        "response skipped: the detection names nothing it could apply to",
      );
      return;
    }
    this.options.onResponse?.(action.action, found.kind);
    events.emit({
      type: "response_taken",
      severity: "medium",
      ctx: found.ctx,
      details: {
        action: action.action,
        detection: found.kind,
        target,
        until: until === undefined ? undefined : new Date(until).toISOString(),
      },
    });
  }
}
