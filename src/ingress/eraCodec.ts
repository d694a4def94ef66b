// Shapes a result for the client's protocol era. 2026-07-28 results carry `resultType` and, on
// cacheable methods, cache hints; the gateway always marks them private and uncached so that one
// principal's authorized result can never serve another. 2025-era results carry neither.
import { GatewayError } from "../errors.ts";
import type { Era } from "../pipeline/types.ts";
import { GATEWAY_INFO } from "../upstream/connection.ts";

const SERVER_INFO_META_KEY = "io.modelcontextprotocol/serverInfo";

const cacheable = new Set([
  "tools/list",
  "prompts/list",
  "resources/list",
  "resources/templates/list",
  "resources/read",
  "server/discover",
]);

export function encodeResult(
  era: Era,
  method: string,
  result: Record<string, unknown>,
): Record<string, unknown> {
  if (era === "modern") {
    const meta = (result._meta ?? {}) as Record<string, unknown>;
    const encoded: Record<string, unknown> = {
      ...result,
      resultType: result.resultType ?? "complete",
      _meta: { ...meta, [SERVER_INFO_META_KEY]: { ...GATEWAY_INFO } },
    };
    if (encoded.resultType === "complete" && cacheable.has(method)) {
      encoded.ttlMs = 0;
      encoded.cacheScope = "private";
    }
    return encoded;
  }
  if (result.resultType === "input_required") {
    throw new GatewayError(
      "PORTCULLIS_E_NOT_BRIDGEABLE",
      "the upstream asked for client input (2026-07-28 input_required) and this 2025-era client cannot be asked",
    );
  }
  if (!("resultType" in result) && !("ttlMs" in result) && !("cacheScope" in result)) return result;
  const { resultType: _r, ttlMs: _t, cacheScope: _c, ...rest } = result;
  return rest;
}
