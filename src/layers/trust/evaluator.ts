// The trust evaluator: scores a caller from reputation, device, location and behaviour against the
// profile learnt from its earlier requests, and learns from each request's outcome.
import ipaddr from "ipaddr.js";
import type { Logger } from "pino";
import type { TrustConfig } from "../../config/trustSchema.ts";
import { isUpstreamFault } from "../../errors.ts";
import { subjectOf } from "../../events/detectors/types.ts";
import { namePatterns } from "../../federation/namePattern.ts";
import {
  principalKey,
  type MessageOutcome,
  type RequestContext,
  type RequestView,
  type TrustAssessment,
  type TrustFactors,
} from "../../pipeline/types.ts";
import type { Enforcements } from "../../state/enforcements.ts";
import type { StateStore } from "../../state/store.ts";
import { countryOf } from "../network/geo.ts";
import {
  addViolation,
  TrustProfiles,
  touch,
  violationsSince,
  type RateWindow,
  type TrustProfile,
} from "./profiles.ts";

const YEAR_MS = 365.25 * 86_400_000;
/** Weight of the newest active window in the rate baseline. */
const BASELINE_WEIGHT = 0.2;
/** Layers whose denials are not the caller's doing: errors past the chain, this layer, the audit trail. */
const NOT_VIOLATIONS = new Set(["router", "upstream", "trust", "audit", "unknown"]);

export interface TrustEvaluatorOptions {
  readonly config: TrustConfig;
  readonly store: StateStore;
  readonly logger: Logger;
  /** Trust lowered by security responses (`lower-trust`); absent: no penalties. */
  readonly enforcements?: Pick<Enforcements, "trustPenalty">;
  readonly now?: () => number;
}

/** Where a request comes from, as the location and device factors see it. */
export interface Origin {
  /** The local machine: stdio, no client address, or a loopback address. */
  readonly local: boolean;
  /** The client's network (/24 for IPv4, /64 for IPv6), when it is remote and readable. */
  readonly network: string | undefined;
  readonly country: string | undefined;
}

/** Read once per message: the request and its outcome share the context. */
const origins = new WeakMap<RequestContext, Origin>();

export function originOf(ctx: RequestContext): Origin {
  let origin = origins.get(ctx);
  if (!origin) {
    origin = readOrigin(ctx);
    origins.set(ctx, origin);
  }
  return origin;
}

function readOrigin(ctx: RequestContext): Origin {
  const address = ctx.clientAddress;
  if (ctx.transport === "stdio" || address === undefined || address === "") {
    return { local: true, network: undefined, country: undefined };
  }
  let parsed: ipaddr.IPv4 | ipaddr.IPv6;
  try {
    parsed = ipaddr.process(address.replace(/%.*$/, ""));
  } catch {
    return { local: false, network: undefined, country: undefined };
  }
  if (parsed.range() === "loopback") return { local: true, network: undefined, country: undefined };
  const network =
    parsed.kind() === "ipv4"
      ? `${(parsed as ipaddr.IPv4).octets.slice(0, 3).join(".")}.0/24`
      : `${(parsed as ipaddr.IPv6).parts
          .slice(0, 4)
          .map((part) => part.toString(16))
          .join(":")}::/64`;
  return { local: false, network, country: countryOf(parsed.toString()) };
}

/** The machine or client a request comes from, by what proves it best. */
function deviceOf(ctx: RequestContext): { id: string; certified: boolean } {
  const { device, clientId } = ctx.principal;
  if (device) return { id: `cert:${device.fingerprint}`, certified: true };
  // Only what a credential proves: the client's own name (clientInfo) is whatever it says.
  return { id: `client:${clientId ?? ""}`, certified: false };
}

/**
 * The profile a caller's requests are learnt into: its principal key, or for anonymous callers the
 * key at their network (strangers are not pooled together, nor can one flood an IPv6 /64 with them),
 * or at their loopback address on this machine.
 */
