// The network layer in a running gateway: static deny lists and operator blocks refused before any
// credential is looked at, a slow-header client cut off, oversized, deeply nested and long-string
// bodies refused, a connection flood from one address capped while another address is served, and
// the per-session stream cap. Every attack has its benign twin from another loopback address.
import assert from "node:assert/strict";
import { connect, type Socket } from "node:net";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { createApiKey } from "../../src/layers/identity/apiKeys.ts";
import {
  everythingServer,
  permitAll,
  runCli,
  startGateway,
  type RunningGateway,
} from "../helpers/gatewayProcess.ts";
import { modernEnvelope, postFrom } from "../helpers/rawHttp.ts";

const listTools = { jsonrpc: "2.0", id: 1, method: "tools/list", params: { _meta: modernEnvelope } };
const modernHeaders = { "mcp-protocol-version": "2026-07-28", "mcp-method": "tools/list" };

/** Opens a raw TCP connection from `from`; resolves once connected. */
function rawSocket(port: number, from: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ port, host: "127.0.0.1", localAddress: from });
    socket.once("connect", () => resolve(socket));
    socket.once("error", reject);
  });
}

/** Resolves with what the server sent once it closes the connection (or after `limitMs`: "open"). */
function closedWithin(socket: Socket, limitMs: number): Promise<string> {
  return new Promise((resolve) => {
    let received = "";
    socket.on("data", (chunk: Buffer) => (received += chunk.toString()));
    const timer = setTimeout(() => resolve("open"), limitMs);
    socket.once("close", () => {
      clearTimeout(timer);
      resolve(received);
    });
    socket.on("error", () => undefined);
  });
}

