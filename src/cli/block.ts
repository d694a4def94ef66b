// `portcullis block add|list|remove`: the dynamic block list of the running gateway (and, through
// the state store, of every node that shares it), over the local control socket.
import type { Enforcement } from "../state/enforcements.ts";
import { controlSocketPath, formatDuration, osUserName, parseDurationMs } from "./approvals.ts";
import { controlCall, processOutput, textTable, type CommandOutput } from "./output.ts";

export interface BlockCommandOptions {
  readonly config?: string;
  readonly socket?: string;
  readonly json?: boolean;
  readonly for?: string;
  readonly reason?: string;
  readonly as?: string;
}

const commands = ["add", "list", "remove"];

/** 0 done; 1 the gateway refused (bad address, no such block); 2 the gateway cannot be reached. */
export async function runBlockCommand(
  sub: string | undefined,
  positionals: readonly string[],
  options: BlockCommandOptions,
  output: CommandOutput = processOutput,
): Promise<number> {
  if (!sub || !commands.includes(sub))
    throw new Error(`unknown block command "${sub ?? ""}" (${commands.join(", ")})`);
  const address = positionals[0];
  if (sub !== "list" && !address)
    throw new Error(`name the address: portcullis block ${sub} ADDRESS[/PREFIX]`);
  if (sub === "add" && !options.reason)
    throw new Error("--reason TEXT is required: it is shown to the blocked client and in the audit trail");
  const forMs = sub === "add" ? parseDurationMs(options.for ?? "1h", "--for") : undefined;
  const socket = controlSocketPath(options);
  const request =
    sub === "list"
      ? { method: "GET" as const, path: "/blocks" }
      : sub === "remove"
        ? { method: "DELETE" as const, path: `/blocks/${encodeURIComponent(address ?? "")}` }
        : {
            method: "POST" as const,
            path: "/blocks",
            body: { address, forMs, reason: options.reason, by: options.as ?? osUserName() },
          };
  const reply = await controlCall(socket, request, `block ${sub}`, output);
  if ("exit" in reply) return reply.exit;
  const now = Date.now();
  if (sub === "list") {
    const { blocks } = reply.body as { blocks: Enforcement[] };
    if (options.json) for (const b of blocks) output.out(`${JSON.stringify(b)}\n`);
    else output.out(blockTable(blocks, now));
  } else if (sub === "add") {
    const { block } = reply.body as { block: Enforcement };
    output.out(
      options.json
        ? `${JSON.stringify(block)}\n`
        : `blocked ${block.subject} for ${formatDuration(block.until - now)} (until ${new Date(block.until).toISOString()})\n`,
    );
  } else output.out(options.json ? `${JSON.stringify(reply.body)}\n` : `lifted the block on ${address}\n`);
  return 0;
}

function blockTable(blocks: readonly Enforcement[], now: number): string {
  if (blocks.length === 0) return "no blocks\n";
  const rows = [
    ["ADDRESS", "EXPIRES IN", "SOURCE", "REASON"],
    ...blocks.map((b) => [b.subject, formatDuration(b.until - now), b.source, b.reason]),
  ];
  return textTable(rows);
}
