// Assembles the message stage from the config: one line per layer, in chain order. The profile
// decides which layers run: `dev` turns every layer off; `strict` (the default) and `balanced` run
// all that exist today (layers that trade checks for speed will differ between the two). The audit
// layer comes first, so that an unwritable trail stops a call before anything else runs; the
// message-stage rate limits (per tool, per upstream, quotas) come after authorization, so that no
// limit tells a hidden tool from a missing one. The address and principal buckets, the same for
// every tool, are checked by the ingress before all of them (`edgeRateLimitOf`).
import type { Logger } from "pino";
import type { GatewayConfig } from "../config/schema.ts";
import type { Layer, RouteTarget, TrustAssessment } from "../pipeline/types.ts";
import { ArgumentsCipher } from "../audit/argumentsCipher.ts";
import type { AuditSink } from "../audit/sink.ts";
import { auditLayer } from "./audit/index.ts";
import { decisionLog } from "./decision-log/index.ts";
import { metricsLayer } from "./metrics/index.ts";
import { tracingLayer } from "./tracing/index.ts";
import type { GatewayMetrics } from "../observability/metrics.ts";
import type { MessageTracer } from "../observability/traceContext.ts";
import type { Enforcements } from "../state/enforcements.ts";
import type { StateStore } from "../state/store.ts";
import type { PolicySet } from "./authz/engine.ts";
import { authzLayer, type ApprovalGate } from "./authz/index.ts";
import { highRiskToolMatcher, needsVerification, trustLayer } from "./trust/index.ts";
import type { TrustConfig } from "../config/trustSchema.ts";
import type { AuthzTarget } from "./authz/engine.ts";
import type { SecurityEventBus } from "../events/bus.ts";
import { dataFlowLayer } from "./flow/index.ts";
import { FlowLabels } from "./flow/labels.ts";
import { dataGuardLayer } from "./data/index.ts";
import { validationLayer } from "./validation/index.ts";
import { argumentGuardLayer } from "./arguments/index.ts";
import { catalogGuardLayer, toolPinStoreFor, type CatalogReader } from "./catalog/index.ts";
import { MemoryLimiter, rateLimitLayer, type EdgeRateLimit } from "./ratelimit/index.ts";
import { RedisStateStore } from "../state/redisStore.ts";

export interface LayerDependencies {
  readonly config: GatewayConfig;
  readonly logger: Logger;
  /** The audit store, opened once per process (it outlives config reloads). */
  readonly auditSink?: AuditSink;
  /** This gateway node's name in audit records. */
  readonly node: string;
  readonly metrics?: GatewayMetrics;
  /** Where decision lines go (a logger without redaction); default: `logger`. */
  readonly decisionLogger?: Logger;
  /** Set when tracing is on: message spans are ended by an outcome observer. */
  readonly tracing?: MessageTracer;
  /** The compiled authorization policies of this config. */
  readonly policies: PolicySet;
  readonly enforcements: Enforcements;
  readonly state: StateStore;
  readonly approvals?: ApprovalGate;
  readonly events?: SecurityEventBus;
  /** The merged catalogue as it is now (the catalogue guard judges calls against it). */
  readonly catalog?: () => CatalogReader;
}

/**
 * The edge rate limits of the chain assembled last for a gateway (its enforcements are one per
 * process, like the gateway): a reload swaps them with the chain. Undefined when rate limits are off
 * or the profile is `dev`.
 */
const edgeLimits = new WeakMap<Enforcements, EdgeRateLimit>();

export function edgeRateLimitOf(enforcements: Enforcements): EdgeRateLimit | undefined {
  return edgeLimits.get(enforcements);
}

/**
 * What a call is checked against (its schema, its formats, its annotations): the tool's definition as
 * the catalogue holds it when the check runs, else the router's copy. The router's copy is from when
 * the call came in, and the catalogue guard may have waited since for the upstream's lists to be read
 * again (after a reconnection).
 */
export function currentDefinitionOf(
  catalog: (() => Pick<CatalogReader, "toolDefinition">) | undefined,
): (target: RouteTarget) => Readonly<Record<string, unknown>> | undefined {
  return (target) =>
    (target.publicName ? catalog?.().toolDefinition?.(target.publicName) : undefined) ?? target.definition;
}

