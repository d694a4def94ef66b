// The gateway in front of upstreams that fail in every way an upstream fails (one that hangs, one
// that crashes, one whose event loop freezes, one that answers garbage, one that never starts),
// next to the real server-everything, which must keep answering through all of it; and a client
// that provokes failures of its own, which must not take an upstream away from anyone else.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { after, before, describe, it } from "node:test";
import { Client, StreamableHTTPClientTransport } from "@modelcontextprotocol/client";
import {
  everythingServer,
  fixture,
  nodeUpstream,
  permitAll,
  startGateway,
  type RunningGateway,
} from "../helpers/gatewayProcess.ts";
import { failure } from "../helpers/rpc.ts";
import { startReportingUpstream, type ReportingUpstream } from "../helpers/reportingUpstream.ts";

const resilienceServer = fixture("resilience-server.ts");
const garbageServer = fixture("resilience-garbage-server.ts");

interface WatchingClient {
  readonly client: Client;
  /**
   * Resolves once a tools/list_changed has been heard and the tool list then satisfies `wanted`
   * (rechecked on every notification); fails after `timeoutMs`.
   */
  readonly listedAfterChange: (wanted: (names: string[]) => boolean, timeoutMs?: number) => Promise<string[]>;
}

/** A 2025-11-25 client that listens for tools/list_changed. */
async function connect(url: string): Promise<WatchingClient> {
  const client = new Client(
    { name: "resilience-test", version: "1.0.0" },
    { versionNegotiation: { mode: "legacy" } },
  );
  let heard = 0;
  let wake: (() => void) | undefined;
  client.setNotificationHandler("notifications/tools/list_changed", () => {
    heard++;
    wake?.();
  });
  await client.connect(new StreamableHTTPClientTransport(new URL(url)));
  const listedAfterChange = async (wanted: (names: string[]) => boolean, timeoutMs = 15_000) => {
    const deadline = Date.now() + timeoutMs;
    let checked = 0;
    for (;;) {
      if (heard > checked) {
        checked = heard;
        const names = await toolNames(client);
        if (wanted(names)) return names;
      }
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`the tool list never became as wanted (${heard} list_changed heard)`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  };
  return { client, listedAfterChange };
}

function text(result: { content?: unknown }): string {
  return (result.content as { text?: string }[]).map((c) => c.text ?? "").join("");
}

/** The JSON-RPC error a call ended with (it must end with one). */

async function toolNames(client: Client): Promise<string[]> {
  return (await client.listTools()).tools.map((t) => t.name);
}

/** An authorization server that gives the gateway its own token (it exchanges nothing here). */
async function startTokenEndpoint(): Promise<{ server: Server; url: string }> {
  const server = createServer((req, res) => {
    req
      .resume()
      .on("end", () =>
        res
          .writeHead(200, { "content-type": "application/json" })
          .end(JSON.stringify({ access_token: "gateway-own-token", token_type: "Bearer", expires_in: 600 })),
      );
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/token` };
}

describe("resilience of the gateway to failing upstreams", () => {
  let gateway: RunningGateway;
  let dir: string;
  let downFile: string;
  let sickFile: (upstream: string) => string;
  let delegated: ReportingUpstream;
  let tokenEndpoint: Server;

  const logIndex = (predicate: (l: Record<string, unknown>) => boolean) => gateway.logs.findIndex(predicate);
  const about = (upstream: string, msg: string) => (l: Record<string, unknown>) =>
    l.msg === msg && l.upstream === upstream;
  const eventAbout = (upstream: string, type: string) => (l: Record<string, unknown>) =>
    l.msg === `security event ${type}` &&
    (l.event as { details?: { upstream?: string } } | undefined)?.details?.upstream === upstream;

  const circuitLog = (upstream: string) =>
    gateway.logs
      .filter(
        (l) => l.upstream === upstream && /^circuit breaker (opened|half-open|closed)$/.test(String(l.msg)),
      )
      .map((l) => String(l.msg).replace("circuit breaker ", ""));
  const circuitGauge = async (upstream: string, state: string) =>
    new RegExp(`portcullis_upstream_circuit_state\\{upstream="${upstream}",state="${state}"\\} (\\d)`).exec(
      await (await fetch(`${gateway.base}/metrics`)).text(),
    )?.[1];

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "portcullis-resilience-"));
    downFile = join(dir, "down");
    sickFile = (upstream) => join(dir, `${upstream}-sick`);
    delegated = await startReportingUpstream();
    const token = await startTokenEndpoint();
    tokenEndpoint = token.server;
    // No periodic pings: only the breaker's own check and probe reach these while they are sick.
    const breaker = (whenDown: string) =>
      `    protocol: 2025-11-25\n    isolation: shared\n    whenDown: ${whenDown}\n    listRetries: 0\n    healthCheck: { enabled: false }\n    circuitBreaker: { failureThreshold: 3, openMs: 2500 }\n`;
    gateway = await startGateway(`version: 1
${permitAll}
upstreams:
  delegated:
    transport: streamable-http
    url: ${delegated.url}
    isolation: shared
    circuitBreaker: { failureThreshold: 3 }
    auth:
      kind: token-exchange
      tokenUrl: "${token.url}"
      clientId: portcullis
      clientSecret: s3cret
      subjectIssuers: ["https://idp.example.test"]
${nodeUpstream("everything", everythingServer)}
${nodeUpstream("hang", resilienceServer, [], "    isolation: shared\n    requestTimeoutMs: 500\n")}
${nodeUpstream("crashy", resilienceServer, ["--down-file", downFile], "    isolation: shared\n")}
${nodeUpstream("wedge", resilienceServer, [], "    isolation: shared\n    healthCheck: { intervalMs: 200, timeoutMs: 300, unhealthyAfter: 2 }\n")}
${nodeUpstream("junk", garbageServer, [], "    protocol: 2025-11-25\n")}
${nodeUpstream("flaky", garbageServer, ["--sick-file", sickFile("flaky")], breaker("hide"))}
${nodeUpstream("flakyerr", garbageServer, ["--sick-file", sickFile("flakyerr")], breaker("error"))}
${nodeUpstream("dead", fixture("broken-server.ts"))}
${nodeUpstream("modern", fixture("conformance-server.ts"), ["--stdio"], "    healthCheck: { intervalMs: 100, timeoutMs: 2000, unhealthyAfter: 1 }\n")}
`);
  });

  after(async () => {
    await gateway?.stop();
    delegated?.close();
    tokenEndpoint?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("times out a call to an upstream that hangs, and serves every other call meanwhile", async () => {
    const { client } = await connect(gateway.url);
    try {
      const hung = failure(client.callTool({ name: "hang__hang", arguments: {} }));
      const echo = await client.callTool({ name: "everything__echo", arguments: { message: "still here" } });
      assert.equal(text(echo), "Echo: still here");
      assert.match(text(await client.callTool({ name: "hang__whoami", arguments: {} })), /^\d+$/);
      const error = await hung;
      assert.equal(error.code, -32012);
      assert.equal(error.data.code, "PORTCULLIS_E_UPSTREAM_TIMEOUT");
      assert.equal(error.data.upstream, "hang");
      // The upstream itself stays up and usable.
      assert.equal(
        text(await client.callTool({ name: "hang__echo", arguments: { text: "after" } })),
        "after",
      );
    } finally {
      await client.close();
    }
  });

  it("answers a malformed upstream response with a clear protocol error, at once, and keeps serving", async () => {
    const { client } = await connect(gateway.url);
    try {
      const error = await failure(client.callTool({ name: "junk__garbage", arguments: {} }));
      assert.equal(error.code, -32013);
      assert.equal(error.data.code, "PORTCULLIS_E_UPSTREAM_PROTOCOL");
      assert.match(error.message, /malformed response/);
      const warning = await gateway.waitForLog(about("junk", "upstream wrote a line that is not JSON-RPC"));
      assert.match(String(warning.reason), /malformed response to request/);
      assert.equal(text(await client.callTool({ name: "junk__echo", arguments: { text: "fine" } })), "fine");
      assert.equal(gateway.process.exitCode, null);
    } finally {
      await client.close();
    }
  });

  it("does not count JSON-RPC errors the upstream answered as failures", async () => {
    const { client } = await connect(gateway.url);
    try {
      for (let i = 0; i < 6; i++) {
        const error = await failure(client.callTool({ name: "junk__refuse", arguments: {} }));
        assert.equal(error.code, -32602);
        assert.match(error.message, /refused, as asked/);
      }
      assert.equal(
        text(await client.callTool({ name: "junk__echo", arguments: { text: "closed" } })),
        "closed",
      );
    } finally {
      await client.close();
    }
  });

  it("hides a crashed upstream's tools (list_changed), restarts it with backoff and brings them back", async () => {
    const { client, listedAfterChange } = await connect(gateway.url);
    try {
      const before = text(await client.callTool({ name: "crashy__whoami", arguments: {} }));
      writeFileSync(downFile, "stay down"); // every restart fails until the file is gone
      const downAt = gateway.logs.length;
      await failure(client.callTool({ name: "crashy__crash", arguments: {} }));
      const hidden = await listedAfterChange((names) => !names.some((n) => n.startsWith("crashy__")));
      assert.ok(hidden.includes("everything__echo"));
      const refused = await failure(client.callTool({ name: "crashy__echo", arguments: { text: "x" } }));
      assert.equal(refused.data.code, "PORTCULLIS_E_UPSTREAM_UNAVAILABLE");
      await gateway.waitForLog(eventAbout("crashy", "upstream_down"));
      // Restarts are tried again and again (with a growing delay) while the server cannot start.
      await gateway.waitForLog(
        (l) =>
          about("crashy", "upstream failed to start")(l) &&
          gateway.logs.filter((m, i) => i >= downAt && about("crashy", "upstream failed to start")(m))
            .length >= 2,
      );
      const echo = await client.callTool({ name: "everything__echo", arguments: { message: "unaffected" } });
      assert.equal(text(echo), "Echo: unaffected");
      rmSync(downFile);
      await listedAfterChange((names) => names.includes("crashy__echo"));
      const after = text(await client.callTool({ name: "crashy__whoami", arguments: {} }));
      assert.match(after, /^\d+$/);
      assert.notEqual(after, before, "a new process serves after the restart");
    } finally {
      await client.close();
    }
  });

  it("takes down and restarts an upstream whose pings go unanswered", async () => {
    const { client } = await connect(gateway.url);
    try {
      const before = text(await client.callTool({ name: "wedge__whoami", arguments: {} }));
      assert.equal(text(await client.callTool({ name: "wedge__wedge", arguments: {} })), "wedging");
      const unhealthy = await gateway.waitForLog(about("wedge", "upstream failed its health check"));
      assert.equal(unhealthy.failures, 2);
      await gateway.waitForLog(eventAbout("wedge", "upstream_down"));
      const unhealthyAt = gateway.logs.indexOf(unhealthy);
      await gateway.waitForLog(
        (l) => about("wedge", "upstream connected")(l) && gateway.logs.indexOf(l) > unhealthyAt,
      );
      const after = text(await client.callTool({ name: "wedge__whoami", arguments: {} }));
      assert.notEqual(after, before, "the frozen process was replaced");
    } finally {
      await client.close();
    }
  });

  it("does not let one client's timeouts, garbage or refused credentials open a breaker for anyone else", async () => {
    const attacker = await connect(gateway.url);
    const user = await connect(gateway.url);
    try {
      // Calls it makes hang past the call timeout: the upstream still answers the gateway's check.
      const hung = await Promise.all(
        Array.from({ length: 5 }, () =>
          failure(attacker.client.callTool({ name: "hang__hang", arguments: {} })),
        ),
      );
      for (const error of hung) assert.equal(error.data.code, "PORTCULLIS_E_UPSTREAM_TIMEOUT");
      const hangCheck = await gateway.waitForLog(
        about("hang", "circuit breaker stays closed: its check found the upstream alive"),
      );
      assert.ok(Number(hangCheck.failures) >= 5);
      // Tool input that makes the upstream answer garbage, on the attacker's own session process.
      for (let i = 0; i < 6; i++) {
        const error = await failure(attacker.client.callTool({ name: "junk__garbage", arguments: {} }));
        assert.equal(error.data.code, "PORTCULLIS_E_UPSTREAM_PROTOCOL");
      }
      await gateway.waitForLog(
        about("junk", "circuit breaker stays closed: its check found the upstream alive"),
      );
      // A caller without an exchangeable token, refused by the upstream's credential policy.
      for (let i = 0; i < 6; i++) {
        const error = await failure(attacker.client.callTool({ name: "delegated__report", arguments: {} }));
        assert.equal(error.data.code, "PORTCULLIS_E_UPSTREAM_UNAVAILABLE");
        assert.equal(error.data.reason, "credential");
        assert.match(error.message, /accepted issuer/);
      }
      for (const upstream of ["hang", "junk", "delegated"]) {
        assert.deepEqual(circuitLog(upstream), [], `${upstream}'s breaker never moved`);
        assert.equal(await circuitGauge(upstream, "closed"), "1", upstream);
      }
      const names = await toolNames(user.client);
      for (const name of ["hang__echo", "junk__echo", "delegated__report"])
        assert.ok(names.includes(name), name);
      assert.equal(text(await user.client.callTool({ name: "hang__echo", arguments: { text: "a" } })), "a");
      assert.equal(text(await user.client.callTool({ name: "junk__echo", arguments: { text: "b" } })), "b");
    } finally {
      await attacker.client.close();
      await user.client.close();
    }
  });

  it("opens the breaker when the upstream itself fails, probes after openMs, re-opens on a failed probe and closes on a good one", async () => {
    const attacker = await connect(gateway.url);
    const { client, listedAfterChange } = await connect(gateway.url);
    let attacking = true;
    let refusedAttacks = 0;
    try {
      writeFileSync(sickFile("flaky"), "every answer is garbage");
      for (let i = 0; i < 3; i++) {
        const error = await failure(client.callTool({ name: "flaky__echo", arguments: { text: "x" } }));
        assert.equal(error.data.code, "PORTCULLIS_E_UPSTREAM_PROTOCOL");
      }
      // The gateway's own check (a ping) got garbage as well: now it opens.
      await gateway.waitForLog(about("flaky", "circuit breaker opened"));
      const refused = await failure(client.callTool({ name: "flaky__echo", arguments: { text: "x" } }));
      assert.equal(refused.code, -32011);
      assert.equal(refused.data.code, "PORTCULLIS_E_CIRCUIT_OPEN");
      assert.equal(refused.data.upstream, "flaky");
      assert.ok(Number(refused.data.retryAfterSeconds) >= 1);
      await gateway.waitForLog(eventAbout("flaky", "circuit_open"));
      await listedAfterChange((names) => !names.includes("flaky__echo"));
      // A client that keeps calling a tool that answers garbage, hoping to be the probe, never is.
      const attacks = (async () => {
        while (attacking) {
          const error = await failure(attacker.client.callTool({ name: "flaky__garbage", arguments: {} }));
          if (error.data.code === "PORTCULLIS_E_CIRCUIT_OPEN") refusedAttacks++;
          await sleep(100);
        }
      })();
      // The first probe (the gateway's catalogue refresh) gets garbage; the second, once healed, lists.
      await gateway.waitForLog(() => circuitLog("flaky").length >= 3);
      rmSync(sickFile("flaky"));
      await gateway.waitForLog(about("flaky", "circuit breaker closed"));
      attacking = false;
      await attacks;
      assert.ok(refusedAttacks > 0);
      assert.deepEqual(circuitLog("flaky"), ["opened", "half-open", "opened", "half-open", "closed"]);
      await listedAfterChange((names) => names.includes("flaky__echo"));
      assert.equal(text(await client.callTool({ name: "flaky__echo", arguments: { text: "back" } })), "back");
    } finally {
      attacking = false;
      rmSync(sickFile("flaky"), { force: true });
      await attacker.client.close();
      await client.close();
    }
  });

  it("keeps listing an upstream with whenDown: error, and refuses its calls at once while open", async () => {
    const { client } = await connect(gateway.url);
    try {
      writeFileSync(sickFile("flakyerr"), "every answer is garbage");
      for (let i = 0; i < 3; i++)
        await failure(client.callTool({ name: "flakyerr__echo", arguments: { text: "x" } }));
      await gateway.waitForLog(about("flakyerr", "circuit breaker opened"));
      const refused = await failure(client.callTool({ name: "flakyerr__echo", arguments: { text: "x" } }));
      assert.equal(refused.data.code, "PORTCULLIS_E_CIRCUIT_OPEN");
      assert.ok((await toolNames(client)).includes("flakyerr__echo"));
      assert.equal(
        await circuitGauge("flakyerr", "closed"),
        "0",
        "the gauge shows the breaker out of the closed state",
      );
      rmSync(sickFile("flakyerr"));
      await gateway.waitForLog(about("flakyerr", "circuit breaker closed"));
      assert.equal(text(await client.callTool({ name: "flakyerr__echo", arguments: { text: "ok" } })), "ok");
      assert.equal(await circuitGauge("flakyerr", "closed"), "1");
      assert.equal(await circuitGauge("flakyerr", "open"), "0");
    } finally {
      rmSync(sickFile("flakyerr"), { force: true });
      await client.close();
    }
  });

  it("counts every breaker transition and upstream event in the metrics", async () => {
    const metrics = await (await fetch(`${gateway.base}/metrics`)).text();
    for (const type of [
      "circuit_open",
      "circuit_half_open",
      "circuit_closed",
      "upstream_down",
      "upstream_up",
    ]) {
      assert.match(metrics, new RegExp(`portcullis_security_events_total\\{type="${type}"`), type);
    }
  });

  it("health-checks a 2026-07-28 upstream (which has no ping) without ever taking it down", async () => {
    const connected = await gateway.waitForLog(about("modern", "upstream connected"));
    assert.equal(connected.era, "modern");
    // Checked every 100 ms since the start, one failure being enough to take it down.
    assert.equal(logIndex(about("modern", "upstream failed its health check")), -1);
    assert.equal(logIndex(eventAbout("modern", "upstream_down")), -1);
  });

  it("serves every other upstream while one never starts", async () => {
    const ready = (await (await fetch(`${gateway.base}/readyz`)).json()) as {
      ready: boolean;
      upstreams: { name: string; state: string }[];
    };
    assert.equal(ready.ready, true);
    assert.equal(ready.upstreams.find((u) => u.name === "dead")?.state, "down");
    const { client } = await connect(gateway.url);
    try {
      const names = await toolNames(client);
      assert.ok(!names.some((n) => n.startsWith("dead__")));
      for (const name of ["everything__echo", "hang__echo", "junk__echo", "flaky__echo", "wedge__echo"])
        assert.ok(names.includes(name), name);
      const echo = await client.callTool({ name: "everything__echo", arguments: { message: "all well" } });
      assert.equal(text(echo), "Echo: all well");
    } finally {
      await client.close();
    }
  });
});
