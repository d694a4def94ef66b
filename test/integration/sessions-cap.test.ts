// One caller cannot fill the gateway's session table or dodge the stream cap: client names invented
// per request and initialize after initialize stop at the per-principal session cap (both eras
// together), requests refused by the rate limits create no session at all, and a fresh client
// name brings no fresh stream budget. Each attack has its benign twin from another address.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Agent, fetch as undiciFetch } from "undici";
import { everythingServer, permitAll, startGateway, type RunningGateway } from "../helpers/gatewayProcess.ts";
import { modernEnvelope, postFrom, type RawReply } from "../helpers/rawHttp.ts";

const modernHeaders = { "mcp-protocol-version": "2026-07-28", "mcp-method": "tools/list" };

/** A 2026-07-28 tools/list whose envelope names the client `name` (the caller's own choice). */
function listAs(name: string) {
  const _meta = { ...modernEnvelope, "io.modelcontextprotocol/clientInfo": { name, version: "1" } };
  return { jsonrpc: "2.0", id: 1, method: "tools/list", params: { _meta } };
}

const initialize = {
  jsonrpc: "2.0",
  id: 1,
  method: "initialize",
  params: { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "legacy", version: "1" } },
};

/** How many client sessions the gateway holds, from its metrics. */
async function sessionsHeld(gateway: RunningGateway): Promise<number> {
  const text = await (await fetch(`${gateway.base}/metrics`)).text();
  return Number(/^portcullis_sessions_active (\d+)$/m.exec(text)?.[1]);
}

