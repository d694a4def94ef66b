// The decision log: one JSON line per answered message (time, method, tool, upstream, verdict,
// deciding layer and rule, latency). It observes outcomes only and never changes a verdict.
import type { Logger } from "pino";
import type { Layer, MessageOutcome } from "../../pipeline/types.ts";

export interface DecisionLogOptions {
  readonly logger: Logger;
}

export function decisionLog(options: DecisionLogOptions): Layer {
  const log = options.logger.child({ layer: "decision-log" });
  return {
    name: "decision-log",
    onOutcome(outcome: MessageOutcome): void {
      log.info(toRecord(outcome), "decision");
    },
  };
}

export function toRecord(outcome: MessageOutcome): Record<string, unknown> {
  const { ctx, target } = outcome;
  return {
    correlationId: ctx.id,
    method: outcome.method,
    tool: target?.kind === "tool" ? target.publicName : undefined,
    prompt: target?.kind === "prompt" ? target.publicName : undefined,
    resource: target?.kind === "resource" ? target.name : undefined,
    upstream: target?.upstream,
    verdict: outcome.verdict,
    decidedBy: outcome.decidedBy,
    errorCode: outcome.errorCode,
    latencyMs: Math.round(outcome.latencyMs * 1000) / 1000,
    principal: ctx.principal.id,
    session: ctx.sessionDigest,
    client: ctx.clientAddress,
    era: ctx.era,
    transport: ctx.transport,
  };
}
