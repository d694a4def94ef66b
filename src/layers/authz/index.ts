// The authorization layer: every MCP method decided by policy (default deny), lists filtered to
// what the principal may use, hidden targets denied exactly like unknown ones, and a permit's
// obligations (step-up, human approval, the trust evaluator's additional verification) enforced.
import type { AuthorizationConfig } from "../../config/authzSchema.ts";
import { subjectOf } from "../../events/detectors/types.ts";
import { RateMeter } from "../../events/detectors/windows.ts";
import type {
  CatalogItem,
  CatalogView,
  Layer,
  RequestContext,
  RequestView,
  ServerRequestView,
  TrustAssessment,
  Verdict,
} from "../../pipeline/types.ts";
import { principalKey } from "../../pipeline/types.ts";
import type { Enforcements } from "../../state/enforcements.ts";
import type { StateStore } from "../../state/store.ts";
import {
  isPolicyAction,
  LIST_ACTION_OF_KIND,
  TARGETED_ACTIONS,
  UNGOVERNED_METHODS,
  type PolicyAction,
} from "./actions.ts";
import type { AuthzTarget, PolicyDecision, PolicySet } from "./engine.ts";
import { noUsage, type UsageCounts } from "./input.ts";
import { trustTooLow } from "../trust/index.ts";
import { combineStepUps, stepUpChallenge, unmetStepUp, type StepUpRequirement } from "./obligations.ts";
import { LabelBook, targetOfItem, targetOfRoute, unknownTargetError, uriProblem } from "./targets.ts";

/** Asks a human: resolves when an approver decided, the wait timed out, or a standing approval applies. */
export interface ApprovalGate {
  obtain(request: {
    readonly ctx: RequestContext;
    readonly action: string;
    readonly target: AuthzTarget;
    readonly arguments: Record<string, unknown> | undefined;
    readonly policy: string;
    readonly reason: string | undefined;
    readonly timeoutMs: number | undefined;
    readonly signal?: AbortSignal;
  }): Promise<{
    readonly approved: boolean;
    readonly id: string | undefined;
    readonly rule: string;
    readonly reason: string;
  }>;
}

export interface AuthzLayerOptions {
  readonly policies: PolicySet;
  readonly config: AuthorizationConfig;
  readonly enforcements: Enforcements;
  /** Usage counters for quota conditions (shared by every node). */
  readonly store: StateStore;
  readonly approvals?: ApprovalGate;
  /** The trust evaluator's verdict on whether this access needs additional verification (a reason). */
  readonly verificationNeeded?: (
    assessment: TrustAssessment,
    target: AuthzTarget,
    riskyTarget: boolean,
  ) => string | undefined;
  /** Deny below this trust score (the trust layer then leaves the minimum to this layer). */
  readonly trustMinimum?: number;
  readonly now?: () => number;
}

const WINDOWS = { minute: 60_000, hour: 3_600_000, day: 86_400_000 } as const;