function profileKeyOf(ctx: RequestContext, origin: Origin): string {
  const key = principalKey(ctx.principal);
  if (ctx.principal.kind !== "anonymous") return key;
  // On this machine each loopback address is a caller of its own (as the detectors count them).
  const where = origin.local ? (ctx.clientAddress ?? "local") : (origin.network ?? ctx.clientAddress ?? "");
  return `${key}\u0000@${where}`;
}

/** The tool a request calls, by the name the client knows it by. */
function toolOf(method: string, target: RequestView["target"], params: RequestView["params"]) {
  if (method !== "tools/call") return undefined;
  const name = target?.publicName ?? params?.name;
  return typeof name === "string" ? name : undefined;
}

const round = (value: number) => Math.round(value * 1000) / 1000;
const clamp = (value: number) => Math.min(1, Math.max(0, value));
const hourOf = (now: number) => new Date(now).getUTCHours();

export class TrustEvaluator {
  private readonly config: TrustConfig;
  private readonly profiles: TrustProfiles;
  private readonly options: TrustEvaluatorOptions;
  private readonly now: () => number;

  constructor(options: TrustEvaluatorOptions) {
    const { config } = options;
    this.options = options;
    this.config = config;
    this.now = options.now ?? Date.now;
    this.profiles = new TrustProfiles({
      store: options.store,
      logger: options.logger,
      now: this.now,
      maxPrincipals: config.maxPrincipals,
      maxEntries: config.maxEntriesPerProfile,
      refreshMs: config.refreshMs,
      writeDelayMs: config.writeDelayMs,
      // A profile that was never allowed through holds only violations: it lives as long as they count.
      ttlOf: (profile) =>
        profile.firstSeen === undefined
          ? Math.max(1, Math.min(config.profileTtlMs, config.reputation.violationWindowMs))
          : Math.max(1, config.profileTtlMs),
    });
  }

  /** Profiles held in memory (bounded by `maxPrincipals`). */
  get cachedProfiles(): number {
    return this.profiles.size;
  }

  /** Scores the caller of a request: synchronous when its profile is cached, one store read when not. */
  assess(request: RequestView, ctx: RequestContext): TrustAssessment | Promise<TrustAssessment> {
    const origin = originOf(ctx);
    const key = profileKeyOf(ctx, origin);
    const tool = toolOf(request.method, request.target, request.params);
    const cached = this.profiles.peek(key);
    if (cached) return this.score(cached, ctx, origin, tool);
    return this.profiles.load(key).then((profile) => this.score(profile, ctx, origin, tool));
  }

  /** Learns from a finished request; what makes a caller "known" is learnt only from allowed ones. */
  learn(outcome: MessageOutcome): void {
    const origin = originOf(outcome.ctx);
    this.withProfile(profileKeyOf(outcome.ctx, origin), (profile) =>
      this.apply(profile, outcome, origin, this.now()),
    );
  }

  /** Records a violation the request path did not see (a detection about this caller). */
  recordViolation(ctx: RequestContext): void {
    const now = this.now();
    this.withProfile(profileKeyOf(ctx, originOf(ctx)), (profile) => {
      this.addViolation(profile, now);
      return true;
    });
  }

  /** Writes every changed profile to the state store now. */
  flush(): Promise<void> {
    return this.profiles.flush();
  }

  close(): Promise<void> {
    return this.profiles.close();
  }

  private withProfile(key: string, change: (profile: TrustProfile) => boolean): void {
    const cached = this.profiles.peek(key);
    if (cached) {
      if (change(cached)) this.profiles.changed(key, cached);
      return;
    }
    this.profiles
      .load(key)
      .then((profile) => {
        if (change(profile)) this.profiles.changed(key, profile);
      })
      .catch((err: unknown) => this.options.logger.warn({ err }, "could not learn into a trust profile"));
  }

