// What the operator commands share: their output streams, aligned tables, and a call to the running
// gateway's control socket that reports an unreachable gateway (exit 2) or a refusal (exit 1) itself.
import { callControlSocket } from "../admin/controlSocket.ts";

/** Where a command writes; the process's streams unless a test passes its own. */
export interface CommandOutput {
  out(text: string): void;
  err(text: string): void;
}

export const processOutput: CommandOutput = {
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
};

/** Rows as aligned columns (two spaces apart), each line ending in a newline; `indent` before each. */
export function textTable(rows: readonly (readonly string[])[], indent = ""): string {
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? "").length))) ?? [];
  return rows
    .map(
      (r) =>
        `${indent}${r
          .map((cell, i) => cell.padEnd(widths[i] ?? 0))
          .join("  ")
          .trimEnd()}\n`,
    )
    .join("");
}

/** A successful answer's body, or the exit code after saying why there is none. */
export async function controlCall(
  socket: string,
  request: { method: "GET" | "POST" | "DELETE"; path: string; body?: unknown },
  command: string,
  output: CommandOutput,
): Promise<{ body: unknown } | { exit: 1 | 2 }> {
  let reply: { status: number; body: unknown };
  try {
    reply = await callControlSocket(socket, request.method, request.path, request.body);
  } catch (err) {
    output.err(`${unreachable(socket, err)}\n`);
    return { exit: 2 };
  }
  if (reply.status < 300) return { body: reply.body };
  const error = (reply.body as { error?: { code?: string; message?: string } }).error;
  output.err(
    `${command}: ${error?.message ?? `status ${reply.status}`}${error?.code ? ` (${error.code})` : ""}\n`,
  );
  return { exit: 1 };
}

export function unreachable(socket: string, err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === "ENOENT" || code === "ECONNREFUSED") return `no gateway is listening on ${socket}`;
  if (code === "EACCES" || code === "EPERM")
    return `permission denied on ${socket}: only the gateway's OS user (or root) may use it; run the command as that user`;
  return `cannot reach the gateway on ${socket} (${err instanceof Error ? err.message : String(err)})`;
}
