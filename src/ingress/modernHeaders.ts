// The 2026-07-28 rules an intermediary must apply after the SDK's classifier: the revision must be
// one this gateway speaks (-32022), and the standard headers must be present and agree with the
// body (-32020), so that no proxy on the path can route on a header the server never sees.
import type { IncomingMessage } from "node:http";
import { MODERN_VERSIONS } from "../protocol.ts";

export const UNSUPPORTED_PROTOCOL_VERSION = -32022;
export const METHOD_NOT_FOUND = -32601;

/** Client requests that exist in the 2025 revisions but not in 2026-07-28. */
const removedIn2026 = new Set([
  "initialize",
  "ping",
  "logging/setLevel",
  "resources/subscribe",
  "resources/unsubscribe",
]);
export const HEADER_MISMATCH = -32020;

export interface HeaderRejection {
  readonly httpStatus: number;
  readonly code: number;
  readonly message: string;
  readonly data?: Record<string, unknown>;
}

/** Which body field `Mcp-Name` mirrors, per method. */
const nameFields: Record<string, string> = {
  "tools/call": "name",
  "prompts/get": "name",
  "resources/read": "uri",
};

export function checkModernRequest(
  req: IncomingMessage,
  revision: string,
  method: string,
  params: Record<string, unknown> | undefined,
  isRequest: boolean,
): HeaderRejection | undefined {
  if (!(MODERN_VERSIONS as readonly string[]).includes(revision)) {
    return {
      httpStatus: 400,
      code: UNSUPPORTED_PROTOCOL_VERSION,
      message: `Unsupported protocol version ${revision}`,
      data: { supported: [...MODERN_VERSIONS], requested: revision },
    };
  }
  if (!isRequest) return undefined;
  if (removedIn2026.has(method)) {
    return {
      httpStatus: 404,
      code: METHOD_NOT_FOUND,
      message: `Method ${method} does not exist in ${revision}`,
    };
  }
  const versionHeader = single(req, "mcp-protocol-version");
  const methodHeader = single(req, "mcp-method");
  if (versionHeader === undefined) return mismatch("MCP-Protocol-Version header is required");
  if (methodHeader === undefined) return mismatch("Mcp-Method header is required");
  const field = nameFields[method];
  if (field === undefined) return undefined;
  const raw = single(req, "mcp-name");
  if (raw === undefined) return mismatch(`Mcp-Name header is required for ${method}`);
  const name = decodeHeaderValue(raw.trim());
  if (name === undefined) return mismatch("Mcp-Name header has an invalid base64 encoding");
  if (name !== params?.[field]) return mismatch(`Mcp-Name header does not match params.${field}`);
  return undefined;
}

function mismatch(message: string): HeaderRejection {
  return { httpStatus: 400, code: HEADER_MISMATCH, message };
}

function single(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

const base64Sentinel = /^=\?base64\?([A-Za-z0-9+/]*={0,2})\?=$/;

/** Header values that are not plain ASCII travel as `=?base64?<canonical base64 of UTF-8>?=`. */
export function decodeHeaderValue(value: string): string | undefined {
  const match = base64Sentinel.exec(value);
  if (!match) return value;
  const encoded = match[1] ?? "";
  const bytes = Buffer.from(encoded, "base64");
  if (bytes.toString("base64") !== encoded) return undefined;
  const text = new TextDecoder("utf-8", { fatal: true });
  try {
    return text.decode(bytes);
  } catch {
    return undefined;
  }
}