  private score(
    profile: TrustProfile,
    ctx: RequestContext,
    origin: Origin,
    tool: string | undefined,
  ): TrustAssessment {
    const now = this.now();
    const unusual: string[] = [];
    const factors: TrustFactors = {
      reputation: round(this.reputation(profile, now)),
      device: round(this.device(profile, ctx, origin, unusual)),
      location: round(this.location(profile, origin, now, unusual)),
      behaviour: round(this.behaviour(profile, tool, now, unusual)),
    };
    const { weights } = this.config;
    const weighted =
      weights.reputation * factors.reputation +
      weights.device * factors.device +
      weights.location * factors.location +
      weights.behaviour * factors.behaviour;
    const subject = subjectOf(ctx);
    const penalty = round(
      subject === undefined ? 0 : (this.options.enforcements?.trustPenalty(subject) ?? 0),
    );
    return { score: round(clamp(weighted - penalty)), factors, unusual, penalty };
  }

  private reputation(profile: TrustProfile, now: number): number {
    const { start, perViolation, maxViolationPenalty, violationWindowMs, perYearOfAge, maxAgeBonus } =
      this.config.reputation;
    if (profile.unread) return clamp(start - maxViolationPenalty);
    const recent = violationsSince(profile, now - violationWindowMs);
    const years = profile.firstSeen === undefined ? 0 : Math.max(0, now - profile.firstSeen) / YEAR_MS;
    return clamp(
      start -
        Math.min(maxViolationPenalty, perViolation * recent) +
        Math.min(maxAgeBonus, perYearOfAge * years),
    );
  }

  private device(profile: TrustProfile, ctx: RequestContext, origin: Origin, unusual: string[]): number {
    const values = this.config.device;
    const device = deviceOf(ctx);
    if (device.certified) return values.certificate;
    if (origin.local) return values.local;
    if (profile.devices.has(device.id)) return values.known;
    unusual.push("new-device");
    return values.firstSight;
  }

  private location(profile: TrustProfile, origin: Origin, now: number, unusual: string[]): number {
    const values = this.config.location;
    if (origin.local) return values.known;
    let value = values.known;
    if (origin.network === undefined || !profile.networks.has(origin.network)) {
      unusual.push("new-network");
      value = values.newNetwork;
      const { country } = origin;
      if (country !== undefined && profile.countries.size > 0 && !profile.countries.has(country)) {
        unusual.push("new-country");
        value = Math.min(value, values.newCountry);
      }
    }
    const last = profile.lastCountry;
    if (
      origin.country !== undefined &&
      last !== undefined &&
      last.code !== origin.country &&
      now - last.at < values.impossibleTravelMs
    ) {
      unusual.push("impossible-travel");
      value = Math.min(value, values.impossibleTravel);
    }
    return value;
  }

  private behaviour(profile: TrustProfile, tool: string | undefined, now: number, unusual: string[]): number {
    const { rate, firstUse, unusualHours, recentDenials } = this.config.behaviour;
    let value = 1;
    const inWindow = profile.rate.windowStart === windowOf(now, rate.windowMs) ? profile.rate.count : 0;
    if (profile.rate.windows >= rate.learningWindows && inWindow + 1 > this.rateLimit(profile.rate)) {
      unusual.push("rate-above-baseline");
      value -= rate.penalty;
    }
    const learnt = profile.firstSeen !== undefined && now - profile.firstSeen >= firstUse.learningMs;
    if (tool !== undefined && learnt && !profile.tools.has(tool)) {
      unusual.push("first-use-of-tool");
      value -= firstUse.penalty;
    }
    if (profile.allowed >= unusualHours.minHistory && (profile.hours[hourOf(now)] ?? 0) === 0) {
      unusual.push("unusual-hour");
      value -= unusualHours.penalty;
    }
    const denials = violationsSince(profile, now - recentDenials.windowMs);
    value -= Math.min(recentDenials.maxPenalty, recentDenials.perDenial * denials);
    return clamp(value);
  }

  /** Requests in one window above which the rate is above baseline. */
  private rateLimit(window: RateWindow): number {
    const { factor, minRequests } = this.config.behaviour.rate;
    return Math.max(minRequests, factor * window.baseline);
  }

