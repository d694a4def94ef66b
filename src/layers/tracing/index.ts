// The tracing layer: ends each request's span with its final outcome (verdict, deciding layer and
// rule, error code). It observes outcomes only; present in every profile when tracing is on.
import type { Layer, MessageOutcome } from "../../pipeline/types.ts";

export function tracingLayer(): Layer {
  return {
    name: "tracing",
    onOutcome(outcome: MessageOutcome): void {
      outcome.ctx.trace?.end(outcome);
    },
  };
}
