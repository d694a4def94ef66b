// The stdio ingress: the gateway as an MCP server for desktop clients (Claude Desktop, Cursor…).
// stdout carries only protocol messages; every log line goes to stderr.
import { StdioServerTransport } from "@modelcontextprotocol/server/stdio";
import type { Gateway } from "../gateway.ts";
import type { Principal } from "../pipeline/types.ts";
import { TransportSession } from "./transportSession.ts";

export interface StdioIngressOptions {
  readonly gateway: Gateway;
  readonly principal: Principal;
  readonly onClosed: () => void;
}

export async function serveStdio(options: StdioIngressOptions): Promise<TransportSession> {
  const transport = new StdioServerTransport(process.stdin, process.stdout);
  const bridge = new TransportSession({
    gateway: options.gateway,
    transport,
    kind: "stdio",
    clientAddress: undefined,
    principal: options.principal,
    onClosed: options.onClosed,
  });
  process.stdin.once("end", () => void transport.close());
  await bridge.start();
  return bridge;
}
