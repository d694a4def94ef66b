// `portcullis tools list|diff|approve`: the pinned tool and prompt definitions of the running gateway
// (and, through the state store, of every node that shares it), what changed since it was pinned, and
// the operator's approval of a changed definition, over the local control socket.
import type { PinSummary } from "../admin/toolRoutes.ts";
import { definitionLines, formatDiff, lineDiff } from "../layers/catalog/diff.ts";
import type { PinnedVersion } from "../layers/catalog/pins.ts";
import { controlSocketPath, formatDuration, osUserName } from "./approvals.ts";
import { controlCall, processOutput, textTable, type CommandOutput } from "./output.ts";

export interface ToolsCommandOptions {
  readonly config?: string;
  readonly socket?: string;
  readonly json?: boolean;
  /** `list`: only what changed or waits for a first approval. */
  readonly changed?: boolean;
  /** `tools` or `prompts`, when a name is both. */
  readonly kind?: string;
  /**
   * `approve`: the full hash `diff` showed; refused if something else waits. Without it, the hash of
   * what waits now is fetched, printed and approved.
   */
  readonly hash?: string;
  readonly as?: string;
  readonly note?: string;
}

const commands = ["list", "diff", "approve"];

type PinDetail = PinSummary & { readonly pinned?: PinnedVersion; readonly pending?: PinnedVersion };

/** 0 done; 1 the gateway refused (unknown name, nothing to approve, hash mismatch); 2 it cannot be reached. */
export async function runToolsCommand(
  sub: string | undefined,
  positionals: readonly string[],
  options: ToolsCommandOptions,
  output: CommandOutput = processOutput,
): Promise<number> {
  if (!sub || !commands.includes(sub))
    throw new Error(`unknown tools command "${sub ?? ""}" (${commands.join(", ")})`);
  const name = positionals[0];
  if (sub !== "list" && !name)
    throw new Error(`name the tool: portcullis tools ${sub} UPSTREAM/TOOL (or its public name)`);
  if (options.kind !== undefined && options.kind !== "tools" && options.kind !== "prompts")
    throw new Error("--kind is tools or prompts");
  const socket = controlSocketPath(options);
  const kindQuery = options.kind ? `?kind=${encodeURIComponent(options.kind)}` : "";
  const encoded = encodeURIComponent(name ?? "");
  if (sub === "approve" && options.hash !== undefined && !/^[0-9a-fA-F]{64}$/.test(options.hash))
    throw new Error("--hash is the full hash (64 hex digits) `portcullis tools diff` showed");
  let hash = options.hash?.toLowerCase();
  let kind = options.kind;
  if (sub === "approve" && hash === undefined) {
    // The definition waiting now, by its full hash: the gateway approves that one, not what may
    // arrive between this look and the approval.
    const look = await controlCall(
      socket,
      { method: "GET", path: `/tools/${encoded}${kindQuery}` },
      "tools approve",
      output,
    );
    if ("exit" in look) return look.exit;
    const { pin } = look.body as { pin: PinDetail };
    if (!pin.pending) {
      output.err(`${pin.upstream}/${pin.name} has nothing waiting for approval\n`);
      return 1;
    }
    hash = pin.pending.hash;
    kind = pin.kind;
    if (!options.json) output.out(`approving ${pin.upstream}/${pin.name} as waiting now: ${hash}\n`);
  }
  const request =
    sub === "list"
      ? { method: "GET" as const, path: `/tools${options.changed ? "?changed=1" : ""}` }
      : sub === "diff"
        ? { method: "GET" as const, path: `/tools/${encoded}${kindQuery}` }
        : {
            method: "POST" as const,
            path: `/tools/${encoded}/approve`,
            body: {
              by: options.as ?? osUserName(),
              hash,
              ...(kind ? { kind } : {}),
              ...(options.note ? { note: options.note } : {}),
            },
          };
  const reply = await controlCall(socket, request, `tools ${sub}`, output);
  if ("exit" in reply) return reply.exit;
  const now = Date.now();
  if (sub === "list") {
    const { pins } = reply.body as { pins: PinSummary[] };
    if (options.json) for (const p of pins) output.out(`${JSON.stringify(p)}\n`);
    else output.out(pinTable(pins, now, options.changed === true));
  } else if (sub === "diff") {
    const { pin } = reply.body as { pin: PinDetail };
    output.out(options.json ? `${JSON.stringify(pin)}\n` : describeChange(pin, now));
  } else {
    const { pin, previousHash } = reply.body as { pin: PinSummary; previousHash?: string };
    output.out(
      options.json
        ? `${JSON.stringify(reply.body)}\n`
        : `approved ${pin.kind === "prompts" ? "prompt" : "tool"} ${pin.upstream}/${pin.name}: pinned ${pin.pinnedHash ?? "-"}${previousHash ? ` (was ${short(previousHash)})` : ""}\n`,
    );
  }
  return 0;
}

function pinTable(pins: readonly PinSummary[], now: number, onlyChanged: boolean): string {
  if (pins.length === 0) return onlyChanged ? "no changed or new definitions\n" : "nothing pinned\n";
  const rows = [
    ["STATUS", "KIND", "UPSTREAM/NAME", "PUBLIC NAME", "PINNED", "BY", "WAITING"],
    ...pins.map((p) => [
      p.status,
      p.kind === "prompts" ? "prompt" : "tool",
      `${p.upstream}/${p.name}`,
      p.publicName,
      p.pinnedHash ? `${short(p.pinnedHash)} ${ago(p.pinnedAt, now)}` : "-",
      p.pinnedBy ?? "-",
      p.pendingHash ? `${short(p.pendingHash)} ${ago(p.pendingAt, now)}` : "-",
    ]),
  ];
  return textTable(rows);
}

/** What was pinned and what is waiting, as a line diff of their canonical JSON. */
function describeChange(pin: PinDetail, now: number): string {
  const head = [
    `${pin.kind === "prompts" ? "prompt" : "tool"} ${pin.upstream}/${pin.name} (listed as ${pin.publicName}): ${pin.status}`,
    `pinned:  ${pin.pinned ? `${pin.pinned.hash} by ${pin.pinned.by}, ${ago(pin.pinned.at, now)}` : "(never approved)"}`,
    `waiting: ${pin.pending ? `${pin.pending.hash}, seen ${ago(pin.pending.at, now)}` : "(nothing)"}`,
  ].join("\n");
  if (!pin.pending) return `${head}\n`;
  const missing = (v: PinnedVersion | undefined) => v !== undefined && v.definition === undefined;
  if (missing(pin.pinned) || missing(pin.pending))
    return `${head}\n(a definition larger than catalogGuard.pinning.maxStoredBytes is kept by its hash only: no diff)\n`;
  const before = pin.pinned?.definition ? definitionLines(pin.pinned.definition) : [];
  const after = definitionLines(pin.pending.definition);
  return `${head}\n--- pinned\n+++ waiting\n${formatDiff(lineDiff(before, after))}approve with: portcullis tools approve ${pin.upstream}/${pin.name} --hash ${pin.pending.hash}\n`;
}

function short(hash: string | undefined): string {
  return hash ? hash.slice(0, 12) : "-";
}

function ago(at: number | undefined, now: number): string {
  return at === undefined ? "" : `${formatDuration(Math.max(0, now - at))} ago`;
}
