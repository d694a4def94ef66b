// The local control socket: a small JSON API on a Unix domain socket (mode 0600) through which the CLI
// on the same machine reaches the running gateway. Who can open the socket file is the authorization.
import { chmodSync, lstatSync, statSync, unlinkSync, type Stats } from "node:fs";
import { createServer, request, type IncomingMessage, type ServerResponse } from "node:http";
import { createConnection } from "node:net";
import { dirname } from "node:path";
import type { Logger } from "pino";
import { z } from "zod";
import { socketPathProblem } from "../config/controlSchema.ts";
import { GatewayError } from "../errors.ts";
import { readJsonBody } from "../ingress/body.ts";
import { ApprovalError, type ApprovalBook, type ApprovalStatus } from "../layers/authz/approvals.ts";

export interface ControlRequest {
  /** The route pattern's capture groups, decoded. */
  readonly params: readonly string[];
  readonly query: URLSearchParams;
  /** The JSON body of a POST (an object), `{}` when there is none. */
  readonly body: unknown;
}

export interface ControlReply {
  readonly status?: number;
  readonly body: unknown;
}

/** One line of the routing table: a method, a path pattern matched whole, a handler. */
export interface ControlRoute {
  readonly method: "GET" | "POST" | "DELETE";
  /** Anchored (`^…$`), without the `g` flag; its capture groups become `params`. */
  readonly path: RegExp;
  handle(request: ControlRequest): Promise<ControlReply>;
}

/** A refusal the handler chose: sent as `{ error: { code, message } }` with its status. */
export class ControlError extends Error {
  readonly status: number;
  readonly code: string;

  constructor(status: number, code: string, message: string) {
    super(message);
    this.name = "ControlError";
    this.status = status;
    this.code = code;
  }
}

/** Why the socket could not be opened: `in-use` (another live gateway answers on it) is the usual one. */
export type ControlSocketProblem =
  "unsupported" | "path" | "directory" | "not-a-socket" | "in-use" | "listen";

export class ControlSocketError extends Error {
  readonly problem: ControlSocketProblem;

  constructor(problem: ControlSocketProblem, message: string, cause?: unknown) {
    super(`control socket: ${message}`, cause === undefined ? undefined : { cause });
    this.name = "ControlSocketError";
    this.problem = problem;
  }
}

export interface ControlSocketOptions {
  readonly path: string;
  readonly logger: Logger;
  readonly approvals?: ApprovalBook;
  /** More routes (enforcements, …), tried after the approvals ones. */
  readonly routes?: readonly ControlRoute[];
}

export interface ControlSocket {
  readonly path: string;
  close(): Promise<void>;
}

const MAX_BODY_BYTES = 16 * 1024;
const BODY_TIMEOUT_MS = 10_000;
const STATUSES = ["pending", "approved", "denied", "expired"] as const;
const ID = "([A-Za-z0-9_-]{1,64})";

const decisionBody = z.strictObject({
  approver: z.string().trim().min(1).max(200),
  grantForMs: z.number().int().positive().optional(),
  note: z.string().max(1000).optional(),
});

/** The routes of human approvals: list them, approve, deny, revoke what is in force. */
export function approvalRoutes(book: ApprovalBook): ControlRoute[] {
  const decision = (kind: "approve" | "deny" | "revoke"): ControlRoute => ({
    method: "POST",
    path: new RegExp(`^/approvals/${ID}/${kind}$`),
    async handle({ params, body }) {
      const { approver, grantForMs, note } = parseBody(decisionBody, body);
      const id = params[0] ?? "";
      if (kind !== "approve" && grantForMs !== undefined)
        throw new ControlError(400, "PORTCULLIS_E_APPROVAL_INVALID", "grantForMs goes with approve only");
      const approval =
        kind === "revoke"
          ? await book.revoke(id, approver, note)
          : await book.decide(id, kind, approver, { grantForMs, note });
      return { body: { approval } };
    },
  });
  return [
    {
      method: "GET",
      path: /^\/approvals$/,
      async handle({ query }) {
        const status = query.get("status") ?? "all";
        if (status !== "all" && !(STATUSES as readonly string[]).includes(status))
          throw new ControlError(
            400,
            "PORTCULLIS_E_APPROVAL_INVALID",
            `status is one of ${STATUSES.join(", ")} or all`,
          );
        const approvals = await book.list(status === "all" ? {} : { status: status as ApprovalStatus });
        return { body: { approvals } };
      },
    },
    {
      method: "GET",
      path: new RegExp(`^/approvals/${ID}$`),
      async handle({ params }) {
        const approval = await book.get(params[0] ?? "");
        if (!approval) throw new ApprovalError("PORTCULLIS_E_APPROVAL_NOT_FOUND", params[0]);
        return { body: { approval } };
      },
    },
    decision("approve"),
    decision("deny"),
    decision("revoke"),
  ];
}

