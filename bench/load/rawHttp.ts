// The light load generator over Streamable HTTP: pre-built JSON-RPC bodies on an undici keep-alive
// pool, answers checked by a string search (the first one decoded in full), so the client stays cheap.
import { Pool } from "undici";
import {
  CLIENT_INFO,
  checkEcho,
  modernEnvelope,
  type CallSpec,
  type LoadClient,
  type Revision,
} from "./types.ts";

const BASE_HEADERS = {
  "content-type": "application/json",
  accept: "application/json, text/event-stream",
} as const;

export interface RawHttpSession {
  readonly pool: Pool;
  readonly path: string;
  /** Headers every later request of the session carries. */
  readonly headers: Record<string, string>;
}

export function newPool(url: string, connections: number): Pool {
  return new Pool(new URL(url).origin, {
    connections,
    pipelining: 1,
    keepAliveTimeout: 30_000,
    headersTimeout: 30_000,
    bodyTimeout: 30_000,
  });
}

/** Opens a session (2025-11-25: initialize + initialized) or prepares stateless headers (2026-07-28). */
export async function openSession(
  pool: Pool,
  url: string,
  revision: Revision,
  clientName: string,
): Promise<RawHttpSession> {
  const path = new URL(url).pathname;
  if (revision === "2026-07-28") {
    return { pool, path, headers: { ...BASE_HEADERS, "mcp-protocol-version": revision } };
  }
  const init = await pool.request({
    path,
    method: "POST",
    headers: BASE_HEADERS,
    body: JSON.stringify({
      jsonrpc: "2.0",
      id: 0,
      method: "initialize",
      params: {
        protocolVersion: revision,
        capabilities: {},
        clientInfo: { name: clientName, version: CLIENT_INFO.version },
      },
    }),
  });
  const text = await init.body.text();
  const sessionId = init.headers["mcp-session-id"];
  if (init.statusCode !== 200 || typeof sessionId !== "string")
    throw new Error(`initialize failed: HTTP ${init.statusCode} ${text.slice(0, 300)}`);
  const headers = { ...BASE_HEADERS, "mcp-session-id": sessionId, "mcp-protocol-version": revision };
  const initialized = await pool.request({
    path,
    method: "POST",
    headers,
    body: '{"jsonrpc":"2.0","method":"notifications/initialized"}',
  });
  await initialized.body.text();
  if (initialized.statusCode >= 300)
    throw new Error(`notifications/initialized failed: HTTP ${initialized.statusCode}`);
  return { pool, path, headers };
}

/** Ends a 2025-11-25 session (DELETE); stateless sessions have nothing to end. */
export async function closeSession(session: RawHttpSession): Promise<void> {
  if (!("mcp-session-id" in session.headers)) return;
  const res = await session.pool.request({ path: session.path, method: "DELETE", headers: session.headers });
  await res.body.text();
}

export async function openRawHttp(
  spec: CallSpec,
  clientName = `${CLIENT_INFO.name}-raw`,
): Promise<LoadClient> {
  if (spec.endpoint.kind !== "http") throw new Error("openRawHttp needs an HTTP endpoint");
  const pool = newPool(spec.endpoint.url, spec.maxConcurrency);
  const session = await openSession(pool, spec.endpoint.url, spec.revision, clientName);
  const params: Record<string, unknown> = { name: spec.tool, arguments: { text: spec.payload } };
  const headers: Record<string, string> = { ...session.headers };
  if (spec.revision === "2026-07-28") {
    params._meta = modernEnvelope(clientName);
    headers["mcp-method"] = "tools/call";
    headers["mcp-name"] = spec.tool;
  }
  const prefix = '{"jsonrpc":"2.0","id":';
  const suffix = `,"method":"tools/call","params":${JSON.stringify(params)}}`;
  let nextId = 1;
  let verified = false;
  return {
    async call() {
      const res = await pool.request({
        path: session.path,
        method: "POST",
        headers,
        body: prefix + String(nextId++) + suffix,
      });
      const text = await res.body.text();
      if (res.statusCode !== 200 || !text.includes('"result"') || text.includes('"error"'))
        throw new Error(`tools/call: HTTP ${res.statusCode} ${text.slice(0, 300)}`);
      if (!verified) {
        checkEcho(decodeResponse(text), spec.payload);
        verified = true;
      }
    },
    async close() {
      await closeSession(session).catch(() => undefined);
      await pool.close();
    },
  };
}

/** The JSON-RPC response in a body that is either JSON or an event stream. */
export function decodeResponse(text: string): unknown {
  if (text.trimStart().startsWith("{")) return JSON.parse(text);
  for (const line of text.split("\n")) {
    if (!line.startsWith("data:")) continue;
    const data = line.slice(5).trim();
    if (!data.startsWith("{")) continue;
    const message = JSON.parse(data) as Record<string, unknown>;
    if ("id" in message && ("result" in message || "error" in message)) return message;
  }
  throw new Error(`no JSON-RPC response in: ${text.slice(0, 300)}`);
}
