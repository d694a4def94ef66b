// The data guard layer: secrets and personal data in tool results, resource contents and prompt
// messages going to the client, and in tool arguments going upstream, are redacted, masked, flagged
// or blocked per data type and per target; results are also scored for prompt injection (flag,
// quarantine behind a visible marker, or block) and stripped of exfiltration links. Results come
// back rewritten through the chain, so the audit record holds what the client received.
import type { DataGuardConfig } from "../../config/dataGuardSchema.ts";
import type { SecurityEventBus } from "../../events/bus.ts";
import type {
  Layer,
  RequestContext,
  RequestView,
  ResultView,
  RouteTarget,
  Verdict,
} from "../../pipeline/types.ts";
import { scoreInjection } from "./injection.ts";
import { inspectText } from "./inspect.ts";
import { LinkScanLimit } from "./links.ts";
import { DataPolicies, type TargetPolicy } from "./policy.ts";
import { quarantine, quarantineId } from "./quarantine.ts";
import { MessageReport, type DataSummary, type Direction } from "./report.ts";
import { rewriteArguments, rewriteResult, WalkBudget, type TextPlace } from "./walk.ts";

export type { DataFinding, DataSummary } from "./report.ts";

export interface DataGuardLayerOptions {
  readonly config: DataGuardConfig;
  readonly events?: SecurityEventBus;
  /**
   * The flow labels of a target (`dataFlow.labels`, e.g. FlowLabels#of): a tool carrying one of
   * `externalLabels` gets `externalArguments`. Without it, only openWorldHint makes a tool external.
   */
  readonly labelsOf?: (target: RouteTarget) => readonly string[];
  /** The quarantine marker's id (random per message by default). */
  readonly quarantineId?: () => string;
}

type LayerVerdict = Verdict<Record<string, unknown>> | undefined;

/** Results of these methods carry content for the model. */
const CONTENT_RESULTS = new Set(["tools/call", "resources/read", "prompts/get"]);

