// Toxic-flow control in two layers: `taint` (before authorization) reads the caller's taint (the
// flow labels of what it has read: private data, untrusted content) for policies, which see it as
// `session.labels`, and adds to it when a read succeeds; `flow` (after authorization, so that its
// answer never tells a hidden tool from a missing one) refuses or flags a call to an external sink
// from a caller tainted with a dangerous combination, and likewise a sampling request from an
// upstream that is a sink, and the client's answers to a sink's requests.
import { createHash } from "node:crypto";
import type { DataFlowConfig } from "../../config/dataFlowSchema.ts";
import type { SecurityEventBus } from "../../events/bus.ts";
import { principalKey, type Layer, type RequestContext, type Verdict } from "../../pipeline/types.ts";
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
  const heldBy = async (ctx: RequestContext) =>
    ctx.findings.taint ?? (await taint.read(callerOf(ctx), tracked));

  /** The first rule the flow breaks (an event for each rule that matches), as a deny when it denies. */
  const judge = (
    ctx: RequestContext,
    held: readonly string[],
    target: readonly string[],
    flow: FlowDescription,
  ): Verdict<Record<string, unknown>> | undefined => {
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
          ...flow.details,
        },
      });
      if (rule.action === "deny")
        return {
          kind: "deny",
          code: "PORTCULLIS_E_TOXIC_FLOW",
          rule: `toxic-flow:${rule.id}`,
          reason: `this caller has read ${rule.after.join(" and ")}; ${flow.what(rule.to)}`,
          data: { layer: "flow", rule: `toxic-flow:${rule.id}`, taint: held },
        };
    }
    return undefined;
  };

  return {
    name: stage ?? "flow",
    async onRequest(request, ctx) {
      if (!TARGETED.has(request.method)) return undefined;
      // A store that cannot be read throws: the chain denies (fail-secure), never a clean caller.
      if (tainting) ctx.findings.taint = await taint.read(callerOf(ctx), tracked);
      if (!enforcing) return undefined;
      const target = labels.of(request.target);
      if (target.length === 0) return undefined;
      const name = request.target?.publicName;
      return judge(ctx, await heldBy(ctx), target, {
        what: (to) => `${name ?? "the target"} is ${to}`,
        details: { tool: name },
      });
    },
    async onResult(result, ctx) {
      if (!tainting || !TARGETED.has(result.method)) return undefined;
      const read = labels.of(result.target).filter((label) => sources.has(label));
      if (read.length > 0) await taint.add(callerOf(ctx), read);
      return undefined;
    },

    /**
     * An upstream that is a sink asks the client's model for a message while the caller is tainted:
     * the model holds what the caller read, and its answer would go to the sink. Refused before the
     * client is asked. A sampling request that is relayed taints the caller with the upstream's
     * source labels: its messages are what that upstream wrote.
     */
    async onServerRequest(request, ctx) {
      if (request.method !== "sampling/createMessage") return undefined;
      const upstream = labels.ofUpstream(request.upstream);
      if (upstream.length === 0) return undefined;
      if (enforcing) {
        const held = await heldBy(ctx);
        ctx.findings.taint = held;
        const verdict = judge(ctx, held, upstream, {
          what: (to) => `upstream ${request.upstream} is ${to}: its sampling request is refused`,
          details: { upstream: request.upstream, method: request.method },
        });
        if (verdict) return verdict;
      }
      const read = upstream.filter((label) => sources.has(label));
      if (tainting && read.length > 0) await taint.add(callerOf(ctx), read);
      return undefined;
    },

    /** The client's answer (a sampled message, what the user typed, its roots) goes to the upstream. */
    async onServerResult(result, ctx) {
      if (!enforcing) return undefined;
      const upstream = labels.ofUpstream(result.upstream);
      if (upstream.length === 0) return undefined;
      // Read again: the caller may have read more while the client was answering.
      const held = await taint.read(callerOf(ctx), tracked);
      ctx.findings.taint = held;
      return judge(ctx, held, upstream, {
        what: (to) => `upstream ${result.upstream} is ${to}: the answer to its ${result.method} is refused`,
        details: { upstream: result.upstream, method: result.method },
      });
    },
  };
}

/** How a refusal and its event name the flow's destination. */
interface FlowDescription {
  readonly what: (to: string) => string;
  readonly details: Readonly<Record<string, unknown>>;
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