export function authzLayer(options: AuthzLayerOptions): Layer {
  const { policies, config, enforcements } = options;
  const now = options.now ?? Date.now;
  const labels = new LabelBook(config.labels);
  const rates = new RateMeter(50_000);

  const decide = (
    ctx: RequestContext,
    action: PolicyAction,
    target: AuthzTarget | undefined,
    args: Record<string, unknown> | undefined,
    usage: UsageCounts,
    at: number,
    ratePerMinute: number,
  ): PolicyDecision =>
    policies.decide(
      policies.queryFor({
        ctx,
        action,
        target,
        now: at,
        timeZone: config.timeZone,
        ratePerMinute,
        usage,
        arguments: args,
        argumentKeys: config.argumentKeys,
      }),
    );

  /** Counts this attempt and returns the counts before it (quota conditions read these). */
  const countUsage = async (ctx: RequestContext, target: AuthzTarget, at: number): Promise<UsageCounts> => {
    const who = principalKey(ctx.principal);
    const counts = { tool: { minute: 0, hour: 0, day: 0 }, all: { minute: 0, hour: 0, day: 0 } };
    await Promise.all(
      Object.entries(WINDOWS).flatMap(([window, ms]) => {
        const slot = Math.floor(at / ms);
        const name = window as keyof typeof WINDOWS;
        return [
          options.store
            .increment(`quota:${who}:tool:${target.name}:${name}:${slot}`, 1, ms)
            .then((n) => void (counts.tool[name] = n - 1)),
          options.store
            .increment(`quota:${who}:all:${name}:${slot}`, 1, ms)
            .then((n) => void (counts.all[name] = n - 1)),
        ];
      }),
    );
    return counts;
  };

  return {
    name: "authz",

    async onRequest(request: RequestView, ctx: RequestContext) {
      if (UNGOVERNED_METHODS.has(request.method)) return undefined;
      if (!isPolicyAction(request.method))
        return deny("unknown-action", `${request.method} is not governed by any policy action`);
      const action = request.method;
      const at = now();
      const target = targetOfRoute(request.target, request.params, labels);
      const odd = target?.kind === "resource" ? uriProblem(target.name) : undefined;
      if (odd)
        return deny("resource-uri-not-canonical", `the resource URI has ${odd}; send it in its plain form`);
      const key = principalKey(ctx.principal);
      // A target the principal cannot even list is answered as if it did not exist, before anything
      // is counted or scored, so that nothing about it differs from a name that does not exist.
      if (target && TARGETED_ACTIONS.has(action)) {
        const listing = policies.visibility({
          ctx,
          action,
          target,
          now: at,
          timeZone: config.timeZone,
          ratePerMinute: rates.current(key, at),
          usage: noUsage,
          arguments: undefined,
          argumentKeys: config.argumentKeys,
        }).decision;
        if (listing.effect === "deny") {
          ctx.findings.authz = { decision: "deny", policies: listing.policies };
          return { ...policyDenial(listing), conceal: unknownTargetError(target) };
        }
      }
      const trust = ctx.findings.trust;
      if (trust && options.trustMinimum !== undefined && trust.score < options.trustMinimum) {
        ctx.findings.authz = { decision: "deny", policies: [] };
        return trustTooLow(options.trustMinimum);
      }
      const args = action === "tools/call" ? argumentsOf(request.params) : undefined;
      const usage =
        policies.readsUsage && action === "tools/call" && target
          ? await countUsage(ctx, target, at)
          : noUsage;
      const rate = rates.add(key, at);
      const decision = decide(ctx, action, target, args, usage, at, rate);
      ctx.findings.authz = {
        decision: decision.effect,
        policies: decision.policies,
        obligations: decision.obligations.flatMap((o) => Object.keys(o.obligations)),
      };
      if (decision.effect === "deny") return policyDenial(decision);
      // What an approval would be bound to, built only if one is asked for.
      const bound = () => approvalBinding(action, request.params, args);
      return enforceObligations(ctx, action, target, bound, decision, at);
    },

    async onCatalog(catalog: CatalogView, ctx: RequestContext) {
      const action = LIST_ACTION_OF_KIND[catalog.kind];
      const at = now();
      // The list request itself was counted when it came in.
      const rate = rates.current(principalKey(ctx.principal), at);
      const kept: CatalogItem[] = catalog.items.filter(
        (item) =>
          decide(ctx, action, targetOfItem(catalog.kind, item, labels), undefined, noUsage, at, rate)
            .effect === "permit",
      );
      return kept.length === catalog.items.length ? undefined : { kind: "pass", rewrite: kept };
    },

    onServerRequest(request: ServerRequestView, ctx: RequestContext) {
      if (!isPolicyAction(request.method))
        return deny("unknown-action", `${request.method} is not governed by any policy action`);
      const target: AuthzTarget = {
        kind: "upstream",
        name: request.upstream,
        upstream: request.upstream,
        labels: {},
      };
      const at = now();
      const decision = decide(ctx, request.method, target, undefined, noUsage, at, 0);
      if (decision.effect === "deny") return policyDenial(decision);
      // Nobody can step up or wait for an approver inside an upstream's request to the client.
      if (decision.obligations.length > 0)
        return deny(
          `policy:${decision.obligations[0]?.policy}`,
          `${request.method} cannot meet a permit's obligations (step-up, approval)`,
        );
      return undefined;
    },
  };

  async function enforceObligations(
    ctx: RequestContext,
    action: PolicyAction,
    target: AuthzTarget | undefined,
    bound: () => Record<string, unknown> | undefined,
    decision: PolicyDecision,
    at: number,
  ): Promise<Verdict<Record<string, unknown>> | undefined> {
    const stepUps: { policy: string; need: StepUpRequirement }[] = decision.obligations.flatMap((o) =>
      o.obligations.stepUp ? [{ policy: o.policy, need: o.obligations.stepUp }] : [],
    );
    let approval = decision.obligations.find((o) => o.obligations.approval);
    let approvalRule = approval ? `policy:${approval.policy}` : undefined;
    // A detector's response: this principal must authenticate again before going on.
    const enforced = enforcements.stepUpRequired(subjectOf(ctx) ?? ctx.principal.id);
    if (enforced)
      stepUps.push({
        policy: `response:${enforced.source}`,
        need: { maxAuthAgeSeconds: config.stepUp.maxAuthAgeSeconds },
      });
    // The trust evaluator: a low score, a high-risk target or an unusual access asks for more.
    const trust = ctx.findings.trust;
    const verification =
      trust && target ? options.verificationNeeded?.(trust, target, isRisky(target)) : undefined;
    // The trust evaluator's requirement adds to a policy's: a weaker step-up never replaces it.
    if (verification) {
      const method =
        config.verification === "step-up" && ctx.principal.authMethod !== "bearer"
          ? "approval"
          : config.verification;
      if (method === "deny")
        return deny(
          "trust.verification",
          `additional verification needed (${verification}); refused by configuration`,
        );
      if (method === "step-up")
        stepUps.push({
          policy: "trust.verification",
          need: { maxAuthAgeSeconds: config.stepUp.maxAuthAgeSeconds },
        });
      else if (!approval) {
        approval = { policy: "trust.verification", obligations: { approval: { reason: verification } } };
        approvalRule = "trust.verification";
      }
    }
    const need = combineStepUps(stepUps.map((s) => s.need));
    if (need) {
      const unmet =
        ctx.principal.authMethod === "bearer"
          ? unmetStepUp(ctx.principal, need, at)
          : "this credential cannot step up";
      if (unmet) {
        const rule =
          stepUps[0]?.policy.startsWith("trust.") || stepUps[0]?.policy.startsWith("response:")
            ? (stepUps[0]?.policy ?? "step-up")
            : `policy:${stepUps[0]?.policy}`;
        if (ctx.principal.authMethod !== "bearer")
          return deny(rule, `step-up required, but ${ctx.principal.authMethod} credentials cannot step up`);
        return {
          kind: "challenge",
          rule,
          reason: `step-up required: ${unmet}`,
          challenge: "step-up",
          details: {
            policies: stepUps.map((s) => s.policy),
            wwwAuthenticate: stepUpChallenge(need, `step-up required: ${unmet}`),
            ...(need.acr ? { acr_values: need.acr.join(" ") } : {}),
            ...(need.maxAuthAgeSeconds !== undefined ? { max_age: need.maxAuthAgeSeconds } : {}),
          },
        };
      }
    }
    if (approval?.obligations.approval) {
      if (!options.approvals || !target)
        return deny(approvalRule ?? "approval", "a human approval is required but no approver can be asked");
      const answer = await options.approvals.obtain({
        ctx,
        action,
        target,
        arguments: bound(),
        policy: approval.policy,
        reason: approval.obligations.approval.reason,
        timeoutMs: approval.obligations.approval.timeoutMs,
        signal: ctx.signal,
      });
      const finding = ctx.findings.authz;
      if (finding && answer.id) ctx.findings.authz = { ...finding, approval: answer.id };
      if (!answer.approved) {
        return {
          kind: "deny",
          rule: answer.rule,
          reason: answer.reason,
          code: "PORTCULLIS_E_APPROVAL_DENIED",
          data: { policies: decision.policies, approval: answer.id },
        };
      }
    }
    return undefined;
  }
}

