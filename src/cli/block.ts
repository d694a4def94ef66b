// `portcullis block add|list|remove`: the dynamic block list of the running gateway (and, through
// the state store, of every node that shares it), over the local control socket.
import { callControlSocket } from "../admin/controlSocket.ts";
import type { Enforcement } from "../state/enforcements.ts";
import {
  controlSocketPath,
  formatDuration,
  osUserName,
  parseDurationMs,
  unreachable,
  type CommandOutput,
} from "./approvals.ts";

export interface BlockCommandOptions {
  readonly config?: string;
  readonly socket?: string;
  readonly json?: boolean;
  readonly for?: string;
  readonly reason?: string;
  readonly as?: string;
}

const processOutput: CommandOutput = {
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
};

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
  let reply: { status: number; body: unknown };
  try {
    if (sub === "list") reply = await callControlSocket(socket, "GET", "/blocks");
    else if (sub === "remove")
      reply = await callControlSocket(socket, "DELETE", `/blocks/${encodeURIComponent(address ?? "")}`);
    else
      reply = await callControlSocket(socket, "POST", "/blocks", {
        address,
        forMs,
        reason: options.reason,
        by: options.as ?? osUserName(),
      });
  } catch (err) {
    output.err(`${unreachable(socket, err)}\n`);
    return 2;
  }
  if (reply.status >= 300) {
    const error = (reply.body as { error?: { code?: string; message?: string } }).error;
    output.err(
      `block ${sub}: ${error?.message ?? `status ${reply.status}`}${error?.code ? ` (${error.code})` : ""}\n`,
    );
    return 1;
  }
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
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? "").length))) ?? [];
  return (
    rows
      .map((r) =>
        r
          .map((cell, i) => cell.padEnd(widths[i] ?? 0))
          .join("  ")
          .trimEnd(),
      )
      .join("\n") + "\n"
  );
}
