// What the load generators share: the endpoint a target offers, the two protocol revisions, and
// the one operation every generator performs (a `tools/call` of `echo` with a fixed payload).
export const REVISIONS = ["2025-11-25", "2026-07-28"] as const;
export type Revision = (typeof REVISIONS)[number];

export const GENERATORS = ["raw", "sdk"] as const;
/** `sdk`: the official MCP client (what users run); `raw`: pre-built JSON-RPC over keep-alive HTTP or a pipe. */
export type Generator = (typeof GENERATORS)[number];

export type Endpoint =
  | { readonly kind: "http"; readonly url: string }
  | { readonly kind: "stdio"; readonly command: string; readonly args: readonly string[] };

export interface CallSpec {
  readonly endpoint: Endpoint;
  readonly revision: Revision;
  /** The tool's name as the target lists it (`echo`, or `echo__echo` behind Portcullis). */
  readonly tool: string;
  /** The `text` argument sent and expected back. */
  readonly payload: string;
  /** Most requests in flight at once (sizes connection pools). */
  readonly maxConcurrency: number;
}

/** One connected client (one session for 2025-11-25); `call` may run many times concurrently. */
export interface LoadClient {
  /** One `tools/call`; rejects on any failure or a result that is not the echoed payload. */
  call(): Promise<void>;
  /** The server process this client spawned itself (stdio), for CPU accounting. */
  readonly serverPid?: number;
  /** Ends the session (DELETE for 2025 HTTP sessions) and frees sockets and processes. */
  close(): Promise<void>;
}

export const CLIENT_INFO = { name: "portcullis-bench", version: "1.0.0" } as const;

export const META_PROTOCOL_VERSION = "io.modelcontextprotocol/protocolVersion";
export const META_CLIENT_INFO = "io.modelcontextprotocol/clientInfo";
export const META_CLIENT_CAPABILITIES = "io.modelcontextprotocol/clientCapabilities";

/** The 2026-07-28 per-request envelope. */
export function modernEnvelope(clientName: string): Record<string, unknown> {
  return {
    [META_PROTOCOL_VERSION]: "2026-07-28",
    [META_CLIENT_INFO]: { name: clientName, version: CLIENT_INFO.version },
    [META_CLIENT_CAPABILITIES]: {},
  };
}

/** Checks a decoded JSON-RPC response of an echo call. */
export function checkEcho(message: unknown, payload: string): void {
  const result = (message as { result?: { content?: { text?: unknown }[] } } | undefined)?.result;
  const text = result?.content?.[0]?.text;
  if (text !== payload) throw new Error(`unexpected answer: ${JSON.stringify(message).slice(0, 300)}`);
}
