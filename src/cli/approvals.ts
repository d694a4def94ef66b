// `portcullis approvals …`: list the calls waiting for a human decision, approve one (optionally with
// a just-in-time grant), deny one, revoke a grant; through the running gateway's control socket.
import { readFileSync } from "node:fs";
import { userInfo } from "node:os";
import { dirname, resolve } from "node:path";
import { parse } from "yaml";
import { controlCall, processOutput, textTable, type CommandOutput } from "./output.ts";
import { controlSection, resolveControlSocketPath, socketPathProblem } from "../config/controlSchema.ts";
import type { Approval } from "../layers/authz/approvals.ts";

export interface ApprovalsCommandOptions {
  readonly config?: string;
  readonly socket?: string;
  readonly json?: boolean;
  readonly grant?: string;
  readonly as?: string;
  readonly note?: string;
  readonly status?: string;
}

const commands = "list, show, approve, deny, revoke";

/** 0 done; 1 the gateway refused (unknown id, already decided, …); 2 the gateway cannot be reached. */
export async function runApprovalsCommand(
  sub: string | undefined,
  positionals: readonly string[],
  options: ApprovalsCommandOptions,
  output: CommandOutput = processOutput,
): Promise<number> {
  if (!sub || !commands.split(", ").includes(sub))
    throw new Error(`unknown approvals command "${sub ?? ""}" (${commands})`);
  const id = positionals[0];
  if (sub !== "list" && !id) throw new Error(`name the approval: portcullis approvals ${sub} ID`);
  const grantForMs = options.grant === undefined ? undefined : parseDurationMs(options.grant, "--grant");
  if (grantForMs !== undefined && sub !== "approve") throw new Error("--grant goes with approve only");
  const socket = controlSocketPath(options);
  const approver = options.as ?? osUserName();
  const encoded = encodeURIComponent(id ?? "");
  const status = options.status ?? "pending";
  const request =
    sub === "list"
      ? { method: "GET" as const, path: `/approvals?status=${encodeURIComponent(status)}` }
      : sub === "show"
        ? { method: "GET" as const, path: `/approvals/${encoded}` }
        : {
            method: "POST" as const,
            path: `/approvals/${encoded}/${sub}`,
            body: { approver, grantForMs, note: options.note },
          };
  const reply = await controlCall(socket, request, `approvals ${sub}`, output);
  if ("exit" in reply) return reply.exit;
  if (sub === "list") {
    const { approvals } = reply.body as { approvals: Approval[] };
    if (options.json) for (const a of approvals) output.out(`${JSON.stringify(a)}\n`);
    else output.out(approvalTable(approvals, Date.now(), status !== "pending"));
    return 0;
  }
  const { approval } = reply.body as { approval: Approval };
  if (options.json) output.out(`${JSON.stringify(approval)}\n`);
  else if (sub === "show") output.out(describeApproval(approval, Date.now()));
  else output.out(`${outcomeLine(sub, approval)}\n`);
  return 0;
}

/** `30s`, `30m`, `1h`, `8h`, `2d` in milliseconds. */
export function parseDurationMs(text: string, option = "duration"): number {
  const match = /^(\d{1,6})([smhd])$/.exec(text.trim());
  if (!match?.[1] || !match[2] || Number(match[1]) === 0)
    throw new Error(`${option} ${text}: give a duration such as 30m, 1h or 8h`);
  const unit = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 }[match[2] as "s" | "m" | "h" | "d"];
  return Number(match[1]) * unit;
}

/** The socket named by --socket, or by the config file's `control` section. */
export function controlSocketPath(options: Pick<ApprovalsCommandOptions, "config" | "socket">): string {
  if (options.socket) {
    const path = resolve(options.socket);
    const problem = socketPathProblem(path);
    if (problem) throw new Error(`--socket: ${problem}`);
    return path;
  }
  if (!options.config) throw new Error("--config FILE (or --socket PATH) is required to find the gateway");
  const file = resolve(options.config);
  return resolveControlSocketPath(dirname(file), readControlSection(file), file);
}

