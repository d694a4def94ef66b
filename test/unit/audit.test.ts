// The audit trail's tamper evidence: every kind of edit to the store is found and named by the
// verifier, and an untouched store verifies.
import assert from "node:assert/strict";
import { generateKeyPairSync } from "node:crypto";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { describe, it } from "node:test";
import { pino } from "pino";
import { auditBody } from "../../src/audit/record.ts";
import { loadSigningKey } from "../../src/audit/signing.ts";
import { SqliteAuditStore } from "../../src/audit/sqliteStore.ts";
import { verifyAuditStore } from "../../src/audit/verify.ts";
import { sampleOutcome } from "../helpers/audit.ts";

const logger = pino({ level: "silent" });

const outcome = sampleOutcome;

/** A store with `count` records and a checkpoint every 5, closed (which signs the head). */
function filledStore(count: number, durability: "strict" | "batched" = "strict") {
  const dir = mkdtempSync(join(tmpdir(), "portcullis-audit-"));
  const path = join(dir, "audit.sqlite");
  const key = loadSigningKey(undefined, join(dir, "audit.key"));
  const store = new SqliteAuditStore({
    path,
    node: "node-a",
    durability,
    batchMs: 2,
    fsync: false,
    checkpointEvery: 5,
    key,
    logger,
  });
  for (let i = 1; i <= count; i++) store.append(auditBody(outcome(i), "node-a", undefined));
  store.close();
  return { path, key };
}

function tamper(path: string, sql: string, ...params: (string | number)[]): void {
  const db = new DatabaseSync(path);
  db.prepare(sql).run(...params);
  db.close();
}

describe("audit tamper evidence", () => {
  it("verifies an untouched store against the public key", () => {
    const { path, key } = filledStore(12);
    const report = verifyAuditStore(path, key.publicKeyPem);
    assert.equal(report.ok, true, JSON.stringify(report));
    assert.equal(report.records, 12);
    assert.equal(report.unsignedTail, 0, "closing the store signs its head");
    assert.equal(report.keySource, "given");
  });

  it("names an edited record", () => {
    const { path, key } = filledStore(12);
    tamper(path, "UPDATE records SET body = replace(body, '\"allow\"', '\"deny\"') WHERE seq = 7");
    const report = verifyAuditStore(path, key.publicKeyPem);
    assert.equal(report.ok, false);
    assert.equal(report.firstBad?.seq, 7);
    assert.match(report.firstBad.reason, /edited/);
  });

  it("finds a deleted record", () => {
    const { path, key } = filledStore(12);
    tamper(path, "DELETE FROM records WHERE seq = 4");
    const report = verifyAuditStore(path, key.publicKeyPem);
    assert.equal(report.firstBad?.seq, 5);
    assert.match(report.firstBad.reason, /missing/);
  });

  it("finds an inserted record, even one given a fitting hash", () => {
    const { path, key } = filledStore(12);
    tamper(path, "UPDATE records SET seq = seq + 100 WHERE seq >= 6");
    tamper(
      path,
      "INSERT INTO records (seq, node, body, prev_hash, hash) SELECT 6, node, body, hash, hash FROM records WHERE seq = 5",
    );
    const report = verifyAuditStore(path, key.publicKeyPem);
    assert.equal(report.ok, false);
    assert.equal(report.firstBad?.seq, 6, "the inserted record is named");
  });

  it("finds reordered records", () => {
    const { path, key } = filledStore(12);
    tamper(path, "UPDATE records SET seq = -1 WHERE seq = 3");
    tamper(path, "UPDATE records SET seq = 3 WHERE seq = 8");
    tamper(path, "UPDATE records SET seq = 8 WHERE seq = -1");
    const report = verifyAuditStore(path, key.publicKeyPem);
    assert.equal(report.firstBad?.seq, 3);
  });

  it("finds a forged checkpoint", () => {
    const { path, key } = filledStore(12);
    tamper(
      path,
      "UPDATE checkpoints SET signature = ? WHERE seq = 10",
      Buffer.alloc(64, 7).toString("base64"),
    );
    const report = verifyAuditStore(path, key.publicKeyPem);
    assert.equal(report.firstBad?.seq, 10);
    assert.match(report.firstBad.reason, /invalid signature/);
  });

  it("refuses checkpoints signed by another key, even if the store says otherwise", () => {
    const { path } = filledStore(6);
    const other = generateKeyPairSync("ed25519").publicKey.export({ format: "pem", type: "spki" }).toString();
    const report = verifyAuditStore(path, other);
    assert.equal(report.ok, false);
    assert.match(report.firstBad!.reason, /unknown key/);
  });

  it("finds a truncated tail through the closing checkpoint", () => {
    const { path, key } = filledStore(12);
    tamper(path, "DELETE FROM records WHERE seq > 10");
    const report = verifyAuditStore(path, key.publicKeyPem);
    assert.equal(report.ok, false);
    assert.equal(report.firstBad?.seq, 12);
    assert.match(report.firstBad.reason, /missing/);
  });

  it("chains across restarts and in batched mode", () => {
    const { path, key } = filledStore(7, "batched");
    const store = new SqliteAuditStore({
      path,
      node: "node-a",
      durability: "strict",
      batchMs: 2,
      fsync: false,
      checkpointEvery: 5,
      key,
      logger,
    });
    store.append(auditBody(outcome(8), "node-a", undefined));
    store.close();
    const report = verifyAuditStore(path, key.publicKeyPem);
    assert.equal(report.ok, true, JSON.stringify(report));
    assert.equal(report.records, 8);
  });
});
