// Rate limits in running gateways: two gateway processes sharing one real Redis enforce one limit
// together, a flooding address is refused with 429 and Retry-After while another address is served,
// a 2025 session is refused at the edge before its request reaches the session, Redis stopped
// mid-run refuses (fail-secure) with an event until it is back, and requests the layers deny are
// limited too (the address and principal buckets run before trust and authorization).
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Client, SdkHttpError } from "@modelcontextprotocol/client";
import { StdioClientTransport } from "@modelcontextprotocol/client/stdio";
import {
  cliPath,
  everythingServer,
  permitAll,
  startGateway,
  type RunningGateway,
} from "../helpers/gatewayProcess.ts";
import { clientFrom, modernEnvelope, postFrom } from "../helpers/rawHttp.ts";
import { redisSkipReason, startTestRedis, type TestRedis } from "../helpers/redisServer.ts";

const listTools = { jsonrpc: "2.0", id: 1, method: "tools/list", params: { _meta: modernEnvelope } };
const modernHeaders = { "mcp-protocol-version": "2026-07-28", "mcp-method": "tools/list" };

const skip = redisSkipReason();

describe("rate limits shared by two gateway nodes through Redis", { skip }, () => {
  let redis: TestRedis;
  let nodes: RunningGateway[] = [];

  before(async () => {
    redis = await startTestRedis();
    const config = (node: string) => `version: 1
${permitAll}
audit: { node: ${node} }
state:
  backend: redis
  redis: { url: "${redis.url}", keyPrefix: "rl-test:" }
rateLimits:
  perAddress: { rate: 0.2, burst: 10 }
  perPrincipal: { rate: 0.2, burst: 10 }
upstreams:
  everything:
    transport: stdio
    command: ${JSON.stringify(process.execPath)}
    args: [${JSON.stringify(everythingServer)}]
`;
    nodes = await Promise.all([startGateway(config("node-a")), startGateway(config("node-b"))]);
  });

  after(async () => {
    await Promise.all(nodes.map((n) => n.stop()));
    await redis?.close();
  });

  it("lets one address spend one burst across both nodes, and serves another address", async () => {
    const statuses: number[] = [];
    let refusal: Awaited<ReturnType<typeof postFrom>> | undefined;
    for (let i = 0; i < 20; i++) {
      const reply = await postFrom(nodes[i % 2]!.url, "127.0.0.2", listTools, modernHeaders);
      // Refused requests also count as recent denials for the trust evaluator, which may then
      // refuse the flooding address itself: served means answered with a result.
      statuses.push(reply.status === 200 && reply.body.error ? 403 : reply.status);
      if (reply.status === 429) refusal ??= reply;
    }
    const served = statuses.filter((s) => s === 200).length;
    // One burst of 10 for both nodes together (a node alone would have let 10 through on each).
    assert.ok(served >= 10 && served <= 11, `served ${served}: ${statuses.join(",")}`);
    assert.ok(statuses.filter((s) => s === 429).length >= 5, statuses.join(","));
    assert.equal(refusal?.body.error?.data.code, "PORTCULLIS_E_RATE_LIMITED");
    assert.equal(refusal?.body.error?.data.layer, "ratelimit");
    assert.match(String(refusal?.body.error?.data.rule), /^(address|principal):default$/);
    assert.ok(Number(refusal?.headers.get("retry-after")) >= 1);
    // Operators see the refusals by rule and code in each node's metrics.
    let counted = 0;
    for (const node of nodes) {
      const metrics = await (await fetch(`${node.base}/metrics`)).text();
      for (const m of metrics.matchAll(
        /^portcullis_rate_limited_total\{rule="(?:address|principal):default",code="PORTCULLIS_E_RATE_LIMITED"\} (\d+)$/gm,
      ))
        counted += Number(m[1]);
    }
    assert.ok(counted >= 5, `metrics count ${counted} refusals`);
    // The benign twin: another address has its own buckets on both nodes.
    for (const node of nodes)
      assert.equal((await postFrom(node.url, "127.0.0.3", listTools, modernHeaders)).status, 200);
  });

  it("refuses a 2025 session at the edge with 429 and the JSON-RPC error carrying the retry hint", async () => {
    const client = await clientFrom(nodes[0]!.url, "127.0.0.4");
    try {
      let error: unknown;
      for (let i = 0; i < 15 && !error; i++) {
        await client.listTools().catch((err: unknown) => {
          error = err;
        });
      }
      assert.ok(error instanceof SdkHttpError, `no refusal after 15 requests: ${String(error)}`);
      assert.equal(error.status, 429);
      const body = JSON.parse(String((error.data as { text?: unknown }).text)) as {
        error: { code: number; data: Record<string, unknown> };
      };
      assert.equal(body.error.code, -32016);
      assert.equal(body.error.data.code, "PORTCULLIS_E_RATE_LIMITED");
      assert.equal(body.error.data.layer, "ratelimit");
      assert.ok(Number(body.error.data.retryAfterSeconds) >= 1);
    } finally {
      await client.close();
    }
  });

  it("refuses while Redis is down (fail-secure) with an event, and recovers when it is back", async () => {
    await redis.stop();
    try {
      const reply = await postFrom(nodes[0]!.url, "127.0.0.5", listTools, modernHeaders);
      assert.equal(reply.status, 503);
      assert.equal(reply.body.error?.data.code, "PORTCULLIS_E_STATE_UNAVAILABLE");
      await nodes[0]!.waitForLog(
        (line) => (line.event as { type?: string } | undefined)?.type === "state_unavailable",
        10_000,
      );
    } finally {
      await redis.start();
    }
    let status = 0;
    for (let i = 0; i < 100 && status !== 200; i++) {
      await new Promise((r) => setTimeout(r, 100));
      status = (await postFrom(nodes[0]!.url, "127.0.0.6", listTools, modernHeaders)).status;
    }
    assert.equal(status, 200, "not served again after Redis came back");
  });
});

