// A real Redis for the tests: a throwaway `redis-server` of this machine's Debian package on a free
// loopback port, with a password, no persistence and its own folder. When the binary is missing the
// tests are skipped, saying why, or fail when PORTCULLIS_TEST_REDIS_REQUIRED=1 (CI sets it).
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { connect, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface TestRedis {
  readonly port: number;
  readonly password: string;
  /** `redis://:password@127.0.0.1:port` */
  readonly url: string;
  /** Stops the server (SIGTERM, then SIGKILL); `start()` brings it back on the same port. */
  stop(): Promise<void>;
  /** Kills the server at once, as a crash would. */
  kill(): Promise<void>;
  start(): Promise<void>;
  /** Stops the server for good and removes its folder. */
  close(): Promise<void>;
}

/** Why Redis tests are skipped here; undefined when a server can be started. */
export function redisSkipReason(): string | undefined {
  const found = spawnSync("redis-server", ["--version"], { encoding: "utf8" });
  if (found.status === 0) return undefined;
  const reason = "Redis tests skipped: redis-server is not installed (apt-get install redis-server)";
  if (process.env.PORTCULLIS_TEST_REDIS_REQUIRED === "1")
    throw new Error(reason.replace("skipped", "required"));
  return reason;
}

export async function startTestRedis(): Promise<TestRedis> {
  const port = await freePort();
  const password = randomBytes(12).toString("hex");
  const dir = mkdtempSync(join(tmpdir(), "portcullis-redis-"));
  let child: ChildProcess | undefined;

  const start = async (): Promise<void> => {
    const args = [
      "--port",
      String(port),
      "--bind",
      "127.0.0.1",
      "--requirepass",
      password,
      "--save",
      "",
      "--appendonly",
      "no",
      "--dir",
      dir,
      "--loglevel",
      "warning",
    ];
    const started = spawn("redis-server", args, { stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    started.stderr?.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    child = started;
    await waitForPort(port, started, () => stderr);
  };

  const stopWith = async (signal: NodeJS.Signals): Promise<void> => {
    const running = child;
    child = undefined;
    if (!running || running.exitCode !== null) return;
    const exited = new Promise<void>((resolve) => running.once("exit", () => resolve()));
    running.kill(signal);
    const timer = setTimeout(() => running.kill("SIGKILL"), 3000);
    await exited;
    clearTimeout(timer);
  };

  await start();
  return {
    port,
    password,
    url: `redis://:${password}@127.0.0.1:${port}`,
    start,
    stop: () => stopWith("SIGTERM"),
    kill: () => stopWith("SIGKILL"),
    async close() {
      await stopWith("SIGTERM");
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => resolve(typeof address === "object" && address ? address.port : 0));
    });
  });
}

async function waitForPort(port: number, child: ChildProcess, stderr: () => string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`redis-server exited: ${stderr().trim()}`);
    const open = await new Promise<boolean>((resolve) => {
      const socket = connect(port, "127.0.0.1");
      socket.once("connect", () => {
        socket.destroy();
        resolve(true);
      });
      socket.once("error", () => resolve(false));
    });
    if (open) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  child.kill("SIGKILL");
  throw new Error(`redis-server did not listen on ${port} within 10 s: ${stderr().trim()}`);
}
