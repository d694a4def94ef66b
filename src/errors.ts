// The catalogue of every error Portcullis raises across the wire: a stable code, a JSON-RPC
// error number, an HTTP status and a message template, so users can search docs and logs for it.

/** JSON-RPC 2.0 and MCP error numbers used on the wire. */
export const JsonRpcCode = {
  parseError: -32700,
  invalidRequest: -32600,
  methodNotFound: -32601,
  invalidParams: -32602,
  internalError: -32603,
  /** Portcullis: a security layer refused the message. */
  denied: -32010,
  /** Portcullis: the upstream that owns this name is not available. */
  upstreamUnavailable: -32011,
  /** Portcullis: the upstream did not answer in time. */
  upstreamTimeout: -32012,
  /** Portcullis: the upstream answered something that is not valid MCP. */
  upstreamProtocol: -32013,
  /** Portcullis: the feature cannot be bridged between the client's and the upstream's revision. */
  notBridgeable: -32014,
  /** The request was cancelled by the client (the LSP code; MCP defines none). */
  requestCancelled: -32800,
  /** Portcullis: the gateway is shutting down and takes no new work. */
  shuttingDown: -32015,
  /** Portcullis: a rate limit or quota refused the request; `data.retryAfterSeconds` says when to try again. */
  rateLimited: -32016,
} as const;

interface CatalogueEntry {
  readonly jsonRpc: number;
  readonly http: number;
  readonly message: string;
}

