// The circuit breaker's state machine and what one abusive client can do to it, which failures count
// against an upstream, list retries, health checks, hidden upstreams, and the settings' defaults.
import assert from "node:assert/strict";
import { generateKeyPairSync } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { SdkErrorCode, SdkHttpError } from "@modelcontextprotocol/client";
import { loadSigningKey } from "../../src/audit/signing.ts";
import { upstreamSchema } from "../../src/config/schema.ts";
import { GatewayError, UpstreamRpcError } from "../../src/errors.ts";
import { Catalog } from "../../src/federation/catalog.ts";
import { NameSpacer } from "../../src/federation/naming.ts";
import type { Principal } from "../../src/pipeline/types.ts";
import {
  CircuitBreaker,
  type CallSource,
  type CheckResult,
  type CircuitTransition,
} from "../../src/resilience/circuitBreaker.ts";
import { classifyFailure } from "../../src/resilience/faults.ts";
import { HealthMonitor } from "../../src/resilience/healthCheck.ts";
import { withListRetries } from "../../src/resilience/retry.ts";
import { toGatewayError } from "../../src/upstream/connection.ts";
import {
  asCaller,
  setCallerScoped,
  setUpstreamTokenSigner,
  UpstreamCredentialError,
  UpstreamTokenSigner,
  withUpstreamCredentials,
  type UpstreamAuth,
} from "../../src/upstream/credentials.ts";
import { isMalformedResponse, SpawnedStdioTransport } from "../../src/upstream/stdioTransport.ts";

const timeout = () => new GatewayError("PORTCULLIS_E_UPSTREAM_TIMEOUT", "up", { upstream: "up" });
const lostConnection = () => new GatewayError("PORTCULLIS_E_UPSTREAM_UNAVAILABLE", "up: connection closed");
const garbage = () => new GatewayError("PORTCULLIS_E_UPSTREAM_PROTOCOL", "up: malformed response");
const answeredError = () => new UpstreamRpcError("up", -32602, "no such thing", undefined);
const cancelled = () => new GatewayError("PORTCULLIS_E_CANCELLED");
const noCallerToken = () =>
  toGatewayError(new UpstreamCredentialError("the caller has none from an accepted issuer"), "up");

/** Lets the breaker's own check (started by the fault that reached the threshold) finish. */
const settle = () => new Promise((resolve) => setImmediate(resolve));

/**
 * A breaker on a clock the test moves, with every transition it made. Its check of the upstream
 * times out (a dead or hung upstream) until `upstreamAnswers()`.
 */
function breakerOnClock(failureThreshold = 5, openMs = 60_000) {
  let now = 1_000;
  let checks = 0;
  let answersChecks = false;
  const transitions: string[] = [];
  const cleared: CheckResult[] = [];
  const breaker = new CircuitBreaker({
    upstream: "up",
    failureThreshold,
    openMs,
    now: () => now,
    check: async () => {
      checks++;
      await settle();
      if (!answersChecks) throw timeout();
    },
    onTransition: (t: CircuitTransition) => transitions.push(`${t.from}>${t.to}`),
    onCheckCleared: (result) => cleared.push(result),
  });
  const fail = async (err: Error = timeout(), source: CallSource = "client") => {
    await breaker.run(() => Promise.reject(err), source).catch(() => undefined);
    await settle();
  };
  const succeed = (source: CallSource = "client") => breaker.run(() => Promise.resolve("ok"), source);
  return {
    breaker,
    transitions,
    cleared,
    fail,
    succeed,
    checks: () => checks,
    upstreamAnswers: () => (answersChecks = true),
    advance: (ms: number) => (now += ms),
  };
}

function refusal(call: () => unknown): GatewayError {
  try {
    call();
  } catch (err) {
    assert.ok(err instanceof GatewayError);
    assert.equal(err.code, "PORTCULLIS_E_CIRCUIT_OPEN");
    return err;
  }
  assert.fail("expected a refusal");
}

