// The trust layer: scores the caller of every request (reputation, device, location, behaviour),
// shares the assessment with the layers after it, and denies below the configured minimum.
import { DETECTION_KINDS, type SecurityEventBus } from "../../events/bus.ts";
import type { Layer, RequestContext, RequestView, TrustAssessment, Verdict } from "../../pipeline/types.ts";
import { TrustEvaluator, type TrustEvaluatorOptions } from "./evaluator.ts";

export { TrustEvaluator, needsVerification, highRiskToolMatcher } from "./evaluator.ts";

export interface TrustLayerOptions extends TrustEvaluatorOptions {
  /** Where `trust_low` is emitted, and whose detections count as violations. */
  readonly events?: SecurityEventBus;
}

/** Methods too cheap to be worth a score (and that must answer even a distrusted caller). */
const UNSCORED = new Set(["ping"]);
const detectionKinds = new Set<string>(DETECTION_KINDS);

export function trustLayer(options: TrustLayerOptions): Layer {
  const { config, events } = options;
  const evaluator = new TrustEvaluator(options);
  const unsubscribe =
    config.enabled && events
      ? events.subscribe((event) => {
          if (detectionKinds.has(event.type) && event.ctx) evaluator.recordViolation(event.ctx);
        })
      : undefined;

  const decide = (
    assessment: TrustAssessment,
    request: RequestView,
    ctx: RequestContext,
  ): Verdict<Record<string, unknown>> | undefined => {
    ctx.findings.trust = assessment;
    if (assessment.score >= config.denyBelow) return undefined;
    const { factors } = assessment;
    events?.emit({
      type: "trust_low",
      severity: "medium",
      ctx,
      details: {
        method: request.method,
        name: request.target?.publicName,
        score: assessment.score,
        minimum: config.denyBelow,
        factors,
        penalty: assessment.penalty,
        unusual: assessment.unusual,
      },
    });
    const listed = (["reputation", "device", "location", "behaviour"] as const)
      .map((name) => `${name} ${factors[name].toFixed(2)}`)
      .join(", ");
    const penalty = assessment.penalty > 0 ? `; penalty ${assessment.penalty.toFixed(2)}` : "";
    return {
      kind: "deny",
      rule: "trust.min-score",
      reason: `trust score ${assessment.score.toFixed(2)} is below ${config.denyBelow.toFixed(2)} (factors: ${listed}${penalty})`,
      code: "PORTCULLIS_E_DENIED",
    };
  };

  return {
    name: "trust",
    onRequest(request, ctx) {
      if (!config.enabled || UNSCORED.has(request.method)) return undefined;
      const assessment = evaluator.assess(request, ctx);
      return assessment instanceof Promise
        ? assessment.then((a) => decide(a, request, ctx))
        : decide(assessment, request, ctx);
    },
    onOutcome(outcome) {
      if (!config.enabled || UNSCORED.has(outcome.method)) return;
      evaluator.learn(outcome);
    },
    async close() {
      unsubscribe?.();
      await evaluator.close();
    },
  };
}
