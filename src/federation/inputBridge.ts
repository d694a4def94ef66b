// Bridges 2026-07-28 multi-round-trip input to 2025-era clients: when an upstream answers
// "input required", the gateway asks the client with real server-to-client requests (sampling,
// elicitation, roots) on the stream of the original request, then retries with the answers.
import { GatewayError } from "../errors.ts";
import type { ClientSession } from "../session/clientSession.ts";
import {
  relayedServerRequests,
  type ForwardOptions,
  type UpstreamConnection,
} from "../upstream/connection.ts";

const MAX_INPUT_ROUNDS = 8;
const CLIENT_CAPABILITIES_META_KEY = "io.modelcontextprotocol/clientCapabilities";
const LOG_LEVEL_META_KEY = "io.modelcontextprotocol/logLevel";

/**
 * The envelope a 2026-07-28 upstream sees: the gateway's SDK client writes version and identity;
 * the client's own capabilities for input (what the gateway can relay) and its log level are added
 * so the upstream asks only for what the client can give.
 */
export function withClientEnvelope(
  params: Record<string, unknown> | undefined,
  session: ClientSession,
): Record<string, unknown> {
  const { sampling, elicitation, roots } = session.channel.capabilities;
  const capabilities = {
    ...(sampling ? { sampling } : {}),
    ...(elicitation ? { elicitation } : {}),
    ...(roots ? { roots } : {}),
  };
  const meta: Record<string, unknown> = {
    ...((params?._meta as Record<string, unknown> | undefined) ?? {}),
    [CLIENT_CAPABILITIES_META_KEY]: capabilities,
  };
  if (session.logLevel) meta[LOG_LEVEL_META_KEY] = session.logLevel;
  return { ...params, _meta: meta };
}

interface InputRequest {
  readonly method: string;
  readonly params?: Record<string, unknown>;
}

/**
 * Asks the client one input request and resolves with its answer; the gateway's asks run both through
 * the layers, like a 2025 upstream's request to the client.
 */
export type AskClient = (
  method: string,
  params: Record<string, unknown> | undefined,
  signal: AbortSignal,
) => Promise<Record<string, unknown>>;

/** Runs input rounds against a 2025-era client until the upstream's result is complete. */
export async function fulfilInputRounds(
  ask: AskClient,
  connection: UpstreamConnection,
  method: string,
  params: Record<string, unknown>,
  first: Record<string, unknown>,
  options: ForwardOptions,
): Promise<Record<string, unknown>> {
  let result = first;
  for (let round = 0; result.resultType === "input_required"; round++) {
    if (round >= MAX_INPUT_ROUNDS) {
      throw new GatewayError(
        "PORTCULLIS_E_UPSTREAM_PROTOCOL",
        `${connection.name} asked for input more than ${MAX_INPUT_ROUNDS} times`,
      );
    }
    const requests = (result.inputRequests ?? {}) as Record<string, InputRequest>;
    const responses: Record<string, unknown> = {};
    for (const [key, input] of Object.entries(requests)) {
      if (!(relayedServerRequests as readonly string[]).includes(input.method)) {
        throw new GatewayError(
          "PORTCULLIS_E_NOT_BRIDGEABLE",
          `input request ${input.method} cannot be relayed`,
        );
      }
      responses[key] = await ask(input.method, input.params, options.signal ?? new AbortController().signal);
    }
    const retry: Record<string, unknown> = { ...params, inputResponses: responses };
    if (result.requestState !== undefined) retry.requestState = result.requestState;
    result = await connection.request(method, retry, options);
  }
  return result;
}
