// The client transport to an MCP server that the gateway spawns: an explicit environment (nothing
// inherited unless configured), its own process group (so `npx` trees die together), stderr kept.
import { spawn, type ChildProcess } from "node:child_process";
import {
  ReadBuffer,
  serializeMessage,
  type JSONRPCMessage,
  type Transport,
} from "@modelcontextprotocol/client";

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
  private readonly readBuffer: ReadBuffer;
  private stderrPartial = "";
  private closed = false;
  private exitInfo: { code: number | null; signal: NodeJS.Signals | null } | undefined;

  private readonly options: StdioSpawnOptions;

  constructor(options: StdioSpawnOptions) {
    this.options = options;
    this.readBuffer = new ReadBuffer({ maxBufferSize: options.maxMessageBytes ?? 16 * 1024 * 1024 });
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
    try {
      this.readBuffer.append(chunk);
    } catch (err) {
      this.onerror?.(err instanceof Error ? err : new Error(String(err)));
      void this.close();
      return;
    }
    for (;;) {
      let message: JSONRPCMessage | null;
      try {
        message = this.readBuffer.readMessage();
      } catch (err) {
        this.options.onGarbage(err instanceof Error ? err.message.slice(0, 200) : "invalid JSON-RPC message");
        continue;
      }
      if (message === null) return;
      // The SDK handles notifications a microtask later than responses; delivering every message
      // in its own microtask keeps a progress notification ahead of the result that follows it.
      const delivered = message;
      queueMicrotask(() => this.onmessage?.(delivered));
    }
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
    this.readBuffer.clear();
    this.onclose?.();
  }
}
