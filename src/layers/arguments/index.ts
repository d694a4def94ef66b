// The argument guard: every string in a tool call's arguments is checked by the detector its tool
// and argument call for (path traversal, SSRF, SQL and command injection), declared or inferred.
import type { ArgumentGuardConfig } from "../../config/argumentsSchema.ts";
import type { SecurityEventBus } from "../../events/bus.ts";
import type {
  CatalogView,
  Layer,
  RequestContext,
  RequestView,
  RouteTarget,
  Verdict,
} from "../../pipeline/types.ts";
import { finding } from "./findings.ts";
import { inspectArguments, type Hit, type PendingHosts } from "./inspect.ts";
import { ArgumentPlanner, type ToolPlan } from "./plan.ts";
import { HostResolver, type Resolution, type ResolveHost } from "./resolver.ts";
import { checkResolvedAddress, urlPolicy, type UrlPolicy } from "./urls.ts";
import { principalKey } from "../../pipeline/types.ts";

export type { ResolveHost } from "./resolver.ts";

export interface ArgumentGuardOptions {
  readonly config: ArgumentGuardConfig;
  readonly events?: SecurityEventBus;
  /**
   * The tool's definition as its upstream listed it (for schema formats, its description and
   * annotations). Without it, the layer uses the definitions it saw in tool lists going to clients.
   */
  readonly definitionOf?: (target: RouteTarget) => Readonly<Record<string, unknown>> | undefined;
  /** Resolves host names (default: c-ares, `dns.Resolver`, never the thread pool); tests inject one. */
  readonly resolve?: ResolveHost;
  readonly now?: () => number;
}

const LAYER = "arguments";
/** Flag events per call: a call with a thousand flagged strings is one attack, not a thousand events. */
const MAX_FLAG_EVENTS = 16;
const MAX_PLANS = 10_000;

type Denial = Extract<Verdict<never>, { kind: "deny" }>;

