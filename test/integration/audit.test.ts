// The audit trail of a running gateway: every decision is recorded and verifies; tool calls are
// refused while the store cannot be written; and a gateway killed under load loses no record of an
// answer it released.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
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

const probe = nodeUpstream(
  "probe",
  fixture("session-probe-server.ts"),
  [],
  "    protocol: 2025-11-25\n    isolation: shared\n",
);

/** A record as `audit query --json` prints it (the parts these tests read). */
interface QueriedRecord {
  method: string;
  arguments: { mode: string; value: { value: string }; found?: string[] };
  result: { value: { content: { text: string }[] } };
}

function cli(...args: string[]) {
  return spawnSync(process.execPath, [cliPath, ...args], { encoding: "utf8" });
}

async function connect(url: string): Promise<Client> {
  const client = new Client({ name: "audit-test", version: "1" });
  await client.connect(new StreamableHTTPClientTransport(new URL(url)));
  return client;
}

describe("audit trail of a running gateway", () => {
  let gateway: RunningGateway;
  before(async () => {
    gateway = await startGateway(
      `version: 1\n${permitAll}\naudit:\n  checkpointEvery: 3\nupstreams:\n${probe}`,
    );
  });
  after(async () => gateway?.stop());

  it("records allowed calls and refusals, and the trail verifies", async () => {
    const client = await connect(gateway.url);
    try {
      await client.callTool({ name: "probe__remember", arguments: { value: "first" } });
      await client.callTool({ name: "probe__remember", arguments: { value: "second" } });
      await assert.rejects(client.callTool({ name: "probe__nope", arguments: {} }));
    } finally {
      await client.close();
    }
    const verify = cli("audit", "verify", "--config", gateway.configPath);
    assert.equal(verify.status, 0, verify.stdout + verify.stderr);
    assert.match(verify.stdout, /OK: the chain is intact/);

    const query = cli(
      "audit",
      "query",
      "--config",
      gateway.configPath,
      "--tool",
      "probe__remember",
      "--json",
    );
    const rows = query.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.equal(rows.length, 2);
    assert.ok(
      rows.every((r) => r.verdict === "allow" && r.upstream === "probe" && r.method === "tools/call"),
    );
    assert.doesNotMatch(query.stdout, /first|second/, "arguments are kept only as a hash");
    const refused = cli("audit", "query", "--config", gateway.configPath, "--verdict", "error", "--json");
    assert.match(refused.stdout, /PORTCULLIS_E_UNKNOWN_TOOL/);

    const ocsf = cli("audit", "export", "--config", gateway.configPath, "--format", "ocsf");
    const first = JSON.parse(ocsf.stdout.split("\n")[0]!) as Record<string, unknown>;
    assert.equal(first.class_uid, 6003);
  });

  it("finds an edit made behind the gateway's back", () => {
    const path = join(gateway.dir, "portcullis-audit.sqlite");
    const db = new DatabaseSync(path);
    db.prepare("UPDATE records SET body = replace(body, '\"allow\"', '\"deny\"') WHERE seq = 2").run();
    db.close();
    const verify = cli("audit", "verify", "--db", path);
    assert.equal(verify.status, 1);
    assert.match(verify.stdout, /FAILED at record 2/);
  });
});

describe("tool arguments encrypted at rest", () => {
  it("stores no argument in clear, and --decrypt reads it back with the configured key", async () => {
    const key = createHash("sha256").update("test key material").digest().toString("base64");
    const gateway = await startGateway(
      `version: 1\n${permitAll}\naudit:\n  arguments: encrypted\n  results: encrypted\n  encryptionKeys:\n    - { id: k1, key: "\${env:AUDIT_KEY}" }\nupstreams:\n${probe}`,
      { env: { AUDIT_KEY: key } },
    );
    try {
      const client = await connect(gateway.url);
      await client.callTool({ name: "probe__remember", arguments: { value: "classified-value" } });
      // The next call's result is the value remembered before: a secret in a result.
      await client.callTool({ name: "probe__remember", arguments: { value: "plain" } });
      await client.close();
      const env = { ...process.env, AUDIT_KEY: key };
      const sealed = spawnSync(
        process.execPath,
        [cliPath, "audit", "query", "--config", gateway.configPath, "--json"],
        { encoding: "utf8", env },
      );
      assert.doesNotMatch(sealed.stdout, /classified-value/);
      assert.match(sealed.stdout, /"mode":"encrypted"/);
      const open = spawnSync(
        process.execPath,
        [cliPath, "audit", "query", "--config", gateway.configPath, "--json", "--decrypt"],
        { encoding: "utf8", env },
      );
      const decrypted = open.stdout
        .trim()
        .split("\n")
        .map((line) => JSON.parse(line) as QueriedRecord)
        .filter((r) => r.method === "tools/call");
      assert.equal(decrypted[0]?.arguments.value.value, "classified-value");
      assert.equal(decrypted[1]?.result.value.content[0]?.text, "classified-value");
    } finally {
      await gateway.stop();
    }
  });

  it("keeps arguments and results redacted: structure in clear, secrets and personal data replaced", async () => {
    const gateway = await startGateway(
      `version: 1\n${permitAll}\naudit:\n  arguments: redacted\n  results: redacted\nupstreams:\n${probe}`,
    );
    try {
      const client = await connect(gateway.url);
      const secret = "use AKIAIOSFODNN7EXAMPLE and write to bob@example.com";
      await client.callTool({ name: "probe__remember", arguments: { value: secret } });
      await client.callTool({ name: "probe__remember", arguments: { value: "nothing to hide" } });
      await client.close();
      const out = cli("audit", "query", "--config", gateway.configPath, "--json").stdout;
      assert.doesNotMatch(out, /AKIAIOSFODNN7EXAMPLE|bob@example\.com/);
      const calls = out
        .trim()
        .split("\n")
        .map((line) => JSON.parse(line) as QueriedRecord)
        .filter((r) => r.method === "tools/call");
      assert.deepEqual(calls[0]?.arguments, {
        mode: "redacted",
        value: { value: "use [REDACTED:aws-access-key] and write to [REDACTED:email]" },
        found: ["aws-access-key", "email"],
      });
      assert.equal(calls[1]?.arguments.value.value, "nothing to hide", "benign arguments stay readable");
      assert.match(String(calls[1]?.result.value.content[0]?.text), /^use \[REDACTED:aws-access-key\]/);
    } finally {
      await gateway.stop();
    }
  });
});

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
