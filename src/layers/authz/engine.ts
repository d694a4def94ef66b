// The policy engine: compiles policy documents once (CEL conditions parsed and type-checked),
// indexes them by action and target name, and decides a request by evaluating only the policies
// that can apply. Forbid beats permit; nothing permitted is a deny; an error in a condition denies.
import type { Principal } from "../../pipeline/types.ts";
import { namePatterns } from "../../federation/namePattern.ts";
import { expandActions, listActionFor, type PolicyAction } from "./actions.ts";
import { policyEnvironment } from "./cel.ts";
import { conditionInput, noUsage, type InputFacts } from "./input.ts";
import type { Obligations, PolicyDocument } from "./policy.ts";

export interface AuthzTarget {
  readonly kind: "tool" | "prompt" | "resource" | "upstream";
  /** The name clients see (a tool or prompt), a resource URI or template, or the upstream's name. */
  readonly name: string;
  readonly upstream: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly annotations?: Readonly<Record<string, unknown>>;
}

export interface AuthzQuery {
  readonly action: PolicyAction;
  readonly principal: Principal;
  /** Absent for a list request itself and for actions without a target (logging/setLevel, listen). */
  readonly target: AuthzTarget | undefined;
  /** The CEL input, built only when some applicable policy has a condition. */
  readonly input: () => Record<string, unknown>;
}

export interface PolicyDecision {
  readonly effect: "permit" | "deny";
  /** What decided: `policy:<id>`, `default-deny`, or `policy-error:<id>`. */
  readonly rule: string;
  /** The policies that decided: the forbids that matched, or every permit that matched. */
  readonly policies: readonly string[];
  readonly reason: string;
  /** Obligations of every matching permit (all of them apply). */
  readonly obligations: readonly { readonly policy: string; readonly obligations: Obligations }[];
}

/** What one request is, as the layer gathers it: the query and its CEL input are built from these. */
export type RequestFacts = Omit<InputFacts, "action" | "readsCountry"> & { readonly action: PolicyAction };

/** How one candidate policy fared against a query (`policy explain`). */
export interface PolicyTrace {
  readonly id: string;
  readonly effect: "permit" | "forbid";
  readonly origin: PolicyOrigin | undefined;
  readonly scopeMatched: boolean;
  /** The part of the scope that did not match. */
  readonly unmatched?: "principals" | "resources";
  /** `absent` without a `when`; `skipped` when the scope did not match (the condition is never read). */
  readonly condition: "true" | "false" | "absent" | "skipped" | `error: ${string}`;
  readonly obligations?: Obligations;
}

export interface PolicyExplanation {
  readonly decision: PolicyDecision;
  /** The policies the index selected, in evaluation order; every other policy was never looked at. */
  readonly candidates: readonly PolicyTrace[];
}

export interface PolicyOrigin {
  readonly file: string;
  readonly line: number | undefined;
}

export interface PolicyProblem {
  readonly severity: "error" | "warning";
  readonly policy: string | undefined;
  readonly origin: PolicyOrigin | undefined;
  readonly message: string;
}

export interface PolicyEntry {
  readonly policy: PolicyDocument;
  readonly origin?: PolicyOrigin;
}

interface CompiledPolicy {
  readonly id: string;
  readonly effect: "permit" | "forbid";
  readonly order: number;
  readonly doc: PolicyDocument;
  readonly origin: PolicyOrigin | undefined;
  readonly actions: readonly PolicyAction[];
  readonly matchPrincipal: (principal: Principal) => boolean;
  /** Undefined: the policy has no resource scope and applies to every target (and to none). */
  readonly matchTarget: ((target: AuthzTarget) => boolean) | undefined;
  readonly condition: ((input: Record<string, unknown>) => unknown) | undefined;
}

interface ActionIndex {
  readonly byName: Map<string, CompiledPolicy[]>;
  readonly anyName: CompiledPolicy[];
  readonly all: CompiledPolicy[];
}

const denyNothingPermitted = (action: string): PolicyDecision => ({
  effect: "deny",
  rule: "default-deny",
  policies: [],
  reason: `no policy permits ${action}`,
  obligations: [],
});

export class PolicySet {
  readonly size: number;
  /** Whether any condition reads usage counters (then the layer fetches them from the state store). */
  readonly readsUsage: boolean;
  /** Whether any condition reads the client's country (then the GeoIP database is consulted). */
  readonly readsCountry: boolean;
  private readonly index: ReadonlyMap<PolicyAction, ActionIndex>;
  private readonly policies: readonly CompiledPolicy[];

