// The audit trail of a running gateway: every decision is recorded and verifies, and arguments and
// results are stored encrypted or redacted as configured. (Failures of the store: audit-failures.test.ts.)
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { after, before, describe, it } from "node:test";
import { auditCli as cli, auditProbe as probe, connectClient as connect } from "../helpers/audit.ts";
import { cliPath, startGateway, type RunningGateway, permitAll } from "../helpers/gatewayProcess.ts";

/** A record as `audit query --json` prints it (the parts these tests read). */
interface QueriedRecord {
  method: string;
  arguments: { mode: string; value: { value: string }; found?: string[] };
  result: { value: { content: { text: string }[] } };
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
