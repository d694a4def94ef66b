// The typed security event bus: every layer and the core emit through `emit`. Detectors are called
// synchronously (they keep small in-memory windows and must be quick); sinks (the log, alert
// webhooks) are fed through bounded queues drained off the request path, and a full queue drops
// the event, counts it and says so in the log: never silently, never blocking a request.
import type { Logger } from "pino";
import type { RequestContext } from "../pipeline/types.ts";

export type Severity = "info" | "low" | "medium" | "high" | "critical";

export const severityRank: Record<Severity, number> = { info: 0, low: 1, medium: 2, high: 3, critical: 4 };

interface EventBase<T extends string> {
  readonly type: T;
  readonly severity: Severity;
  readonly ctx?: RequestContext;
  readonly details: Readonly<Record<string, unknown>>;
}

/** What detectors raise; each has a playbook of responses in the config. */
export const DETECTION_KINDS = [
  "brute_force",
  "credential_stuffing",
  "privilege_probing",
  "anomaly",
  "exfiltration_suspected",
] as const;
export type DetectionKind = (typeof DETECTION_KINDS)[number];

/** The kinds of security event; layers that come later add theirs here. */
export type SecurityEvent =
  | EventBase<"layer_error">
  | EventBase<"message_denied">
  | EventBase<"tool_call">
  | EventBase<"auth_failure">
  | EventBase<"auth_success">
  | EventBase<"authz_denied">
  | EventBase<"rate_limited">
  | EventBase<"quota_exceeded">
  | EventBase<"ip_blocked">
  | EventBase<"state_unavailable">
  | EventBase<"state_available">
  | EventBase<"validation_failed">
  | EventBase<"argument_attack">
  | EventBase<"tool_poisoning_detected">
  | EventBase<"tool_changed">
  | EventBase<"tool_shadowing">
  | EventBase<"secret_redacted">
  | EventBase<"pii_redacted">
  | EventBase<"injection_detected">
  | EventBase<"toxic_flow_blocked">
  | EventBase<"circuit_open">
  | EventBase<"circuit_half_open">
  | EventBase<"circuit_closed">
  | EventBase<"trust_low">
  | EventBase<"approval_settled">
  | EventBase<"request_blocked">
  | EventBase<"session_revoked">
  | EventBase<"session_hijack_suspected">
  | EventBase<"response_taken">
  | EventBase<"alert">
  | EventBase<DetectionKind>
  | EventBase<"upstream_down">
  | EventBase<"upstream_up">
  | EventBase<"config_reloaded">
  | EventBase<"config_rejected">
  | EventBase<"audit_unavailable">;

export type StampedEvent = SecurityEvent & { readonly time: string };
export type EventListener = (event: StampedEvent) => void;

export interface SinkStatus {
  readonly name: string;
  readonly depth: number;
  readonly dropped: number;
}

const DEFAULT_QUEUE = 10_000;

class QueuedSink {
  readonly name: string;
  private readonly deliver: EventListener;
  private readonly capacity: number;
  private readonly log: Logger;
  private queue: StampedEvent[] = [];
  private scheduled = false;
  dropped = 0;

  constructor(name: string, deliver: EventListener, capacity: number, log: Logger) {
    this.name = name;
    this.deliver = deliver;
    this.capacity = capacity;
    this.log = log;
  }

  get depth(): number {
    return this.queue.length;
  }

  offer(event: StampedEvent): void {
    if (this.queue.length >= this.capacity) {
      this.dropped++;
      // The first drop and then every thousandth: loud enough to see, not a second flood.
      if (this.dropped % 1000 === 1)
        this.log.error(
          { sink: this.name, dropped: this.dropped, capacity: this.capacity },
          "security event sink queue full; events dropped",
        );
      return;
    }
    this.queue.push(event);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.drain());
    }
  }

  private drain(): void {
    const batch = this.queue;
    this.queue = [];
    this.scheduled = false;
    for (const event of batch) {
      try {
        this.deliver(event);
      } catch (err) {
        this.log.error({ err, sink: this.name, eventType: event.type }, "security event sink failed");
      }
    }
  }
}

export class SecurityEventBus {
  private readonly detectors = new Set<EventListener>();
  private readonly sinks = new Set<QueuedSink>();

  private readonly log: Logger;

  constructor(log: Logger) {
    this.log = log;
  }

  /** A synchronous listener: runs inside `emit`, so it must be quick and must not do I/O. */
  subscribe(listener: EventListener): () => void {
    this.detectors.add(listener);
    return () => this.detectors.delete(listener);
  }

  /** An asynchronous sink behind a bounded queue; `emit` never waits for it. */
  addSink(name: string, deliver: EventListener, capacity = DEFAULT_QUEUE): () => void {
    const sink = new QueuedSink(name, deliver, capacity, this.log);
    this.sinks.add(sink);
    return () => this.sinks.delete(sink);
  }

  sinkStatus(): SinkStatus[] {
    return [...this.sinks].map((s) => ({ name: s.name, depth: s.depth, dropped: s.dropped }));
  }

  emit(event: SecurityEvent): void {
    const stamped: StampedEvent = { ...event, time: new Date().toISOString() };
    for (const listener of this.detectors) {
      try {
        listener(stamped);
      } catch (err) {
        this.log.error({ err, eventType: event.type }, "security event listener failed");
      }
    }
    for (const sink of this.sinks) sink.offer(stamped);
  }
}