describe("which failures count against an upstream", () => {
  it("counts timeouts, lost connections and garbage as the upstream's faults", () => {
    for (const err of [timeout(), lostConnection(), garbage()]) assert.equal(classifyFailure(err), "fault");
  });
  it("takes a JSON-RPC error the upstream answered as a sign of life", () => {
    assert.equal(classifyFailure(answeredError()), "answered");
  });
  it("ignores cancellations, gateway refusals and gateway bugs", () => {
    for (const err of [
      cancelled(),
      new GatewayError("PORTCULLIS_E_AUTHZ_DENIED"),
      new GatewayError("PORTCULLIS_E_CIRCUIT_OPEN"),
      new GatewayError("PORTCULLIS_E_NOT_BRIDGEABLE"),
      new TypeError("a bug"),
    ])
      assert.equal(classifyFailure(err), "neutral");
  });
  it("puts a caller's missing or refused credential apart from the upstream's faults", () => {
    const refused = (status: number) =>
      toGatewayError(
        new SdkHttpError(SdkErrorCode.ClientHttpNotImplemented, "Error POSTing to endpoint", { status }),
        "up",
      );
    for (const err of [noCallerToken(), refused(401), refused(403)]) {
      assert.equal(classifyFailure(err), "credential");
      assert.ok(err instanceof GatewayError);
      assert.equal(err.data?.upstream, "up");
    }
    assert.equal(classifyFailure(refused(502)), "fault", "a failing upstream is still a fault");
    assert.equal(classifyFailure(toGatewayError(new Error("socket hang up"), "up")), "fault");
  });
});

describe("upstream credentials", () => {
  /** An API-key caller: no token any issuer vouched for, nothing to exchange. */
  const apiKeyCaller: Principal = { id: "mallory", kind: "user", roles: [], authMethod: "api-key" };
  const caller = () => ({ principal: apiKeyCaller, session: undefined });
  const answering = (status: number) => {
    const sent: string[] = [];
    const send = async (_input: string | URL, init?: RequestInit) => {
      sent.push(new Headers(init?.headers).get("authorization") ?? "");
      return new Response("{}", { status });
    };
    return { send, sent };
  };

  before(() => {
    setCallerScoped([{ auth: { kind: "gateway-jwt" } }]);
    const { privateKey } = generateKeyPairSync("ed25519");
    const pem = privateKey.export({ format: "pem", type: "pkcs8" }).toString();
    setUpstreamTokenSigner(new UpstreamTokenSigner(loadSigningKey(pem, "unused"), "portcullis"));
  });
  after(() => {
    setCallerScoped([]);
    setUpstreamTokenSigner(undefined);
  });

  it("refuses an API-key caller of a token-exchange upstream as a credential failure, never sending", async () => {
    const upstream = answering(200);
    const exchange: UpstreamAuth = {
      kind: "token-exchange",
      tokenUrl: "https://as.example.test/token",
      clientId: "portcullis",
      clientSecret: "s3cret",
      subjectIssuers: ["https://idp.example.test"],
      withoutCallerToken: "refuse",
    };
    const fetchAs = withUpstreamCredentials(exchange, "https://up.example.test/mcp", upstream.send);
    await assert.rejects(
      asCaller(caller(), () => fetchAs("https://up.example.test/mcp")),
      (err: Error) => err instanceof UpstreamCredentialError && /accepted issuer/.test(err.message),
    );
    assert.equal(upstream.sent.length, 0);
  });

  it("tells a caller's 401 or 403 from the upstream apart, and leaves the gateway's own to the SDK", async () => {
    const jwt: UpstreamAuth = { kind: "gateway-jwt", ttlSeconds: 60 };
    for (const status of [401, 403]) {
      const upstream = answering(status);
      const fetchAs = withUpstreamCredentials(jwt, "https://up.example.test/mcp", upstream.send);
      await assert.rejects(
        asCaller(caller(), () => fetchAs("https://up.example.test/mcp")),
        (err: Error) => err instanceof UpstreamCredentialError && err.message.includes(`HTTP ${status}`),
      );
      assert.equal((await fetchAs("https://up.example.test/mcp")).status, status);
      assert.equal(upstream.sent.length, 2);
    }
    const fine = withUpstreamCredentials(jwt, "https://up.example.test/mcp", answering(200).send);
    assert.equal((await asCaller(caller(), () => fine("https://up.example.test/mcp"))).status, 200);
  });
});

