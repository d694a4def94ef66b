// Event-driven response in a running gateway: a caller probing for destructive tools is detected,
// its address blocked (its open session ended, new requests refused) and an alert posted, while a
// caller at another address carries on; a sensitive read followed by a sink call revokes the session.
import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import {
  fixture,
  nodeUpstream,
  startGateway,
  type RunningGateway,
  permitAll,
} from "../helpers/gatewayProcess.ts";
import { clientFrom, postFrom, modernEnvelope } from "../helpers/rawHttp.ts";

const secret = "a-webhook-secret-of-some-length";

interface Alert {
  type: string;
  principal?: string;
  details: Record<string, unknown>;
}

async function until(check: () => boolean | Promise<boolean>, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe("detections and responses in a running gateway", () => {
  let gateway: RunningGateway;
  let hooks: Server;
  const alerts: Alert[] = [];

  before(async () => {
    hooks = createServer((req, res) => {
      let body = "";
      req.on("data", (c: Buffer) => (body += c.toString()));
      req.on("end", () => {
        alerts.push(JSON.parse(body) as Alert);
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((r) => hooks.listen(0, "127.0.0.1", r));
    const hookUrl = `http://127.0.0.1:${(hooks.address() as AddressInfo).port}/alerts`;
    gateway = await startGateway(
      `version: 1
${permitAll}
alerts:
  webhooks:
    - url: ${hookUrl}
      secret: ${secret}
      minSeverity: high
detection:
  privilegeProbing: { denials: 3, windowMs: 60000 }
  exfiltration: { sensitiveTools: ["probe__whoami"], sinkTools: ["probe__remember"] }
  anomaly: { firstUse: { learningMs: 0 } }
# The detections' own responses are under test here; the trust evaluator would also distrust the
# caller after them (tested in trust.test.ts and authz.test.ts).
trust: { enabled: false }
responses:
  privilege_probing:
    - { action: block-address, forMs: 60000 }
    - { action: alert }
  exfiltration_suspected:
    - { action: revoke-session, forMs: 60000 }
upstreams:
${nodeUpstream("probe", fixture("session-probe-server.ts"), [], "    protocol: 2025-11-25\n")}`,
    );
  });
  after(async () => {
    await gateway?.stop();
    hooks?.close();
  });

  it("blocks an address probing for destructive tools, and only that address", async () => {
    const attacker = await clientFrom(gateway.url, "127.0.0.2");
    const bystander = await clientFrom(gateway.url, "127.0.0.1");
    try {
      // The bystander mistypes a harmless tool name as often: no detection.
      for (let i = 0; i < 4; i++)
        await assert.rejects(bystander.callTool({ name: "probe__serch", arguments: {} }));
      for (const name of ["probe__delete_all", "probe__exec_shell", "probe__admin_reset"])
        await assert.rejects(attacker.callTool({ name, arguments: {} }), /Unknown tool/);

      // The attacker's open session is ended and its address refused, for a 2026-07-28 request too.
      await assert.rejects(attacker.callTool({ name: "probe__whoami", arguments: {} }));
      const refused = await postFrom(
        gateway.url,
        "127.0.0.2",
        { jsonrpc: "2.0", id: 1, method: "tools/list", params: { _meta: {} } },
        { "mcp-protocol-version": "2026-07-28", "mcp-method": "tools/list" },
      );
      assert.equal(refused.status, 403);
      assert.equal(refused.body.error?.data.code, "PORTCULLIS_E_ADDRESS_BLOCKED");
      assert.equal(refused.body.error?.data.layer, "network");
      assert.equal(refused.body.error?.data.rule, "dynamic-block:privilege_probing");
      assert.ok(Number(refused.headers.get("retry-after")) > 0);

      // The benign twin at another address carries on.
      const ok = await bystander.callTool({ name: "probe__remember", arguments: { value: "still here" } });
      assert.equal(ok.isError, undefined);
    } finally {
      await attacker.close().catch(() => undefined);
      await bystander.close();
    }

    await until(() => alerts.some((a) => a.type === "alert"));
    const alert = alerts.find((a) => a.type === "alert")!;
    assert.equal(alert.details.detection, "privilege_probing");
    assert.equal(alert.principal, "anonymous");

    const metrics = await (await fetch(`${gateway.base}/metrics`)).text();
    assert.match(
      metrics,
      /portcullis_responses_total\{action="block-address",detection="privilege_probing"\} 1/,
    );
    assert.match(metrics, /portcullis_security_events_total\{type="privilege_probing",severity="high"\} 1/);
    assert.match(metrics, /portcullis_event_queue_depth\{sink="log"\} \d/);
    const line = await gateway.waitForLog((l) => l.msg === "security event privilege_probing");
    assert.equal((line.event as Record<string, unknown>).clientAddress, "127.0.0.2");
  });

  it("revokes a session that reads a sensitive result and then calls a sink", async () => {
    const client = await clientFrom(gateway.url, "127.0.0.3");
    const other = await clientFrom(gateway.url, "127.0.0.3");
    try {
      // Benign twin first: the sink alone is fine.
      await other.callTool({ name: "probe__remember", arguments: { value: "x" } });
      await client.callTool({ name: "probe__whoami", arguments: {} });
      await client.callTool({ name: "probe__remember", arguments: { value: "the secret" } });
      await gateway.waitForLog((l) => l.msg === "ending a session: a security response applies to it");
      await assert.rejects(client.callTool({ name: "probe__whoami", arguments: {} }));
      const again = await other.callTool({ name: "probe__whoami", arguments: {} });
      assert.equal(again.isError, undefined, "the other session of the same address is not revoked");
      // With no learning period, the first use of a second tool is an anomaly: trust is lowered.
      const metrics = await (await fetch(`${gateway.base}/metrics`)).text();
      assert.match(metrics, /portcullis_security_events_total\{type="anomaly",severity="medium"\} [1-9]/);
      assert.match(metrics, /portcullis_responses_total\{action="lower-trust",detection="anomaly"\} [1-9]/);
    } finally {
      await client.close().catch(() => undefined);
      await other.close();
    }
  });
});

const envelope = modernEnvelope;

describe("detections behind a trusted proxy", () => {
  let gateway: RunningGateway;
  before(async () => {
    gateway = await startGateway(`version: 1
${permitAll}
server:
  trustedProxies: ["127.0.0.6"]
detection:
  privilegeProbing: { denials: 2, windowMs: 60000 }
responses:
  privilege_probing: [{ action: block-address, forMs: 60000 }]
upstreams:
${nodeUpstream("probe", fixture("session-probe-server.ts"), [], "    protocol: 2025-11-25\n")}`);
  });
  after(async () => gateway?.stop());

  const probe = (id: number) => ({
    jsonrpc: "2.0",
    id,
    method: "tools/call",
    params: { name: "probe__delete_all", arguments: {}, _meta: envelope },
  });
  const modern = {
    "mcp-protocol-version": "2026-07-28",
    "mcp-method": "tools/call",
    "mcp-name": "probe__delete_all",
  };

  it("blocks the client named by the proxy, not the proxy nor its other clients", async () => {
    for (const id of [1, 2])
      await postFrom(gateway.url, "127.0.0.6", probe(id), { ...modern, "x-forwarded-for": "203.0.113.7" });
    const attacker = await postFrom(gateway.url, "127.0.0.6", probe(3), {
      ...modern,
      "x-forwarded-for": "203.0.113.7",
    });
    assert.equal(attacker.status, 403);
    assert.equal(attacker.body.error?.data.code, "PORTCULLIS_E_ADDRESS_BLOCKED");
    const other = await postFrom(
      gateway.url,
      "127.0.0.6",
      { jsonrpc: "2.0", id: 4, method: "tools/list", params: { _meta: envelope } },
      { "mcp-protocol-version": "2026-07-28", "mcp-method": "tools/list", "x-forwarded-for": "198.51.100.2" },
    );
    assert.equal(other.status, 200, "another client behind the same proxy carries on");
  });

  it("does not let a client that is not a proxy choose its address with the header", async () => {
    for (const id of [1, 2])
      await postFrom(gateway.url, "127.0.0.7", probe(id), { ...modern, "x-forwarded-for": "198.51.100.99" });
    const direct = await postFrom(gateway.url, "127.0.0.7", probe(3), modern);
    assert.equal(direct.status, 403, "the block fell on the real peer");
  });
});