export function dataGuardLayer(options: DataGuardLayerOptions): Layer {
  const { config, events } = options;
  const policies = new DataPolicies(config, options.labelsOf);
  const newId = options.quarantineId ?? quarantineId;
  const budget = () => new WalkBudget(config.limits.maxChars, config.limits.maxDepth);

  const finish = (
    report: MessageReport,
    budgetUsed: WalkBudget,
    policy: TargetPolicy,
    ctx: RequestContext,
    method: string,
    target: RouteTarget | undefined,
  ): LayerVerdict => {
    const extra = { external: policy.external, injectionAction: policy.injection, linkAction: policy.links };
    report.emit(events, ctx, method, target, extra);
    const summary = report.summary(policy.injection, policy.links);
    if (summary) recordFinding(ctx, report.direction, summary);
    if (budgetUsed.overflow) return unscanned(budgetUsed.overflow, report.direction, ctx, { method, target });
    return report.verdict(policy.injection, policy.links);
  };

  /**
   * A message the guard did not read whole: too large or deep (blocked unless `limits.oversize`
   * allows it unscanned), or too much work (always blocked). One event either way.
   */
  const unscanned = (
    limit: "depth" | "size" | "work",
    direction: Direction,
    ctx: RequestContext,
    message: { method: string; target: RouteTarget | undefined },
  ): LayerVerdict => {
    const work = limit === "work";
    const block = work || config.limits.oversize === "block";
    const rule = work ? "data:too-much-work" : "data:too-large";
    events?.emit({
      type: "secret_redacted",
      severity: block ? "medium" : "high",
      ctx,
      details: {
        layer: "data",
        direction,
        method: message.method,
        tool: message.target?.publicName,
        upstream: message.target?.upstream,
        rules: [rule],
        actions: [block ? "block" : "unscanned"],
        ...(work
          ? {}
          : {
              limit:
                limit === "depth"
                  ? `maxDepth ${config.limits.maxDepth}`
                  : `maxChars ${config.limits.maxChars}`,
            }),
      },
    });
    if (!block) return undefined;
    const what = direction === "result" ? "result" : "arguments";
    const reason = work
      ? `The ${what} cost more to scan than the data guard allows`
      : `The ${what} ${limit === "depth" ? "nest deeper" : "are longer"} than the data guard scans (dataGuard.limits)`;
    return { kind: "deny", rule, reason, code: "PORTCULLIS_E_DATA_BLOCKED", data: { layer: "data", limit } };
  };

  return {
    name: "data",
    onRequest(request: RequestView, ctx: RequestContext): LayerVerdict {
      if (request.method !== "tools/call") return undefined;
      const args = request.params?.arguments;
      if (args === undefined || args === null) return undefined;
      const policy = policies.of(request.target);
      if (!policy.arguments.scanSecrets && !policy.arguments.scanPii) return undefined;
      const report = new MessageReport("arguments");
      const used = budget();
      const visit = (text: string, place: TextPlace): string => {
        const inspection = inspectText(text, {
          policy: policy.arguments,
          modelFacing: false,
          secretField: place.secretField,
          links: "off",
          allowedHost: policy.allowedHost,
          injection: false,
        });
        report.addHits(inspection.hits);
        return inspection.text;
      };
      const rewritten = rewriteArguments(args, visit, used);
      const verdict = finish(report, used, policy, ctx, request.method, request.target);
      if (verdict) return verdict;
      return rewritten === args
        ? undefined
        : { kind: "pass", rewrite: { ...request.params, arguments: rewritten } };
    },

    onResult(view: ResultView, ctx: RequestContext): LayerVerdict {
      if (!CONTENT_RESULTS.has(view.method)) return undefined;
      const policy = policies.of(view.target);
      const { results } = policy;
      if (!results.scanSecrets && !results.scanPii && policy.injection === "off" && policy.links === "off")
        return undefined;
      const report = new MessageReport("result");
      const used = budget();
      const threshold = config.injection.threshold;
      let id: string | undefined;
      const source = sourceOf(view);
      /** The model-facing texts, scored together too: an instruction split across blocks still counts. */
      const texts: string[] = [];
      let tripped = false;
      const visit = (text: string, place: TextPlace): string => {
        const inspection = inspectText(text, {
          policy: policy.results,
          modelFacing: place.modelFacing,
          secretField: place.secretField,
          links: policy.links,
          allowedHost: policy.allowedHost,
          injection: policy.injection !== "off",
        });
        report.addHits(inspection.hits);
        report.addLinks(inspection.links);
        if (place.modelFacing) texts.push(text);
        const injection = inspection.injection;
        if (!injection || policy.injection === "off" || injection.score < threshold) return inspection.text;
        report.addInjection(injection.score, injection.rules);
        tripped = true;
        if (policy.injection !== "quarantine") return inspection.text;
        return quarantine(inspection.text, (id ??= newId()), injection.rules, source);
      };
      let rewritten: Record<string, unknown>;
      try {
        rewritten = rewriteResult(view.result, visit, used);
      } catch (err) {
        if (!(err instanceof LinkScanLimit)) throw err;
        return unscanned("work", report.direction, ctx, view);
      }
      if (!tripped && texts.length > 1 && policy.injection !== "off" && !used.overflow) {
        const whole = scoreInjection(texts.join("\n"));
        if (whole.score >= threshold) {
          report.addInjection(whole.score, whole.rules);
          if (policy.injection === "quarantine") {
            const wrap = (text: string, place: TextPlace) =>
              place.modelFacing ? quarantine(text, (id ??= newId()), whole.rules, source) : text;
            rewritten = rewriteResult(rewritten, wrap, budget());
          }
        }
      }
      const verdict = finish(report, used, policy, ctx, view.method, view.target);
      if (verdict) return verdict;
      return rewritten === view.result ? undefined : { kind: "pass", rewrite: rewritten };
    },
  };
}

/** How the marker names where the text came from (a short public name, or only the kind of target). */
function sourceOf(view: ResultView): string {
  const kind =
    view.method === "resources/read" ? "resource" : view.method === "prompts/get" ? "prompt" : "tool";
  const name = view.target?.publicName;
  return name && name.length <= 100 && /^[\w.:/@-]+$/.test(name) ? `${kind} ${name}` : kind;
}

/** The summary goes to `ctx.findings.data`, for later layers and the audit record. */
function recordFinding(ctx: RequestContext, direction: Direction, summary: DataSummary): void {
  const { findings } = ctx;
  findings.data = { ...findings.data, [direction === "result" ? "result" : "arguments"]: summary };
}

export { sanitizeUpstreamError, type RpcErrorShape } from "./upstreamError.ts";
