// The fixed MCP server every benchmark target fronts: one tool, `echo`, that returns its `text`
// argument (the harness picks the payload size), over stdio or Streamable HTTP, in both revisions.
//
// Usage: node bench/echo-server.ts --stdio [--tag T]
//        node bench/echo-server.ts --http [--port N]   (one JSON line {"msg":"echo server listening","url"} on stderr)
// `--tag` is ignored by the server; the harness uses it to find every process of its run.
import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { parseArgs } from "node:util";
import {
  McpServer,
  WebStandardStreamableHTTPServerTransport,
  createMcpHandler,
  isLegacyRequest,
} from "@modelcontextprotocol/server";
import { serveStdio } from "@modelcontextprotocol/server/stdio";
import { toNodeHandler } from "@modelcontextprotocol/node";
import { z } from "zod";

/** One server instance: per stdio connection, per 2025 session, or per 2026 request (the SDK's way). */
function createEchoServer(): McpServer {
  const server = new McpServer({ name: "portcullis-bench-echo", version: "1.0.0" });
  server.registerTool(
    "echo",
    { description: "Return the text it is given", inputSchema: z.object({ text: z.string() }) },
    async ({ text }) => ({ content: [{ type: "text", text }] }),
  );
  return server;
}

function serveOverStdio(): void {
  const handle = serveStdio(createEchoServer, {
    onerror: (err) => process.stderr.write(`echo server: ${err.message}\n`),
  });
  // A harness or gateway that goes away closes our stdin: leave with it.
  process.stdin.once("end", () => void handle.close().finally(() => process.exit(0)));
}

async function serveOverHttp(port: number): Promise<void> {
  const sessions = new Map<string, WebStandardStreamableHTTPServerTransport>();
  const modern = createMcpHandler(createEchoServer, { legacy: "reject" });

  async function serveLegacy(request: Request): Promise<Response> {
    const sessionId = request.headers.get("mcp-session-id");
    if (sessionId) {
      const transport = sessions.get(sessionId);
      if (!transport) return Response.json({ jsonrpc: "2.0", id: null, error: notFound }, { status: 404 });
      return transport.handleRequest(request);
    }
    const server = createEchoServer();
    const transport = new WebStandardStreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      onsessioninitialized: (id) => void sessions.set(id, transport),
      onsessionclosed: (id) => {
        sessions.delete(id);
        void server.close();
      },
    });
    await server.connect(transport);
    return transport.handleRequest(request);
  }

  const route = toNodeHandler({
    fetch: async (request: Request) => {
      if (new URL(request.url).pathname !== "/mcp") return new Response("Not Found", { status: 404 });
      if (await isLegacyRequest(request)) return serveLegacy(request);
      return modern.fetch(request);
    },
  });
  const httpServer = createServer((req: IncomingMessage, res: ServerResponse) => void route(req, res));
  httpServer.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve, reject) => {
    httpServer.once("error", reject);
    httpServer.listen(port, "127.0.0.1", resolve);
  });
  const { port: bound } = httpServer.address() as AddressInfo;
  process.stderr.write(
    `${JSON.stringify({ msg: "echo server listening", url: `http://127.0.0.1:${bound}/mcp` })}\n`,
  );
  const stop = () => {
    httpServer.closeAllConnections();
    httpServer.close(() => process.exit(0));
  };
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
}

const notFound = { code: -32001, message: "Session not found" };

const { values } = parseArgs({
  options: {
    stdio: { type: "boolean", default: false },
    http: { type: "boolean", default: false },
    port: { type: "string", default: "0" },
    tag: { type: "string" },
  },
});
if (values.http) await serveOverHttp(Number(values.port));
else serveOverStdio();
