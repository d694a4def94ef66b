// Authorization in a running gateway: policies from a file, a human approval given, refused,
// timed out and replayed with other arguments through `portcullis approvals`, a step-up challenge
// on the wire, the audit record naming the policies, and a policy reload (a bad set is refused).
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey } from "jose";
import { Client, StreamableHTTPClientTransport } from "@modelcontextprotocol/client";
import { clientFrom, postFrom, modernEnvelope } from "../helpers/rawHttp.ts";
import {
  runCli,
  fixture,
  nodeUpstream,
  startGateway,
  type RunningGateway,
} from "../helpers/gatewayProcess.ts";

const issuer = "https://idp.example.test";
const resource = "https://mcp.example.test/mcp";

const policies = `
- id: readers-probe
  effect: permit
  principals: { roles: [reader] }
  actions: [tools/list, tools/call]
  resources: { tools: ["probe__whoami", "probe__remember", "probe__echo-meta", "probe__sleep"] }
- id: remember-needs-approval
  effect: permit
  principals: { roles: [reader] }
  actions: [tools/call]
  resources: { tools: [probe__remember] }
  obligations: { approval: { reason: "writes to the server's memory" } }
- id: sleep-approval-times-out
  effect: permit
  principals: { roles: [reader] }
  actions: [tools/call]
  resources: { tools: [probe__sleep] }
  obligations: { approval: { timeoutMs: 1500 } }
- id: echo-meta-needs-fresh-login
  effect: permit
  principals: { roles: [reader] }
  actions: [tools/call]
  resources: { tools: ["probe__echo-meta"] }
  obligations: { stepUp: { maxAuthAgeSeconds: 60 } }
`;

const cli = runCli;

async function until(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !condition(); i++) await new Promise((r) => setTimeout(r, 50));
  assert.ok(condition(), "condition not met in time");
}

interface Pending {
  id: string;
  target: string;
  principal: string;
  status: string;
}

