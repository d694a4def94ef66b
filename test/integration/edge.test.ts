// The gateway's edge under bad input, hot reload and shutdown: every bad request gets the right
// status and JSON-RPC error, an invalid config never replaces a good one, SIGTERM drains.
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { request as httpRequest } from "node:http";
import { connect } from "node:net";
import { after, before, describe, it } from "node:test";
import { Client, StreamableHTTPClientTransport } from "@modelcontextprotocol/client";
import {
  fixture,
  nodeUpstream,
  startGateway,
  type RunningGateway,
  permitAll,
} from "../helpers/gatewayProcess.ts";
import { postFrom, modernEnvelope } from "../helpers/rawHttp.ts";

const configWith = (upstreams: string, extra = "") => `version: 1
${permitAll}
server:
  maxBodyBytes: 65536
  maxJsonDepth: 16
  bodyTimeoutMs: 700
  maxSessions: 40
${extra}upstreams:
${upstreams}`;

const probe = nodeUpstream(
  "probe",
  fixture("session-probe-server.ts"),
  [],
  "    protocol: 2025-11-25\n    requestTimeoutMs: 1500\n",
);

async function post(url: string, body: string, headers: Record<string, string> = {}) {
  const res = await fetch(url, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      accept: "application/json, text/event-stream",
      ...headers,
    },
    body,
  });
  const text = await res.text();
  let json: { error?: { code: number; message: string; data?: Record<string, unknown> } } | undefined;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, json, text };
}

const modernHeaders = { "mcp-protocol-version": "2026-07-28" };
const envelope = modernEnvelope;