  private constructor(policies: CompiledPolicy[]) {
    this.policies = policies;
    this.size = policies.length;
    this.readsUsage = policies.some((p) => p.doc.when?.includes("usage.") ?? false);
    this.readsCountry = policies.some((p) => /\bcountry\b/.test(p.doc.when ?? ""));
    const index = new Map<PolicyAction, ActionIndex>();
    for (const policy of policies) {
      for (const action of policy.actions) {
        let entry = index.get(action);
        if (!entry) index.set(action, (entry = { byName: new Map(), anyName: [], all: [] }));
        entry.all.push(policy);
        const exact = exactNames(policy.doc);
        if (exact === undefined) entry.anyName.push(policy);
        else
          for (const name of exact) {
            const list = entry.byName.get(name);
            if (list) list.push(policy);
            else entry.byName.set(name, [policy]);
          }
      }
    }
    this.index = index;
  }

  /** Compiles every enabled policy; problems (errors and warnings) are returned, never thrown. */
  static compile(entries: readonly PolicyEntry[]): { set: PolicySet; problems: PolicyProblem[] } {
    const env = policyEnvironment();
    const problems: PolicyProblem[] = [];
    const compiled: CompiledPolicy[] = [];
    const seen = new Map<string, PolicyOrigin | undefined>();
    entries.forEach(({ policy, origin }, order) => {
      const problem = (message: string, severity: PolicyProblem["severity"] = "error") =>
        problems.push({ severity, policy: policy.id, origin, message });
      if (seen.has(policy.id)) {
        const first = seen.get(policy.id);
        problem(`duplicate policy id (first at ${first ? describeOrigin(first) : "an earlier entry"})`);
        return;
      }
      seen.set(policy.id, origin);
      const { actions, unknown } = expandActions(policy.actions);
      for (const name of unknown) problem(`action "${name}" is not an MCP method policies govern`);
      let condition: CompiledPolicy["condition"];
      if (policy.when !== undefined) {
        try {
          const checked = env.check(policy.when);
          if (!checked.valid) throw checked.error ?? new Error("invalid condition");
          if (checked.type !== "bool" && checked.type !== "dyn")
            throw new Error(`the condition yields ${checked.type}, not bool`);
          condition = env.parse(policy.when);
        } catch (err) {
          problem(`when: ${firstLine(err)}`);
          return;
        }
      }
      if (!policy.enabled) {
        problem("disabled: it never applies", "warning");
        return;
      }
      if (actions.length === 0) return;
      compiled.push({
        id: policy.id,
        effect: policy.effect,
        order,
        doc: policy,
        origin,
        actions,
        matchPrincipal: principalMatcher(policy),
        matchTarget: targetMatcher(policy),
        condition,
      });
    });
    problems.push(...shadowed(compiled));
    return { set: new PolicySet(compiled), problems };
  }

  /** The policies that could apply to a query, before conditions: from the index, never a full scan. */
  candidates(query: AuthzQuery): CompiledPolicy[] {
    const entry = this.index.get(query.action);
    if (!entry) return [];
    if (query.target === undefined) return entry.all;
    const named = entry.byName.get(indexKey(query.target.kind, query.target.name));
    if (!named) return entry.anyName;
    return entry.anyName.length === 0 ? named : [...named, ...entry.anyName];
  }

  decide(query: AuthzQuery): PolicyDecision {
    let input: Record<string, unknown> | undefined;
    const holds = (policy: CompiledPolicy): boolean | Error => {
      if (!policy.condition) return true;
      try {
        input ??= query.input();
      } catch (err) {
        // The facts a condition reads could not be built (e.g. an unknown time zone): deny.
        return err instanceof Error ? err : new Error(String(err));
      }
      return evaluateCondition(policy.condition, input);
    };
    const permits: CompiledPolicy[] = [];
    const forbids: string[] = [];
    for (const policy of this.candidates(query)) {
      if (!applies(policy, query)) continue;
      // Permits are only worth a condition when no forbid has matched yet.
      if (policy.effect === "permit" && forbids.length > 0) continue;
      const verdict = holds(policy);
      if (verdict instanceof Error) {
        // Fail-secure: a condition that cannot be evaluated denies, whatever its effect.
        return {
          effect: "deny",
          rule: `policy-error:${policy.id}`,
          policies: [policy.id],
          reason: `policy ${policy.id} could not be evaluated`,
          obligations: [],
        };
      }
      if (!verdict) continue;
      if (policy.effect === "forbid") forbids.push(policy.id);
      else permits.push(policy);
    }
    if (forbids.length > 0) {
      return {
        effect: "deny",
        rule: `policy:${forbids[0]}`,
        policies: forbids,
        reason: `forbidden by ${forbids.join(", ")}`,
        obligations: [],
      };
    }
    if (permits.length === 0) return denyNothingPermitted(query.action);
    return {
      effect: "permit",
      rule: `policy:${permits[0]?.id}`,
      policies: permits.map((p) => p.id),
      reason: `permitted by ${permits.map((p) => p.id).join(", ")}`,
      obligations: permits.flatMap((p) =>
        p.doc.obligations ? [{ policy: p.id, obligations: p.doc.obligations }] : [],
      ),
    };
  }

