// Builds what a policy condition reads (docs/authorization.md lists every field): the principal,
// the action and target, the request's place and local time, the trust assessment, session labels,
// usage counters and the configured safe subset of the arguments. Integers are BigInt (CEL's int).
import type { RequestContext } from "../../pipeline/types.ts";
import { countryOf } from "../network/geo.ts";
import { localTime } from "./cel.ts";
import type { AuthzTarget } from "./engine.ts";

/** Authentication methods (RFC 8176) that make a login multi-factor. */
const MULTI_FACTOR = new Set(["mfa", "otp", "hwk", "sms", "swk", "fpt", "face", "iris", "retina", "vbm"]);

export interface UsageCounts {
  readonly tool: { readonly minute: number; readonly hour: number; readonly day: number };
  readonly all: { readonly minute: number; readonly hour: number; readonly day: number };
}

export const noUsage: UsageCounts = {
  tool: { minute: 0, hour: 0, day: 0 },
  all: { minute: 0, hour: 0, day: 0 },
};

export interface InputFacts {
  readonly ctx: RequestContext;
  readonly action: string;
  readonly target: AuthzTarget | undefined;
  readonly now: number;
  readonly timeZone: string;
  readonly readsCountry: boolean;
  readonly ratePerMinute: number;
  readonly usage: UsageCounts;
  readonly arguments: Record<string, unknown> | undefined;
  readonly argumentKeys: readonly string[];
}

export function conditionInput(facts: InputFacts): Record<string, unknown> {
  const { ctx, target, now } = facts;
  const p = ctx.principal;
  const amr = p.amr ?? [];
  const local = localTime(new Date(now), facts.timeZone);
  const trust = ctx.findings.trust;
  return {
    principal: {
      id: p.id,
      kind: p.kind,
      authMethod: p.authMethod,
      roles: p.roles,
      groups: p.groups ?? [],
      scopes: p.scopes ?? [],
      tenant: p.tenant ?? "",
      issuer: p.issuer ?? "",
      clientId: p.clientId ?? "",
      acr: p.acr ?? "",
      amr,
      mfa: amr.some((m) => MULTI_FACTOR.has(m)),
      // -1 when the issuer did not say when the user authenticated.
      authAgeSeconds: BigInt(
        p.authTime === undefined ? -1 : Math.max(0, Math.floor((now - p.authTime) / 1000)),
      ),
      device: { id: p.device?.id ?? "", verified: p.device !== undefined },
    },
    action: facts.action,
    resource: {
      kind: target?.kind ?? "",
      name: target?.name ?? "",
      upstream: target?.upstream ?? "",
      labels: target?.labels ?? {},
      annotations: target?.annotations ?? {},
    },
    request: {
      address: ctx.clientAddress ?? "",
      country: facts.readsCountry ? (countryOf(ctx.clientAddress) ?? "") : "",
      transport: ctx.transport,
      era: ctx.era,
      hour: BigInt(local.hour),
      minute: BigInt(local.minute),
      weekday: local.weekday,
      ratePerMinute: BigInt(facts.ratePerMinute),
    },
    now: new Date(now),
    // Without an assessment (trust layer off) the score is 0: a condition on trust fails closed.
    trust: trust
      ? { known: true, score: trust.score, ...trust.factors, unusual: trust.unusual }
      : { known: false, score: 0, reputation: 0, device: 0, location: 0, behaviour: 0, unusual: [] },
    // The flow layer's taint of this session (what it has read); empty for lists and when it is off.
    session: { labels: [...(ctx.findings.taint ?? [])] },
    usage: {
      tool: bigints(facts.usage.tool),
      all: bigints(facts.usage.all),
    },
    args: safeArguments(facts.arguments, facts.argumentKeys),
  };
}

function bigints(counts: UsageCounts["tool"]): Record<string, bigint> {
  return { minute: BigInt(counts.minute), hour: BigInt(counts.hour), day: BigInt(counts.day) };
}

/**
 * Only the configured top-level keys, each whole: a value cut short could hide what a forbid looks
 * for at its end. The body's size and depth limits bound what a condition may have to read.
 */
function safeArguments(
  args: Record<string, unknown> | undefined,
  keys: readonly string[],
): Record<string, unknown> {
  const safe: Record<string, unknown> = {};
  if (!args) return safe;
  for (const key of keys) if (Object.hasOwn(args, key)) safe[key] = celValue(args[key]);
  return safe;
}

/** A JSON value as CEL sees it: integers as int (BigInt), other numbers as double. */
function celValue(value: unknown): unknown {
  if (typeof value === "number") return Number.isSafeInteger(value) ? BigInt(value) : value;
  if (Array.isArray(value)) return value.map(celValue);
  if (value && typeof value === "object") {
    const map: Record<string, unknown> = {};
    for (const [key, inner] of Object.entries(value)) map[key] = celValue(inner);
    return map;
  }
  return value;
}
