// Brute force (many authentication failures from one address or for one principal) and credential
// stuffing (many different principals failing from one address), over `auth_failure` events.
import type { StampedEvent } from "../bus.ts";
import type { DetectionConfig } from "../../config/detectionSchema.ts";
import type { Detection, Detector } from "./types.ts";
import { SlidingCounter, SlidingDistinct } from "./windows.ts";

interface Failure {
  readonly address: string | undefined;
  /** A principal whose genuine credential failed: evidence about that principal. */
  readonly principal: string | undefined;
  /** Whoever the credential claimed to be, verified or not: identities tried from an address. */
  readonly claimed: string | undefined;
}

function failureOf(event: StampedEvent): Failure | undefined {
  if (event.type !== "auth_failure") return undefined;
  const text = (value: unknown) => (typeof value === "string" && value !== "" ? value : undefined);
  const address = event.ctx?.clientAddress ?? event.details.address;
  const principal = text(event.details.principal);
  return {
    address: text(address),
    principal,
    claimed: text(event.details.claimed) ?? principal,
  };
}

export function bruteForceDetector(config: DetectionConfig): Detector {
  const { failures, windowMs } = config.bruteForce;
  const byAddress = new SlidingCounter(windowMs, failures, config.maxSubjects);
  const byPrincipal = new SlidingCounter(windowMs, failures, config.maxSubjects);
  return {
    kind: "brute_force",
    observe(event, now): Detection | undefined {
      const failure = failureOf(event);
      if (!failure) return undefined;
      const detection = (key: string, summary: string, address: string | undefined): Detection => ({
        kind: "brute_force",
        severity: "high",
        key,
        summary,
        ctx: event.ctx,
        // Only an address that crossed its own threshold may be blocked: a principal attacked from
        // many addresses must not get whichever address failed last (perhaps its owner's) blocked.
        address,
        details: { address: failure.address, principal: failure.principal, failures, windowMs },
      });
      // Both counts move on every failure; one detection covers both, so that one attacker
      // guessing one account is one incident, not two.
      const fromAddress = failure.address ? byAddress.add(failure.address, now) : 0;
      const forPrincipal = failure.principal ? byPrincipal.add(failure.principal, now) : 0;
      if (fromAddress < failures && forPrincipal < failures) return undefined;
      if (failure.address) byAddress.reset(failure.address);
      if (failure.principal) byPrincipal.reset(failure.principal);
      return fromAddress >= failures
        ? detection(
            `address:${failure.address}`,
            `${failures} authentication failures from ${failure.address} within ${windowMs} ms`,
            failure.address,
          )
        : detection(
            `principal:${failure.principal}`,
            `${failures} authentication failures for ${failure.principal} within ${windowMs} ms`,
            undefined,
          );
    },
  };
}

export function credentialStuffingDetector(config: DetectionConfig): Detector {
  const { principals, windowMs } = config.credentialStuffing;
  const tried = new SlidingDistinct(windowMs, principals, config.maxSubjects);
  return {
    kind: "credential_stuffing",
    observe(event, now): Detection | undefined {
      const failure = failureOf(event);
      if (!failure?.address || !failure.claimed) return undefined;
      if (tried.add(failure.address, failure.claimed, now) < principals) return undefined;
      tried.reset(failure.address);
      return {
        kind: "credential_stuffing",
        severity: "high",
        key: `address:${failure.address}`,
        summary: `${principals} different principals failed authentication from ${failure.address} within ${windowMs} ms`,
        ctx: event.ctx,
        address: failure.address,
        details: { address: failure.address, principals, windowMs },
      };
    },
  };
}