/**
 * Only the `control` section: an approver's shell rarely holds the secrets the rest of the file
 * references (`${env:…}`), and finding the socket must not need them.
 */
function readControlSection(file: string): { socket?: string } {
  let raw: unknown;
  try {
    raw = parse(readFileSync(file, "utf8")) as unknown;
  } catch (err) {
    throw new Error(`cannot read ${file} (${err instanceof Error ? err.message : String(err)})`, {
      cause: err,
    });
  }
  const control = raw && typeof raw === "object" ? (raw as Record<string, unknown>).control : undefined;
  const parsed = controlSection.safeParse(control ?? {});
  if (!parsed.success)
    throw new Error(`${file}: control: ${parsed.error.issues.map((i) => i.message).join("; ")}`);
  if (!parsed.data.enabled) throw new Error(`${file} turns the control socket off (control.enabled: false)`);
  if (parsed.data.socket?.includes("${"))
    throw new Error(`${file}: control.socket holds a reference; pass the socket with --socket PATH`);
  return parsed.data;
}

/** The approver's name: the OS user running the command (a container may have no passwd entry). */
export function osUserName(): string {
  try {
    return userInfo().username;
  } catch {
    return process.env.USER ?? `uid ${process.getuid?.() ?? "unknown"}`;
  }
}

function approvalTable(approvals: readonly Approval[], now: number, withStatus: boolean): string {
  if (approvals.length === 0) return "no approvals\n";
  const rows = [
    ["ID", "AGE", "PRINCIPAL", "TARGET", "POLICY", "EXPIRES IN", ...(withStatus ? ["STATUS"] : [])],
    ...approvals.map((a) => [
      a.id,
      formatDuration(now - a.createdAt),
      a.principal,
      a.target,
      a.policy,
      a.status === "pending" ? formatDuration(a.expiresAt - now) : "-",
      ...(withStatus ? [statusText(a, now)] : []),
    ]),
  ];
  return textTable(rows);
}

function describeApproval(a: Approval, now: number): string {
  const lines: [string, string | undefined][] = [
    ["id", a.id],
    ["status", statusText(a, now)],
    ["principal", a.principal],
    ["call", `${a.method} ${a.target}${a.upstream ? ` (upstream ${a.upstream})` : ""}`],
    ["arguments", a.argumentsPreview],
    ["arguments digest", a.argumentsDigest],
    ["policy", a.policy],
    ["reason", a.reason],
    ["client address", a.clientAddress],
    ["asked", `${new Date(a.createdAt).toISOString()} (${formatDuration(now - a.createdAt)} ago)`],
    ["decision due", new Date(a.expiresAt).toISOString()],
    ["decided by", a.decidedBy],
    ["note", a.note],
  ];
  return lines.flatMap(([k, v]) => (v === undefined ? [] : [`${`${k}:`.padEnd(18)}${v}\n`])).join("");
}

function statusText(a: Approval, now: number): string {
  if (a.revokedBy) return `revoked by ${a.revokedBy}`;
  if (a.status !== "approved") return a.status;
  if (a.grantUntil !== undefined)
    return a.grantUntil > now ? `granted for ${formatDuration(a.grantUntil - now)}` : "grant ended";
  return a.usedAt !== undefined ? "approved, used" : "approved";
}

function outcomeLine(sub: string, a: Approval): string {
  const call = `${a.target} for ${a.principal}`;
  if (sub === "revoke") return `revoked ${a.id} (${call})`;
  if (a.status === "denied") return `denied ${a.id} (${call})`;
  return a.grantUntil !== undefined
    ? `approved ${a.id} (${call}); ${a.principal} may call ${a.target} with any arguments until ${new Date(a.grantUntil).toISOString()}`
    : `approved ${a.id} (${call}), for this call only`;
}

/** `45s`, `12m`, `3h05m`, `2d04h`. */
export function formatDuration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
  return `${Math.floor(s / 86_400)}d${String(Math.floor((s % 86_400) / 3600)).padStart(2, "0")}h`;
}