describe("the per-principal session cap and stream budget", () => {
  let gateway: RunningGateway;

  before(async () => {
    gateway = await startGateway(`version: 1
${permitAll}
server:
  maxSessions: 40
network:
  maxSessionsPerPrincipal: 3
  maxStreamsPerSession: 2
rateLimits:
  perPrincipal: { rate: 0.01, burst: 12 }
upstreams:
  everything:
    transport: stdio
    command: ${JSON.stringify(process.execPath)}
    args: [${JSON.stringify(everythingServer)}]
`);
  });

  after(async () => {
    await gateway?.stop();
  });

  it("stops a caller that invents a client name per request at its share of sessions", async () => {
    const replies: RawReply[] = [];
    for (let i = 0; i < 6; i++)
      replies.push(await postFrom(gateway.url, "127.0.0.9", listAs(`invented-${i}`), modernHeaders));
    assert.deepEqual(
      replies.map((r) => r.status),
      [200, 200, 200, 503, 503, 503],
    );
    const refusal = replies[3]?.body.error;
    assert.equal(refusal?.data.code, "PORTCULLIS_E_TOO_MANY_SESSIONS");
    assert.equal(refusal?.data.rule, "max-sessions-per-principal");
    assert.equal(refusal?.data.limit, 3);
    // Its existing client state still serves it; the table is not full for anybody else.
    assert.equal((await postFrom(gateway.url, "127.0.0.9", listAs("invented-1"), modernHeaders)).status, 200);
    assert.equal((await postFrom(gateway.url, "127.0.0.10", listAs("benign"), modernHeaders)).status, 200);
    // The refusals raised an event (bounded: one per address per second), counted for operators.
    const metrics = await (await fetch(`${gateway.base}/metrics`)).text();
    assert.match(
      metrics,
      /^portcullis_security_events_total\{type="request_blocked",severity="info"\} [1-9]/m,
    );
  });

  it("counts 2025 sessions and 2026 client state together, and frees a place when a session ends", async () => {
    const from = "127.0.0.11";
    for (const name of ["a", "b"])
      assert.equal((await postFrom(gateway.url, from, listAs(name), modernHeaders)).status, 200);
    const opened = await postFrom(gateway.url, from, initialize);
    assert.equal(opened.status, 200);
    const sessionId = opened.headers.get("mcp-session-id");
    assert.ok(sessionId);
    const refused = await postFrom(gateway.url, from, initialize);
    assert.equal(refused.status, 503);
    assert.equal(refused.body.error?.data.rule, "max-sessions-per-principal");
    // Benign twin: another address opens a 2025 session.
    const twin = await postFrom(gateway.url, "127.0.0.12", initialize);
    assert.equal(twin.status, 200);
    // Ending the 2025 session gives its place back.
    const agent = new Agent({ localAddress: from });
    try {
      const ended = await undiciFetch(gateway.url, {
        method: "DELETE",
        dispatcher: agent,
        headers: { "mcp-session-id": sessionId, "mcp-protocol-version": "2025-11-25" },
      });
      assert.equal(ended.status, 200);
    } finally {
      await agent.close();
    }
    let again = 0;
    for (let i = 0; i < 20 && again !== 200; i++) {
      if (i > 0) await new Promise((r) => setTimeout(r, 50));
      again = (await postFrom(gateway.url, from, initialize)).status;
    }
    assert.equal(again, 200);
  });

  it("creates no session for a request the rate limits refuse, and charges initialize too", async () => {
    const from = "127.0.0.13";
    // Twelve requests spend the whole burst of this (anonymous) caller on one client state.
    for (let i = 0; i < 12; i++)
      assert.equal((await postFrom(gateway.url, from, listAs("steady"), modernHeaders)).status, 200);
    const held = await sessionsHeld(gateway);
    for (let i = 0; i < 5; i++) {
      const reply = await postFrom(gateway.url, from, listAs(`fresh-${i}`), modernHeaders);
      assert.equal(reply.status, 429);
      assert.equal(reply.body.error?.data.code, "PORTCULLIS_E_RATE_LIMITED");
      assert.equal(reply.body.error?.data.layer, "ratelimit");
      assert.equal(reply.body.error?.data.rule, "principal:default");
      assert.ok(Number(reply.headers.get("retry-after")) >= 1);
    }
    const init = await postFrom(gateway.url, from, initialize);
    assert.equal(init.status, 429);
    assert.equal(init.body.error?.data.rule, "principal:default");
    assert.equal(await sessionsHeld(gateway), held);
    // Benign twin: a caller with budget left opens state as before.
    assert.equal((await postFrom(gateway.url, "127.0.0.14", listAs("steady"), modernHeaders)).status, 200);
  });

  it("gives a fresh client name no fresh stream budget", async () => {
    const agents: Agent[] = [];
    const listen = (from: string, name: string) => {
      const agent = new Agent({ localAddress: from });
      agents.push(agent);
      const _meta = { ...modernEnvelope, "io.modelcontextprotocol/clientInfo": { name, version: "1" } };
      return undiciFetch(gateway.url, {
        method: "POST",
        dispatcher: agent,
        headers: {
          "content-type": "application/json",
          accept: "application/json, text/event-stream",
          "mcp-protocol-version": "2026-07-28",
          "mcp-method": "subscriptions/listen",
        },
        body: JSON.stringify({
          jsonrpc: "2.0",
          id: name,
          method: "subscriptions/listen",
          params: { _meta, notifications: { toolsListChanged: true } },
        }),
      });
    };
    const streams = await Promise.all([listen("127.0.0.15", "one"), listen("127.0.0.15", "two")]);
    try {
      for (const s of streams) assert.equal(s.status, 200);
      const third = await postFrom(gateway.url, "127.0.0.15", listAs("three"), modernHeaders);
      assert.equal(third.status, 429);
      assert.equal(third.body.error?.data.code, "PORTCULLIS_E_TOO_MANY_STREAMS");
      // Benign twin: another caller's streams are its own.
      const other = await listen("127.0.0.16", "one");
      assert.equal(other.status, 200);
      await other.body?.cancel();
    } finally {
      for (const s of streams) await s.body?.cancel();
      await Promise.all(agents.map((agent) => agent.close()));
    }
    await new Promise((r) => setTimeout(r, 200));
    assert.equal((await postFrom(gateway.url, "127.0.0.15", listAs("one"), modernHeaders)).status, 200);
  });
});