/**
 * Listens on `path`, created with mode 0600. Refuses a directory others can write to (they could
 * swap the socket), a path that is not a socket, and a socket another live gateway answers on; a
 * stale socket (nobody answers) is replaced.
 */
export async function startControlSocket(options: ControlSocketOptions): Promise<ControlSocket> {
  const { path, logger } = options;
  if (process.platform === "win32") throw new ControlSocketError("unsupported", "needs Unix domain sockets");
  const problem = socketPathProblem(path);
  if (problem) throw new ControlSocketError("path", problem);
  checkDirectory(dirname(path));
  await clearStaleSocket(path);
  const routes = [...(options.approvals ? approvalRoutes(options.approvals) : []), ...(options.routes ?? [])];
  const server = createServer(
    { requestTimeout: BODY_TIMEOUT_MS, headersTimeout: BODY_TIMEOUT_MS },
    (req, res) => void serve(routes, req, res, logger),
  );
  server.maxConnections = 64;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.once("listening", () => {
      server.off("error", reject);
      resolve();
    });
    // The socket is bound within listen(): with this umask it is never, even briefly, open to others.
    const umask = process.umask(0o177);
    try {
      server.listen(path);
    } finally {
      process.umask(umask);
    }
  }).catch((err: unknown) => {
    throw new ControlSocketError("listen", `cannot listen on ${path} (${messageOf(err)})`, err);
  });
  chmodSync(path, 0o600);
  const created = lstatSync(path);
  server.on("error", (err) => logger.error({ err }, "control socket error"));
  logger.info({ path }, "control socket listening");
  return {
    path,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
        removeIfOurs(path, created);
      }),
  };
}

/** The answer of the gateway listening on `socketPath`; errors carry the socket's error code. */
export function callControlSocket(
  socketPath: string,
  method: "GET" | "POST" | "DELETE",
  path: string,
  body?: unknown,
  timeoutMs = 15_000,
): Promise<{ status: number; body: unknown }> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const req = request(
      {
        socketPath,
        method,
        path,
        timeout: timeoutMs,
        headers: payload
          ? { "content-type": "application/json", "content-length": Buffer.byteLength(payload) }
          : {},
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (chunk: Buffer) => chunks.push(chunk));
        res.on("error", reject);
        res.on("end", () => {
          const text = Buffer.concat(chunks).toString("utf8");
          try {
            resolve({ status: res.statusCode ?? 0, body: text === "" ? {} : (JSON.parse(text) as unknown) });
          } catch {
            reject(new Error(`the control socket answered something that is not JSON (${res.statusCode})`));
          }
        });
      },
    );
    req.on("timeout", () => req.destroy(new Error(`no answer on ${socketPath} within ${timeoutMs} ms`)));
    req.on("error", reject);
    req.end(payload);
  });
}

async function serve(
  routes: readonly ControlRoute[],
  req: IncomingMessage,
  res: ServerResponse,
  logger: Logger,
): Promise<void> {
  try {
    const url = new URL(req.url ?? "/", "http://control");
    const candidates = routes.filter((r) => r.path.test(url.pathname));
    const route = candidates.find((r) => r.method === req.method);
    if (!route) {
      if (candidates.length > 0)
        throw new ControlError(405, "PORTCULLIS_E_CONTROL_METHOD", "method not allowed");
      throw new ControlError(404, "PORTCULLIS_E_CONTROL_NO_ROUTE", `no such resource: ${url.pathname}`);
    }
    const params = (route.path.exec(url.pathname) ?? []).slice(1).map(decodeParam);
    const body = req.method === "GET" ? {} : await readBody(req);
    const reply = await route.handle({ params, query: url.searchParams, body });
    send(res, reply.status ?? 200, reply.body);
  } catch (err) {
    const { status, code, message } = describeError(err);
    if (status >= 500) logger.error({ err, url: req.url }, "control request failed");
    send(res, status, { error: { code, message } });
  }
}

