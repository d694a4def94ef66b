// The trust layer: scores the caller of every request (reputation, device, location, behaviour),
// shares the assessment with the layers after it, and denies below the configured minimum.
import { DETECTION_KINDS, type SecurityEventBus } from "../../events/bus.ts";
import type { Layer, RequestContext, RequestView, TrustAssessment, Verdict } from "../../pipeline/types.ts";
import { TrustEvaluator, type TrustEvaluatorOptions } from "./evaluator.ts";

export { TrustEvaluator, needsVerification, highRiskToolMatcher } from "./evaluator.ts";

export interface TrustLayerOptions extends TrustEvaluatorOptions {
  /** Where `trust_low` is emitted, and whose detections count as violations. */
  readonly events?: SecurityEventBus;
  /**
   * Deny below `denyBelow` here (default). Off when the authorization layer enforces the minimum:
   * it knows whether the target is hidden, and answers a hidden one as unknown whatever the score.
   */
  readonly enforceMinimum?: boolean;
}

/** Methods too cheap to be worth a score (and that must answer even a distrusted caller). */
const UNSCORED = new Set(["ping"]);
const detectionKinds = new Set<string>(DETECTION_KINDS);

/**
 * The refusal of a caller whose score is below the minimum. The score and its factors are in the
 * `trust_low` event and the audit record, not in the answer: a caller must not learn what to change.
 */
export function trustTooLow(minimum: number): Extract<Verdict<never>, { kind: "deny" }> {
  return {
    kind: "deny",
    rule: "trust.min-score",
    reason: `the caller's trust score is below the minimum (${minimum.toFixed(2)})`,
    code: "PORTCULLIS_E_DENIED",
  };
}

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
    if (options.enforceMinimum === false) return undefined;
    return trustTooLow(config.denyBelow);
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
