// A real PostgreSQL for the tests: the server named by PORTCULLIS_TEST_POSTGRES_URL (CI starts one),
// else a throwaway cluster of this machine's Debian binaries; else the tests are skipped, saying why
// (or fail, when PORTCULLIS_TEST_POSTGRES_REQUIRED=1). Every test gets a fresh database of its own.
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmodSync, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { createServer, connect, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Client } from "pg";

export interface TestPostgres {
  /** Why the PostgreSQL tests are skipped; undefined when a server is available. */
  readonly skip: string | undefined;
  /** The URL of a new, empty database. */
  freshDatabase(): Promise<string>;
  /** The URL of a new database copied from `source` (which must have no open connections). */
  copyDatabase(source: string): Promise<string>;
  /** Runs one statement as the administrator in the database of `url`. */
  sql(url: string, text: string, values?: unknown[]): Promise<Record<string, unknown>[]>;
}

let shared: Promise<TestPostgres> | undefined;

export function testPostgres(): Promise<TestPostgres> {
  shared ??= locate();
  return shared;
}

async function locate(): Promise<TestPostgres> {
  const given = process.env.PORTCULLIS_TEST_POSTGRES_URL;
  if (given) return serverAt(given);
  const binaries = debianBinaries();
  let reason =
    "PostgreSQL tests skipped: PORTCULLIS_TEST_POSTGRES_URL is unset and no /usr/lib/postgresql/*/bin/initdb exists (apt-get install postgresql)";
  if (binaries) {
    try {
      return serverAt(await startThrowawayCluster(binaries));
    } catch (err) {
      reason = `PostgreSQL tests skipped: could not start a throwaway cluster (${err instanceof Error ? err.message : String(err)})`;
    }
  }
  if (process.env.PORTCULLIS_TEST_POSTGRES_REQUIRED === "1")
    throw new Error(`${reason}; PORTCULLIS_TEST_POSTGRES_REQUIRED=1 makes this a failure`);
  return {
    skip: reason,
    freshDatabase: () => Promise.reject(new Error(reason)),
    copyDatabase: () => Promise.reject(new Error(reason)),
    sql: () => Promise.reject(new Error(reason)),
  };
}

function serverAt(adminUrl: string): TestPostgres {
  const sql = async (url: string, text: string, values: unknown[] = []) => {
    const client = new Client({ connectionString: url, connectionTimeoutMillis: 10_000 });
    await client.connect();
    try {
      return (await client.query(text, values)).rows as Record<string, unknown>[];
    } finally {
      await client.end();
    }
  };
  const create = async (template?: string) => {
    const name = `portcullis_test_${randomBytes(6).toString("hex")}`;
    const from = template ? ` TEMPLATE "${new URL(template).pathname.slice(1)}"` : "";
    await sql(adminUrl, `CREATE DATABASE "${name}"${from}`);
    const url = new URL(adminUrl);
    url.pathname = `/${name}`;
    return url.toString();
  };
  return { skip: undefined, freshDatabase: () => create(), copyDatabase: (source) => create(source), sql };
}

function debianBinaries(): string | undefined {
  const root = "/usr/lib/postgresql";
  if (!existsSync(root)) return undefined;
  const versions = readdirSync(root)
    .filter((v) => existsSync(join(root, v, "bin/initdb")))
    .sort((a, b) => Number(b) - Number(a));
  return versions[0] === undefined ? undefined : join(root, versions[0], "bin");
}

/** initdb + pg_ctl start on a free loopback port, as the postgres user when we are root. */
async function startThrowawayCluster(bin: string): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), "portcullis-pg-"));
  const data = join(dir, "data");
  const password = randomBytes(12).toString("hex");
  writeFileSync(join(dir, "pwfile"), `${password}\n`);
  const asRoot = process.getuid?.() === 0;
  if (asRoot) {
    const owned = spawnSync("chown", ["-R", "postgres:postgres", dir]);
    if (owned.status !== 0) throw new Error(`chown postgres ${dir} failed: ${String(owned.stderr)}`);
  } else chmodSync(dir, 0o700);
  const run = (command: string, args: string[]) => {
    const argv = asRoot ? ["-u", "postgres", "--", join(bin, command), ...args] : args;
    const done = spawnSync(asRoot ? "runuser" : join(bin, command), argv, {
      encoding: "utf8",
      timeout: 60_000,
    });
    if (done.status !== 0) throw new Error(`${command} failed: ${done.stderr || done.stdout}`);
  };
  run("initdb", [
    "-D",
    data,
    "-U",
    "postgres",
    "--auth-local=trust",
    "--auth-host=scram-sha-256",
    `--pwfile=${join(dir, "pwfile")}`,
    "--no-sync",
    "-E",
    "UTF8",
    "--locale=C",
  ]);
  const port = await freePort();
  const options = `-c listen_addresses=127.0.0.1 -p ${port} -k ${dir} -c fsync=off -c max_connections=200`;
  run("pg_ctl", ["-D", data, "-l", join(dir, "server.log"), "-w", "-t", "60", "-o", options, "start"]);
  const stop = () => {
    spawnSync(asRoot ? "runuser" : join(bin, "pg_ctl"), [
      ...(asRoot ? ["-u", "postgres", "--", join(bin, "pg_ctl")] : []),
      "-D",
      data,
      "-m",
      "immediate",
      "stop",
    ]);
    rmSync(dir, { recursive: true, force: true });
  };
  process.once("exit", stop);
  // A test run that is interrupted or timed out must not leave a server behind.
  for (const signal of ["SIGINT", "SIGTERM"] as const)
    process.once(signal, () => {
      stop();
      process.exit(128 + (signal === "SIGINT" ? 2 : 15));
    });
  return `postgres://postgres:${password}@127.0.0.1:${port}/postgres`;
}

/** A loopback port that nothing listens on right now. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === "string") throw new Error("no port");
  return address.port;
}

/**
 * A TCP relay on a fixed loopback port to the server of `url`: the tests open it to make PostgreSQL
 * reachable and close it (cutting every connection) to make it unreachable, without touching the server.
 */
export class TcpRelay {
  readonly port: number;
  private readonly target: { host: string; port: number };
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();

  constructor(port: number, url: string) {
    this.port = port;
    const parsed = new URL(url);
    this.target = { host: parsed.hostname, port: Number(parsed.port || 5432) };
  }

  /** The URL of `url`'s database, reached through this relay. */
  urlFor(url: string): string {
    const parsed = new URL(url);
    parsed.hostname = "127.0.0.1";
    parsed.port = String(this.port);
    return parsed.toString();
  }

  async open(): Promise<void> {
    const server = createServer((inbound) => {
      const outbound = connect(this.target.port, this.target.host);
      for (const socket of [inbound, outbound]) {
        this.sockets.add(socket);
        socket.on("close", () => this.sockets.delete(socket));
        socket.on("error", () => {
          inbound.destroy();
          outbound.destroy();
        });
      }
      inbound.pipe(outbound).pipe(inbound);
    });
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(this.port, "127.0.0.1", resolve);
    });
    this.server = server;
  }

  async close(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    for (const socket of this.sockets) socket.destroy();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
