// The PostgreSQL audit store against a real server: one chain per node under concurrent writers,
// group commit, no fork when two processes claim one node, recovery after the database was away,
// and tamper evidence per node; and its settings (validation, TLS, reload), which need no server.
import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { after, describe, it } from "node:test";
import { pino } from "pino";
import { describePostgres, postgresPoolConfig } from "../../src/audit/postgresConnection.ts";
import { PostgresAuditReader } from "../../src/audit/postgresReader.ts";
import { PostgresAuditStore, type PostgresStoreOptions } from "../../src/audit/postgresStore.ts";
import type { PostgresAuditSettings } from "../../src/audit/postgresConnection.ts";
import { auditBody } from "../../src/audit/record.ts";
import { loadSigningKey } from "../../src/audit/signing.ts";
import { verifyAudit } from "../../src/audit/verify.ts";
import { parseConfigText } from "../../src/config/load.ts";
import { planReload } from "../../src/config/reloadPlan.ts";
import type { ConfigError } from "../../src/errors.ts";
import { sampleOutcome } from "../helpers/audit.ts";
import { freePort, TcpRelay, testPostgres } from "../helpers/postgres.ts";

const pg = await testPostgres();
const key = loadSigningKey(undefined, join(mkdtempSync(join(tmpdir(), "portcullis-pgkey-")), "audit.key"));

const outcome = sampleOutcome;

function settings(url: string): PostgresAuditSettings {
  return {
    url,
    poolSize: 2,
    connectTimeoutMs: 2_000,
    statementTimeoutMs: 2_000,
    tls: { mode: "auto" },
  };
}

/** A logger whose lines the test can read. */
function capturingLogger() {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
      done();
    },
  });
  return { logger: pino({ level: "debug" }, stream), lines };
}

const stores: PostgresAuditStore[] = [];
async function openStore(url: string, node: string, more: Partial<PostgresStoreOptions> = {}) {
  const store = await PostgresAuditStore.open({
    settings: settings(url),
    node,
    durability: "strict",
    batchMs: 5,
    checkpointEvery: 10,
    key,
    logger: pino({ level: "silent" }),
    ...more,
  });
  stores.push(store);
  return store;
}

/** A strict append, as a promise. */
async function append(store: PostgresAuditStore, i: number, node: string): Promise<void> {
  await store.append(auditBody(outcome(i), node, undefined));
}

async function verify(url: string) {
  const reader = await PostgresAuditReader.open(settings(url));
  try {
    return await verifyAudit(reader, key.publicKeyPem);
  } finally {
    await reader.close();
  }
}