describe("circuit breaker", () => {
  it("opens after five faults in a row once its own check of the upstream fails too, then refuses at once", async () => {
    const { breaker, transitions, fail, checks } = breakerOnClock();
    for (let i = 0; i < 4; i++) await fail();
    assert.equal(checks(), 0, "no check before the threshold");
    assert.equal(breaker.state, "closed");
    await fail();
    assert.equal(checks(), 1);
    assert.equal(breaker.state, "open");
    assert.deepEqual(transitions, ["closed>open"]);
    let called = false;
    await assert.rejects(
      breaker.run(async () => (called = true), "client"),
      (err: GatewayError) =>
        err.code === "PORTCULLIS_E_CIRCUIT_OPEN" &&
        err.data?.upstream === "up" &&
        err.data.retryAfterSeconds === 60,
    );
    assert.equal(called, false, "an open breaker never reaches the upstream");
  });

  it("does not open after four faults and a success: the count starts again", async () => {
    const { breaker, fail, succeed } = breakerOnClock();
    for (let i = 0; i < 4; i++) await fail();
    await succeed();
    for (let i = 0; i < 4; i++) await fail();
    assert.equal(breaker.state, "closed");
    await fail();
    assert.equal(breaker.state, "open");
  });

  it("counts a timeout, a lost connection and garbage alike", async () => {
    const { breaker, fail } = breakerOnClock(3);
    await fail(timeout());
    await fail(lostConnection());
    await fail(garbage());
    assert.equal(breaker.state, "open");
  });

  it("never counts JSON-RPC errors the upstream answered, cancellations, denials or credential failures", async () => {
    const { breaker, fail, checks } = breakerOnClock(2);
    await fail();
    await fail(answeredError()); // the upstream answered: the run of faults is broken
    await fail();
    await fail(cancelled());
    await fail(new GatewayError("PORTCULLIS_E_DENIED"));
    await fail(noCallerToken());
    assert.equal(breaker.state, "closed");
    assert.equal(checks(), 0);
    await fail();
    assert.equal(breaker.state, "open");
  });

  it("checks one suspicion at a time", async () => {
    const { breaker, checks } = breakerOnClock(2);
    const calls = Array.from({ length: 10 }, () =>
      breaker.run(() => Promise.reject(timeout()), "client").catch(() => undefined),
    );
    await Promise.all(calls);
    await settle();
    assert.equal(checks(), 1);
    assert.equal(breaker.state, "open");
  });

  it("stays open until openMs has passed, with a shrinking retry-after", async () => {
    const { breaker, fail, advance } = breakerOnClock(1, 10_000);
    await fail();
    advance(4_000);
    assert.equal(refusal(() => breaker.admit("client")).data?.retryAfterSeconds, 6);
    advance(5_999);
    assert.equal(refusal(() => breaker.admit("gateway")).data?.retryAfterSeconds, 1);
    assert.equal(breaker.state, "open");
  });

  it("lets only the gateway's own probe through once the wait is over, refusing every client meanwhile", async () => {
    const { breaker, transitions, fail, advance } = breakerOnClock(1, 1_000);
    await fail();
    advance(5_000);
    const early = refusal(() => breaker.admit("client"));
    assert.equal(early.data?.state, "open", "a client's call is never the probe");
    assert.equal(early.data?.retryAfterSeconds, 1);
    const probe = breaker.admit("gateway");
    assert.equal(probe.probe, true);
    assert.equal(breaker.state, "half-open");
    assert.equal(refusal(() => breaker.admit("client")).data?.state, "half-open");
    refusal(() => breaker.admit("gateway")); // one probe at a time
    assert.deepEqual(transitions, ["closed>open", "open>half-open"]);
  });

  it("closes when the probe succeeds", async () => {
    const { breaker, transitions, fail, succeed, advance } = breakerOnClock(2, 1_000);
    await fail();
    await fail();
    advance(1_000);
    assert.equal(await succeed("gateway"), "ok");
    assert.equal(breaker.state, "closed");
    assert.deepEqual(transitions, ["closed>open", "open>half-open", "half-open>closed"]);
    await fail(); // closed again, with a fresh count
    assert.equal(breaker.state, "closed");
  });

  it("closes when the probe gets a JSON-RPC error: the upstream answered", async () => {
    const { breaker, fail, advance } = breakerOnClock(1, 1_000);
    await fail();
    advance(1_000);
    await fail(answeredError(), "gateway");
    assert.equal(breaker.state, "closed");
  });

  it("opens again, for another openMs, when the probe fails", async () => {
    const { breaker, transitions, fail, advance } = breakerOnClock(5, 1_000);
    for (let i = 0; i < 5; i++) await fail();
    advance(1_000);
    await fail(timeout(), "gateway"); // the probe alone decides
    assert.equal(breaker.state, "open");
    assert.deepEqual(transitions, ["closed>open", "open>half-open", "half-open>open"]);
    advance(999);
    refusal(() => breaker.admit("gateway"));
    advance(1);
    assert.equal(breaker.admit("gateway").probe, true);
  });

  it("probes again after openMs when the probe ended without a verdict", async () => {
    const { breaker, transitions, fail, advance } = breakerOnClock(1, 1_000);
    await fail();
    advance(1_000);
    await fail(cancelled(), "gateway");
    assert.equal(breaker.state, "open");
    assert.deepEqual(transitions, ["closed>open", "open>half-open", "half-open>open"]);
    advance(1_000);
    assert.equal(breaker.admit("gateway").probe, true);
  });

  it("ignores calls that were admitted before the breaker moved on", async () => {
    const { breaker, fail, advance } = breakerOnClock(1, 1_000);
    const slow = breaker.admit("client");
    await fail();
    assert.equal(breaker.state, "open");
    breaker.record(slow, "answered"); // a late success does not close an open breaker
    assert.equal(breaker.state, "open");
    advance(1_000);
    const probe = breaker.admit("gateway");
    breaker.record(slow, "fault"); // nor does a late failure spoil the probe
    assert.equal(breaker.state, "half-open");
    breaker.record(probe, "answered");
    assert.equal(breaker.state, "closed");
  });
});