/** Only tools/list is permitted: every tool call is refused by authorization. */
const listsOnly = (burst: number) => `version: 1
authorization:
  policies:
    - { id: lists-only, effect: permit, actions: [tools/list] }
rateLimits:
  perPrincipal: { rate: 0.01, burst: ${burst} }
upstreams:
  everything:
    transport: stdio
    command: ${JSON.stringify(process.execPath)}
    args: [${JSON.stringify(everythingServer)}]
`;

describe("rate limits before trust and authorization", () => {
  let gateway: RunningGateway;

  before(async () => {
    gateway = await startGateway(listsOnly(5));
  });

  after(async () => {
    await gateway?.stop();
  });

  it("limits a flood of calls that authorization refuses, and serves another caller", async () => {
    const from = "127.0.0.20";
    const denied = {
      jsonrpc: "2.0",
      id: 1,
      method: "tools/call",
      params: { name: "everything__echo", arguments: { message: "x" }, _meta: modernEnvelope },
    };
    const headers = {
      "mcp-protocol-version": "2026-07-28",
      "mcp-method": "tools/call",
      "mcp-name": "everything__echo",
    };
    const statuses: number[] = [];
    let refusal: Awaited<ReturnType<typeof postFrom>> | undefined;
    for (let i = 0; i < 20; i++) {
      const reply = await postFrom(gateway.url, from, denied, headers);
      statuses.push(reply.status);
      if (reply.status === 429) refusal ??= reply;
      else assert.ok(reply.body.error, "a call authorization refuses was answered with a result");
    }
    // Five reach the layers (and are refused there); the fifteen after them never do.
    assert.equal(statuses.filter((s) => s === 429).length, 15, statuses.join(","));
    assert.equal(refusal?.body.error?.data.code, "PORTCULLIS_E_RATE_LIMITED");
    assert.equal(refusal?.body.error?.data.rule, "principal:default");
    assert.ok(Number(refusal?.headers.get("retry-after")) >= 1);
    // Only the five that got past the edge cost a denial event (and an audit record, trust I/O).
    await new Promise((r) => setTimeout(r, 300));
    const denials = gateway.logs.filter((line) => {
      const event = line.event as { type?: string; clientAddress?: string } | undefined;
      return event?.type === "message_denied" && event.clientAddress === from;
    });
    assert.equal(denials.length, 5);
    // Benign twin: another caller is served.
    const twin = await postFrom(gateway.url, "127.0.0.21", listTools, modernHeaders);
    assert.equal(twin.status, 200);
    assert.ok(twin.body.result);
  });
});

describe("rate limits over stdio", () => {
  it("spends the local user's principal bucket on every request but ping, refused ones too", async () => {
    const dir = mkdtempSync(join(tmpdir(), "portcullis-rl-stdio-"));
    writeFileSync(join(dir, "portcullis.yaml"), listsOnly(4));
    const client = new Client({ name: "desktop", version: "1" }, { versionNegotiation: { mode: "legacy" } });
    await client.connect(
      new StdioClientTransport({
        command: process.execPath,
        args: [cliPath, "stdio", "--config", join(dir, "portcullis.yaml")],
        env: { PATH: process.env.PATH ?? "" },
        stderr: "pipe",
      }),
    );
    try {
      // initialize was the first of four; a call authorization refuses is the third.
      await client.listTools();
      await assert.rejects(client.callTool({ name: "everything__echo", arguments: { message: "x" } }));
      await client.listTools();
      await client.ping();
      const refused = await client.listTools().then(
        () => undefined,
        (err: unknown) => err as Error & { code?: number; data?: Record<string, unknown> },
      );
      assert.equal(refused?.code, -32016);
      assert.equal(refused?.data?.code, "PORTCULLIS_E_RATE_LIMITED");
      assert.equal(refused?.data?.rule, "principal:default");
      // Keep-alives are never refused.
      await client.ping();
    } finally {
      await client.close();
    }
  });
});