describe("bad input at the HTTP edge", () => {
  let gateway: RunningGateway;
  before(async () => {
    gateway = await startGateway(configWith(probe));
  });
  after(async () => gateway?.stop());

  it("answers malformed JSON with 400 and a parse error", async () => {
    const r = await post(gateway.url, "{not json");
    assert.equal(r.status, 400);
    assert.equal(r.json?.error?.code, -32700);
  });

  it("answers a body that is not JSON-RPC with 400", async () => {
    const r = await post(gateway.url, JSON.stringify({ hello: "world" }));
    assert.equal(r.status, 400);
    assert.equal(r.json?.error?.code, -32600);
  });

  it("answers a wrong content type with 415", async () => {
    const r = await post(gateway.url, "{}", { "content-type": "text/plain" });
    assert.equal(r.status, 415);
    assert.match(r.json!.error!.message, /application\/json/);
  });

  it("answers an oversized body with 413 without reading it all", async () => {
    const r = await post(
      gateway.url,
      JSON.stringify({ jsonrpc: "2.0", id: 1, method: "ping", params: { pad: "x".repeat(70_000) } }),
    );
    assert.equal(r.status, 413);
    assert.equal(r.json?.error?.data?.code, "PORTCULLIS_E_BODY_TOO_LARGE");
  });

  it("answers deeply nested JSON with 400 before parsing it", async () => {
    const r = await post(gateway.url, "[".repeat(5000) + "]".repeat(5000));
    assert.equal(r.status, 400);
    assert.equal(r.json?.error?.data?.code, "PORTCULLIS_E_TOO_DEEP");
  });

  it("refuses a 2025 request without a session", async () => {
    const r = await post(gateway.url, JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list" }));
    assert.equal(r.status, 400);
    assert.match(r.json!.error!.message, /initialize/);
  });

  it("answers an unknown session with 404", async () => {
    const r = await post(gateway.url, JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list" }), {
      "mcp-session-id": "forged",
    });
    assert.equal(r.status, 404);
  });

  it("refuses other HTTP methods with 405", async () => {
    const res = await fetch(gateway.url, { method: "PUT", body: "{}" });
    assert.equal(res.status, 405);
  });

  it("answers unknown methods with method-not-found (2026)", async () => {
    const r = await post(
      gateway.url,
      JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/explode", params: { _meta: envelope } }),
      {
        ...modernHeaders,
        "mcp-method": "tools/explode",
      },
    );
    assert.equal(r.json?.error?.code, -32601);
  });

  /** A 2026-07-28 tools/call of `tool` whose Mcp-Method and Mcp-Name headers say what the caller chose. */
  const modernCall = (tool: string, headers: { method: string; name: string }) =>
    post(
      gateway.url,
      JSON.stringify({
        jsonrpc: "2.0",
        id: 1,
        method: "tools/call",
        params: { name: tool, arguments: {}, _meta: envelope },
      }),
      { ...modernHeaders, "mcp-method": headers.method, "mcp-name": headers.name },
    );

  it("refuses a 2026 request whose Mcp-Method header disagrees with the body", async () => {
    const r = await modernCall("probe__whoami", { method: "tools/list", name: "probe__whoami" });
    assert.equal(r.status, 400);
    assert.equal(r.json?.error?.code, -32020);
  });

  it("refuses a 2026 request whose Mcp-Name header disagrees with the body", async () => {
    const r = await modernCall("probe__crash", { method: "tools/call", name: "probe__whoami" });
    assert.equal(r.status, 400);
    assert.equal(r.json?.error?.code, -32020);
  });

  it("serves the benign twin of that request", async () => {
    const r = await modernCall("probe__whoami", { method: "tools/call", name: "probe__whoami" });
    assert.equal(r.status, 200, r.text);
    assert.match(r.text, /"resultType":"complete"/);
  });

  it("answers a call whose upstream never answers with a timeout error", async () => {
    const client = new Client({ name: "t", version: "1" });
    await client.connect(new StreamableHTTPClientTransport(new URL(gateway.url)));
    try {
      await assert.rejects(
        client.callTool({ name: "probe__hang", arguments: {} }, { timeout: 20_000 }),
        /Upstream did not answer in time/,
      );
    } finally {
      await client.close();
    }
  });

  it("cuts off a client that trickles its body", async () => {
    const url = new URL(gateway.url);
    const closedAfter = await new Promise<number>((resolve, reject) => {
      const started = Date.now();
      const socket = connect(Number(url.port), url.hostname, () => {
        socket.write(
          `POST ${url.pathname} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"jsonrpc":`,
        );
      });
      socket.on("error", () => undefined);
      socket.on("close", () => resolve(Date.now() - started));
      setTimeout(() => reject(new Error("the slow client was never cut off")), 10_000).unref();
    });
    assert.ok(closedAfter >= 500, `closed after ${closedAfter} ms`);
  });

  it("refuses new sessions beyond the configured cap with 503", async () => {
    const clients: { client: Client; transport: StreamableHTTPClientTransport }[] = [];
    try {
      let refused: unknown;
      for (let i = 0; i < 45 && refused === undefined; i++) {
        const client = new Client({ name: `cap-${i}`, version: "1" });
        const transport = new StreamableHTTPClientTransport(new URL(gateway.url));
        try {
          await client.connect(transport);
          clients.push({ client, transport });
        } catch (err) {
          refused = err;
        }
      }
      assert.ok(refused, "the cap was never reached");
      assert.match(refused instanceof Error ? refused.message : "", /503|as many client sessions/);
      assert.ok(clients.length <= 40);
    } finally {
      // End the sessions (DELETE), so the cap is free again for the tests after this one.
      await Promise.all(clients.map(({ transport }) => transport.terminateSession().catch(() => undefined)));
      await Promise.all(clients.map(({ client }) => client.close()));
    }
  });

  it("exposes Prometheus metrics: requests, per-layer hook time, upstream health, sessions", async () => {
    const client = new Client({ name: "metrics-test", version: "1" });
    await client.connect(new StreamableHTTPClientTransport(new URL(gateway.url)));
    await client.callTool({ name: "probe__whoami", arguments: {} });
    await client.close();
    const res = await fetch(`${gateway.base}/metrics`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type") ?? "", /text\/plain/);
    const text = await res.text();
    assert.match(text, /portcullis_requests_total\{method="tools\/call",verdict="allow"\} [1-9]/);
    assert.match(text, /portcullis_layer_duration_seconds_count\{layer="audit",hook="onRequest"\} [1-9]/);
    assert.match(text, /portcullis_upstream_up\{upstream="probe",state="up"\} 1/);
    assert.match(text, /portcullis_sessions_active [1-9]/);
    assert.match(text, /portcullis_request_duration_seconds_bucket/);
  });

  it("keeps serving after all of that", async () => {
    const res = await fetch(`${gateway.base}/healthz`);
    assert.equal(res.status, 200);
    assert.equal(gateway.process.exitCode, null);
  });
});

describe("an upstream that writes garbage on stdout", () => {
  let gateway: RunningGateway;
  before(async () => {
    gateway = await startGateway(configWith(nodeUpstream("junk", fixture("garbage-server.ts"))));
  });
  after(async () => gateway?.stop());

  it("skips the garbage, logs it, and still answers", async () => {
    const client = new Client({ name: "t", version: "1" });
    await client.connect(new StreamableHTTPClientTransport(new URL(gateway.url)));
    try {
      for (const text of ["one", "two"]) {
        const result = await client.callTool({ name: "junk__echo", arguments: { text } });
        assert.deepEqual(result.content, [{ type: "text", text }]);
      }
      const warning = await gateway.waitForLog((l) => l.msg === "upstream wrote a line that is not JSON-RPC");
      assert.equal(warning.upstream, "junk");
    } finally {
      await client.close();
    }
  });
});

describe("hot reload and shutdown", () => {
  let gateway: RunningGateway;
  before(async () => {
    gateway = await startGateway(configWith(probe));
  });
  after(async () => gateway?.stop());

  it("rejects an invalid config, keeps the running one and logs where the error is", async () => {
    writeFileSync(
      gateway.configPath,
      configWith(probe).replace("maxJsonDepth: 16", "maxJsonDepth: 16\n  bogus: 1"),
    );
    const rejected = await gateway.waitForLog((l) => l.msg === "config rejected; the running config stays");
    assert.match(JSON.stringify(rejected.issues), /server\.bogus/);
    const client = new Client({ name: "t", version: "1" });
    await client.connect(new StreamableHTTPClientTransport(new URL(gateway.url)));
    const { tools } = await client.listTools();
    assert.ok(tools.some((t) => t.name === "probe__whoami"));
    await client.close();
  });

  it("applies a valid config on SIGHUP without dropping an in-flight call", async () => {
    writeFileSync(gateway.configPath, configWith(probe));
    await gateway.waitForLog((l) => l.msg === "config reloaded");
    const client = new Client({ name: "t", version: "1" });
    await client.connect(new StreamableHTTPClientTransport(new URL(gateway.url)));
    await client.callTool({ name: "probe__whoami", arguments: {} });
    const slow = client.callTool({ name: "probe__sleep", arguments: { ms: 900 } }, { timeout: 30_000 });
    await new Promise((r) => setTimeout(r, 300)); // the call is now running upstream
    const second = nodeUpstream(
      "second",
      fixture("session-probe-server.ts"),
      [],
      "    protocol: 2025-11-25\n",
    );
    writeFileSync(gateway.configPath, configWith(probe + second));
    const reloadsBefore = gateway.logs.filter((l) => l.msg === "config reloaded").length;
    gateway.process.kill("SIGHUP");
    await gateway.waitForLog(
      () => gateway.logs.filter((l) => l.msg === "config reloaded").length > reloadsBefore,
    );
    await gateway.waitForLog((l) => l.msg === "upstream connected" && l.upstream === "second");
    const deadline = Date.now() + 10_000;
    let names: string[] = [];
    while (Date.now() < deadline && !names.includes("second__whoami")) {
      names = (await client.listTools()).tools.map((t) => t.name);
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(names.includes("second__whoami"), names.join(","));
    assert.equal(gateway.process.exitCode, null);
    const finished = await slow;
    assert.deepEqual(finished.content, [{ type: "text", text: "slept 900" }]);
    await client.close();
  });

  it("drains and exits 0 on SIGTERM", async () => {
    const code = await gateway.stop("SIGTERM");
    assert.equal(code, 0);
    assert.ok(gateway.logs.some((l) => l.msg === "stopped"));
  });
});

describe("DNS-rebinding protection", () => {
  let gateway: RunningGateway;
  before(async () => {
    gateway = await startGateway(configWith(probe));
  });
  after(async () => gateway?.stop());

  const initialize = JSON.stringify({
    jsonrpc: "2.0",
    id: 1,
    method: "initialize",
    params: { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "raw", version: "1" } },
  });

  function rawPost(headers: Record<string, string>): Promise<{ status: number; body: string }> {
    const url = new URL(gateway.url);
    return new Promise((resolve, reject) => {
      const req = httpRequest(
        {
          host: url.hostname,
          port: url.port,
          path: url.pathname,
          method: "POST",
          headers: {
            "content-type": "application/json",
            accept: "application/json, text/event-stream",
            ...headers,
          },
        },
        (res) => {
          let body = "";
          res.setEncoding("utf8");
          res.on("data", (c: string) => (body += c));
          res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
        },
      );
      req.on("error", reject);
      req.end(initialize);
    });
  }

  it("refuses a request whose Host is a rebound name", async () => {
    const r = await rawPost({ host: "attacker.example:8080" });
    assert.equal(r.status, 403);
    assert.match(r.body, /PORTCULLIS_E_HOST_NOT_ALLOWED/);
  });

  it("refuses a browser request from a foreign Origin", async () => {
    const r = await rawPost({ host: "127.0.0.1", origin: "https://attacker.example" });
    assert.equal(r.status, 403);
    assert.match(r.body, /PORTCULLIS_E_ORIGIN_NOT_ALLOWED/);
  });

  it("serves the benign twins: localhost Host, localhost Origin, no Origin", async () => {
    assert.equal((await rawPost({ host: "localhost:1234", origin: "http://localhost:3000" })).status, 200);
    assert.equal((await rawPost({ host: "127.0.0.1" })).status, 200);
  });
});

describe("session timeouts", () => {
  let gateway: RunningGateway;
  before(async () => {
    gateway = await startGateway(
      `version: 1\n${permitAll}\nserver:\n  sessionIdleTimeoutMs: 1000\nupstreams:\n${nodeUpstream("probe", fixture("session-probe-server.ts"), [], "    protocol: 2025-11-25\n")}`,
    );
  });
  after(async () => gateway?.stop());

  it("forgets a session idle for longer than its timeout; an active one stays", async () => {
    const initialize = {
      jsonrpc: "2.0",
      id: 1,
      method: "initialize",
      params: { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "idle", version: "1" } },
    };
    const ping = { jsonrpc: "2.0", id: 2, method: "ping" };
    const open = async () => {
      const reply = await postFrom(gateway.url, "127.0.0.1", initialize);
      return String(reply.headers.get("mcp-session-id"));
    };
    const idle = await open();
    const active = await open();
    const headers = (id: string) => ({ "mcp-session-id": id, "mcp-protocol-version": "2025-11-25" });
    for (let i = 0; i < 6; i++) {
      await new Promise((r) => setTimeout(r, 400));
      assert.equal((await postFrom(gateway.url, "127.0.0.1", ping, headers(active))).status, 200);
    }
    const expired = await postFrom(gateway.url, "127.0.0.1", ping, headers(idle));
    assert.equal(expired.status, 404);
    assert.equal(expired.body.error?.data.code, "PORTCULLIS_E_SESSION_NOT_FOUND");
  });
});