export const errorCatalogue = {
  PORTCULLIS_E_PARSE: {
    jsonRpc: JsonRpcCode.parseError,
    http: 400,
    message: "Request body is not valid JSON",
  },
  PORTCULLIS_E_INVALID_REQUEST: {
    jsonRpc: JsonRpcCode.invalidRequest,
    http: 400,
    message: "Not a valid JSON-RPC 2.0 message",
  },
  PORTCULLIS_E_BODY_TOO_LARGE: {
    jsonRpc: JsonRpcCode.invalidRequest,
    http: 413,
    message: "Request body exceeds the configured limit",
  },
  PORTCULLIS_E_TOO_DEEP: {
    jsonRpc: JsonRpcCode.invalidRequest,
    http: 400,
    message: "Request body is nested deeper than the configured limit",
  },
  PORTCULLIS_E_CONTENT_TYPE: {
    jsonRpc: JsonRpcCode.invalidRequest,
    http: 415,
    message: "Content-Type must be application/json",
  },
  PORTCULLIS_E_METHOD_NOT_FOUND: {
    jsonRpc: JsonRpcCode.methodNotFound,
    http: 200,
    message: "Method not found",
  },
  PORTCULLIS_E_INVALID_PARAMS: { jsonRpc: JsonRpcCode.invalidParams, http: 200, message: "Invalid params" },
  PORTCULLIS_E_UNKNOWN_TOOL: { jsonRpc: JsonRpcCode.invalidParams, http: 200, message: "Unknown tool" },
  PORTCULLIS_E_UNKNOWN_PROMPT: { jsonRpc: JsonRpcCode.invalidParams, http: 200, message: "Unknown prompt" },
  // -32602 on both eras, as the 2026-07-28 revision requires and the SDKs emit on 2025 ones too.
  PORTCULLIS_E_UNKNOWN_RESOURCE: {
    jsonRpc: JsonRpcCode.invalidParams,
    http: 200,
    message: "Unknown resource",
  },
  PORTCULLIS_E_SESSION_NOT_FOUND: {
    jsonRpc: JsonRpcCode.invalidRequest,
    http: 404,
    message: "Session not found or expired",
  },
  PORTCULLIS_E_SESSION_REQUIRED: {
    jsonRpc: JsonRpcCode.invalidRequest,
    http: 400,
    message: "Mcp-Session-Id header is required",
  },
  PORTCULLIS_E_HOST_NOT_ALLOWED: {
    jsonRpc: JsonRpcCode.invalidRequest,
    http: 403,
    message: "Host header is not allowed (DNS-rebinding protection)",
  },
  PORTCULLIS_E_ORIGIN_NOT_ALLOWED: {
    jsonRpc: JsonRpcCode.invalidRequest,
    http: 403,
    message: "Origin is not allowed (DNS-rebinding protection)",
  },
  PORTCULLIS_E_BODY_TIMEOUT: {
    jsonRpc: JsonRpcCode.invalidRequest,
    http: 408,
    message: "Request body was not received in time",
  },
  PORTCULLIS_E_TOO_MANY_SESSIONS: {
    jsonRpc: JsonRpcCode.invalidRequest,
    http: 503,
    message: "The gateway holds as many client sessions as it is configured to",
  },
  PORTCULLIS_E_AUDIT_UNAVAILABLE: {
    jsonRpc: JsonRpcCode.denied,
    http: 503,
    message: "The decision could not be recorded in the audit trail; its result is withheld",
  },
  PORTCULLIS_E_UNAUTHENTICATED: {
    jsonRpc: JsonRpcCode.denied,
    http: 401,
    message: "Authentication required",
  },
  PORTCULLIS_E_INSUFFICIENT_SCOPE: {
    jsonRpc: JsonRpcCode.denied,
    http: 403,
    message: "The access token lacks a scope this request needs",
  },
  PORTCULLIS_E_IDENTITY_UNAVAILABLE: {
    jsonRpc: JsonRpcCode.denied,
    http: 503,
    message: "Credentials cannot be checked right now (key store or issuer unavailable); refused",
  },
  PORTCULLIS_E_SESSION_BINDING: {
    jsonRpc: JsonRpcCode.denied,
    http: 403,
    message: "The session belongs to another principal",
  },
  PORTCULLIS_E_ADDRESS_BLOCKED: {
    jsonRpc: JsonRpcCode.denied,
    http: 403,
    message: "Requests from this address are blocked for a while (a detector's response)",
  },
  PORTCULLIS_E_SESSION_REVOKED: {
    jsonRpc: JsonRpcCode.denied,
    http: 403,
    message: "The session was revoked by a security response; authenticate and start a new one",
  },
  PORTCULLIS_E_FORWARDING_HEADER: {
    jsonRpc: JsonRpcCode.invalidRequest,
    http: 400,
    message: "The forwarding header from a trusted proxy names a hop that cannot be read",
  },
  PORTCULLIS_E_ADDRESS_DENIED: {
    jsonRpc: JsonRpcCode.denied,
    http: 403,
    message: "Requests from this address are not accepted (network allow or deny list)",
  },
  PORTCULLIS_E_TOO_MANY_CONNECTIONS: {
    jsonRpc: JsonRpcCode.denied,
    http: 429,
    message: "Too many connections from this address",
  },
  PORTCULLIS_E_TOO_MANY_STREAMS: {
    jsonRpc: JsonRpcCode.denied,
    http: 429,
    message: "Too many concurrent streams or requests on this session",
  },
  PORTCULLIS_E_STRING_TOO_LONG: {
    jsonRpc: JsonRpcCode.invalidRequest,
    http: 400,
    message: "A string in the request is longer than the configured limit",
  },
  PORTCULLIS_E_RATE_LIMITED: {
    jsonRpc: JsonRpcCode.rateLimited,
    http: 429,
    message: "Rate limit exceeded; retry later",
  },
  PORTCULLIS_E_QUOTA_EXCEEDED: {
    jsonRpc: JsonRpcCode.rateLimited,
    http: 429,
    message: "Quota for this period used up",
  },
  PORTCULLIS_E_STATE_UNAVAILABLE: {
    jsonRpc: JsonRpcCode.denied,
    http: 503,
    message: "Shared security state (rate limits, blocks) cannot be reached; refused",
  },
  PORTCULLIS_E_CIRCUIT_OPEN: {
    jsonRpc: JsonRpcCode.upstreamUnavailable,
    http: 200,
    message: "Upstream unavailable: its circuit breaker is open after repeated failures",
  },
  PORTCULLIS_E_VALIDATION: {
    jsonRpc: JsonRpcCode.invalidParams,
    http: 400,
    message: "The message does not match the MCP schema or the tool's input schema",
  },
  PORTCULLIS_E_ARGUMENT_ATTACK: {
    jsonRpc: JsonRpcCode.denied,
    http: 403,
    message: "A tool argument looks like an attack (path traversal, injection, SSRF) and was refused",
  },
  PORTCULLIS_E_TOOL_CHANGED: {
    jsonRpc: JsonRpcCode.denied,
    http: 403,
    message: "The tool's definition changed since it was approved; an operator must review it",
  },
  PORTCULLIS_E_TOOL_POISONED: {
    jsonRpc: JsonRpcCode.denied,
    http: 403,
    message: "The tool's definition carries instructions or hidden content and is blocked",
  },
  PORTCULLIS_E_DATA_BLOCKED: {
    jsonRpc: JsonRpcCode.denied,
    http: 403,
    message: "The message carries secrets or personal data that this gateway does not let through",
  },
  PORTCULLIS_E_INJECTION_BLOCKED: {
    jsonRpc: JsonRpcCode.denied,
    http: 403,
    message: "The result carries a prompt injection and was withheld",
  },
  PORTCULLIS_E_TOXIC_FLOW: {
    jsonRpc: JsonRpcCode.denied,
    http: 403,
    message: "This call would send data from private or untrusted sources to an external sink",
  },
  PORTCULLIS_E_DENIED: { jsonRpc: JsonRpcCode.denied, http: 403, message: "Denied by a security layer" },
  PORTCULLIS_E_AUTHZ_DENIED: {
    jsonRpc: JsonRpcCode.denied,
    http: 403,
    message: "Not permitted by the authorization policies",
  },
  PORTCULLIS_E_STEP_UP_REQUIRED: {
    jsonRpc: JsonRpcCode.denied,
    http: 403,
    message: "This request needs a fresh or stronger authentication (step-up)",
  },
  PORTCULLIS_E_APPROVAL_DENIED: {
    jsonRpc: JsonRpcCode.denied,
    http: 403,
    message: "A human approval this call needs was denied or not given in time",
  },
  PORTCULLIS_E_INTERNAL: { jsonRpc: JsonRpcCode.internalError, http: 500, message: "Internal error" },
  PORTCULLIS_E_UPSTREAM_UNAVAILABLE: {
    jsonRpc: JsonRpcCode.upstreamUnavailable,
    http: 200,
    message: "Upstream unavailable",
  },
  PORTCULLIS_E_UPSTREAM_TIMEOUT: {
    jsonRpc: JsonRpcCode.upstreamTimeout,
    http: 200,
    message: "Upstream did not answer in time",
  },
  PORTCULLIS_E_UPSTREAM_PROTOCOL: {
    jsonRpc: JsonRpcCode.upstreamProtocol,
    http: 200,
    message: "Upstream answered with an invalid message",
  },
  PORTCULLIS_E_NOT_BRIDGEABLE: {
    jsonRpc: JsonRpcCode.notBridgeable,
    http: 200,
    message: "Feature cannot be bridged between protocol revisions",
  },
  PORTCULLIS_E_CANCELLED: {
    jsonRpc: JsonRpcCode.requestCancelled,
    http: 200,
    message: "Request cancelled by the client",
  },
  PORTCULLIS_E_SHUTTING_DOWN: {
    jsonRpc: JsonRpcCode.shuttingDown,
    http: 503,
    message: "Gateway is shutting down",
  },
} as const satisfies Record<string, CatalogueEntry>;

