// The per-upstream resilience settings: circuit breaker, health check, list retries and what
// clients see of an upstream that is down. Spread into every upstream entry of the config schema.
import { z } from "zod";

const milliseconds = (fallback: number, min: number, description: string) =>
  z.number().int().min(min).max(86_400_000).default(fallback).describe(description);

const circuitBreaker = z
  .strictObject({
    enabled: z
      .boolean()
      .default(true)
      .describe("Set to false to send every call to the upstream whatever its recent failures."),
    failureThreshold: z
      .number()
      .int()
      .min(1)
      .max(1000)
      .default(5)
      .describe(
        "Upstream faults in a row (timeouts, lost connections, invalid answers; not JSON-RPC errors the upstream answered, not cancellations, not refusals by the gateway, not a caller's missing or refused credential) after which the gateway checks the upstream itself (a ping with healthCheck.timeoutMs); the breaker opens only if that check fails too.",
      ),
    openMs: milliseconds(
      60_000,
      1,
      "How long an open breaker refuses every call at once (PORTCULLIS_E_CIRCUIT_OPEN); then the gateway's own probe (a catalogue refresh) decides: closed if it succeeds, open again if it fails. Clients' calls are refused until it has closed.",
    ),
  })
  .prefault({})
  .describe("Stops sending calls to an upstream that keeps failing, and tries it again later.");

const healthCheck = z
  .strictObject({
    enabled: z
      .boolean()
      .default(true)
      .describe(
        "Set to false to never ping the upstream periodically (the circuit breaker still sends its check).",
      ),
    intervalMs: milliseconds(30_000, 10, "Time between two pings on the upstream's shared connection."),
    timeoutMs: milliseconds(
      5_000,
      10,
      "How long one ping (periodic, or the circuit breaker's check) may take before it counts as failed.",
    ),
    unhealthyAfter: z
      .number()
      .int()
      .min(1)
      .max(100)
      .default(2)
      .describe(
        "Failed pings in a row that mark the upstream down: its connection is closed (a stdio server is stopped) and restarted with the restart backoff.",
      ),
  })
  .prefault({})
  .describe(
    "Periodic `ping` of a connected upstream; an upstream that answers any JSON-RPC message is healthy.",
  );

/** The keys every upstream entry takes, whatever its transport. */
export const resilienceFields = {
  circuitBreaker,
  healthCheck,
  whenDown: z
    .enum(["hide", "error"])
    .default("hide")
    .describe(
      "While the upstream is down or its breaker is not closed: 'hide' (default) takes its tools, prompts and resources out of every list and tells clients (list_changed), and back when it recovers; 'error' keeps them listed. Either way a call answers at once with PORTCULLIS_E_UPSTREAM_UNAVAILABLE or PORTCULLIS_E_CIRCUIT_OPEN.",
    ),
  listRetries: z
    .number()
    .int()
    .min(0)
    .max(5)
    .default(2)
    .describe(
      "Further attempts of an idempotent list request (tools/list, prompts/list, resources/list, resources/templates/list: the catalogue refresh) after an upstream fault, 100 ms apart and doubling. Other requests are never retried.",
    ),
};

export type CircuitBreakerConfig = z.output<typeof circuitBreaker>;
export type HealthCheckConfig = z.output<typeof healthCheck>;