export function assembleLayers(deps: LayerDependencies): Layer[] {
  const { config } = deps;
  const currentDefinition = currentDefinitionOf(deps.catalog);
  const observers: Layer[] = deps.metrics ? [metricsLayer(deps.metrics)] : [];
  if (deps.tracing) observers.push(tracingLayer());
  if (config.profile === "dev") {
    edgeLimits.delete(deps.enforcements);
    return observers;
  }
  const layers: Layer[] = [...observers];
  if (deps.auditSink && config.audit.enabled) {
    const { arguments: args, results, failOpen, encryptionKeys } = config.audit;
    const encrypting = args === "encrypted" || results === "encrypted";
    const cipher = encrypting ? new ArgumentsCipher(encryptionKeys) : undefined;
    layers.push(
      auditLayer({ sink: deps.auditSink, node: deps.node, arguments: args, results, cipher, failOpen }),
    );
  }
  if (config.logging.decisions) layers.push(decisionLog({ logger: deps.decisionLogger ?? deps.logger }));
  // Message shape before anything reads it; tool arguments only after authorization (below), so that
  // a schema error never tells a hidden tool from a missing one.
  const validating = config.validation.enabled;
  // One set of flow labels per chain: both flow stages and the data guard read it.
  const flow = {
    config: config.dataFlow,
    store: deps.state,
    events: deps.events,
    labels: new FlowLabels(config.dataFlow),
  };
  if (validating)
    layers.push(validationLayer({ config: config.validation, events: deps.events, stage: "messages" }));
  if (config.trust.enabled) {
    layers.push(
      trustLayer({
        config: config.trust,
        store: deps.state,
        logger: deps.logger,
        enforcements: deps.enforcements,
        events: deps.events,
        // With authorization on, it enforces the minimum (a hidden target stays hidden at any score).
        enforceMinimum: !config.authorization.enabled,
      }),
    );
  }
  // Before authorization: policies see the session's taint as session.labels.
  if (config.dataFlow.enabled) layers.push(dataFlowLayer({ ...flow, stage: "taint" }));
  if (config.authorization.enabled) {
    layers.push(
      authzLayer({
        policies: deps.policies,
        config: config.authorization,
        enforcements: deps.enforcements,
        store: deps.state,
        approvals: deps.approvals,
        verificationNeeded: config.trust.enabled ? verificationBy(config.trust) : undefined,
        trustMinimum: config.trust.enabled ? config.trust.denyBelow : undefined,
      }),
    );
  }
  // After authorization: a limit that answered differently for hidden tools would reveal them.
  if (config.rateLimits.enabled) {
    const shared = deps.state instanceof RedisStateStore ? deps.state : undefined;
    const rateLimits = rateLimitLayer({
      config: config.rateLimits,
      redis: shared?.client,
      keyPrefix: config.state.redis.keyPrefix,
      onUnavailable: config.state.onUnavailable,
      memory: memoryLimiterOf(deps.state),
      events: deps.events,
      logger: deps.logger,
    });
    layers.push(rateLimits);
    edgeLimits.set(deps.enforcements, rateLimits.edge);
  } else edgeLimits.delete(deps.enforcements);
  // After the rate limits: calls are judged after authorization (no existence oracle), and on the way
  // out its onCatalog sees the whole list first.
  if (config.catalogGuard.enabled && deps.catalog)
    layers.push(
      catalogGuardLayer({
        config: config.catalogGuard,
        catalog: deps.catalog,
        pins: toolPinStoreFor(deps.state),
        events: deps.events,
        logger: deps.logger,
      }),
    );
  // Tool schemas after the catalogue guard: a withheld tool is refused as such before its schema
  // could say anything about it.
  if (validating)
    layers.push(
      validationLayer({
        config: config.validation,
        events: deps.events,
        stage: "tools",
        definitionOf: currentDefinition,
      }),
    );
  // The flow rules after authorization: their refusal names the target's labels.
  if (config.dataFlow.enabled) layers.push(dataFlowLayer({ ...flow, stage: "flow" }));
  // After authorization (a refused argument never reveals a hidden tool) and the rate limits (probes
  // are counted, DNS lookups throttled), on arguments validation found well-typed.
  if (config.argumentGuard.enabled)
    layers.push(
      argumentGuardLayer({
        config: config.argumentGuard,
        events: deps.events,
        definitionOf: currentDefinition,
      }),
    );
  // Last: requests are scanned after every refusal, and results meet it first on the way back, so the
  // audit record holds what the client received.
  if (config.dataGuard.enabled) {
    layers.push(
      dataGuardLayer({
        config: config.dataGuard,
        events: deps.events,
        labelsOf: (t) => flow.labels.of(t),
        upstreamLabelsOf: (u) => flow.labels.ofUpstream(u),
      }),
    );
  }
  return layers;
}

/** One memory of limits per process (per state store): a reload must not hand every caller a fresh burst. */
const memoryLimiters = new WeakMap<StateStore, MemoryLimiter>();

function memoryLimiterOf(state: StateStore): MemoryLimiter {
  let limiter = memoryLimiters.get(state);
  if (!limiter) memoryLimiters.set(state, (limiter = new MemoryLimiter()));
  return limiter;
}

/** The trust evaluator's call on additional verification; a tool is high-risk by label, annotation or name. */
function verificationBy(
  config: TrustConfig,
): (assessment: TrustAssessment, target: AuthzTarget, risky: boolean) => string | undefined {
  const riskyName = highRiskToolMatcher(config);
  return (assessment, target, risky) =>
    needsVerification(assessment, config, risky || (target.kind === "tool" && riskyName(target.name)));
}
