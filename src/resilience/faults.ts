// Which failures are the upstream's fault: the one rule that the circuit breaker, the health check
// and list retries share, so that a refusal by the gateway, a client's cancel or its credential never count.
import { GatewayError, UpstreamRpcError, type ErrorCode } from "../errors.ts";

/**
 * How one upstream call ended, as far as the upstream's health is concerned:
 * - `answered`: the upstream replied (a result, or a JSON-RPC error it chose to send): it is alive;
 * - `fault`: it did not answer in time, its connection failed, or it answered something that is
 *   not valid MCP;
 * - `credential`: the call failed on the credential it was to carry: none could be had for its
 *   caller (no exchangeable token, a token endpoint that said no), or the upstream answered HTTP
 *   401/403. It belongs to that caller, and says nothing about the upstream's health;
 * - `neutral`: the call ended for another reason that says nothing about the upstream (the client
 *   cancelled, the gateway refused or could not bridge it, a gateway bug).
 */
export type CallOutcome = "answered" | "fault" | "credential" | "neutral";

const UPSTREAM_FAULTS: ReadonlySet<ErrorCode> = new Set([
  "PORTCULLIS_E_UPSTREAM_TIMEOUT",
  "PORTCULLIS_E_UPSTREAM_UNAVAILABLE",
  "PORTCULLIS_E_UPSTREAM_PROTOCOL",
]);

/** `data.reason` of a call that failed on its credential (see `credentialFailure`). */
const CREDENTIAL_REASON = "credential";

/**
 * The error a client gets when its call could not be given a credential, or the upstream refused
 * the one it carried. Its code is the one such calls always had; `data.reason` tells it apart.
 */
export function credentialFailure(upstream: string, detail: string): GatewayError {
  return new GatewayError("PORTCULLIS_E_UPSTREAM_UNAVAILABLE", `${upstream}: ${detail}`, {
    upstream,
    reason: CREDENTIAL_REASON,
  });
}

export function classifyFailure(err: unknown): CallOutcome {
  if (err instanceof UpstreamRpcError) return "answered";
  if (!(err instanceof GatewayError)) return "neutral";
  if (err.data?.reason === CREDENTIAL_REASON) return "credential";
  return UPSTREAM_FAULTS.has(err.code) ? "fault" : "neutral";
}