export type ErrorCode = keyof typeof errorCatalogue;

const UPSTREAM_CONDITIONS = new Set<number>([
  JsonRpcCode.upstreamUnavailable,
  JsonRpcCode.upstreamTimeout,
  JsonRpcCode.upstreamProtocol,
  JsonRpcCode.requestCancelled,
]);

/**
 * Whether a code says that the upstream cannot answer now (down, its breaker open, too slow, garbled)
 * or that the call was cancelled: never the caller's violation, whichever layer refused with it.
 */
export function isUpstreamCondition(code: string | undefined): boolean {
  if (code === undefined || !Object.hasOwn(errorCatalogue, code)) return false;
  return UPSTREAM_CONDITIONS.has(errorCatalogue[code as ErrorCode].jsonRpc);
}

/** Refusals of what an upstream's definition became (a rug pull, a poisoned tool under `block`). */
const DEFINITION_REFUSALS = new Set<string>(["PORTCULLIS_E_TOOL_CHANGED", "PORTCULLIS_E_TOOL_POISONED"]);

/**
 * Whether a refusal is the upstream's doing, not the caller's: it cannot answer now, or its tool's
 * definition changed or is poisoned. Such a refusal lowers no trust and counts as no probing (a
 * client calling a tool it was shown, which the upstream then pulled, did nothing wrong).
 */
