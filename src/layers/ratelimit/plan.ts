// Which limits a message is checked against: the buckets and quotas the config names, resolved for
// this caller (role overrides), this tool (pattern overrides) and this address, each under a key
// that names its subject. Pure: no clock, no store.
import { createHash } from "node:crypto";
import { isIPv4 } from "node:net";
import ipaddr from "ipaddr.js";
import type { BucketConfig, QuotaConfig, RateLimitConfig } from "../../config/rateLimitSchema.ts";
import { namePatterns } from "../../federation/namePattern.ts";
import { principalKey, type RequestContext, type RequestView } from "../../pipeline/types.ts";

export type LimitScope = "principal" | "principal-tool" | "address" | "upstream" | "quota";

export interface BucketLimit {
  readonly kind: "bucket";
  /** Tokens per second. */
  readonly rate: number;
  readonly burst: number;
}

export interface QuotaLimit {
  readonly kind: "quota";
  readonly per: QuotaConfig["per"];
  /** The period in ms; periods are aligned to the epoch (UTC calendar minutes, hours, days). */
  readonly periodMs: number;
  readonly limit: number;
}

/** One limit one message counts against. */
export interface LimitCheck {
  /** `<scope>:<limit id>`: what refusals, events and the audit record name. */
  readonly rule: string;
  readonly scope: LimitScope;
  /** The subject within the scope, in clear (the shared store hashes it). */
  readonly key: string;
  readonly limit: BucketLimit | QuotaLimit;
}

const PERIOD_MS = { minute: 60_000, hour: 3_600_000, day: 86_400_000 } as const;
/** Tool names longer than this are keyed by their digest (a name is a key, not a payload). */
const MAX_NAME_IN_KEY = 256;
/** Tool names whose override was looked up; cleared when full (names come from the catalogue). */
const OVERRIDE_CACHE = 10_000;

/** Client notifications that only ever reduce work: never refused. */
const UNLIMITED_NOTIFICATIONS = new Set(["notifications/cancelled"]);

/** A limit as configured, compiled once: a check is one of these and a subject. */
interface Rule {
  readonly rule: string;
  readonly scope: LimitScope;
  readonly limit: BucketLimit | QuotaLimit;
}

interface QuotaRule extends Rule {
  readonly id: string;
  readonly perTool: boolean;
  readonly applies: (tool: string) => boolean;
}

interface ToolOverride extends Rule {
  readonly matches: (tool: string) => boolean;
  /** Characters besides wildcards (exact names above any pattern): the more, the more specific. */
  readonly weight: number;
}

interface RoleRule extends Rule {
  readonly bucket: BucketConfig;
}

export class LimitPlan {
  private readonly address: Rule | undefined;
  private readonly principal: Rule;
  private readonly roles: ReadonlyMap<string, RoleRule>;
  private readonly upstream: Rule | undefined;
  private readonly tool: Rule | undefined;
  private readonly overrides: readonly ToolOverride[];
  private readonly quotas: readonly QuotaRule[];
  private readonly overrideOf = new Map<string, ToolOverride | null>();

  constructor(config: RateLimitConfig) {
    const { perAddress, perUpstream, perPrincipalTool } = config;
    this.address = perAddress ? bucketRule("address", "address:default", perAddress) : undefined;
    this.principal = bucketRule("principal", "principal:default", config.perPrincipal);
    this.roles = new Map(
      Object.entries(config.roles).map(([role, bucket]) => [
        role,
        { ...bucketRule("principal", `principal:role:${role}`, bucket), bucket },
      ]),
    );
    this.upstream = perUpstream ? bucketRule("upstream", "upstream:default", perUpstream) : undefined;
    this.tool = perPrincipalTool
      ? bucketRule("principal-tool", "principal-tool:default", perPrincipalTool)
      : undefined;
    this.overrides = Object.entries(config.tools).map(([pattern, bucket]) => ({
      ...bucketRule("principal-tool", `principal-tool:${pattern}`, bucket),
      matches: namePatterns([pattern]),
      weight: pattern.replace(/[*?]/g, "").length + (/[*?]/.test(pattern) ? 0 : MAX_NAME_IN_KEY),
    }));
    this.quotas = config.quotas.map((quota) => ({
      rule: `quota:${quota.id}`,
      scope: "quota",
      limit: { kind: "quota", per: quota.per, periodMs: PERIOD_MS[quota.per], limit: quota.limit },
      id: quota.id,
      perTool: quota.scope === "principal-tool",
      applies: quota.tools ? namePatterns(quota.tools) : () => true,
    }));
  }