describe("circuit breaker against a single abusive client", () => {
  it("cannot be opened by calls made to time out, crash a session or answer garbage while the upstream answers its check", async () => {
    const { breaker, transitions, cleared, fail, checks, upstreamAnswers } = breakerOnClock();
    upstreamAnswers();
    for (let i = 0; i < 50; i++) await fail([timeout(), lostConnection(), garbage()][i % 3]);
    assert.equal(breaker.state, "closed");
    assert.deepEqual(transitions, []);
    assert.equal(checks(), 10, "one check of the upstream per five faults, no more");
    assert.deepEqual(cleared[0], { failures: 5, outcome: "answered" });
  });

  it("cannot be opened by calls refused for the caller's credential: they are not even checked", async () => {
    const { breaker, fail, checks } = breakerOnClock(1);
    for (let i = 0; i < 50; i++) await fail(noCallerToken());
    assert.equal(breaker.state, "closed");
    assert.equal(checks(), 0);
  });

  it("cannot keep it open: its calls once the wait is over are refused, and the gateway's probe closes it", async () => {
    const { breaker, transitions, fail, succeed, advance, upstreamAnswers } = breakerOnClock(5, 60_000);
    for (let i = 0; i < 5; i++) await fail(); // a real outage opened it
    upstreamAnswers();
    advance(60_000);
    let reached = 0;
    for (let i = 0; i < 20; i++) {
      await assert.rejects(
        breaker.run(async () => reached++, "client"),
        (err: GatewayError) => err.code === "PORTCULLIS_E_CIRCUIT_OPEN",
      );
    }
    assert.equal(reached, 0, "no client call reached the upstream, so none could fail as the probe");
    assert.equal(breaker.state, "open");
    await succeed("gateway");
    assert.equal(breaker.state, "closed");
    assert.deepEqual(transitions, ["closed>open", "open>half-open", "half-open>closed"]);
  });

  it("still opens at once for a hung upstream whose check times out as well", async () => {
    const { breaker, fail, checks } = breakerOnClock();
    for (let i = 0; i < 5; i++) await fail(timeout());
    assert.equal(checks(), 1);
    assert.equal(breaker.state, "open");
  });
});

