// The data guard layer: secrets and personal data in tool results, resource contents and prompt
// messages going to the client, and in tool arguments going upstream, are redacted, masked, flagged
// or blocked per data type and per target; results are also scored for prompt injection (flag,
// quarantine behind a visible marker, or block) and stripped of exfiltration links. An upstream's
// requests to the client (sampling, elicitation) are read like results, its notifications for data,
// and the client's answers like arguments (server.ts). Results come back rewritten through the
// chain, so the audit record holds what the client received.
import type { DataGuardConfig } from "../../config/dataGuardSchema.ts";
import type { SecurityEventBus } from "../../events/bus.ts";
import type { Layer, RequestContext, RequestView, ResultView, RouteTarget } from "../../pipeline/types.ts";
import { MessageScan, type GuardSettings, type LayerVerdict } from "./messageScan.ts";
import { DataPolicies } from "./policy.ts";
import { quarantineId } from "./quarantine.ts";
import { whereOf } from "./report.ts";
import { answersVerdict, inputRequestsVerdict, serverMessageHooks } from "./server.ts";
import { rewriteArguments, rewriteResult } from "./walk.ts";

export type { DataFinding, DataSummary } from "./report.ts";

export interface DataGuardLayerOptions {
  readonly config: DataGuardConfig;
  readonly events?: SecurityEventBus;
  /**
   * The flow labels of a target (`dataFlow.labels`, e.g. FlowLabels#of): a tool carrying one of
   * `externalLabels` gets `externalArguments`. Without it, only openWorldHint makes a tool external.
   */
  readonly labelsOf?: (target: RouteTarget) => readonly string[];
  /**
   * The flow labels of an upstream as a whole (FlowLabels#ofUpstream): the client's answers to the
   * requests of an upstream carrying one of `externalLabels` get `externalArguments`.
   */
  readonly upstreamLabelsOf?: (upstream: string) => readonly string[];
  /** The quarantine marker's id (random per message by default). */
  readonly quarantineId?: () => string;
}

/** Results of these methods carry content for the model. */
const CONTENT_RESULTS = new Set(["tools/call", "resources/read", "prompts/get"]);

export function dataGuardLayer(options: DataGuardLayerOptions): Layer {
  const { config } = options;
  const policies = new DataPolicies(config, options.labelsOf);
  const settings: GuardSettings = {
    config,
    events: options.events,
    newId: options.quarantineId ?? quarantineId,
  };
  const upstreamLabelsOf = options.upstreamLabelsOf ?? (() => []);

  /** Tool arguments: data for the upstream, per `arguments` (and `externalArguments`). */
  const scanArguments = (request: RequestView, ctx: RequestContext): LayerVerdict => {
    const args = request.params?.arguments;
    if (request.method !== "tools/call" || args === undefined || args === null) return undefined;
    const policy = policies.of(request.target);
    if (!policy.arguments.scanSecrets && !policy.arguments.scanPii) return undefined;
    const scan = new MessageScan(settings, "arguments", policy);
    const rewritten = scan.walk(() => rewriteArguments(args, scan.data(policy.arguments), scan.budget), args);
    const verdict = scan.conclude(ctx, whereOf(request.method, request.target));
    if (verdict) return verdict;
    return rewritten === args
      ? undefined
      : { kind: "pass", rewrite: { ...request.params, arguments: rewritten } };
  };

  return {
    name: "data",
    onRequest(request: RequestView, ctx: RequestContext): LayerVerdict {
      const verdict = scanArguments(request, ctx);
      if (verdict?.kind === "deny") return verdict;
      const params = verdict?.kind === "pass" ? verdict.rewrite : request.params;
      // A 2026-07-28 client's retry carries its answers to the upstream's input requests.
      const answers = answersVerdict(settings, policies, { ...request, params }, ctx);
      return answers ?? verdict;
    },

    onResult(view: ResultView, ctx: RequestContext): LayerVerdict {
      if (!CONTENT_RESULTS.has(view.method)) return undefined;
      const policy = policies.of(view.target);
      // A 2026-07-28 upstream's input requests: read like its requests to a 2025 client.
      if (view.result.resultType === "input_required")
        return inputRequestsVerdict(settings, policy, view, ctx);
      const { results } = policy;
      if (!results.scanSecrets && !results.scanPii && policy.injection === "off" && policy.links === "off")
        return undefined;
      const scan = new MessageScan(settings, "result", policy);
      const what = `the ${sourceOf(view)} output`;
      let rewritten = scan.walk(
        () => rewriteResult(view.result, scan.content(what), scan.budget),
        view.result,
      );
      rewritten = scan.scoreWhole(rewritten, rewriteResult, what);
      const verdict = scan.conclude(ctx, whereOf(view.method, view.target));
      if (verdict) return verdict;
      return rewritten === view.result ? undefined : { kind: "pass", rewrite: rewritten };
    },

    ...serverMessageHooks(settings, policies, upstreamLabelsOf),
  };
}

/** How the marker names where the text came from (a short public name, or only the kind of target). */
function sourceOf(view: ResultView): string {
  const kind =
    view.method === "resources/read" ? "resource" : view.method === "prompts/get" ? "prompt" : "tool";
  const name = view.target?.publicName;
  return name && name.length <= 100 && /^[\w.:/@-]+$/.test(name) ? `${kind} ${name}` : kind;
}

export { sanitizeUpstreamError, type RpcErrorShape } from "./upstreamError.ts";