export function argumentGuardLayer(options: ArgumentGuardOptions): Layer {
  const { config, events } = options;
  const planner = new ArgumentPlanner(config);
  const urls: UrlPolicy = urlPolicy(config.url.schemes, config.url.allowHosts, config.url.blockHosts);
  const { dns } = config.url;
  const resolver = new HostResolver({
    resolve: options.resolve,
    timeoutMs: dns.timeoutMs,
    ttlMs: dns.cacheTtlMs,
    size: dns.cacheSize,
    maxConcurrent: dns.maxConcurrent,
    maxConcurrentPerPrincipal: dns.maxConcurrentPerPrincipal,
    now: options.now,
  });
  const limits = { maxDepth: config.maxDepth, maxStrings: config.maxStrings };
  const learned = new Map<string, Readonly<Record<string, unknown>>>();
  const plansByDefinition = new WeakMap<object, { readonly name: string; readonly plan: ToolPlan }>();
  const plansByName = new Map<string, ToolPlan>();

  const planFor = (target: RouteTarget): ToolPlan => {
    const name = target.publicName ?? target.name ?? "";
    const definition = options.definitionOf?.(target) ?? learned.get(name);
    if (definition) {
      const cached = plansByDefinition.get(definition);
      if (cached?.name === name) return cached.plan;
      const plan = planner.plan(name, definition);
      plansByDefinition.set(definition, { name, plan });
      return plan;
    }
    let plan = plansByName.get(name);
    if (!plan) {
      if (plansByName.size >= MAX_PLANS) plansByName.clear();
      plansByName.set(name, (plan = planner.plan(name, undefined)));
    }
    return plan;
  };

  const report = (hit: Hit, ctx: RequestContext, target: RouteTarget): void => {
    events?.emit({
      type: "argument_attack",
      severity: hit.action === "block" ? "high" : "medium",
      ctx,
      details: {
        layer: LAYER,
        rule: hit.finding.rule,
        action: hit.action,
        tool: target.publicName,
        upstream: target.upstream,
        argument: hit.pointer,
        kind: hit.kind,
        inferred: hit.inferred,
        reason: hit.finding.detail,
      },
    });
  };

  /** What one resolved host name says about a URL: a finding if any address is internal, or it failed. */
  const judge = (pending: PendingHosts, answer: Resolution): Hit | undefined => {
    // Refused by the concurrency cap: fail-secure, whatever onFailure says.
    if ("error" in answer)
      return dns.onFailure === "allow" && !answer.busy
        ? undefined
        : { ...pending, finding: finding("url-dns-failure", `the host did not resolve (${answer.error})`) };
    for (const address of answer.addresses) {
      const problem = checkResolvedAddress(address, urls);
      if (problem) return { ...pending, finding: problem };
    }
    return undefined;
  };

  /** The first finding among a URL's host names, if any. */
  const resolveHosts = async (pending: PendingHosts, principal: string): Promise<Hit | undefined> => {
    for (const name of pending.names) {
      const hit = judge(pending, await resolver.lookup(name, principal));
      if (hit) return hit;
    }
    return undefined;
  };

  /** The same from cached answers alone, or null when some name needs a lookup. */
  const resolveCached = (all: readonly PendingHosts[]): (Hit | undefined)[] | null => {
    const hits: (Hit | undefined)[] = [];
    for (const pending of all) {
      let hit: Hit | undefined;
      for (const name of pending.names) {
        const answer = resolver.peek(name);
        if (!answer) return null;
        hit ??= judge(pending, answer);
      }
      hits.push(hit);
    }
    return hits;
  };

  return {
    name: LAYER,

    async onRequest(request: RequestView, ctx: RequestContext) {
      const target = request.target;
      if (request.method !== "tools/call" || target?.kind !== "tool") return undefined;
      const args = request.params?.arguments;
      if (args === undefined || args === null) return undefined;
      const inspection = inspectArguments(args, planFor(target), limits, urls);
      if (inspection.tooLarge) {
        const { pointer, finding: problem } = inspection.tooLarge;
        const hit: Hit = { pointer, kind: "structure", action: "block", inferred: false, finding: problem };
        report(hit, ctx, target);
        return denial(hit);
      }
      let flags = 0;
      const decide = (hit: Hit): Denial | undefined => {
        if (hit.action === "block" || flags++ < MAX_FLAG_EVENTS) report(hit, ctx, target);
        return hit.action === "block" ? denial(hit) : undefined;
      };
      for (const hit of inspection.hits) {
        const refused = decide(hit);
        if (refused) return refused;
      }
      if (!dns.enabled || inspection.pending.length === 0) return undefined;
      // Cached answers decide without a turn of the event loop; otherwise resolve (in parallel).
      const resolved =
        resolveCached(inspection.pending) ??
        (await Promise.all(inspection.pending.map((p) => resolveHosts(p, principalKey(ctx.principal)))));
      for (const hit of resolved) {
        const refused = hit && decide(hit);
        if (refused) return refused;
      }
      return undefined;
    },

    onCatalog(catalog: CatalogView) {
      if (catalog.kind !== "tools" || options.definitionOf) return undefined;
      if (learned.size + catalog.items.length > MAX_PLANS) learned.clear();
      for (const item of catalog.items) learned.set(item.publicName, item.definition);
      return undefined;
    },
  };
}

/** The refusal: names the rule, the argument (a JSON pointer) and its kind, never the value. */
function denial(hit: Hit): Denial {
  const { rule, detail } = hit.finding;
  const { kind } = hit;
  return {
    kind: "deny",
    rule,
    reason: `${kind} argument ${hit.pointer || "(the arguments)"}: ${detail}`,
    code: "PORTCULLIS_E_ARGUMENT_ATTACK",
    data: { layer: LAYER, rule, argument: hit.pointer, kind },
  };
}
