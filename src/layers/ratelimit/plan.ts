// Which limits a request is checked against: at the edge the address and principal buckets (the same
// for every tool, so they run before trust and authorization), in the message stage the per-tool,
// per-upstream and quota limits; each resolved for this caller (role overrides), this tool (pattern
// overrides) and this address, under a key that names its subject. Pure: no clock, no store.
import { createHash } from "node:crypto";
import { isIPv4 } from "node:net";
import ipaddr from "ipaddr.js";
import type { BucketConfig, QuotaConfig, RateLimitConfig } from "../../config/rateLimitSchema.ts";
import { namePatterns } from "../../federation/namePattern.ts";
import { principalKey, type Principal, type RequestContext, type RequestView } from "../../pipeline/types.ts";

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
  /** Tokens (or quota units) the check spends: the messages of a batch that count against it. */
  readonly cost: number;
}

/** What one HTTP request (or one stdio message) asks of the edge buckets. */
export interface EdgeLoad {
  /** Messages that count against the client address (IPv6: its /64). */
  readonly address: number;
  /** Messages that count against the principal (anonymous callers: their address). */
  readonly principal: number;
}

/** A GET that opens (or resumes) a 2025 session's SSE stream: one request. */
export const STREAM_LOAD: EdgeLoad = Object.freeze({ address: 1, principal: 1 });

const PERIOD_MS = { minute: 60_000, hour: 3_600_000, day: 86_400_000 } as const;
/** Tool names longer than this are keyed by their digest (a name is a key, not a payload). */
const MAX_NAME_IN_KEY = 256;
/** Tool names whose override was looked up; cleared when full (names come from the catalogue). */
const OVERRIDE_CACHE = 10_000;

/** Client notifications that only ever reduce work: never refused. */
const UNLIMITED_NOTIFICATIONS = new Set(["notifications/cancelled"]);
/** Requests that count against the address alone, so that keep-alives never use a principal's budget. */
const ADDRESS_ONLY_REQUESTS = new Set(["ping"]);

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
   * The edge's limits of one HTTP request or stdio message: the address and the principal (or the
   * principal's role), each spending as many tokens as the request carries messages that count.
   */
  forEdge(
    principal: Principal,
    clientAddress: string | undefined,
    load: EdgeLoad,
    fallbackSubject?: string,
  ): LimitCheck[] {
    const checks: LimitCheck[] = [];
    const address = addressSubject(clientAddress);
    if (this.address && address !== undefined && load.address > 0)
      checks.push(check(this.address, address, load.address));
    if (load.principal > 0)
      checks.push(
        check(
          this.principalRule(principal),
          callerSubject(principal, clientAddress, fallbackSubject),
          load.principal,
        ),
      );
    return checks;
  }

  /**
   * The message stage's limits of a client request: the upstream when one is targeted, the
   * principal and tool plus quotas for tool calls. Unknown tool names count like known ones.
   */
  forRequest(request: RequestView, ctx: RequestContext): LimitCheck[] {
    const checks: LimitCheck[] = [];
    const target = request.target;
    if (this.upstream && target && target.kind !== "local" && target.kind !== "broadcast")
      checks.push(check(this.upstream, target.upstream));
    if (request.method !== "tools/call") return checks;
    const tool = toolNameOf(request);
    if (tool === undefined) return checks;
    const who = callerSubject(ctx.principal, ctx.clientAddress, ctx.sessionDigest);
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

  /** The principal's bucket: the most generous of its roles' overrides, or the default. */
  private principalRule(principal: Principal): Rule {
    let best: RoleRule | undefined;
    if (this.roles.size > 0)
      for (const role of principal.roles) {
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
function check(rule: Rule, subject: string, cost = 1): LimitCheck {
  return {
    rule: rule.rule,
    scope: rule.scope,
    key: `${rule.scope}\u0000${subject}`,
    limit: rule.limit,
    cost,
  };
}

function moreGenerous(a: BucketConfig, b: BucketConfig): boolean {
  return a.rate > b.rate || (a.rate === b.rate && a.burst > b.burst);
}

/**
 * Whose budget a request spends, and whose sessions and streams are counted together: the
 * principal, or for anonymous callers their address (IPv6: its /64), so that strangers are never
 * pooled into one bucket and one stranger cannot spend everyone's. `fallback` names an anonymous
 * caller without an address (a stdio connection).
 */
export function callerSubject(
  principal: Principal,
  clientAddress: string | undefined,
  fallback?: string,
): string {
  if (principal.kind !== "anonymous" && principal.authMethod !== "none") return principalKey(principal);
  return `anonymous@${addressSubject(clientAddress) ?? fallback ?? "local"}`;
}

/**
 * The edge load of a request body (one message, or each message of a batch): every request counts
 * against the address and, but ping, against the principal; a `subscriptions/listen` also counts
 * each resource it subscribes to (each is a request of its own in the message stage). Client
 * notifications count against the address only, never `notifications/cancelled`; answers to the
 * gateway's own requests never count. Anything else (not JSON-RPC) counts against the address.
 */
export function edgeLoadOf(messages: readonly unknown[]): EdgeLoad {
  let address = 0;
  let principal = 0;
  for (const message of messages) {
    const { method, id, params } = (message ?? {}) as { method?: unknown; id?: unknown; params?: unknown };
    if (typeof method !== "string") {
      if (!isAnswer(message)) address++;
    } else if (id === undefined) {
      if (!UNLIMITED_NOTIFICATIONS.has(method)) address++;
    } else if (ADDRESS_ONLY_REQUESTS.has(method)) {
      address++;
    } else {
      const n = 1 + (method === "subscriptions/listen" ? listenSubscriptions(params) : 0);
      address += n;
      principal += n;
    }
  }
  return { address, principal };
}

function isAnswer(message: unknown): boolean {
  return typeof message === "object" && message !== null && ("result" in message || "error" in message);
}

/** The resources a `subscriptions/listen` asks to subscribe to. */
function listenSubscriptions(params: unknown): number {
  const uris = (params as { notifications?: { resourceSubscriptions?: unknown } } | undefined)?.notifications
    ?.resourceSubscriptions;
  return Array.isArray(uris) ? uris.filter((uri) => typeof uri === "string").length : 0;
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
