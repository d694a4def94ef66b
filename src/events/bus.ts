// The typed security event bus: every layer and the core emit here; subscribers (detectors, sinks,
// the log) are called synchronously and must not throw into the emitter.
import type { Logger } from "pino";
import type { RequestContext } from "../pipeline/types.ts";

export type Severity = "info" | "low" | "medium" | "high" | "critical";

interface EventBase<T extends string> {
  readonly type: T;
  readonly severity: Severity;
  readonly ctx?: RequestContext;
  readonly details: Readonly<Record<string, unknown>>;
}

/** The kinds of security event this version emits; later layers add theirs here. */
export type SecurityEvent =
  | EventBase<"layer_error">
  | EventBase<"message_denied">
  | EventBase<"upstream_down">
  | EventBase<"upstream_up">
  | EventBase<"config_reloaded">
  | EventBase<"config_rejected">
  | EventBase<"audit_unavailable">;

export type EventListener = (event: SecurityEvent & { readonly time: string }) => void;

export class SecurityEventBus {
  private readonly listeners = new Set<EventListener>();

  private readonly log: Logger;

  constructor(log: Logger) {
    this.log = log;
  }

  subscribe(listener: EventListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  emit(event: SecurityEvent): void {
    const stamped = { ...event, time: new Date().toISOString() };
    for (const listener of this.listeners) {
      try {
        listener(stamped);
      } catch (err) {
        this.log.error({ err, eventType: event.type }, "security event listener failed");
      }
    }
  }
}
