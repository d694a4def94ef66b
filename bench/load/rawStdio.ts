// The light load generator over stdio: spawns the echo server itself and writes pre-built JSON-RPC
// lines to its stdin, matching answers by id; the baseline every HTTP path is compared with.
import { spawn } from "node:child_process";
import { checkEcho, CLIENT_INFO, modernEnvelope, type CallSpec, type LoadClient } from "./types.ts";

type Waiter = { resolve: (message: Record<string, unknown>) => void; reject: (err: Error) => void };

export async function openRawStdio(spec: CallSpec): Promise<LoadClient> {
  const { endpoint } = spec;
  if (endpoint.kind !== "stdio") throw new Error("openRawStdio needs a stdio endpoint");
  const child = spawn(endpoint.command, [...endpoint.args], { stdio: ["pipe", "pipe", "ignore"] });
  const waiting = new Map<number, Waiter>();
  let partial = "";
  let gone: Error | undefined;
  child.stdout.setEncoding("utf8");
  child.stdout.on("data", (text: string) => {
    const lines = (partial + text).split("\n");
    partial = lines.pop() ?? "";
    for (const line of lines) {
      if (line.length === 0) continue;
      const message = JSON.parse(line) as Record<string, unknown>;
      const waiter = typeof message.id === "number" ? waiting.get(message.id) : undefined;
      if (!waiter) continue;
      waiting.delete(message.id as number);
      waiter.resolve(message);
    }
  });
  child.stdin.on("error", () => undefined); // reported through "exit"
  child.once("exit", (code) => {
    gone = new Error(`echo server exited (${code})`);
    for (const waiter of waiting.values()) waiter.reject(gone);
    waiting.clear();
  });
  let nextId = 1;
  const send = (id: number, line: string) =>
    new Promise<Record<string, unknown>>((resolve, reject) => {
      if (gone) return reject(gone);
      waiting.set(id, { resolve, reject });
      child.stdin.write(line);
    });

  if (spec.revision === "2025-11-25") {
    const init = { protocolVersion: spec.revision, capabilities: {}, clientInfo: CLIENT_INFO };
    const id = nextId++;
    const answer = await send(
      id,
      `${JSON.stringify({ jsonrpc: "2.0", id, method: "initialize", params: init })}\n`,
    );
    if (!("result" in answer)) throw new Error(`initialize failed: ${JSON.stringify(answer)}`);
    child.stdin.write('{"jsonrpc":"2.0","method":"notifications/initialized"}\n');
  }
  const params: Record<string, unknown> = { name: spec.tool, arguments: { text: spec.payload } };
  if (spec.revision === "2026-07-28") params._meta = modernEnvelope(`${CLIENT_INFO.name}-raw`);
  const prefix = '{"jsonrpc":"2.0","id":';
  const suffix = `,"method":"tools/call","params":${JSON.stringify(params)}}\n`;
  let verified = false;
  return {
    serverPid: child.pid,
    async call() {
      const id = nextId++;
      const answer = await send(id, prefix + String(id) + suffix);
      if (!verified || !("result" in answer)) {
        checkEcho(answer, spec.payload);
        verified = true;
      }
    },
    async close() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
      child.stdin.end();
      const timer = setTimeout(() => child.kill("SIGKILL"), 2000);
      await exited;
      clearTimeout(timer);
    },
  };
}
