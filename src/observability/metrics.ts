// Prometheus metrics (prom-client) in a registry of the gateway's own: requests and latency per
// method, decisions and hook time per layer, upstream health, sessions, and security events.
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from "prom-client";
import type { SecurityEvent } from "../events/bus.ts";
import type { MessageOutcome } from "../pipeline/types.ts";

/** Request methods of MCP (both revisions); anything else is counted as `_other`. */
const KNOWN_METHODS = new Set([
  "initialize",
  "ping",
  "server/discover",
  "tools/list",
  "tools/call",
  "prompts/list",
  "prompts/get",
  "resources/list",
  "resources/templates/list",
  "resources/read",
  "resources/subscribe",
  "resources/unsubscribe",
  "subscriptions/listen",
  "completion/complete",
  "logging/setLevel",
  "tasks/get",
  "tasks/list",
  "tasks/result",
  "tasks/cancel",
]);

const CIRCUIT_STATES = ["closed", "open", "half-open"] as const;

const latencyBuckets = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
const hookBuckets = [0.000005, 0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.005, 0.025];

export interface MetricSources {
  readonly upstreams: () => readonly { name: string; state: string; circuit?: string }[];
  readonly sessions: () => number;
  /** Alert sinks' queues: alerts waiting, and alerts dropped because the queue was full. */
  readonly alertQueues: () => readonly { name: string; depth: number; dropped: number }[];
  /** The event bus's sinks: events waiting, and events dropped because a queue was full. */
  readonly eventSinks: () => readonly { name: string; depth: number; dropped: number }[];
}

export class GatewayMetrics {
  readonly registry = new Registry();
  private readonly requests: Counter<"method" | "verdict">;
  private readonly duration: Histogram<"method">;
  private readonly layerDecisions: Counter<"layer" | "verdict">;
  private readonly layerDuration: Histogram<"layer" | "hook">;
  private readonly events: Counter<"type" | "severity">;
  private readonly responses: Counter<"action" | "detection">;
  private readonly rateLimited: Counter<"rule" | "code">;

  constructor(sources: MetricSources) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry, prefix: "portcullis_process_" });
    this.requests = new Counter({
      name: "portcullis_requests_total",
      help: "Client requests answered, by method and verdict (allow, deny, challenge, error).",
      labelNames: ["method", "verdict"],
      registers,
    });
    this.duration = new Histogram({
      name: "portcullis_request_duration_seconds",
      help: "Time from a request's arrival at the pipeline to its answer.",
      labelNames: ["method"],
      buckets: latencyBuckets,
      registers,
    });
    this.layerDecisions = new Counter({
      name: "portcullis_layer_decisions_total",
      help: "Verdicts of each layer that gave one.",
      labelNames: ["layer", "verdict"],
      registers,
    });
    this.layerDuration = new Histogram({
      name: "portcullis_layer_duration_seconds",
      help: "Time spent in each layer's hooks.",
      labelNames: ["layer", "hook"],
      buckets: hookBuckets,
      registers,
    });
    this.events = new Counter({
      name: "portcullis_security_events_total",
      help: "Security events raised, by type and severity.",
      labelNames: ["type", "severity"],
      registers,
    });
    this.responses = new Counter({
      name: "portcullis_responses_total",
      help: "Responses carried out by playbooks, by action and the detection that triggered them.",
      labelNames: ["action", "detection"],
      registers,
    });
    this.rateLimited = new Counter({
      name: "portcullis_rate_limited_total",
      help: "Requests refused by the rate-limit layer, by rule (scope and limit: principal:default, quota:<id>, …) and code (rate limit, quota, state store unreachable).",
      labelNames: ["rule", "code"],
      registers,
    });
    new Gauge({
      name: "portcullis_event_queue_depth",
      help: "Security events waiting for an asynchronous sink (log, webhook), per sink.",
      labelNames: ["sink"],
      registers,
      collect() {
        for (const q of sources.eventSinks()) this.set({ sink: q.name }, q.depth);
      },
    });
    new Gauge({
      name: "portcullis_events_dropped",
      help: "Security events a sink dropped since start because its queue was full.",
      labelNames: ["sink"],
      registers,
      collect() {
        for (const q of sources.eventSinks()) this.set({ sink: q.name }, q.dropped);
      },
    });
    new Gauge({
      name: "portcullis_upstream_up",
      help: "1 when an upstream is connected, 0 otherwise.",
      labelNames: ["upstream", "state"],
      registers,
      collect() {
        this.reset();
        for (const u of sources.upstreams())
          this.set({ upstream: u.name, state: u.state }, u.state === "up" ? 1 : 0);
      },
    });
    new Gauge({
      name: "portcullis_upstream_circuit_state",
      help: "The state of each upstream's circuit breaker: 1 for the state it is in (closed, open, half-open), 0 for the others.",
      labelNames: ["upstream", "state"],
      registers,
      collect() {
        for (const u of sources.upstreams())
          for (const state of CIRCUIT_STATES)
            this.set({ upstream: u.name, state }, u.circuit === state ? 1 : 0);
      },
    });
    new Gauge({
      name: "portcullis_alert_queue_depth",
      help: "Alerts waiting for delivery, per sink.",
      labelNames: ["sink"],
      registers,
      collect() {
        for (const q of sources.alertQueues()) this.set({ sink: q.name }, q.depth);
      },
    });
    new Gauge({
      name: "portcullis_alerts_dropped",
      help: "Alerts dropped since start because a sink's queue was full.",
      labelNames: ["sink"],
      registers,
      collect() {
        for (const q of sources.alertQueues()) this.set({ sink: q.name }, q.dropped);
      },
    });
    new Gauge({
      name: "portcullis_sessions_active",
      help: "Client sessions held (2025 sessions and stateless clients).",
      registers,
      collect() {
        this.set(sources.sessions());
      },
    });
  }

  observeOutcome(outcome: MessageOutcome): void {
    // The method is the client's text: only methods MCP defines become label values.
    const method = KNOWN_METHODS.has(outcome.method) ? outcome.method : "_other";
    this.requests.inc({ method, verdict: outcome.verdict });
    this.duration.observe({ method }, outcome.latencyMs / 1000);
    for (const decision of outcome.layerDecisions) {
      this.layerDecisions.inc({ layer: decision.layer, verdict: decision.verdict });
    }
    // Rules of this layer come from the config (scopes, roles, tool patterns, quota ids): bounded.
    if (outcome.decidedBy?.layer === "ratelimit")
      this.rateLimited.inc({ rule: outcome.decidedBy.rule, code: outcome.errorCode ?? "unknown" });
  }

  observeHook(layer: string, hook: string, seconds: number): void {
    this.layerDuration.observe({ layer, hook }, seconds);
  }

  observeEvent(event: SecurityEvent): void {
    this.events.inc({ type: event.type, severity: event.severity });
  }

  observeResponse(action: string, detection: string): void {
    this.responses.inc({ action, detection });
  }

  render(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