function decodeParam(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    throw new ControlError(400, "PORTCULLIS_E_CONTROL_BAD_PATH", `malformed path segment: ${text}`);
  }
}

async function readBody(req: IncomingMessage): Promise<unknown> {
  if (
    req.headers["content-length"] === "0" ||
    (!req.headers["content-length"] && !req.headers["transfer-encoding"])
  )
    return {};
  return readJsonBody(req, {
    maxBytes: MAX_BODY_BYTES,
    maxDepth: 8,
    maxString: MAX_BODY_BYTES,
    timeoutMs: BODY_TIMEOUT_MS,
  });
}

/** The body as the route's schema wants it, or a 400 naming the first bad field. */
export function parseBody<T>(schema: z.ZodType<T>, body: unknown, code = "PORTCULLIS_E_APPROVAL_INVALID"): T {
  const parsed = schema.safeParse(body);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const where = issue?.path.length ? `${issue.path.join(".")}: ` : "";
  throw new ControlError(400, code, `${where}${issue?.message ?? "invalid body"}`);
}

function describeError(err: unknown): { status: number; code: string; message: string } {
  if (err instanceof ControlError) return { status: err.status, code: err.code, message: err.message };
  if (err instanceof ApprovalError) return { status: err.httpStatus, code: err.code, message: err.message };
  if (err instanceof GatewayError) return { status: err.httpStatus, code: err.code, message: err.message };
  return { status: 500, code: "PORTCULLIS_E_INTERNAL", message: "internal error (see the gateway's log)" };
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    "content-type": "application/json",
    "content-length": Buffer.byteLength(text),
    "cache-control": "no-store",
  });
  res.end(text);
}

/** Refuses a directory that someone other than its owner can write to, or that another user owns. */
function checkDirectory(dir: string): void {
  let stats: Stats;
  try {
    stats = statSync(dir);
  } catch (err) {
    throw new ControlSocketError("directory", `its directory ${dir} cannot be used (${messageOf(err)})`, err);
  }
  if (!stats.isDirectory()) throw new ControlSocketError("directory", `${dir} is not a directory`);
  const uid = process.getuid?.();
  if (uid !== undefined && stats.uid !== uid && stats.uid !== 0)
    throw new ControlSocketError(
      "directory",
      `${dir} belongs to another user (uid ${stats.uid}); choose a directory of your own`,
    );
  if ((stats.mode & 0o022) !== 0)
    throw new ControlSocketError(
      "directory",
      `${dir} is writable by others (mode ${(stats.mode & 0o7777).toString(8)}), who could replace the socket; choose a directory only its owner can write to`,
    );
}

/** Removes a socket nobody answers on; refuses a live one or anything that is not a socket. */
async function clearStaleSocket(path: string): Promise<void> {
  let stats: Stats;
  try {
    stats = lstatSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return;
    throw err;
  }
  if (!stats.isSocket())
    throw new ControlSocketError(
      "not-a-socket",
      `${path} exists and is not a socket; remove it or choose another path`,
    );
  if (await answers(path)) throw new ControlSocketError("in-use", `another gateway is listening on ${path}`);
  unlinkSync(path);
}

function answers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection(path);
    const done = (live: boolean) => {
      socket.destroy();
      resolve(live);
    };
    socket.setTimeout(1_000, () => done(true));
    socket.once("connect", () => done(true));
    socket.once("error", (err: NodeJS.ErrnoException) =>
      done(err.code !== "ECONNREFUSED" && err.code !== "ENOENT"),
    );
  });
}

/** At shutdown: removes the socket unless another process has replaced it meanwhile. */
function removeIfOurs(path: string, created: Stats): void {
  try {
    const now = lstatSync(path);
    if (now.ino === created.ino && now.dev === created.dev) unlinkSync(path);
  } catch {
    // Already gone.
  }
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
