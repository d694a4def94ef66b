// Toxic-flow control in two layers: `taint` (before authorization) reads the caller's taint (the
// flow labels of what it has read: private data, untrusted content) for policies, which see it as
// `session.labels`, and adds to it when a read succeeds; `flow` (after authorization, so that its
// answer never tells a hidden tool from a missing one) refuses or flags a call to an external sink
// from a caller tainted with a dangerous combination.
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
  /** `taint`: read and grow the taint; `flow`: enforce the rules on it. Default: both in one layer. */
  readonly stage?: "taint" | "flow";
  /** The chain's flow labels, shared by both stages and the data guard; built here when absent. */
  readonly labels?: FlowLabels;
}

/** Requests that reach a target's content: their taint is read, and their results taint the session. */
const TARGETED = new Set(["tools/call", "prompts/get", "resources/read"]);

export function dataFlowLayer(options: DataFlowLayerOptions): Layer {
  const { config, events } = options;
  const labels = options.labels ?? new FlowLabels(config);
  const taint = new TaintBook(options.store, config.taintTtlMs);
  const sources = new Set(config.sourceLabels);
  // Only labels a rule asks about, or that a read can add, are ever read back.
  const tracked = [
    ...new Set([...config.sourceLabels, ...config.rules.flatMap((rule) => rule.after)]),
  ].sort();
  const stage = options.stage;
  const tainting = stage !== "flow";
  const enforcing = stage !== "taint";
  return {
    name: stage ?? "flow",
    async onRequest(request, ctx) {
      if (!TARGETED.has(request.method)) return undefined;
      // A store that cannot be read throws: the chain denies (fail-secure), never a clean caller.
      if (tainting) ctx.findings.taint = await taint.read(callerOf(ctx), tracked);
      if (!enforcing) return undefined;
      const held = ctx.findings.taint ?? (await taint.read(callerOf(ctx), tracked));
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
            reason: `this caller has read ${rule.after.join(" and ")}; ${request.target?.publicName ?? "the target"} is ${rule.to}`,
            data: { layer: "flow", rule: `toxic-flow:${rule.id}`, taint: held },
          };
      }
      return undefined;
    },
    async onResult(result, ctx) {
      if (!tainting || !TARGETED.has(result.method)) return undefined;
      const read = labels.of(result.target).filter((label) => sources.has(label));
      if (read.length > 0) await taint.add(callerOf(ctx), read);
      return undefined;
    },
  };
}

/**
 * Whose taint a message reads and grows: the principal's, across all its sessions and client names
 * (a new session or a new self-declared client name must not wash it off); anonymous callers are
 * told apart by address only.
 */
function callerOf(ctx: RequestContext): string {
  let caller = callers.get(ctx);
  if (caller === undefined) {
    if (ctx.principal.kind === "anonymous") caller = `address:${ctx.clientAddress ?? "unknown"}`;
    else {
      const digest = createHash("sha256").update(principalKey(ctx.principal)).digest("base64url");
      caller = `principal:${digest.slice(0, 22)}`;
    }
    callers.set(ctx, caller);
  }
  return caller;
}

/** A message's caller key, worked out once for both stages and both directions. */
const callers = new WeakMap<RequestContext, string>();