  /** Applies one outcome to a profile; true when something worth writing back changed. */
  private apply(profile: TrustProfile, outcome: MessageOutcome, origin: Origin, now: number): boolean {
    this.countRequest(profile.rate, now);
    if (isViolation(outcome)) {
      this.addViolation(profile, now);
      return true;
    }
    if (outcome.verdict !== "allow") return false;
    const max = this.config.maxEntriesPerProfile;
    profile.firstSeen ??= now;
    profile.allowed++;
    const hour = hourOf(now);
    profile.hours[hour] = (profile.hours[hour] ?? 0) + 1;
    if (!origin.local) {
      if (origin.network !== undefined) touch(profile.networks, origin.network, now, max);
      if (origin.country !== undefined) {
        touch(profile.countries, origin.country, now, max);
        profile.lastCountry = { code: origin.country, at: now };
      }
      touch(profile.devices, deviceOf(outcome.ctx).id, now, max);
    }
    const tool = toolOf(outcome.method, outcome.target, outcome.params);
    if (tool !== undefined) touch(profile.tools, tool, now, max);
    return true;
  }

  private addViolation(profile: TrustProfile, now: number): void {
    const { reputation, behaviour } = this.config;
    addViolation(
      profile,
      now,
      now - Math.max(reputation.violationWindowMs, behaviour.recentDenials.windowMs),
    );
  }

  /** Counts a request in its window, folding the windows that ended into the baseline. */
  private countRequest(window: RateWindow, now: number): void {
    const start = windowOf(now, this.config.behaviour.rate.windowMs);
    if (start !== window.windowStart) {
      if (window.count > 0) {
        // Once learnt, a flood counts only up to the limit, so that it cannot teach its own baseline.
        const learnt = window.windows >= this.config.behaviour.rate.learningWindows;
        const counted = learnt ? Math.min(window.count, this.rateLimit(window)) : window.count;
        window.baseline =
          window.windows === 0
            ? counted
            : window.baseline * (1 - BASELINE_WEIGHT) + counted * BASELINE_WEIGHT;
        window.windows++;
      }
      window.windowStart = start;
      window.count = 0;
    }
    window.count++;
  }
}

function windowOf(now: number, windowMs: number): number {
  return windowMs > 0 ? now - (now % windowMs) : now;
}

/**
 * A denial by a security layer for something the caller did: not an error, nor this layer's own
 * score, nor a human approval that was refused or not given in time (asking is not a violation).
 */
export function isViolation(outcome: MessageOutcome): boolean {
  return (
    outcome.verdict === "deny" &&
    outcome.decidedBy !== undefined &&
    !NOT_VIOLATIONS.has(outcome.decidedBy.layer) &&
    outcome.decidedBy.rule !== "internal" &&
    !outcome.decidedBy.rule.startsWith("approval:") &&
    // A hidden target is answered as unknown, and must count as an unknown name does: not at all.
    !(outcome.errorCode ?? "").startsWith("PORTCULLIS_E_UNKNOWN_") &&
    // The upstream's doing: it cannot answer (a call the catalogue guard cannot judge while it
    // restarts), or the tool's definition changed or is poisoned.
    !isUpstreamFault(outcome.errorCode)
  );
}

/** A matcher for the config's high-risk tool names (the authorization layer adds destructiveHint tools). */
export function highRiskToolMatcher(config: TrustConfig): (tool: string) => boolean {
  return namePatterns(config.highRiskTools);
}

/**
 * Why a request the trust layer let through still needs additional verification (step-up or
 * approval), or undefined when it does not: a score below `verifyBelow`, a high-risk tool, or an
 * unusual access.
 */
export function needsVerification(
  assessment: TrustAssessment,
  config: TrustConfig,
  riskyTool: boolean,
): string | undefined {
  if (assessment.score < config.verifyBelow) {
    return `trust score ${assessment.score.toFixed(2)} is below ${config.verifyBelow.toFixed(2)}`;
  }
  if (riskyTool) return "the tool is high-risk";
  if (config.verifyOnUnusual && assessment.unusual.length > 0) {
    return `unusual access: ${assessment.unusual.join(", ")}`;
  }
  return undefined;
}
