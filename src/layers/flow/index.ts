// The toxic-flow layer: keeps each session's taint (the flow labels of what it has read: private
// data, untrusted content) and refuses, or flags, a call to an external sink from a session tainted
// with a dangerous combination. Authorization policies see the taint as `session.labels`.
import { createHash } from "node:crypto";
import type { DataFlowConfig } from "../../config/dataFlowSchema.ts";
import type { SecurityEventBus } from "../../events/bus.ts";
import { principalKey, type Layer, type RequestContext } from "../../pipeline/types.ts";
import type { StateStore } from "../../state/store.ts";
import { FlowLabels } from "./labels.ts";
import { TaintBook } from "./taint.ts";

export interface DataFlowLayerOptions {
  readonly config: DataFlowConfig;
  readonly store: StateStore;
  readonly events?: SecurityEventBus;
}

/** Requests that reach a target's content: their taint is read, and their results taint the session. */
const TARGETED = new Set(["tools/call", "prompts/get", "resources/read"]);

export function dataFlowLayer(options: DataFlowLayerOptions): Layer {
  const { config, events } = options;
  const labels = new FlowLabels(config);
  const taint = new TaintBook(options.store, config.taintTtlMs);
  const sources = new Set(config.sourceLabels);
  // Only labels a rule asks about, or that a read can add, are ever read back.
  const tracked = [
    ...new Set([...config.sourceLabels, ...config.rules.flatMap((rule) => rule.after)]),
  ].sort();
  return {
    name: "flow",
    async onRequest(request, ctx) {
      if (!TARGETED.has(request.method)) return undefined;
      // A store that cannot be read throws: the chain denies (fail-secure), never a clean session.
      const held = await taint.read(sessionOf(ctx), tracked);
      ctx.findings.taint = held;
      const target = labels.of(request.target);
      if (target.length === 0) return undefined;
      for (const rule of config.rules) {
        if (!target.includes(rule.to) || !rule.after.every((label) => held.includes(label))) continue;
        events?.emit({
          type: "toxic_flow_blocked",
          severity: rule.action === "deny" ? "high" : "low",
          ctx,
          details: {
            layer: "flow",
            rule: rule.id,
            action: rule.action,
            taint: held,
            targetLabels: target,
            tool: request.target?.publicName,
          },
        });
        if (rule.action === "deny")
          return {
            kind: "deny",
            code: "PORTCULLIS_E_TOXIC_FLOW",
            rule: `toxic-flow:${rule.id}`,
            reason: `this session has read ${rule.after.join(" and ")}; ${request.target?.publicName ?? "the target"} is ${rule.to}`,
            data: { layer: "flow", rule: `toxic-flow:${rule.id}`, taint: held },
          };
      }
      return undefined;
    },
    async onResult(result, ctx) {
      if (!TARGETED.has(result.method)) return undefined;
      const read = labels.of(result.target).filter((label) => sources.has(label));
      if (read.length > 0) await taint.add(sessionOf(ctx), read);
      return undefined;
    },
  };
}

/** The session a message belongs to; stateless traffic has one per principal and client too. */
function sessionOf(ctx: RequestContext): string {
  return (
    ctx.sessionDigest ??
    `principal:${createHash("sha256").update(principalKey(ctx.principal)).digest("base64url").slice(0, 22)}`
  );
}
