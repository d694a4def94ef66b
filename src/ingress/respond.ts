// Writes JSON answers at the HTTP edge: plain JSON bodies and JSON-RPC errors with their status.
import type { ServerResponse } from "node:http";
import type { GatewayError } from "../errors.ts";

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
  res.end(text);
}

/** A JSON-RPC error with its HTTP status; a refusal that says when to come back sets Retry-After. */
export function sendError(res: ServerResponse, error: GatewayError): void {
  const retryAfter = Number(error.data?.retryAfterSeconds);
  if (Number.isFinite(retryAfter) && retryAfter > 0 && !res.headersSent)
    res.setHeader("retry-after", String(Math.ceil(retryAfter)));
  sendJson(res, error.httpStatus, { jsonrpc: "2.0", id: null, error: error.toJsonRpcError() });
}

export function rpcError(
  id: string | number | null,
  code: number,
  message: string,
  data?: unknown,
): Record<string, unknown> {
  return { jsonrpc: "2.0", id, error: data === undefined ? { code, message } : { code, message, data } };
}