  /**
   * The limits of a client request: the address and the principal for all but ping (only the
   * address), the principal and tool plus quotas for tool calls, the upstream when one is targeted.
   */
  forRequest(request: RequestView, ctx: RequestContext): LimitCheck[] {
    const checks: LimitCheck[] = [];
    const address = addressSubject(ctx.clientAddress);
    if (this.address && address !== undefined) checks.push(check(this.address, address));
    if (request.method === "ping") return checks;
    const who = principalSubject(ctx, address);
    checks.push(check(this.principalRule(ctx), who));
    const target = request.target;
    if (this.upstream && target && target.kind !== "local" && target.kind !== "broadcast")
      checks.push(check(this.upstream, target.upstream));
    if (request.method !== "tools/call") return checks;
    const tool = toolNameOf(request);
    if (tool === undefined) return checks;
    const toolKey = keyPart(tool);
    const toolRule = this.toolOverride(tool) ?? this.tool;
    if (toolRule) checks.push(check(toolRule, `${who}\u0000${toolKey}`));
    for (const quota of this.quotas) {
      if (!quota.applies(tool)) continue;
      const subject = quota.perTool ? `${quota.id}\u0000${who}\u0000${toolKey}` : `${quota.id}\u0000${who}`;
      checks.push(check(quota, subject));
    }
    return checks;
  }

  /** A client notification counts against its address only (a notification has no answer to refuse with). */
  forNotification(method: string, ctx: RequestContext): LimitCheck[] {
    const address = addressSubject(ctx.clientAddress);
    if (!this.address || address === undefined || UNLIMITED_NOTIFICATIONS.has(method)) return [];
    return [check(this.address, address)];
  }

  /** The principal's bucket: the most generous of its roles' overrides, or the default. */
  private principalRule(ctx: RequestContext): Rule {
    let best: RoleRule | undefined;
    if (this.roles.size > 0)
      for (const role of ctx.principal.roles) {
        const rule = this.roles.get(role);
        if (rule && (!best || moreGenerous(rule.bucket, best.bucket))) best = rule;
      }
    return best ?? this.principal;
  }

  private toolOverride(tool: string): ToolOverride | undefined {
    if (this.overrides.length === 0) return undefined;
    let found = this.overrideOf.get(tool);
    if (found === undefined) {
      found = null;
      for (const override of this.overrides)
        if (override.matches(tool) && (!found || override.weight > found.weight)) found = override;
      if (this.overrideOf.size >= OVERRIDE_CACHE) this.overrideOf.clear();
      this.overrideOf.set(tool, found);
    }
    return found ?? undefined;
  }
}

function bucketRule(scope: LimitScope, rule: string, bucket: BucketConfig): Rule {
  return { rule, scope, limit: { kind: "bucket", rate: bucket.rate, burst: bucket.burst } };
}

/** A rule for one subject; the key starts with the scope, so that scopes never share a key. */
function check(rule: Rule, subject: string): LimitCheck {
  return { rule: rule.rule, scope: rule.scope, key: `${rule.scope}\u0000${subject}`, limit: rule.limit };
}

function moreGenerous(a: BucketConfig, b: BucketConfig): boolean {
  return a.rate > b.rate || (a.rate === b.rate && a.burst > b.burst);
}

/**
 * Whose budget a request spends: the principal, or for anonymous callers their address (so that
 * strangers are never pooled into one bucket, and one stranger cannot spend everyone's).
 */
function principalSubject(ctx: RequestContext, address: string | undefined): string {
  const { principal } = ctx;
  if (principal.kind !== "anonymous" && principal.authMethod !== "none") return principalKey(principal);
  return `anonymous@${address ?? ctx.sessionDigest ?? "local"}`;
}

/** The tool a call names: the public name the router resolved, else the name the client sent. */
function toolNameOf(request: RequestView): string | undefined {
  if (request.target?.kind === "tool" && request.target.publicName) return request.target.publicName;
  const name = request.params?.name;
  return typeof name === "string" && name !== "" ? name : undefined;
}

function keyPart(name: string): string {
  const folded = name.toLowerCase();
  return folded.length <= MAX_NAME_IN_KEY
    ? folded
    : `#${createHash("sha256").update(folded).digest("base64url")}`;
}

/** IPv6 subjects already worked out (parsing costs microseconds; a client sends many requests). */
const v6Subjects = new Map<string, string>();
const V6_CACHE = 10_000;

/**
 * The subject of the per-address limit: the IPv4 address, or the /64 of an IPv6 one (a single host
 * commonly holds a whole /64, so one address per request would let it mint fresh buckets at will).
 */
export function addressSubject(address: string | undefined): string | undefined {
  if (address === undefined || address === "") return undefined;
  if (isIPv4(address)) return address;
  let subject = v6Subjects.get(address);
  if (subject === undefined) {
    subject = parseSubject(address);
    if (v6Subjects.size >= V6_CACHE) v6Subjects.clear();
    v6Subjects.set(address, subject);
  }
  return subject;
}

function parseSubject(address: string): string {
  let parsed: ipaddr.IPv4 | ipaddr.IPv6;
  try {
    parsed = ipaddr.process(address.replace(/%.*$/, ""));
  } catch {
    return address;
  }
  if (parsed.kind() === "ipv4") return parsed.toString();
  const parts = (parsed as ipaddr.IPv6).parts.slice(0, 4).map((part) => part.toString(16));
  return `${parts.join(":")}::/64`;
}