async function until(condition: () => boolean, what: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe("PostgreSQL audit store", { skip: pg.skip }, () => {
  after(async () => {
    await Promise.allSettled(stores.map((s) => s.close()));
  });

  it("keeps one unbroken chain per node while two nodes write at once", async () => {
    const url = await pg.freshDatabase();
    const [a, b] = await Promise.all([openStore(url, "node-a"), openStore(url, "node-b")]);
    await Promise.all(
      Array.from({ length: 120 }, (_, i) => append(i % 2 ? a : b, i, i % 2 ? "node-a" : "node-b")),
    );
    await Promise.all([a.close(), b.close()]);
    const report = await verify(url);
    assert.equal(report.ok, true, JSON.stringify(report));
    assert.deepEqual(
      report.nodes.map((n) => [n.node, n.records, n.unsignedTail]),
      [
        ["node-a", 60, 0],
        ["node-b", 60, 0],
      ],
    );
  });

  it("commits a strict append before it resolves, and groups appends that arrive together", async () => {
    const url = await pg.freshDatabase();
    const store = await openStore(url, "grouped", { checkpointEvery: 1000 });
    await store.append(auditBody(outcome(0), "grouped", undefined));
    const seen = await pg.sql(url, "SELECT count(*)::int AS n FROM records");
    assert.equal(seen[0]?.n, 1, "the record is visible to another connection once append resolves");
    await Promise.all(Array.from({ length: 500 }, (_, i) => append(store, i + 1, "grouped")));
    await store.close(); // its connections end, which publishes their statistics
    const commits = await pg.sql(
      url,
      "SELECT xact_commit::int AS n FROM pg_stat_database WHERE datname = current_database()",
    );
    assert.ok(Number(commits[0]?.n) < 100, `500 appends took ${String(commits[0]?.n)} commits`);
    const report = await verify(url);
    assert.equal(report.ok, true, JSON.stringify(report));
    assert.equal(report.records, 501);
  });

  it("commits batched appends within batchMs, and at close", async () => {
    const url = await pg.freshDatabase();
    const store = await openStore(url, "batched", { durability: "batched", batchMs: 20 });
    for (let i = 0; i < 30; i++)
      assert.equal(store.append(auditBody(outcome(i), "batched", undefined)), undefined);
    await store.flush();
    assert.equal((await pg.sql(url, "SELECT count(*)::int AS n FROM records"))[0]?.n, 30);
    void store.append(auditBody(outcome(31), "batched", undefined));
    await store.close();
    const report = await verify(url);
    assert.equal(report.ok, true, JSON.stringify(report));
    assert.equal(report.records, 31);
    assert.equal(report.unsignedTail, 0);
  });

  it("fails loudly instead of forking when two processes claim one node, and resumes from the real head", async () => {
    const url = await pg.freshDatabase();
    const first = await openStore(url, "twin");
    const { logger, lines } = capturingLogger();
    const second = await openStore(url, "twin", { logger });
    await first.append(auditBody(outcome(1), "twin", undefined));
    await assert.rejects(
      async () => second.append(auditBody(outcome(2), "twin", undefined)),
      /could not be written/,
    );
    assert.equal(second.healthy, false);
    const complaint = lines.find((l) => String(l.msg).includes('audit chain of node "twin"'));
    assert.ok(complaint, "the log names the node");
    assert.equal(complaint.level, 50);
    await until(() => second.healthy, "the second store has re-read the head");
    await second.append(auditBody(outcome(3), "twin", undefined));
    await Promise.all([first.close(), second.close()]);
    const report = await verify(url);
    assert.equal(report.ok, true, JSON.stringify(report));
    assert.equal(report.records, 2, "one chain: 1 by the first, 2 by the second after re-reading");
  });

  it("starts without a reachable database, refuses writes, and recovers when it comes", async () => {
    const url = await pg.freshDatabase();
    const relay = new TcpRelay(await freePort(), url);
    const { logger, lines } = capturingLogger();
    const store = await openStore(relay.urlFor(url), "late", { logger });
    try {
      assert.equal(store.healthy, false);
      assert.throws(() => store.append(auditBody(outcome(1), "late", undefined)), /cannot be written/);
      const line = lines.find((l) => String(l.msg).includes("cannot be written"));
      assert.ok(line, "a clear log line");
      assert.doesNotMatch(JSON.stringify(lines), new RegExp(new URL(url).password), "no password in logs");
      await relay.open();
      await until(() => store.healthy, "the store reconnects");
      await store.append(auditBody(outcome(2), "late", undefined));
      // Connections cut under the store (a failover, pg_terminate_backend): it recovers.
      await relay.close();
      await assert.rejects(async () => store.append(auditBody(outcome(3), "late", undefined)));
      assert.equal(store.healthy, false);
      await relay.open();
      await until(() => store.healthy, "the store reconnects again");
      await store.append(auditBody(outcome(4), "late", undefined));
      await pg.sql(
        url,
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()",
      );
      for (let attempt = 0; ; attempt++) {
        const written = await append(store, 5, "late").then(
          () => true,
          () => false,
        );
        if (written) break;
        assert.ok(attempt < 100, "writes succeed again after the backends were terminated");
        await new Promise((r) => setTimeout(r, 100));
      }
      await store.close();
    } finally {
      await relay.close();
    }
    const report = await verify(url);
    assert.equal(report.ok, true, JSON.stringify(report));
  });

  it("names the node and the first bad record of an edited, shortened or forged chain", async () => {
    const url = await pg.freshDatabase();
    const [a, b] = await Promise.all([openStore(url, "intact"), openStore(url, "victim")]);
    for (let i = 1; i <= 25; i++) {
      await a.append(auditBody(outcome(i), "intact", undefined));
      await b.append(auditBody(outcome(i), "victim", undefined));
    }
    await Promise.all([a.close(), b.close()]);
    const cases: [string, string, number, RegExp][] = [
      [
        "UPDATE records SET body = replace(body, '\"allow\"', '\"deny\"') WHERE node = 'victim' AND seq = 7",
        "UPDATE records SET body = replace(body, '\"deny\"', '\"allow\"') WHERE node = 'victim' AND seq = 7",
        7,
        /edited/,
      ],
      [
        "UPDATE records SET seq = -seq WHERE node = 'victim' AND seq = 12",
        "UPDATE records SET seq = -seq WHERE node = 'victim' AND seq = -12",
        13,
        /missing/,
      ],
      [
        "UPDATE checkpoints SET hash = (SELECT hash FROM records WHERE node = 'victim' AND seq = 19) WHERE node = 'victim' AND seq = 20",
        "UPDATE checkpoints SET hash = (SELECT hash FROM records WHERE node = 'victim' AND seq = 20) WHERE node = 'victim' AND seq = 20",
        20,
        /invalid signature/,
      ],
    ];
    for (const [tamper, restore, seq, reason] of cases) {
      await pg.sql(url, tamper);
      const report = await verify(url);
      await pg.sql(url, restore);
      assert.equal(report.ok, false, tamper);
      assert.equal(report.firstBad?.node, "victim");
      assert.equal(report.firstBad.seq, seq, tamper);
      assert.match(report.firstBad.reason, reason);
      assert.equal(report.nodes.find((n) => n.node === "intact")?.ok, true, "the other node is intact");
    }
    assert.equal((await verify(url)).ok, true, "restored");
  });
});

describe("PostgreSQL store settings", () => {
  const base = "version: 1\nupstreams:\n  a: { transport: stdio, command: x }\n";
  const withAudit = (audit: string) => `${base}audit:\n${audit}`;
  const issues = (text: string) => {
    try {
      parseConfigText(text, "x.yaml", {});
      return [];
    } catch (err) {
      return (err as ConfigError).issues.map((i) => `${i.path}: ${i.message}`);
    }
  };

  it("requires a url for the postgres store, naming the key", () => {
    assert.match(issues(withAudit("  store: postgres\n")).join("\n"), /^audit\.postgres\.url: .*required/m);
  });

  it("refuses plain connections to a remote database, and TLS settings hidden in the URL", () => {
    const remote = withAudit(
      '  store: postgres\n  postgres:\n    url: "postgres://u:p@db.internal/audit"\n    tls: { mode: disable }\n',
    );
    assert.match(issues(remote).join("\n"), /^audit\.postgres\.tls\.mode: .*loopback/m);
    const local = withAudit(
      '  store: postgres\n  postgres:\n    url: "postgres://u:p@127.0.0.1:5432/audit"\n    tls: { mode: disable }\n',
    );
    assert.deepEqual(issues(local), []);
    const query = withAudit(
      '  store: postgres\n  postgres:\n    url: "postgres://u:p@db/audit?sslmode=disable"\n',
    );
    assert.match(issues(query).join("\n"), /^audit\.postgres\.url: .*without query parameters/m);
  });

  it("verifies the server's certificate unless the host is loopback", () => {
    const settings = (url: string) =>
      parseConfigText(withAudit(`  store: postgres\n  postgres:\n    url: "${url}"\n`), "x.yaml", {}).audit
        .postgres;
    const remote = postgresPoolConfig(settings("postgres://u:p%40ss@db.internal:6543/audit"), {
      boundStatements: true,
      applicationName: "t",
    });
    assert.deepEqual(remote.ssl, {
      rejectUnauthorized: true,
      ca: undefined,
      cert: undefined,
      key: undefined,
    });
    assert.equal(remote.password, "p@ss");
    assert.equal(remote.port, 6543);
    assert.equal(remote.statement_timeout, 5_000);
    assert.equal(
      postgresPoolConfig(settings("postgres://u@localhost/a"), {
        boundStatements: false,
        applicationName: "t",
      }).ssl,
      false,
    );
    assert.equal(describePostgres("postgres://u:secret@db:5432/a"), "postgres://u@db:5432/a");
  });

  it("reports a store change in a reload as applying at restart", () => {
    const before = parseConfigText(base, "x.yaml", {});
    const after = parseConfigText(
      withAudit('  store: postgres\n  postgres:\n    url: "postgres://u@localhost/a"\n'),
      "x.yaml",
      {},
    );
    assert.deepEqual(planReload(before, after).restartOnly, ["audit.store", "audit.postgres"]);
    assert.deepEqual(planReload(before, before).restartOnly, []);
  });
});