  /** The query for one request, as the layer decides it: the CEL input is built only if a condition reads it. */
  queryFor(facts: RequestFacts): AuthzQuery {
    return {
      action: facts.action,
      principal: facts.ctx.principal,
      target: facts.target,
      input: () => conditionInput({ ...facts, readsCountry: this.readsCountry }),
    };
  }

  /**
   * Whether the principal may see the target in a list: the list action on it (a resource through
   * either resource list). A targeted request on a target it cannot see is answered as unknown.
   */
  visibility(facts: RequestFacts & { readonly target: AuthzTarget }): {
    readonly listAction: PolicyAction;
    readonly decision: PolicyDecision;
  } {
    const listing = { ...facts, arguments: undefined, usage: noUsage };
    const { kind } = facts.target;
    const first = listActionFor(kind === "upstream" ? "tool" : kind);
    const decision = this.decide(this.queryFor({ ...listing, action: first }));
    if (kind !== "resource" || decision.effect === "permit") return { listAction: first, decision };
    const templates = "resources/templates/list" as const;
    return { listAction: templates, decision: this.decide(this.queryFor({ ...listing, action: templates })) };
  }

  /**
   * The decision with its working: every candidate the index selected, whether its scope matched
   * and what its condition evaluated to (evaluated here even where `decide` stopped early).
   */
  explain(query: AuthzQuery): PolicyExplanation {
    let input: Record<string, unknown> | undefined;
    const once: AuthzQuery = { ...query, input: () => (input ??= query.input()) };
    const decision = this.decide(once);
    const candidates = this.candidates(query).map((policy): PolicyTrace => {
      const base = {
        id: policy.id,
        effect: policy.effect,
        origin: policy.origin,
        ...(policy.doc.obligations ? { obligations: policy.doc.obligations } : {}),
      };
      if (!applies(policy, query)) {
        const unmatched = policy.matchPrincipal(query.principal) ? "resources" : "principals";
        return { ...base, scopeMatched: false, unmatched, condition: "skipped" };
      }
      if (!policy.condition) return { ...base, scopeMatched: true, condition: "absent" };
      let verdict: boolean | Error;
      try {
        verdict = evaluateCondition(policy.condition, once.input());
      } catch (err) {
        verdict = err instanceof Error ? err : new Error(String(err));
      }
      const condition =
        verdict instanceof Error ? (`error: ${firstLine(verdict)}` as const) : (`${verdict}` as const);
      return { ...base, scopeMatched: true, condition };
    });
    return { decision, candidates };
  }

  /** Every compiled policy, in file order (for `policy explain`). */
  list(): readonly PolicyDocument[] {
    return this.policies.map((p) => p.doc);
  }
}

/** A condition's value: a boolean, or the error that makes the policy deny (fail-secure). */
function evaluateCondition(
  condition: NonNullable<CompiledPolicy["condition"]>,
  input: Record<string, unknown>,
): boolean | Error {
  try {
    const value = condition(input);
    if (typeof value !== "boolean") return new Error(`condition yielded ${typeof value}, not bool`);
    return value;
  } catch (err) {
    return err instanceof Error ? err : new Error(String(err));
  }
}

/**
 * Whether a policy's scope covers a query. A list request (no target) is covered by every permit for
 * the action (its items are filtered one by one) but only by forbids that name no resources.
 */
function applies(policy: CompiledPolicy, query: AuthzQuery): boolean {
  if (!policy.matchPrincipal(query.principal)) return false;
  if (!policy.matchTarget) return true;
  if (query.target) return policy.matchTarget(query.target);
  return policy.effect === "permit" && query.action.endsWith("/list");
}

function principalMatcher(policy: PolicyDocument): (principal: Principal) => boolean {
  const scope = policy.principals;
  if (!scope) return () => true;
  const ids = scope.ids ? new Set(scope.ids) : undefined;
  const roles = scope.roles ? new Set(scope.roles) : undefined;
  const groups = scope.groups ? new Set(scope.groups) : undefined;
  const kinds = scope.kinds ? new Set<string>(scope.kinds) : undefined;
  const methods = scope.authMethods ? new Set<string>(scope.authMethods) : undefined;
  const tenants = scope.tenants ? new Set(scope.tenants) : undefined;
  const issuers = scope.issuers ? new Set(scope.issuers) : undefined;
  return (p) =>
    (!ids || ids.has(p.id)) &&
    (!roles || p.roles.some((r) => roles.has(r))) &&
    (!groups || (p.groups ?? []).some((g) => groups.has(g))) &&
    (!kinds || kinds.has(p.kind)) &&
    (!methods || methods.has(p.authMethod)) &&
    (!tenants || (p.tenant !== undefined && tenants.has(p.tenant))) &&
    (!issuers || (p.issuer !== undefined && issuers.has(p.issuer)));
}

