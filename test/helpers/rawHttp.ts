// Requests to a gateway from a chosen loopback address (127.0.0.2 is another host to the gateway's
// network checks), raw or through the official SDK client.
import { Client, StreamableHTTPClientTransport } from "@modelcontextprotocol/client";
import { Agent, fetch as undiciFetch, type Dispatcher } from "undici";

export interface RawReply {
  readonly status: number;
  readonly headers: Headers;
  /** The JSON-RPC answer, from a JSON body or the first message of an SSE stream. */
  readonly body: {
    error?: { code: number; message: string; data: Record<string, unknown> };
    [key: string]: unknown;
  };
}

/** POSTs a JSON-RPC message from `from`; `{}` when the answer has no body. */
export async function postFrom(
  url: string,
  from: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<RawReply> {
  const agent = new Agent({ localAddress: from });
  try {
    return await postVia(agent, url, body, headers);
  } finally {
    await agent.close();
  }
}

/** POSTs a JSON-RPC message over `dispatcher` (a source address, client certificates…). */
export async function postVia(
  dispatcher: Dispatcher,
  url: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<RawReply> {
  const res = await undiciFetch(url, {
    method: "POST",
    dispatcher,
    headers: {
      "content-type": "application/json",
      accept: "application/json, text/event-stream",
      ...headers,
    },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  const sse = res.headers.get("content-type")?.startsWith("text/event-stream");
  const json: unknown = sse
    ? JSON.parse(/^data: (\{.*)$/m.exec(text)?.[1] ?? "{}")
    : JSON.parse(text || "{}");
  return { status: res.status, headers: res.headers, body: json as RawReply["body"] };
}

/** An SDK client whose connections leave from `from`. */
export async function clientFrom(
  url: string,
  from: string,
  headers: Record<string, string> = {},
): Promise<Client> {
  const agent = new Agent({ localAddress: from });
  const fetchFrom = ((input: string | URL, init?: RequestInit) =>
    undiciFetch(input, { ...(init as object), dispatcher: agent })) as unknown as typeof fetch;
  const client = new Client({ name: `client-${from}`, version: "1" });
  await client.connect(
    new StreamableHTTPClientTransport(new URL(url), { fetch: fetchFrom, requestInit: { headers } }),
  );
  return client;
}

/** The per-request envelope of a 2026-07-28 request from a raw client that can give no input. */
export const modernEnvelope = {
  "io.modelcontextprotocol/protocolVersion": "2026-07-28",
  "io.modelcontextprotocol/clientInfo": { name: "raw", version: "1" },
  "io.modelcontextprotocol/clientCapabilities": {},
};
