// The audit store failing under a running gateway: tool calls are refused while the store is full or
// cannot be written, and a gateway killed under load loses no record of an answer it released.
import assert from "node:assert/strict";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { after, before, describe, it } from "node:test";
import {
  auditCli as cli,
  auditProbe as probe,
  callUntilKilled,
  connectClient as connect,
  loadTestLimits,
} from "../helpers/audit.ts";
import { startGateway, permitAll, type RunningGateway } from "../helpers/gatewayProcess.ts";

describe("a full audit store", () => {
  it("refuses tool calls once the store has no room, keeps serving, and what it holds verifies", async () => {
    const gateway = await startGateway(
      `version: 1\n${permitAll}\n${loadTestLimits}\naudit:\n  maxSizeMb: 0.1\n  arguments: redacted\nupstreams:\n${probe}`,
    );
    try {
      const client = await connect(gateway.url);
      let refused: unknown;
      let released = 0;
      for (let i = 0; i < 400 && !refused; i++) {
        try {
          await client.callTool({
            name: "probe__remember",
            arguments: { value: `${i}:${"x".repeat(2000)}` },
          });
          released++;
        } catch (err) {
          refused = err;
        }
      }
      assert.ok(released > 0, "calls pass while there is room");
      assert.match(String(refused), /audit trail/, "then the answer is withheld");
      await assert.rejects(
        client.callTool({ name: "probe__whoami", arguments: {} }),
        /audit trail/,
        "and tool calls are refused",
      );
      await client.close();
      await gateway.waitForLog((l) => String(l.msg).startsWith("audit store is full"));
      assert.equal((await fetch(`${gateway.base}/healthz`)).status, 200, "the gateway keeps running");
      const verify = cli("audit", "verify", "--config", gateway.configPath);
      assert.equal(verify.status, 0, verify.stdout + verify.stderr);
      const records = Number(/(\d+) record\(s\)/.exec(verify.stdout)?.[1]);
      assert.ok(records >= released, `every released answer has its record (${records} >= ${released})`);
    } finally {
      await gateway.stop();
    }
  });
});

describe("fail-secure when the audit store cannot be written", () => {
  let gateway: RunningGateway;
  before(async () => {
    gateway = await startGateway(`version: 1\n${permitAll}\nupstreams:\n${probe}`);
  });
  after(async () => gateway?.stop());

  it("withholds the answer whose record failed, refuses tool calls, and recovers", async () => {
    const client = await connect(gateway.url);
    const lock = new DatabaseSync(join(gateway.dir, "portcullis-audit.sqlite"));
    try {
      await client.callTool({ name: "probe__whoami", arguments: {} });
      lock.exec("BEGIN EXCLUSIVE"); // another writer holds the store
      await assert.rejects(
        client.callTool({ name: "probe__whoami", arguments: {} }, { timeout: 30_000 }),
        /could not be recorded|audit/i,
      );
      await assert.rejects(
        client.callTool({ name: "probe__whoami", arguments: {} }),
        /audit trail cannot be written/,
      );
      lock.exec("ROLLBACK");
      await client.listTools(); // a recorded request shows the store is writable again
      const pid = await client.callTool({ name: "probe__whoami", arguments: {} });
      assert.ok(Array.isArray(pid.content));
    } finally {
      lock.close();
      await client.close();
    }
  });
});

describe("crash safety", () => {
  it("keeps the record of every answer released before a SIGKILL, and the chain verifies", async () => {
    const gateway = await startGateway(`version: 1\n${permitAll}\n${loadTestLimits}\nupstreams:\n${probe}`);
    const clients = await Promise.all([1, 2, 3, 4].map(() => connect(gateway.url)));
    const released = await callUntilKilled(gateway, clients);

    const path = join(gateway.dir, "portcullis-audit.sqlite");
    const verify = cli("audit", "verify", "--db", path);
    assert.equal(verify.status, 0, verify.stdout + verify.stderr);
    const db = new DatabaseSync(path, { readOnly: true });
    const stored = new Set(
      (
        db.prepare("SELECT json_extract(body, '$.arguments.sha256') AS h FROM records").all() as {
          h: string | null;
        }[]
      ).map((r) => r.h),
    );
    db.close();
    const missing = released.filter((h) => !stored.has(h));
    assert.equal(
      missing.length,
      0,
      `${missing.length} of ${released.length} released answers have no record`,
    );
  });
});