export function isUpstreamFault(code: string | undefined): boolean {
  return isUpstreamCondition(code) || (code !== undefined && DEFINITION_REFUSALS.has(code));
}

/** An error that crosses the wire as a JSON-RPC error (and, at the HTTP edge, a status). */
export class GatewayError extends Error {
  readonly code: ErrorCode;
  readonly jsonRpcCode: number;
  readonly httpStatus: number;
  readonly data: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, detail?: string, data?: Record<string, unknown>, jsonRpcCode?: number) {
    const entry: CatalogueEntry = errorCatalogue[code];
    super(detail ? `${entry.message}: ${detail}` : entry.message);
    this.name = "GatewayError";
    this.code = code;
    this.jsonRpcCode = jsonRpcCode ?? entry.jsonRpc;
    this.httpStatus = entry.http;
    this.data = data;
  }

  /** The JSON-RPC `error` member; `data.code` carries the stable Portcullis code. */
  toJsonRpcError(): { code: number; message: string; data: Record<string, unknown> } {
    return { code: this.jsonRpcCode, message: this.message, data: { code: this.code, ...this.data } };
  }
}

/** A configuration problem, located in its file. */
export interface ConfigIssue {
  readonly file: string;
  readonly line: number | undefined;
  readonly column: number | undefined;
  readonly path: string;
  readonly message: string;
}

export class ConfigError extends Error {
  readonly issues: readonly ConfigIssue[];
  constructor(issues: readonly ConfigIssue[]) {
    super(issues.map(formatConfigIssue).join("\n"));
    this.name = "ConfigError";
    this.issues = issues;
  }
}

export function formatConfigIssue(issue: ConfigIssue): string {
  const where = issue.line === undefined ? issue.file : `${issue.file}:${issue.line}:${issue.column ?? 1}`;
  return `${where}: ${issue.path || "(root)"}: ${issue.message}`;
}

/** A JSON-RPC error an upstream answered with: relayed to the client as it was. */
export class UpstreamRpcError extends Error {
  readonly upstream: string;
  readonly rpcCode: number;
  readonly rpcData: unknown;

  constructor(upstream: string, rpcCode: number, message: string, rpcData: unknown) {
    super(message);
    this.name = "UpstreamRpcError";
    this.upstream = upstream;
    this.rpcCode = rpcCode;
    this.rpcData = rpcData;
  }

  toJsonRpcError(): { code: number; message: string; data?: unknown } {
    return this.rpcData === undefined
      ? { code: this.rpcCode, message: this.message }
      : { code: this.rpcCode, message: this.message, data: this.rpcData };
  }
}

/** Any error that knows its wire form. */
export type WireError = GatewayError | UpstreamRpcError;

export function toWireError(err: unknown): WireError {
  if (err instanceof GatewayError || err instanceof UpstreamRpcError) return err;
  return new GatewayError("PORTCULLIS_E_INTERNAL");
}
