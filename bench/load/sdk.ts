// The load generator users actually run: the official MCP SDK client, over Streamable HTTP or a
// stdio child it spawns, legacy-negotiated for 2025-11-25 and pinned to 2026-07-28 for the stateless revision.
import { Client, StreamableHTTPClientTransport } from "@modelcontextprotocol/client";
import { StdioClientTransport } from "@modelcontextprotocol/client/stdio";
import { CLIENT_INFO, type CallSpec, type LoadClient } from "./types.ts";

export async function openSdk(spec: CallSpec): Promise<LoadClient> {
  const client = new Client(
    { name: `${CLIENT_INFO.name}-sdk`, version: CLIENT_INFO.version },
    { versionNegotiation: { mode: spec.revision === "2026-07-28" ? { pin: spec.revision } : "legacy" } },
  );
  const { endpoint } = spec;
  const http =
    endpoint.kind === "http" ? new StreamableHTTPClientTransport(new URL(endpoint.url)) : undefined;
  const stdio =
    endpoint.kind === "stdio"
      ? new StdioClientTransport({ command: endpoint.command, args: [...endpoint.args], stderr: "ignore" })
      : undefined;
  await client.connect((http ?? stdio)!, { timeout: 30_000 });
  const version = client.getNegotiatedProtocolVersion();
  if (version !== spec.revision) {
    await client.close();
    throw new Error(`negotiated ${version ?? "nothing"} instead of ${spec.revision}`);
  }
  const args = { name: spec.tool, arguments: { text: spec.payload } };
  return {
    serverPid: stdio?.pid ?? undefined,
    async call() {
      const result = await client.callTool(args, { timeout: 30_000 });
      const text = (result.content as { text?: unknown }[] | undefined)?.[0]?.text;
      if (result.isError || text !== spec.payload)
        throw new Error(`unexpected answer: ${JSON.stringify(result).slice(0, 300)}`);
    },
    async close() {
      if (http && spec.revision === "2025-11-25") await http.terminateSession().catch(() => undefined);
      await client.close().catch(() => undefined);
    },
  };
}