function targetMatcher(policy: PolicyDocument): ((target: AuthzTarget) => boolean) | undefined {
  const scope = policy.resources;
  if (!scope) return undefined;
  const byKind = {
    tool: scope.tools ? namePatterns(scope.tools) : undefined,
    prompt: scope.prompts ? namePatterns(scope.prompts) : undefined,
    resource: scope.resources ? namePatterns(scope.resources, { caseSensitive: true }) : undefined,
  };
  const kindListed =
    scope.tools !== undefined || scope.prompts !== undefined || scope.resources !== undefined;
  const upstreams = scope.upstreams ? new Set(scope.upstreams) : undefined;
  const labels = scope.labels
    ? Object.entries(scope.labels).map(
        ([key, value]) => [key, Array.isArray(value) ? value : [value]] as const,
      )
    : undefined;
  return (target) => {
    if (kindListed) {
      const match = target.kind === "upstream" ? undefined : byKind[target.kind];
      if (!match || !match(target.name)) return false;
    }
    if (upstreams && !upstreams.has(target.upstream)) return false;
    if (labels) {
      for (const [key, accepted] of labels) {
        const value = target.labels[key];
        if (value === undefined || !accepted.includes(value)) return false;
      }
    }
    return true;
  };
}

/**
 * The index keys (kind and name) a policy is limited to, or undefined when it may match any name.
 * Tool and prompt names are folded to lower case; resource URIs keep their case.
 */
function exactNames(policy: PolicyDocument): string[] | undefined {
  const scope = policy.resources;
  if (!scope) return undefined;
  const lists = [
    ["tool", scope.tools],
    ["prompt", scope.prompts],
    ["resource", scope.resources],
  ] as const;
  if (lists.every(([, names]) => names === undefined)) return undefined;
  const keys: string[] = [];
  for (const [kind, names] of lists) {
    for (const name of names ?? []) {
      if (name.includes("*") || name.includes("?")) return undefined;
      keys.push(indexKey(kind, name));
    }
  }
  return keys;
}

function indexKey(kind: AuthzTarget["kind"], name: string): string {
  return `${kind}\u0000${kind === "resource" ? name : name.toLowerCase()}`;
}

/**
 * Warnings for permits that can never decide: an unconditional forbid covers every principal,
 * action and target they could apply to.
 */
function shadowed(policies: readonly CompiledPolicy[]): PolicyProblem[] {
  const forbids = policies.filter((p) => p.effect === "forbid" && p.condition === undefined);
  const problems: PolicyProblem[] = [];
  for (const permit of policies) {
    if (permit.effect !== "permit") continue;
    const cover = forbids.find((f) => covers(f, permit));
    if (cover)
      problems.push({
        severity: "warning",
        policy: permit.id,
        origin: permit.origin,
        message: `shadowed: forbid ${cover.id} always applies wherever it would (it can never permit)`,
      });
  }
  return problems;
}

function covers(forbid: CompiledPolicy, permit: CompiledPolicy): boolean {
  if (!permit.actions.every((a) => forbid.actions.includes(a))) return false;
  const f = forbid.doc;
  const p = permit.doc;
  const coversList = (outer: readonly string[] | undefined, inner: readonly string[] | undefined) =>
    outer === undefined || (inner !== undefined && inner.every((name) => namePatterns(outer)(name)));
  const fp = f.principals;
  const pp = p.principals;
  const principalCovered =
    fp === undefined ||
    (pp !== undefined &&
      coversList(fp.ids, pp.ids) &&
      coversList(fp.roles, pp.roles) &&
      coversList(fp.groups, pp.groups) &&
      coversList(fp.kinds, pp.kinds) &&
      coversList(fp.authMethods, pp.authMethods) &&
      coversList(fp.tenants, pp.tenants) &&
      coversList(fp.issuers, pp.issuers));
  if (!principalCovered) return false;
  const fr = f.resources;
  if (fr === undefined) return true;
  const pr = p.resources;
  if (pr === undefined) return false;
  return (
    fr.labels === undefined &&
    coversList(fr.upstreams, pr.upstreams) &&
    coversList(fr.tools, pr.tools) &&
    coversList(fr.prompts, pr.prompts) &&
    coversList(fr.resources, pr.resources) &&
    (fr.tools !== undefined) === (pr.tools !== undefined) &&
    (fr.prompts !== undefined) === (pr.prompts !== undefined) &&
    (fr.resources !== undefined) === (pr.resources !== undefined)
  );
}

export function describeOrigin(origin: PolicyOrigin): string {
  return origin.line === undefined ? origin.file : `${origin.file}:${origin.line}`;
}

function firstLine(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  return text.split("\n")[0] ?? text;
}