describe("authorization in a running gateway", () => {
  let gateway: RunningGateway;
  let key: CryptoKey;
  let reader: Client;

  const token = (claims: Record<string, unknown> = {}) =>
    new SignJWT({ roles: ["reader"], ...claims })
      .setProtectedHeader({ alg: "ES256", kid: "k1" })
      .setIssuer(issuer)
      .setAudience(resource)
      .setSubject((claims.sub as string | undefined) ?? "alice")
      .setIssuedAt()
      .setExpirationTime("10m")
      .sign(key);

  /** Waits until a call is pending approval, and returns it. */
  async function pendingFor(target: string): Promise<Pending> {
    for (let i = 0; i < 100; i++) {
      const listed = await cli("approvals", "list", "--config", gateway.configPath, "--json");
      assert.equal(listed.status, 0, listed.stderr);
      const found = listed.stdout
        .split("\n")
        .filter(Boolean)
        .map((line) => JSON.parse(line) as Pending)
        .find((p) => p.target === target);
      if (found) return found;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`no approval pending for ${target}`);
  }

  before(async () => {
    const pair = await generateKeyPair("ES256");
    key = pair.privateKey;
    const jwk = { ...(await exportJWK(pair.publicKey)), kid: "k1", alg: "ES256" };
    gateway = await startGateway(
      `version: 1
identity:
  resource: ${resource}
  jwt:
    issuers:
      - issuer: ${issuer}
        jwksFile: jwks.json
  claims: { roles: roles }
authorization:
  policyFiles: [policies.yaml]
upstreams:
${nodeUpstream("probe", fixture("session-probe-server.ts"), [], "    protocol: 2025-11-25\n")}`,
      {
        prepare: (dir) => {
          writeFileSync(join(dir, "jwks.json"), JSON.stringify({ keys: [jwk] }));
          writeFileSync(join(dir, "policies.yaml"), policies);
        },
      },
    );
    reader = await clientFrom(gateway.url, "127.0.0.1", { authorization: `Bearer ${await token()}` });
  });
  after(async () => {
    await reader?.close().catch(() => undefined);
    await gateway?.stop();
  });

  it("lists only what the reader may use, and refuses a hidden tool exactly like an unknown one", async () => {
    const names = (await reader.listTools()).tools.map((t) => t.name).sort();
    assert.deepEqual(names, ["probe__echo-meta", "probe__remember", "probe__sleep", "probe__whoami"]);
    const hidden = await reader.callTool({ name: "probe__crash", arguments: {} }).catch((e: Error) => e);
    const unknown = await reader.callTool({ name: "probe__nothing", arguments: {} }).catch((e: Error) => e);
    assert.ok(hidden instanceof Error && unknown instanceof Error);
    assert.equal(hidden.message.replace("crash", "X"), unknown.message.replace("nothing", "X"));
  });

  it("holds a call until an approver approves it, for exactly those arguments and once", async () => {
    const call = reader.callTool({ name: "probe__remember", arguments: { value: "approved value" } });
    const pending = await pendingFor("probe__remember");
    assert.equal(pending.principal, "alice");
    const approved = await cli(
      "approvals",
      "approve",
      pending.id,
      "--config",
      gateway.configPath,
      "--as",
      "carol",
    );
    assert.equal(approved.status, 0, approved.stderr);
    const result = await call;
    assert.equal(result.isError, undefined);

    // The same call again, and the call replayed with other arguments: each needs a new approval.
    const replay = reader
      .callTool({ name: "probe__remember", arguments: { value: "something else" } })
      .catch((e: Error) => e);
    const second = await pendingFor("probe__remember");
    assert.notEqual(second.id, pending.id);
    const denied = await cli("approvals", "deny", second.id, "--config", gateway.configPath, "--as", "carol");
    assert.equal(denied.status, 0, denied.stderr);
    const refused = await replay;
    assert.ok(refused instanceof Error);
    assert.match(refused.message, /approval .*denied by carol/i);
  });

  it("denies a call whose approval times out", async () => {
    await assert.rejects(reader.callTool({ name: "probe__sleep", arguments: { ms: 1 } }), /approval/i);
  });

  it("grants just-in-time access for a while: other arguments pass without asking again", async () => {
    const first = reader.callTool({ name: "probe__remember", arguments: { value: "one" } });
    const pending = await pendingFor("probe__remember");
    const granted = await cli(
      "approvals",
      "approve",
      pending.id,
      "--grant",
      "10m",
      "--config",
      gateway.configPath,
    );
    assert.equal(granted.status, 0, granted.stderr);
    await first;
    const other = await reader.callTool({ name: "probe__remember", arguments: { value: "two" } });
    assert.equal(other.isError, undefined);
  });

  for (const era of ["legacy", "modern"] as const) {
    it(`tells a ${era === "legacy" ? "2025" : "2026-07-28"} user who can answer a form that an approval is pending; declining cancels`, async () => {
      const client = new Client(
        { name: `elicitor-${era}`, version: "1" },
        {
          capabilities: { elicitation: { form: {} } },
          ...(era === "modern" ? { versionNegotiation: { mode: "auto" as const } } : {}),
        },
      );
      let answer: "accept" | "decline" = "accept";
      const asked: string[] = [];
      client.setRequestHandler("elicitation/create", async (request) => {
        asked.push(String((request.params as { message?: unknown }).message));
        return { action: answer };
      });
      await client.connect(
        new StreamableHTTPClientTransport(new URL(gateway.url), {
          requestInit: { headers: { authorization: `Bearer ${await token({ sub: `user-${era}` })}` } },
        }),
      );
      try {
        assert.equal(client.getProtocolEra(), era);
        const call = client.callTool({ name: "probe__remember", arguments: { value: `from ${era}` } });
        const pending = await pendingFor("probe__remember");
        await until(() => asked.length > 0);
        assert.match(
          asked[0] ?? "",
          new RegExp(`probe__remember needs a human approval \\(request ${pending.id}`),
        );
        const approved = await cli("approvals", "approve", pending.id, "--config", gateway.configPath);
        assert.equal(approved.status, 0, approved.stderr);
        assert.equal((await call).isError, undefined, "accepting only waits: the approver decides");

        answer = "decline";
        const cancelled = await client
          .callTool({ name: "probe__remember", arguments: { value: `again from ${era}` } })
          .catch((e: Error) => e);
        assert.ok(cancelled instanceof Error);
        assert.match(cancelled.message, /declined to wait/);
      } finally {
        await client.close();
      }
    });
  }

  it("challenges for a step-up on the wire, and passes a fresh login", async () => {
    const envelope = modernEnvelope;
    const request = {
      jsonrpc: "2.0",
      id: 7,
      method: "tools/call",
      params: { name: "probe__echo-meta", arguments: {}, _meta: envelope },
    };
    const headers = (bearer: string) => ({
      authorization: `Bearer ${bearer}`,
      "mcp-protocol-version": "2026-07-28",
      "mcp-method": "tools/call",
      "mcp-name": "probe__echo-meta",
    });
    const stale = await postFrom(
      gateway.url,
      "127.0.0.1",
      request,
      headers(await token({ auth_time: Math.floor(Date.now() / 1000) - 3600 })),
    );
    assert.equal(stale.status, 403);
    assert.match(stale.headers.get("www-authenticate") ?? "", /error="insufficient_scope".*max_age=60/);
    assert.equal(stale.body.error?.data.code, "PORTCULLIS_E_STEP_UP_REQUIRED");
    assert.equal(stale.body.error?.data.rule, "policy:echo-meta-needs-fresh-login");
    const fresh = await postFrom(
      gateway.url,
      "127.0.0.1",
      request,
      headers(await token({ auth_time: Math.floor(Date.now() / 1000) - 5 })),
    );
    assert.equal(fresh.status, 200);
    assert.equal(fresh.body.error, undefined);
    // A 2025 session's answer goes through the SDK transport: the same challenge as a JSON-RPC error.
    const legacy = await reader.callTool({ name: "probe__echo-meta", arguments: {} }).catch((e: Error) => e);
    assert.ok(legacy instanceof Error);
    assert.match(legacy.message, /step-up/);
    assert.equal(
      (legacy as Error & { data?: { code?: string } }).data?.code,
      "PORTCULLIS_E_STEP_UP_REQUIRED",
    );
  });

  it("records the policies that decided, and the trust score, in the audit trail", async () => {
    const query = await cli("audit", "query", "--config", gateway.configPath, "--json");
    assert.equal(query.status, 0, query.stderr);
    const records = query.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const approved = records.find(
      (r) =>
        r.target === "probe__remember" &&
        r.verdict === "allow" &&
        (r.authz as { approval?: string })?.approval,
    );
    assert.ok(approved, "an approved call names its approval");
    assert.deepEqual((approved.authz as { policies: string[] }).policies, [
      "readers-probe",
      "remember-needs-approval",
    ]);
    assert.equal(typeof (approved.trust as { score: number }).score, "number");
    const hidden = records.find((r) => r.target === "probe__crash");
    assert.deepEqual(hidden?.decidedBy, { layer: "authz", rule: "default-deny" });
    // The event of a refused approval names the policies and carries the caller's trust score.
    const event = await gateway.waitForLog(
      (l) =>
        l.msg === "security event message_denied" &&
        ((l.event as { details?: { rule?: string } }).details?.rule ?? "").startsWith("approval:"),
    );
    const details = (event.event as { details: Record<string, unknown> }).details;
    assert.deepEqual(details.policies, ["readers-probe", "remember-needs-approval"]);
    assert.equal(typeof details.trust, "number");
  });

  it("stops waiting for an approval when the client cancels the call", async () => {
    // Another user: alice holds a grant for this tool from the test above.
    const carl = await clientFrom(gateway.url, "127.0.0.1", {
      authorization: `Bearer ${await token({ sub: "carl" })}`,
    });
    const controller = new AbortController();
    const call = carl
      .callTool({ name: "probe__remember", arguments: { value: "cancelled" } }, { signal: controller.signal })
      .catch((e: Error) => e);
    const pending = await pendingFor("probe__remember");
    controller.abort();
    assert.ok((await call) instanceof Error);
    // Long before the approval's own deadline, the gateway has given up the wait and recorded it.
    await until(() =>
      gateway.logs.some(
        (l) =>
          l.msg === "security event message_denied" &&
          (l.event as { details?: { approval?: string; rule?: string } }).details?.rule ===
            "approval:remember-needs-approval" &&
          JSON.stringify(l).includes("cancelled"),
      ),
    );
    const denied = await cli("approvals", "deny", pending.id, "--config", gateway.configPath);
    assert.equal(denied.status, 0, denied.stderr);
    await carl.close();
  });

  it("reloads changed policies, and keeps the running set when a new one does not compile", async () => {
    // A probe of a hidden tool counts no more than a name that does not exist: no trust is lost.
    assert.equal((await reader.callTool({ name: "probe__whoami", arguments: {} })).isError, undefined);
    await reader.close();
    const now = Math.floor(Date.now() / 1000);
    reader = await clientFrom(gateway.url, "127.0.0.1", {
      authorization: `Bearer ${await token({ auth_time: now })}`,
    });
    writeFileSync(
      join(gateway.dir, "policies.yaml"),
      `${policies}\n- id: broken\n  effect: permit\n  when: "principal.nope"\n`,
    );
    await gateway.waitForLog((l) => l.msg === "config rejected; the running config stays");
    assert.equal((await reader.callTool({ name: "probe__whoami", arguments: {} })).isError, undefined);
    writeFileSync(
      join(gateway.dir, "policies.yaml"),
      policies.replace('"probe__whoami", ', "").replace("- id: readers-probe", "- id: readers-probe-v2"),
    );
    await gateway.waitForLog((l) => l.msg === "config reloaded");
    const names = (await reader.listTools()).tools.map((t) => t.name);
    assert.ok(!names.includes("probe__whoami"));
    await assert.rejects(reader.callTool({ name: "probe__whoami", arguments: {} }), /Unknown tool/);
  });
});
