// The metrics layer: counts every answered request by method and verdict, its latency, and each
// layer's verdicts. It observes outcomes only; it runs in every profile (it is not a security check).
import type { GatewayMetrics } from "../../observability/metrics.ts";
import type { Layer, MessageOutcome } from "../../pipeline/types.ts";

export function metricsLayer(metrics: GatewayMetrics): Layer {
  return {
    name: "metrics",
    onOutcome(outcome: MessageOutcome): void {
      metrics.observeOutcome(outcome);
    },
  };
}
