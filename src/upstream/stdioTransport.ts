// The client transport to an MCP server that the gateway spawns: an explicit environment (nothing
// inherited unless configured), its own process group (so `npx` trees die together), stderr kept.
import { spawn, type ChildProcess } from "node:child_process";
import { randomUUID } from "node:crypto";
import {
  deserializeMessage,
  serializeMessage,
  type JSONRPCMessage,
  type Transport,
} from "@modelcontextprotocol/client";

/**
 * Marks the error answer the transport makes up for a response it could not read: an upstream
 * cannot forge the mark (it is new in every gateway process), so only real garbage becomes
 * PORTCULLIS_E_UPSTREAM_PROTOCOL.
 */
const MALFORMED_MARK = `portcullis-malformed-${randomUUID()}`;

/** True for the error data of a response the upstream sent malformed (see `MALFORMED_MARK`). */
export function isMalformedResponse(data: unknown): boolean {
  return typeof data === "object" && data !== null && (data as { mark?: unknown }).mark === MALFORMED_MARK;
}

export interface StdioSpawnOptions {
  readonly command: string;
  readonly args: readonly string[];
  readonly cwd: string;
  readonly env: Readonly<Record<string, string>>;
  /** Called for every stderr line of the child. */
  readonly onStderrLine: (line: string) => void;
  /** Called for every stdout line that is not a JSON-RPC message (counted, never fatal). */
  readonly onGarbage: (reason: string) => void;
  readonly maxMessageBytes?: number;
}

export class SpawnedStdioTransport implements Transport {
  onclose?: (() => void) | undefined;
  onerror?: ((error: Error) => void) | undefined;
  onmessage?: ((message: JSONRPCMessage) => void) | undefined;

  private child: ChildProcess | undefined;
  private stdoutChunks: Buffer[] = [];
  private stdoutBytes = 0;
  private stderrPartial = "";
  private closed = false;
  private exitInfo: { code: number | null; signal: NodeJS.Signals | null } | undefined;

  private readonly options: StdioSpawnOptions;

  constructor(options: StdioSpawnOptions) {
    this.options = options;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** How the process ended, once it has. */
  get exit(): { code: number | null; signal: NodeJS.Signals | null } | undefined {
    return this.exitInfo;
  }

  start(): Promise<void> {
    if (this.child) return Promise.reject(new Error("transport already started"));
    return new Promise((resolve, reject) => {
      const child = spawn(this.options.command, [...this.options.args], {
        cwd: this.options.cwd,
        env: { ...this.options.env },
        stdio: ["pipe", "pipe", "pipe"],
        shell: false,
        detached: true,
        windowsHide: true,
      });
      this.child = child;
      child.once("error", (err) => {
        reject(err);
        this.onerror?.(err);
        this.finish();
      });
      child.once("spawn", () => resolve());
      child.once("exit", (code, signal) => {
        this.exitInfo = { code, signal };
      });
      child.once("close", () => this.finish());
      child.stdin?.on("error", (err) => this.onerror?.(err));
      child.stdout?.on("data", (chunk: Buffer) => this.onStdout(chunk));
      child.stderr?.setEncoding("utf8");
      child.stderr?.on("data", (text: string) => this.onStderr(text));
    });
  }

  async send(message: JSONRPCMessage): Promise<void> {
    const stdin = this.child?.stdin;
    if (!stdin || this.closed) throw new Error("upstream process is not running");
    const line = serializeMessage(message);
    await new Promise<void>((resolve, reject) => {
      if (stdin.write(line)) resolve();
      else stdin.once("drain", resolve).once("error", reject);
    });
  }

  async close(): Promise<void> {
    const child = this.child;
    if (!child || this.closed) return;
    const exited = new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) resolve();
      else child.once("close", () => resolve());
    });
    child.stdin?.end();
    this.signalGroup("SIGTERM");
    const timer = setTimeout(() => this.signalGroup("SIGKILL"), 2000);
    timer.unref();
    await exited;
    clearTimeout(timer);
  }

  private signalGroup(signal: NodeJS.Signals): void {
    const pid = this.child?.pid;
    if (pid === undefined) return;
    try {
      process.kill(-pid, signal);
    } catch {
      try {
        this.child?.kill(signal);
      } catch {
        // already gone
      }
    }
  }

  private onStdout(chunk: Buffer): void {
    let start = 0;
    for (let end = chunk.indexOf(10); end !== -1; end = chunk.indexOf(10, start)) {
      const line =
        this.stdoutChunks.length === 0
          ? chunk.toString("utf8", start, end)
          : Buffer.concat([...this.stdoutChunks, chunk.subarray(start, end)]).toString("utf8");
      this.stdoutChunks = [];
      this.stdoutBytes = 0;
      start = end + 1;
      this.onLine(line.replace(/\r$/, ""));
    }
    if (start === chunk.length) return;
    this.stdoutBytes += chunk.length - start;
    if (this.stdoutBytes > (this.options.maxMessageBytes ?? 16 * 1024 * 1024)) {
      this.stdoutChunks = [];
      this.onerror?.(new Error("upstream message exceeds the size limit"));
      void this.close();
      return;
    }
    this.stdoutChunks.push(chunk.subarray(start));
  }

  private onLine(line: string): void {
    if (line.trim().length === 0) return;
    let message: JSONRPCMessage;
    try {
      message = deserializeMessage(line);
    } catch (err) {
      const id = responseId(line);
      if (id === undefined) {
        this.options.onGarbage(err instanceof SyntaxError ? "not JSON" : "not a JSON-RPC message");
        return;
      }
      // A response to one of our requests, unreadable: that request fails now, not at its deadline.
      this.options.onGarbage(`malformed response to request ${JSON.stringify(id)}`);
      message = {
        jsonrpc: "2.0",
        id,
        error: { code: -32603, message: "malformed response", data: { mark: MALFORMED_MARK } },
      };
    }
    // The SDK handles notifications a microtask later than responses; delivering every message
    // in its own microtask keeps a progress notification ahead of the result that follows it.
    queueMicrotask(() => this.onmessage?.(message));
  }

  private onStderr(text: string): void {
    const lines = (this.stderrPartial + text).split("\n");
    this.stderrPartial = lines.pop() ?? "";
    for (const line of lines) if (line.length > 0) this.options.onStderrLine(line.slice(0, 4096));
  }

  private finish(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.stderrPartial) this.options.onStderrLine(this.stderrPartial);
    this.stderrPartial = "";
    this.stdoutChunks = [];
    this.onclose?.();
  }
}

/** The id of a line that is a JSON object shaped like a response (an id, no method), if it is one. */
function responseId(line: string): string | number | undefined {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (typeof value !== "object" || value === null || Array.isArray(value) || "method" in value)
    return undefined;
  const id = (value as { id?: unknown }).id;
  return typeof id === "string" || typeof id === "number" ? id : undefined;
}