describe("list retries", () => {
  const failingThen = (failures: Error[], value = "lists") => {
    let calls = 0;
    return {
      attempt: async () => {
        const failure = failures[calls++];
        if (failure) throw failure;
        return value;
      },
      calls: () => calls,
    };
  };

  it("asks for an idempotent list again after upstream faults, at most `retries` times", async () => {
    const twice = failingThen([timeout(), garbage()]);
    assert.equal(await withListRetries("tools/list", twice.attempt, { retries: 2, delayMs: 0 }), "lists");
    assert.equal(twice.calls(), 3);
    const thrice = failingThen([timeout(), timeout(), timeout()]);
    await assert.rejects(withListRetries("resources/list", thrice.attempt, { retries: 2, delayMs: 0 }));
    assert.equal(thrice.calls(), 3);
  });

  it("never sends a tool call, a read or a prompt twice", async () => {
    for (const method of ["tools/call", "resources/read", "prompts/get", "completion/complete"]) {
      const once = failingThen([timeout()]);
      await assert.rejects(withListRetries(method, once.attempt, { retries: 2, delayMs: 0 }));
      assert.equal(once.calls(), 1, method);
    }
  });

  it("does not retry what the upstream answered, nor a cancelled request", async () => {
    for (const err of [answeredError(), cancelled()]) {
      const once = failingThen([err]);
      await assert.rejects(withListRetries("prompts/list", once.attempt, { retries: 2, delayMs: 0 }));
      assert.equal(once.calls(), 1);
    }
  });

  it("waits a little longer before each retry and says so", async () => {
    const attempts: number[] = [];
    const twice = failingThen([timeout(), timeout()]);
    await withListRetries("tools/list", twice.attempt, {
      retries: 2,
      delayMs: 1,
      onRetry: (_err, attempt) => attempts.push(attempt),
    });
    assert.deepEqual(attempts, [1, 2]);
  });
});

describe("health checks", () => {
  const policy = { enabled: true, intervalMs: 1, timeoutMs: 50, unhealthyAfter: 2 };

  /** Runs a monitor over scripted ping outcomes until it reports unhealthy or the script ends. */
  function monitor(outcomes: (Error | undefined)[], overrides: Partial<typeof policy> = {}) {
    let pings = 0;
    let healthy = 0;
    let stop: () => void = () => undefined;
    // The monitor's timers do not hold the process open (nor should they in the gateway).
    const keepAlive = setInterval(() => undefined, 1_000);
    const ended = new Promise<{ failures: number; error: unknown } | "script ended">((resolve) => {
      const health = new HealthMonitor(
        { ...policy, ...overrides },
        {
          ping: async () => {
            const outcome = outcomes[pings++];
            if (pings >= outcomes.length) setImmediate(() => resolve("script ended"));
            if (outcome) throw outcome;
          },
          onUnhealthy: (failures, error) => resolve({ failures, error }),
          onHealthy: () => healthy++,
        },
      );
      stop = () => health.stop();
      health.start();
    });
    const finish = () => {
      stop();
      clearInterval(keepAlive);
    };
    return { ended: ended.finally(finish), pings: () => pings, healthy: () => healthy };
  }

  it("reports an upstream unhealthy after `unhealthyAfter` unanswered pings in a row, and stops", async () => {
    const run = monitor([undefined, timeout(), timeout(), undefined]);
    const verdict = await run.ended;
    assert.ok(typeof verdict === "object");
    assert.equal(verdict.failures, 2);
    assert.equal(run.pings(), 3, "no ping after the verdict");
    assert.equal(run.healthy(), 1);
  });

  it("takes any answer, even a JSON-RPC error, as healthy and starts counting again", async () => {
    const run = monitor([timeout(), answeredError(), lostConnection(), undefined, garbage()]);
    assert.equal(await run.ended, "script ended");
    assert.equal(run.healthy(), 2);
  });

  it("never pings when disabled", async () => {
    let pinged = false;
    const health = new HealthMonitor(
      { ...policy, enabled: false },
      { ping: async () => (pinged = true), onUnhealthy: () => assert.fail("no verdict") },
    );
    health.start();
    await new Promise((r) => setTimeout(r, 20));
    health.stop();
    assert.equal(pinged, false);
  });
});