/** A deny that names the rule and every policy that decided (never their text). */
function policyDenial(decision: PolicyDecision): Extract<Verdict<never>, { kind: "deny" }> {
  return {
    kind: "deny",
    rule: decision.rule,
    reason: decision.reason,
    code: "PORTCULLIS_E_AUTHZ_DENIED",
    data: { policies: decision.policies },
  };
}

function deny(rule: string, reason: string): Verdict<never> {
  return { kind: "deny", rule, reason, code: "PORTCULLIS_E_AUTHZ_DENIED" };
}

/**
 * What an approval is bound to: a tool call's arguments, or the whole request (a prompt's
 * arguments, a completion's argument and context) without its envelope.
 */
function approvalBinding(
  action: string,
  params: Record<string, unknown> | undefined,
  toolArguments: Record<string, unknown> | undefined,
): Record<string, unknown> | undefined {
  if (action === "tools/call") return toolArguments ?? {};
  if (!params) return undefined;
  const { _meta: _envelope, ...rest } = params;
  return rest;
}

function isRisky(target: AuthzTarget): boolean {
  return target.labels.risk === "high" || target.annotations?.destructiveHint === true;
}

function argumentsOf(params: Record<string, unknown> | undefined): Record<string, unknown> | undefined {
  const args = params?.arguments;
  return args && typeof args === "object" && !Array.isArray(args)
    ? (args as Record<string, unknown>)
    : undefined;
}
