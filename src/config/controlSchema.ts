// The config of the local control socket (how `portcullis approvals …` reaches the running gateway)
// and of human approvals. Wired into the config file as `control` and `authorization.approvals`.
import { createHash } from "node:crypto";
import { mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { z } from "zod";
import { ConfigError } from "../errors.ts";

const durationMs = (fallback: number, min: number, max: number, description: string) =>
  z.number().int().min(min).max(max).default(fallback).describe(description);

export const controlSection = z
  .strictObject({
    enabled: z
      .boolean()
      .default(true)
      .describe("Listen on the control socket (off: the approvals commands cannot reach this gateway)."),
    socket: z
      .string()
      .min(1)
      .optional()
      .describe(
        "Path of the Unix domain socket, relative to the config file's directory. Default: a private folder of the gateway's OS user outside the config folder ($XDG_RUNTIME_DIR/portcullis, else <tmp>/portcullis-<uid>, mode 0700), named after the config file. Created with mode 0600: whoever can connect to it can decide approvals, so only the gateway's OS user (and root) can — run stdio upstreams and agents as another user. At most 107 bytes once resolved (103 on macOS and BSD).",
      ),
  })
  .prefault({})
  .describe("The local control socket the CLI uses to reach the running gateway; never on the network.");

export type ControlSettings = z.infer<typeof controlSection>;

export const approvalsSection = z
  .strictObject({
    timeoutMs: durationMs(
      120_000,
      1_000,
      3_600_000,
      "How long a call that needs approval waits for a decision; no decision by then is a refusal.",
    ),
    maxGrantMs: durationMs(
      8 * 3_600_000,
      60_000,
      30 * 86_400_000,
      "The longest just-in-time grant an approver may give (`approve ID --grant 1h`).",
    ),
    maxPendingPerPrincipal: z
      .number()
      .int()
      .min(1)
      .max(1_000)
      .default(20)
      .describe(
        "Approvals one principal may have waiting at a time; further calls that need one are refused.",
      ),
    usableForMs: durationMs(
      300_000,
      5_000,
      3_600_000,
      "How long an approved call can still be made, once, when its caller stopped waiting (a client retrying after its own timeout).",
    ),
  })
  .prefault({})
  .describe("Human approvals: the obligation of a policy permit that a person consents to the call.");

export type ApprovalsSettings = z.infer<typeof approvalsSection>;

/** The longest path a Unix domain socket can have (`sun_path` less its terminating NUL). */
export const MAX_SOCKET_PATH_BYTES = process.platform === "linux" ? 107 : 103;

/** The socket's absolute path; a clear error when it is too long for a Unix domain socket. */
export function resolveControlSocketPath(
  configDir: string,
  section: Pick<ControlSettings, "socket">,
  configFile: string,
): string {
  const path =
    section.socket === undefined ? defaultSocketPath(configFile) : resolve(configDir, section.socket);
  const problem = socketPathProblem(path);
  if (problem)
    throw new ConfigError([
      { file: configFile, line: undefined, column: undefined, path: "control.socket", message: problem },
    ]);
  return path;
}

/**
 * Where a config's socket is unless it says: in a folder of this OS user's own (made 0700 if
 * missing), outside the config folder that upstreams are started in, one socket per config file.
 */
export function defaultSocketPath(configFile: string): string {
  const runtime = process.env.XDG_RUNTIME_DIR;
  const dir = runtime
    ? join(runtime, "portcullis")
    : join(tmpdir(), `portcullis-${process.getuid?.() ?? "user"}`);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const name = createHash("sha256").update(resolve(configFile)).digest("hex").slice(0, 16);
  return join(dir, `${name}.sock`);
}

/** Why a path cannot name a Unix domain socket, or undefined when it can. */
export function socketPathProblem(path: string): string | undefined {
  const bytes = Buffer.byteLength(path);
  if (bytes > MAX_SOCKET_PATH_BYTES)
    return `${path} is ${bytes} bytes long; a Unix domain socket path has at most ${MAX_SOCKET_PATH_BYTES}: choose a shorter one (an absolute path such as /run/portcullis/portcullis.sock)`;
  if (path.includes("\0")) return "a socket path cannot contain a NUL character";
  return undefined;
}