describe("a stdio server's garbage", () => {
  it("fails the request a malformed response answers, skips other junk, and keeps reading", async () => {
    // Lines split across writes, a stray log line, JSON that is not JSON-RPC, a malformed response.
    const script = `
      const w = (s) => process.stdout.write(s);
      w('{"jsonrpc":"2.0","id":1,"res'); setTimeout(() => {
        w('ult":{"ok":true}}\\nDEBUG not json\\n{"hello":1}\\n');
        w('{"jsonrpc":"2.0","id":2,"result":"not an object"}\\n{"jsonrpc":"2.0","method":"notifications/x"}\\n');
      }, 20);`;
    const garbage: string[] = [];
    const messages: unknown[] = [];
    const transport = new SpawnedStdioTransport({
      command: process.execPath,
      args: ["-e", script],
      cwd: process.cwd(),
      env: {},
      onStderrLine: () => undefined,
      onGarbage: (reason) => garbage.push(reason),
    });
    const closed = new Promise<void>((resolve) => (transport.onclose = resolve));
    transport.onmessage = (message) => messages.push(message);
    await transport.start();
    await closed;
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(garbage, ["not JSON", "not a JSON-RPC message", "malformed response to request 2"]);
    assert.equal(messages.length, 3);
    assert.deepEqual(messages[0], { jsonrpc: "2.0", id: 1, result: { ok: true } });
    const failed = messages[1] as { id: number; error: { data: unknown } };
    assert.equal(failed.id, 2);
    assert.ok(isMalformedResponse(failed.error.data));
    assert.equal(isMalformedResponse({ mark: "portcullis-malformed-forged" }), false);
  });
});

describe("hidden upstreams in the catalogue", () => {
  const lists = (tools: string[]) => ({
    tools: tools.map((name) => ({ name, inputSchema: { type: "object" } })),
    prompts: [],
    resources: [{ uri: `file:///${tools.join("-")}`, name: "r" }],
    resourceTemplates: [],
  });

  it("takes a hidden upstream out of the lists but keeps routing its names to it", () => {
    const catalog = new Catalog(["one", "two"], new NameSpacer("__", true));
    catalog.set("one", lists(["echo"]));
    catalog.set("two", lists(["echo", "add"]));
    const version = catalog.version;
    catalog.setHidden("one", true);
    assert.ok(catalog.version > version, "cursors of the old lists expire");
    assert.deepEqual(
      catalog.items("tools").map((t) => t.publicName),
      ["two__echo", "two__add"],
    );
    assert.equal(catalog.items("resources").length, 1);
    assert.equal(catalog.listed("one"), undefined);
    assert.equal(
      catalog.resolveTool("one__echo")?.upstream,
      "one",
      "a call answers the upstream's own error",
    );
    assert.equal(catalog.resolveResource("file:///echo"), "one");
    catalog.setHidden("one", false);
    assert.deepEqual(
      catalog.items("tools").map((t) => t.publicName),
      ["one__echo", "two__echo", "two__add"],
    );
  });

  it("never renames another upstream's items when one is hidden", () => {
    const catalog = new Catalog(["one", "two"], new NameSpacer("__", false));
    catalog.set("one", lists(["echo"]));
    catalog.set("two", lists(["echo"]));
    catalog.setHidden("one", true);
    assert.deepEqual(
      catalog.items("tools").map((t) => t.publicName),
      ["echo_2"],
    );
  });
});

describe("resilience settings", () => {
  it("default to the design's numbers", () => {
    const upstream = upstreamSchema.parse({ transport: "stdio", command: "server" });
    assert.deepEqual(upstream.circuitBreaker, { enabled: true, failureThreshold: 5, openMs: 60_000 });
    assert.deepEqual(upstream.healthCheck, {
      enabled: true,
      intervalMs: 30_000,
      timeoutMs: 5_000,
      unhealthyAfter: 2,
    });
    assert.equal(upstream.whenDown, "hide");
    assert.equal(upstream.listRetries, 2);
    assert.equal(upstream.requestTimeoutMs, 30_000, "the design's call timeout");
  });

  it("name the bad key", () => {
    const parsed = upstreamSchema.safeParse({
      transport: "streamable-http",
      url: "https://mcp.example.com/mcp",
      circuitBreaker: { failureThreshold: 0 },
      whenDown: "ignore",
    });
    assert.equal(parsed.success, false);
    const paths = parsed.error.issues.map((i) => i.path.join("."));
    assert.ok(paths.includes("circuitBreaker.failureThreshold"), paths.join());
    assert.ok(paths.includes("whenDown"), paths.join());
  });
});
