// A Streamable HTTP MCP server (official SDK) for tests of what reaches an upstream: its `report`
// tool answers with the trace headers, the Authorization header and the `_meta` of its request, and
// every Authorization header it was sent is kept.
import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { McpServer, WebStandardStreamableHTTPServerTransport } from "@modelcontextprotocol/server";
import { toNodeHandler } from "@modelcontextprotocol/node";
import { z } from "zod";

export interface ReportingUpstream {
  readonly url: string;
  /** The Authorization header of every HTTP request received (undefined when absent). */
  readonly authorizations: (string | undefined)[];
  /** The JSON-RPC method and Authorization header of every POSTed message, in order. */
  readonly posted: { method: string; authorization: string | undefined }[];
  close(): void;
}

export async function startReportingUpstream(): Promise<ReportingUpstream> {
  const sessions = new Map<string, WebStandardStreamableHTTPServerTransport>();
  const authorizations: (string | undefined)[] = [];
  const posted: { method: string; authorization: string | undefined }[] = [];
  const createServerInstance = () => {
    const server = new McpServer({ name: "reporter", version: "1.0.0" });
    server.registerTool(
      "report",
      { description: "Report what the request carried", inputSchema: z.object({}) },
      async (_a, ctx) => {
        const headers = ctx.http?.req?.headers;
        const seen = {
          traceparent: headers?.get("traceparent") ?? undefined,
          tracestate: headers?.get("tracestate") ?? undefined,
          authorization: headers?.get("authorization") ?? undefined,
          meta: ctx.mcpReq._meta ?? {},
        };
        return { content: [{ type: "text", text: JSON.stringify(seen) }] };
      },
    );
    let grown = 0;
    server.registerTool(
      "grow",
      { description: "Register one more tool (the list changes)", inputSchema: z.object({}) },
      async () => {
        const name = `grown-${++grown}`;
        server.registerTool(
          name,
          { description: "added at run time", inputSchema: z.object({}) },
          async () => ({
            content: [{ type: "text", text: name }],
          }),
        );
        return { content: [{ type: "text", text: name }] };
      },
    );
    return server;
  };
  const route = toNodeHandler({
    fetch: async (request: Request) => {
      const authorization = request.headers.get("authorization") ?? undefined;
      authorizations.push(authorization);
      if (request.method === "POST") {
        const message = (await request
          .clone()
          .json()
          .catch(() => ({}))) as { method?: unknown };
        if (typeof message.method === "string") posted.push({ method: message.method, authorization });
      }
      const sessionId = request.headers.get("mcp-session-id");
      if (sessionId) {
        const existing = sessions.get(sessionId);
        if (!existing) return new Response("unknown session", { status: 404 });
        return existing.handleRequest(request);
      }
      const transport = new WebStandardStreamableHTTPServerTransport({
        sessionIdGenerator: () => randomUUID(),
        onsessioninitialized: (id) => void sessions.set(id, transport),
      });
      await createServerInstance().connect(transport);
      return transport.handleRequest(request);
    },
  });
  const server = createServer((req: IncomingMessage, res: ServerResponse) => void route(req, res));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/mcp`,
    authorizations,
    posted,
    close: () => {
      server.closeAllConnections();
      server.close();
    },
  };
}