describe("the network layer in a running gateway", () => {
  let gateway: RunningGateway;
  let key: string;
  let port: number;
  const auth = () => ({ authorization: `Bearer ${key}`, ...modernHeaders });

  before(async () => {
    gateway = await startGateway(
      `version: 1
${permitAll}
identity:
  apiKeys: { file: keys.json }
network:
  deny: ["127.0.0.66", "127.0.9.0/24"]
  maxConnectionsPerAddress: 4
  headersTimeoutMs: 1000
  maxStringLength: 2048
  maxStreamsPerSession: 2
server:
  maxJsonDepth: 16
  maxBodyBytes: 65536
upstreams:
  everything:
    transport: stdio
    command: ${JSON.stringify(process.execPath)}
    args: [${JSON.stringify(everythingServer)}]
`,
      { prepare: (dir) => (key = createApiKey(join(dir, "keys.json"), { name: "agent", roles: [] }).key) },
    );
    port = Number(new URL(gateway.url).port);
  });

  after(async () => {
    await gateway?.stop();
  });

  it("refuses a denied address and range before authentication, and serves its neighbour", async () => {
    for (const from of ["127.0.0.66", "127.0.9.7"]) {
      const refused = await postFrom(gateway.url, from, listTools, modernHeaders);
      assert.equal(refused.status, 403, from);
      assert.equal(refused.body.error?.data.code, "PORTCULLIS_E_ADDRESS_DENIED");
      assert.match(String(refused.body.error?.data.rule), /^deny-list:/);
    }
    // The benign twin: without credentials it meets authentication (401), with them it is served.
    assert.equal((await postFrom(gateway.url, "127.0.0.67", listTools, modernHeaders)).status, 401);
    const served = await postFrom(gateway.url, "127.0.0.67", listTools, auth());
    assert.equal(served.status, 200);
    assert.ok(Array.isArray((served.body.result as { tools?: unknown[] }).tools));
  });

  it("blocks and lifts an address with `portcullis block`, refused before authentication", async () => {
    const config = ["--config", gateway.configPath];
    const added = await runCli(
      "block",
      "add",
      "127.0.0.70",
      "--for",
      "10m",
      "--reason",
      "pen test",
      ...config,
    );
    assert.equal(added.status, 0, added.stderr);
    assert.match(added.stdout, /blocked 127\.0\.0\.70 for/);
    const blocked = await postFrom(gateway.url, "127.0.0.70", listTools, auth());
    assert.equal(blocked.status, 403);
    assert.equal(blocked.body.error?.data.code, "PORTCULLIS_E_ADDRESS_BLOCKED");
    assert.equal(blocked.body.error?.data.rule, "dynamic-block:admin");
    assert.ok(Number(blocked.headers.get("retry-after")) > 500);
    // Even without credentials the answer is the block, not a 401: nothing was parsed.
    assert.equal((await postFrom(gateway.url, "127.0.0.70", listTools, modernHeaders)).status, 403);
    assert.equal((await postFrom(gateway.url, "127.0.0.71", listTools, auth())).status, 200);

    const listed = await runCli("block", "list", "--json", ...config);
    const blocks = listed.stdout
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line) as { subject: string });
    assert.ok(blocks.some((b) => b.subject === "127.0.0.70"));

    const bad = await runCli("block", "add", "127.1", "--reason", "x", ...config);
    assert.equal(bad.status, 1);
    assert.match(bad.stderr, /PORTCULLIS_E_BLOCK_INVALID/);

    const removed = await runCli("block", "remove", "127.0.0.70", ...config);
    assert.equal(removed.status, 0, removed.stderr);
    assert.equal((await postFrom(gateway.url, "127.0.0.70", listTools, auth())).status, 200);
    assert.equal((await runCli("block", "remove", "127.0.0.70", ...config)).status, 1);
  });

  it("blocks a whole range from the CLI", async () => {
    const config = ["--config", gateway.configPath];
    assert.equal(
      (await runCli("block", "add", "127.0.12.0/24", "--reason", "botnet", "--for", "5m", ...config)).status,
      0,
    );
    assert.equal((await postFrom(gateway.url, "127.0.12.200", listTools, auth())).status, 403);
    assert.equal((await postFrom(gateway.url, "127.0.13.1", listTools, auth())).status, 200);
    assert.equal((await runCli("block", "remove", "127.0.12.0/24", ...config)).status, 0);
    assert.equal((await postFrom(gateway.url, "127.0.12.200", listTools, auth())).status, 200);
  });

  it("cuts off a client that trickles its request head, and answers a prompt one", async () => {
    const slow = await rawSocket(port, "127.0.0.80");
    slow.write("POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\n");
    // One more header line now and then, never the blank line that ends the head.
    const drip = setInterval(() => slow.write("X-Slow: 1\r\n"), 200);
    const answer = await closedWithin(slow, 8000);
    clearInterval(drip);
    assert.notEqual(answer, "open", "the slow client was not cut off");
    assert.match(answer === "" ? "HTTP/1.1 408" : answer, /^HTTP\/1\.1 408/);

    const silent = await rawSocket(port, "127.0.0.81");
    assert.notEqual(await closedWithin(silent, 8000), "open", "a silent connection was kept");
    assert.equal((await postFrom(gateway.url, "127.0.0.82", listTools, auth())).status, 200);
  });

  it("refuses oversized, deeply nested and long-string bodies with typed errors", async () => {
    const deep = {
      ...listTools,
      params: { _meta: modernEnvelope, x: JSON.parse("[".repeat(40) + "]".repeat(40)) },
    };
    const tooDeep = await postFrom(gateway.url, "127.0.0.1", deep, auth());
    assert.equal(tooDeep.status, 400);
    assert.equal(tooDeep.body.error?.data.code, "PORTCULLIS_E_TOO_DEEP");

    const long = { ...listTools, params: { _meta: modernEnvelope, x: "a".repeat(4096) } };
    const tooLong = await postFrom(gateway.url, "127.0.0.1", long, auth());
    assert.equal(tooLong.status, 400);
    assert.equal(tooLong.body.error?.data.code, "PORTCULLIS_E_STRING_TOO_LONG");

    const big = { ...listTools, params: { _meta: modernEnvelope, x: Array(40_000).fill(1) } };
    const tooBig = await postFrom(gateway.url, "127.0.0.1", big, auth());
    assert.equal(tooBig.status, 413);
    assert.equal(tooBig.body.error?.data.code, "PORTCULLIS_E_BODY_TOO_LARGE");

    // The benign twin: a string just under the limit is served.
    const fine = { ...listTools, params: { _meta: modernEnvelope, x: "a".repeat(2000) } };
    assert.equal((await postFrom(gateway.url, "127.0.0.1", fine, auth())).status, 200);
  });

  it("caps the connections of one address and keeps serving another", async () => {
    const held: Socket[] = [];
    try {
      for (let i = 0; i < 4; i++) held.push(await rawSocket(port, "127.0.0.90"));
      const fifth = await rawSocket(port, "127.0.0.90");
      held.push(fifth);
      assert.notEqual(await closedWithin(fifth, 3000), "open", "the fifth connection was kept");
      assert.equal((await postFrom(gateway.url, "127.0.0.91", listTools, auth())).status, 200);
    } finally {
      for (const socket of held) socket.destroy();
    }
    // Once its connections close, the address is served again.
    await new Promise((r) => setTimeout(r, 200));
    assert.equal((await postFrom(gateway.url, "127.0.0.90", listTools, auth())).status, 200);
  });

  it("caps the streams one client holds open at once", async () => {
    // Two open listen streams of one client fill its cap; a third request of it is refused.
    const listen = (from: string) =>
      fetch(gateway.url, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          accept: "application/json, text/event-stream",
          authorization: `Bearer ${key}`,
          "mcp-protocol-version": "2026-07-28",
          "mcp-method": "subscriptions/listen",
        },
        body: JSON.stringify({
          jsonrpc: "2.0",
          id: from,
          method: "subscriptions/listen",
          params: { _meta: modernEnvelope, notifications: { toolsListChanged: true } },
        }),
      });
    const streams = await Promise.all([listen("a"), listen("b")]);
    try {
      for (const s of streams) assert.equal(s.status, 200);
      const third = await postFrom(gateway.url, "127.0.0.1", listTools, auth());
      assert.equal(third.status, 429);
      assert.equal(third.body.error?.data.code, "PORTCULLIS_E_TOO_MANY_STREAMS");
      assert.equal(third.headers.get("retry-after"), "1");
    } finally {
      for (const s of streams) await s.body?.cancel();
    }
    await new Promise((r) => setTimeout(r, 200));
    assert.equal((await postFrom(gateway.url, "127.0.0.1", listTools, auth())).status, 200);
  });
});
