// Gateways sharing a PostgreSQL audit store: two nodes write their own chains at once and verify
// together; tampering with one node's chain is named while the other stays intact; an unreachable
// database refuses tool calls without stopping the gateway, which recovers when it is back; and a
// gateway killed under load loses no record of an answer it released.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { callUntilKilled, loadTestLimits } from "../helpers/audit.ts";
import { Client, StreamableHTTPClientTransport } from "@modelcontextprotocol/client";
import {
  cliPath,
  fixture,
  nodeUpstream,
  startGateway,
  type RunningGateway,
  permitAll,
} from "../helpers/gatewayProcess.ts";
import { freePort, TcpRelay, testPostgres } from "../helpers/postgres.ts";

const pg = await testPostgres();

const probe = nodeUpstream(
  "probe",
  fixture("session-probe-server.ts"),
  [],
  "    protocol: 2025-11-25\n    isolation: shared\n",
);

/** A gateway config whose audit trail goes to the database of `url` (its password from the env). */
function configFor(url: string, node: string, more = ""): { yaml: string; env: NodeJS.ProcessEnv } {
  const parsed = new URL(url);
  const password = decodeURIComponent(parsed.password);
  parsed.password = "PASSWORD";
  const withRef = parsed.toString().replace("PASSWORD", "${env:AUDIT_DB_PASSWORD}");
  return {
    yaml: `version: 1
${permitAll}
audit:
  store: postgres
  node: ${node}
  checkpointEvery: 5
  postgres:
    url: "${withRef}"
    connectTimeoutMs: 1000
    statementTimeoutMs: 2000
${more}upstreams:
${probe}`,
    env: { AUDIT_DB_PASSWORD: password },
  };
}

async function startNode(url: string, node: string, more = ""): Promise<RunningGateway> {
  const { yaml, env } = configFor(url, node, more);
  return startGateway(yaml, { env });
}

function cli(env: NodeJS.ProcessEnv, ...args: string[]) {
  return spawnSync(process.execPath, [cliPath, ...args], {
    encoding: "utf8",
    env: { ...process.env, ...env },
  });
}

async function connect(url: string): Promise<Client> {
  const client = new Client({ name: "audit-pg-test", version: "1" });
  await client.connect(new StreamableHTTPClientTransport(new URL(url)));
  return client;
}

/** The config file of a (stopped) gateway, with its env, to run `portcullis audit` against. */
function auditCli(gateway: RunningGateway, url: string) {
  const { env } = configFor(url, "cli");
  return (...args: string[]) => cli(env, "audit", ...args, "--config", gateway.configPath);
}

describe("two gateway nodes on one PostgreSQL audit store", { skip: pg.skip }, () => {
  let url: string;
  let nodeA: RunningGateway;
  let nodeB: RunningGateway;
  before(async () => {
    url = await pg.freshDatabase();
    [nodeA, nodeB] = await Promise.all([startNode(url, "gw-a"), startNode(url, "gw-b")]);
  });
  after(async () => Promise.allSettled([nodeA?.stop(), nodeB?.stop()]));

  it("records both nodes' calls in their own chains, which verify together", async () => {
    const clients = await Promise.all([nodeA, nodeB, nodeA, nodeB].map((g) => connect(g.url)));
    await Promise.all(
      clients.map(async (client, c) => {
        for (let i = 0; i < 12; i++)
          await client.callTool({ name: "probe__remember", arguments: { value: `c${c}-${i}` } });
      }),
    );
    await Promise.all(clients.map((c) => c.close()));
    await Promise.all([nodeA.stop(), nodeB.stop()]);
    assert.doesNotMatch(
      JSON.stringify([...nodeA.logs, ...nodeB.logs]),
      new RegExp(new URL(url).password),
      "the database password is never logged",
    );

    const audit = auditCli(nodeA, url);
    const verify = audit("verify");
    assert.equal(verify.status, 0, verify.stdout + verify.stderr);
    assert.match(verify.stdout, /2 node\(s\)/);
    assert.match(verify.stdout, /node gw-a: \d+ record\(s\).*: OK/);
    assert.match(verify.stdout, /node gw-b: \d+ record\(s\).*: OK/);
    assert.match(verify.stdout, /OK: the chain is intact/);
    assert.doesNotMatch(verify.stdout, new RegExp(new URL(url).password));

    const query = audit("query", "--tool", "probe__remember", "--json", "--limit", "1000");
    const rows = query.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.equal(rows.length, 48);
    assert.deepEqual(new Set(rows.map((r) => r.node)), new Set(["gw-a", "gw-b"]));
    const times = rows.map((r) => String(r.time));
    assert.deepEqual(times, [...times].sort(), "records of all nodes, ordered by time");

    const exported = audit("export", "--format", "ocsf").stdout.trim().split("\n");
    assert.ok(exported.length >= 48);
    assert.equal((JSON.parse(exported[0]!) as Record<string, unknown>).class_uid, 6003);
    const keys = audit("public-key");
    assert.equal(keys.stdout.match(/BEGIN PUBLIC KEY/g)?.length, 2, "each node signs with its own key");
    const keyFile = join(nodeA.dir, "audit-public-keys.pem");
    writeFileSync(keyFile, keys.stdout);
    const pinned = audit("verify", "--public-key", keyFile);
    assert.equal(pinned.status, 0, pinned.stdout + pinned.stderr);
    assert.doesNotMatch(pinned.stdout, /read from the store itself/);
  });

  for (const [what, tamper, seq, reason] of [
    [
      "an edited body",
      "UPDATE records SET body = replace(body, '\"allow\"', '\"deny\"') WHERE node = 'gw-b' AND seq = 4",
      4,
      /edited/,
    ],
    ["a deleted row", "DELETE FROM records WHERE node = 'gw-b' AND seq = 6", 7, /missing/],
    [
      "a forged checkpoint",
      "UPDATE checkpoints SET time = '2020-01-01T00:00:00.000Z' WHERE node = 'gw-b' AND seq = 10",
      10,
      /invalid signature/,
    ],
  ] as const) {
    it(`names the node and the first bad record after ${what}, and reports the other node intact`, async () => {
      const copy = await pg.copyDatabase(url);
      await pg.sql(copy, tamper);
      const verify = cli(configFor(copy, "cli").env, "audit", "verify", "--config", configCopy(nodeA, copy));
      assert.equal(verify.status, 1, verify.stdout + verify.stderr);
      assert.match(verify.stdout, new RegExp(`FAILED at record ${seq} of node gw-b: .*${reason.source}`));
      assert.match(verify.stdout, /node gw-a: .*: OK/);
    });
  }
});

