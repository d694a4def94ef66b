// Which failures are the upstream's fault: the one rule that the circuit breaker, the health check
// and list retries share, so that a refusal by the gateway or a client's cancel never counts.
import { GatewayError, UpstreamRpcError, type ErrorCode } from "../errors.ts";

/**
 * How one upstream call ended, as far as the upstream's health is concerned:
 * - `answered`: the upstream replied (a result, or a JSON-RPC error it chose to send): it is alive;
 * - `fault`: it did not answer in time, its connection failed, or it answered something that is
 *   not valid MCP;
 * - `neutral`: the call ended for a reason that says nothing about the upstream (the client
 *   cancelled, the gateway refused or could not bridge it, a gateway bug).
 */
export type CallOutcome = "answered" | "fault" | "neutral";

const UPSTREAM_FAULTS: ReadonlySet<ErrorCode> = new Set([
  "PORTCULLIS_E_UPSTREAM_TIMEOUT",
  "PORTCULLIS_E_UPSTREAM_UNAVAILABLE",
  "PORTCULLIS_E_UPSTREAM_PROTOCOL",
]);

export function classifyFailure(err: unknown): CallOutcome {
  if (err instanceof UpstreamRpcError) return "answered";
  if (err instanceof GatewayError) return UPSTREAM_FAULTS.has(err.code) ? "fault" : "neutral";
  return "neutral";
}
