// What a detector is: a small stateful observer of security events that says when a pattern over
// a sliding window crosses its threshold. Detectors keep their windows in memory, bounded.
import type { DetectionKind, Severity, StampedEvent } from "../bus.ts";
import type { RequestContext } from "../../pipeline/types.ts";

export interface Detection {
  readonly kind: DetectionKind;
  readonly severity: Severity;
  /** What the detection is about, for cooldown: the same key is raised once per cooldown. */
  readonly key: string;
  readonly summary: string;
  /** The context of the event that crossed the threshold (who, from where, which session). */
  readonly ctx: RequestContext | undefined;
  /** An address to block when the context has none (authentication failures before a context). */
  readonly address?: string;
  readonly details: Readonly<Record<string, unknown>>;
}

export interface Detector {
  readonly kind: DetectionKind;
  observe(event: StampedEvent, now: number): Detection | undefined;
}

/** The facts of a finished tool call, as the gateway reports them in a `tool_call` event. */
export interface ToolCallFacts {
  readonly tool: string;
  readonly verdict: "allow" | "deny" | "challenge" | "error";
  readonly errorCode: string | undefined;
  readonly destructive: boolean;
  readonly openWorld: boolean;
  /** Data labels the data layer put on the result (e.g. "sensitive", "secret", "pii"). */
  readonly labels: readonly string[];
}

/** Facts read once per event, however many detectors look at it. */
const factsOf = new WeakMap<StampedEvent, ToolCallFacts | undefined>();

export function toolCallFacts(event: StampedEvent): ToolCallFacts | undefined {
  if (event.type !== "tool_call") return undefined;
  if (factsOf.has(event)) return factsOf.get(event);
  const facts = readToolCallFacts(event);
  factsOf.set(event, facts);
  return facts;
}

function readToolCallFacts(event: StampedEvent): ToolCallFacts | undefined {
  const d = event.details;
  if (typeof d.tool !== "string") return undefined;
  const annotations = (d.annotations ?? {}) as Record<string, unknown>;
  return {
    tool: d.tool,
    verdict: d.verdict as ToolCallFacts["verdict"],
    errorCode: typeof d.errorCode === "string" ? d.errorCode : undefined,
    destructive: annotations.destructiveHint === true,
    openWorld: annotations.openWorldHint === true,
    labels: Array.isArray(d.labels) ? d.labels.filter((l): l is string => typeof l === "string") : [],
  };
}

/**
 * Whom behaviour is tracked for: the principal, or for anonymous callers (no identity layer, or
 * none configured) the principal at its address, so that strangers are not pooled together.
 */
export function subjectOf(ctx: RequestContext | undefined): string | undefined {
  if (!ctx) return undefined;
  const { principal, clientAddress } = ctx;
  return principal.kind === "anonymous" ? `${principal.id}@${clientAddress ?? "local"}` : principal.id;
}