/** A config like `gateway`'s, pointing at another database. */
function configCopy(gateway: RunningGateway, url: string): string {
  const path = `${gateway.configPath}.${createHash("sha256").update(url).digest("hex").slice(0, 8)}.yaml`;
  writeFileSync(path, configFor(url, "cli").yaml);
  return path;
}

describe("fail-secure while PostgreSQL is unreachable", { skip: pg.skip }, () => {
  it("starts, refuses tool calls, and serves again once the database is back", async () => {
    const url = await pg.freshDatabase();
    const relay = new TcpRelay(await freePort(), url);
    const gateway = await startNode(relay.urlFor(url), "gw-away");
    try {
      await gateway.waitForLog((l) => String(l.msg).includes("cannot be written"));
      const client = await connect(gateway.url);
      await assert.rejects(
        client.callTool({ name: "probe__whoami", arguments: {} }),
        /audit trail cannot be written/,
      );
      assert.equal((await fetch(`${gateway.base}/healthz`)).status, 200, "the gateway keeps running");

      await relay.open();
      await gateway.waitForLog((l) => String(l.msg).includes("writable"));
      await client.callTool({ name: "probe__whoami", arguments: {} });

      // The database goes away while serving: the call whose record fails is withheld, later ones
      // are refused, and nothing hangs beyond the timeouts.
      await relay.close();
      await assert.rejects(
        client.callTool({ name: "probe__whoami", arguments: {} }, { timeout: 20_000 }),
        /could not be recorded|audit/i,
      );
      await assert.rejects(
        client.callTool({ name: "probe__whoami", arguments: {} }),
        /audit trail cannot be written/,
      );
      await relay.open();
      const deadline = Date.now() + 20_000;
      for (;;) {
        const ok = await client.callTool({ name: "probe__whoami", arguments: {} }).then(
          () => true,
          () => false,
        );
        if (ok) break;
        assert.ok(Date.now() < deadline, "tool calls are served again");
        await new Promise((r) => setTimeout(r, 200));
      }
      // Backends terminated under the gateway: it reconnects on its own.
      await pg.sql(
        url,
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()",
      );
      await new Promise((r) => setTimeout(r, 200));
      for (let i = 0; ; i++) {
        const ok = await client.callTool({ name: "probe__whoami", arguments: {} }).then(
          () => true,
          () => false,
        );
        if (ok) break;
        assert.ok(i < 50, "served again after pg_terminate_backend");
        await new Promise((r) => setTimeout(r, 200));
      }
      await client.close();
      assert.equal(gateway.process.exitCode, null, "the gateway never stopped");
    } finally {
      await gateway.stop();
      await relay.close();
    }
    const verify = cli(configFor(url, "cli").env, "audit", "verify", "--config", configCopy(gateway, url));
    assert.equal(verify.status, 0, verify.stdout + verify.stderr);
  });
});

describe("crash safety with PostgreSQL", { skip: pg.skip }, () => {
  it("keeps the record of every answer released before a SIGKILL (strict), and the chain verifies", async () => {
    const url = await pg.freshDatabase();
    const gateway = await startNode(url, "gw-crash", `${loadTestLimits}\n`);
    const clients = await Promise.all([1, 2, 3, 4].map(() => connect(gateway.url)));
    const released = await callUntilKilled(gateway, clients);

    const verify = auditCli(gateway, url)("verify");
    assert.equal(verify.status, 0, verify.stdout + verify.stderr);
    const stored = new Set(
      (
        await pg.sql(
          url,
          "SELECT body::jsonb -> 'arguments' ->> 'sha256' AS h FROM records WHERE node = 'gw-crash'",
        )
      ).map((r) => r.h),
    );
    const missing = released.filter((h) => !stored.has(h));
    assert.equal(
      missing.length,
      0,
      `${missing.length} of ${released.length} released answers have no record`,
    );
  });
});

describe("PostgreSQL store configuration", () => {
  it("names the missing key when the postgres store has no url", () => {
    const dir = mkdtempSync(join(tmpdir(), "portcullis-pgconfig-"));
    const path = join(dir, "portcullis.yaml");
    writeFileSync(path, `version: 1\n${permitAll}\naudit:\n  store: postgres\nupstreams:\n${probe}`);
    const result = spawnSync(process.execPath, [cliPath, "validate", "--config", path], { encoding: "utf8" });
    assert.equal(result.status, 1);
    assert.match(result.stderr, /audit\.postgres\.url/);
    assert.match(result.stderr, /audit\.store is "postgres": audit\.postgres\.url is required/);
  });
});
