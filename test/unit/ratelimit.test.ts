// Rate limits: the edge's address and principal buckets (floods refused at the burst and then at the
// rate while others pass, many principals behind one address, batches counted per message), the
// message stage's quotas, tool and upstream limits, role and tool overrides, bounded events, the
// per-principal session cap, and the Redis backend shared by two nodes, failing and coming back.
import assert from "node:assert/strict";
import { after, afterEach, before, describe, it } from "node:test";
import { Redis } from "ioredis";
import { pino } from "pino";
import { rateLimitSection, type RateLimitConfig } from "../../src/config/rateLimitSchema.ts";
import { SecurityEventBus, type StampedEvent } from "../../src/events/bus.ts";
import type { GatewayError } from "../../src/errors.ts";
import {
  addressSubject,
  callerSubject,
  edgeLoadOf,
  MemoryLimiter,
  rateLimitLayer,
  SessionsPerCaller,
  type EdgeLoad,
} from "../../src/layers/ratelimit/index.ts";
import type { Principal, RequestContext, RequestView } from "../../src/pipeline/types.ts";
import { redisSkipReason, startTestRedis, type TestRedis } from "../helpers/redisServer.ts";

const silent = pino({ level: "silent" });
const MONDAY_10H = Date.UTC(2026, 0, 5, 10, 0, 0);

function user(id: string, roles: string[] = []): Principal {
  return { id, kind: "user", roles, authMethod: "bearer", issuer: "https://idp.example", clientId: "app" };
}
const anonymous: Principal = { id: "anonymous", kind: "anonymous", roles: [], authMethod: "none" };

function ctx(principal: Principal, clientAddress: string | undefined = "198.51.100.7"): RequestContext {
  return {
    id: "c",
    transport: "http",
    era: "modern",
    protocolVersion: "2026-07-28",
    clientAddress,
    principal,
    sessionDigest: undefined,
    clientInfo: undefined,
    findings: {},
  };
}

const list: RequestView = { method: "tools/list", params: undefined, target: undefined };
/** One request at the edge: one token of the address and one of the principal. */
const ONE: EdgeLoad = { address: 1, principal: 1 };
function call(tool: string, upstream = "fs"): RequestView {
  return {
    method: "tools/call",
    params: { name: tool, arguments: {} },
    target: { upstream, kind: "tool", name: tool.replace(/^.*__/, ""), publicName: tool },
  };
}

interface Deny {
  kind: "deny";
  rule: string;
  code?: string;
  reason: string;
  data?: Record<string, unknown>;
}

const open: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (open.length) await open.pop()?.();
});

/** A layer on a clock the test moves, with the events it emitted. */
function setup(
  options: {
    config?: Record<string, unknown>;
    redis?: Redis;
    clock?: { now: number };
    onUnavailable?: "deny" | "local";
    keyPrefix?: string;
  } = {},
) {
  const clock = options.clock ?? { now: MONDAY_10H };
  const config: RateLimitConfig = rateLimitSection.parse(options.config ?? {});
  const bus = new SecurityEventBus(silent);
  const seen: StampedEvent[] = [];
  bus.subscribe((event) => seen.push(event));
  const layer = rateLimitLayer({
    config,
    redis: options.redis,
    keyPrefix: options.keyPrefix,
    onUnavailable: options.onUnavailable,
    events: bus,
    logger: silent,
    now: () => clock.now,
  });
  open.push(() => layer.close?.());
  const send = async (view: RequestView, c: RequestContext) =>
    (await layer.onRequest?.(view, c)) as Deny | undefined;
  /** One HTTP request at the edge; the refusal as the client gets it. */
  const admit = async (c: RequestContext, load: EdgeLoad = ONE) =>
    await layer.edge.admit(
      {
        principal: c.principal,
        clientAddress: c.clientAddress,
        transport: "http",
        era: "modern",
        method: "tools/list",
      },
      load,
    );
  /** Sends `n` requests to the edge and returns how many passed and the last refusal. */
  const edgeFlood = async (n: number, c: RequestContext, load: EdgeLoad = ONE) => {
    let passed = 0;
    let refusal: GatewayError | undefined;
    for (let i = 0; i < n; i++) {
      const refused = await admit(c, load);
      if (refused === undefined) passed++;
      else refusal = refused;
    }
    return { passed, refusal };
  };
  /** Sends `n` requests and returns how many passed and the last refusal. */
  const flood = async (n: number, view: RequestView, c: RequestContext) => {
    let passed = 0;
    let refusal: Deny | undefined;
    for (let i = 0; i < n; i++) {
      const verdict = await send(view, c);
      if (verdict === undefined) passed++;
      else refusal = verdict;
    }
    return { passed, refusal };
  };
  return { layer, clock, seen, send, flood, admit, edgeFlood };
}

describe("rate-limit config", () => {
  it("ships the design's defaults: 100/s with a burst of 200 per principal, fail-secure", () => {
    const config = rateLimitSection.parse(undefined);
    assert.deepEqual(config.perPrincipal, { rate: 100, burst: 200 });
    assert.deepEqual(config.perPrincipalTool, { rate: 20, burst: 40 });
    assert.deepEqual(config.perAddress, { rate: 200, burst: 400 });
    assert.equal(config.perUpstream, false);
    assert.equal(config.onStoreUnavailable, undefined); // state.onUnavailable decides: deny by default
    assert.equal(config.enabled, true);
  });

  it("rejects unknown keys, a half bucket, and two quotas with one id", () => {
    assert.equal(
      rateLimitSection.safeParse({ perPrincipal: { rate: 5, burst: 10, window: 1 } }).success,
      false,
    );
    assert.equal(rateLimitSection.safeParse({ perPrincipal: { rate: 5 } }).success, false);
    assert.equal(rateLimitSection.safeParse({ perPrincipal: { rate: 0, burst: 10 } }).success, false);
    const twice = { id: "q", per: "day", limit: 1 };
    assert.equal(rateLimitSection.safeParse({ quotas: [twice, twice] }).success, false);
  });
});

describe("edge rate limits: address and principal buckets (memory)", () => {
  it("lets a burst of 200 through at once, then refuses with a retry hint of at least a second", async () => {
    const { edgeFlood } = setup();
    const { passed, refusal } = await edgeFlood(250, ctx(user("alice")));
    assert.equal(passed, 200);
    assert.equal(refusal?.code, "PORTCULLIS_E_RATE_LIMITED");
    assert.equal(refusal?.httpStatus, 429);
    // The same shape as a refusal of the layer chain: layer, rule, verdict, scope, retry hint.
    assert.deepEqual(refusal?.toJsonRpcError().data, {
      code: "PORTCULLIS_E_RATE_LIMITED",
      layer: "ratelimit",
      rule: "principal:default",
      verdict: "deny",
      scope: "principal",
      retryAfterSeconds: 1,
    });
    assert.equal(refusal?.toJsonRpcError().code, -32016);
    assert.match(refusal?.message ?? "", /100\/s, burst 200.*retry after 1 s/);
  });

  it("refills a flooding principal at its rate, not at its burst, while another principal passes", async () => {
    const { edgeFlood, clock } = setup();
    const alice = ctx(user("alice"), "198.51.100.1");
    assert.equal((await edgeFlood(200, alice)).passed, 200);
    clock.now += 10; // one token every 10 ms
    assert.equal((await edgeFlood(5, alice)).passed, 1);
    clock.now += 1000;
    assert.equal((await edgeFlood(300, alice)).passed, 100);
    assert.equal((await edgeFlood(200, ctx(user("bob"), "198.51.100.2"))).passed, 200);
  });

  it("limits one address that floods with many principals, per address", async () => {
    const { admit, edgeFlood } = setup();
    let passed = 0;
    let refusal: GatewayError | undefined;
    for (let i = 0; i < 500; i++) {
      const refused = await admit(ctx(user(`sock-${i}`), "203.0.113.9"));
      if (refused) refusal = refused;
      else passed++;
    }
    assert.equal(passed, 400);
    assert.equal(refusal?.data?.rule, "address:default");
    assert.equal(refusal?.data?.scope, "address");
    // Benign twin: as many principals from their own addresses all pass.
    let others = 0;
    for (let i = 0; i < 500; i++)
      if ((await admit(ctx(user(`user-${i}`), `192.0.2.${i % 250}`))) === undefined) others++;
    assert.equal(others, 500);
    assert.equal((await edgeFlood(1, ctx(user("carol"), "198.51.100.3"))).passed, 1);
  });

  it("keys anonymous callers by their address, never pooling strangers into one bucket", async () => {
    const { edgeFlood } = setup({ config: { perAddress: false } });
    assert.equal((await edgeFlood(300, ctx(anonymous, "198.51.100.10"))).passed, 200);
    assert.equal((await edgeFlood(300, ctx(anonymous, "198.51.100.11"))).passed, 200);
    assert.equal(callerSubject(anonymous, "2001:db8:1:2::1"), callerSubject(anonymous, "2001:db8:1:2::ff"));
    assert.notEqual(callerSubject(anonymous, "198.51.100.10"), callerSubject(anonymous, "198.51.100.11"));
    assert.notEqual(callerSubject(user("a"), "198.51.100.10"), callerSubject(user("b"), "198.51.100.10"));
  });

  it("groups IPv6 addresses by /64, so one host cannot mint fresh buckets from its prefix", async () => {
    assert.equal(addressSubject("2001:db8:1:2::1"), "2001:db8:1:2::/64");
    assert.equal(addressSubject("2001:db8:1:2:ffff::9"), "2001:db8:1:2::/64");
    assert.equal(addressSubject("::ffff:192.0.2.1"), "192.0.2.1");
    const { admit } = setup({ config: { perAddress: { rate: 1, burst: 3 } } });
    let passed = 0;
    for (let i = 1; i <= 10; i++)
      if ((await admit(ctx(user(`u${i}`), `2001:db8:1:2::${i.toString(16)}`))) === undefined) passed++;
    assert.equal(passed, 3);
    assert.equal(await admit(ctx(user("v6-elsewhere"), "2001:db8:1:3::1")), undefined);
  });

  it("gives a role its own limit; with several roles the most generous wins", async () => {
    const roles = { admin: { rate: 10, burst: 20 }, guest: { rate: 1, burst: 2 } };
    const { edgeFlood } = setup({ config: { perPrincipal: { rate: 1, burst: 5 }, roles } });
    assert.equal((await edgeFlood(30, ctx(user("plain")))).passed, 5);
    assert.equal((await edgeFlood(30, ctx(user("visitor", ["guest"])))).passed, 2);
    const both = await edgeFlood(30, ctx(user("root", ["guest", "admin"])));
    assert.equal(both.passed, 20);
    assert.equal(both.refusal?.data?.rule, "principal:role:admin");
  });

  it("counts ping and client notifications against the address only, never a cancellation or an answer", async () => {
    assert.deepEqual(edgeLoadOf([{ jsonrpc: "2.0", id: 1, method: "ping" }]), { address: 1, principal: 0 });
    assert.deepEqual(edgeLoadOf([{ jsonrpc: "2.0", method: "notifications/progress" }]), {
      address: 1,
      principal: 0,
    });
    assert.deepEqual(edgeLoadOf([{ jsonrpc: "2.0", method: "notifications/cancelled" }]), {
      address: 0,
      principal: 0,
    });
    assert.deepEqual(edgeLoadOf([{ jsonrpc: "2.0", id: "s1", result: {} }]), { address: 0, principal: 0 });
    assert.deepEqual(edgeLoadOf([{ jsonrpc: "2.0", id: 1, method: "initialize", params: {} }]), ONE);
    const { edgeFlood } = setup({
      config: { perAddress: { rate: 1, burst: 10 }, perPrincipal: { rate: 1, burst: 3 } },
    });
    const pings = await edgeFlood(
      15,
      ctx(user("alice")),
      edgeLoadOf([{ jsonrpc: "2.0", id: 1, method: "ping" }]),
    );
    assert.equal(pings.passed, 10);
    assert.equal(pings.refusal?.data?.rule, "address:default");
    // Pings did not spend the principal's budget: from another address it has all 3 tokens.
    assert.equal((await edgeFlood(5, ctx(user("alice"), "198.51.100.99"))).passed, 3);
  });

  it("counts every message of a batch, and each resource a listen subscribes to; all or nothing", async () => {
    const batch = Array.from({ length: 3 }, (_, i) => ({ jsonrpc: "2.0", id: i, method: "tools/list" }));
    assert.deepEqual(edgeLoadOf(batch), { address: 3, principal: 3 });
    const listen = {
      jsonrpc: "2.0",
      id: 1,
      method: "subscriptions/listen",
      params: { notifications: { resourceSubscriptions: ["file:///a", "file:///b", 7] } },
    };
    assert.deepEqual(edgeLoadOf([listen]), { address: 3, principal: 3 });
    const { admit, edgeFlood } = setup({
      config: { perPrincipal: { rate: 1, burst: 10 }, perAddress: false },
    });
    const mallory = ctx(user("batcher"));
    // A batch cannot smuggle ten requests past a budget of one request per message.
    assert.equal((await edgeFlood(3, mallory, edgeLoadOf(batch))).passed, 3);
    const refused = await admit(mallory, edgeLoadOf(batch));
    assert.equal(refused?.data?.rule, "principal:default");
    assert.equal(refused?.data?.retryAfterSeconds, 2); // two more tokens needed: 2 s at 1/s
    // The refused batch spent nothing: the one token left still serves a single request.
    assert.equal((await edgeFlood(2, mallory)).passed, 1);
  });

  it("emits one rate_limited event per subject per second however long the flood, naming no secret", async () => {
    const { edgeFlood, clock, seen, layer } = setup();
    const alice = ctx(user("alice@example.com"));
    await edgeFlood(1200, alice);
    const limited = () => seen.filter((e) => e.type === "rate_limited");
    assert.equal(limited().length, 1);
    assert.deepEqual(limited()[0]?.details, {
      scope: "principal",
      rule: "principal:default",
      limit: { rate: 100, burst: 200 },
      retryAfterSeconds: 1,
      method: "tools/list",
      suppressed: 0,
    });
    assert.equal(limited()[0]?.ctx?.principal.id, "alice@example.com");
    assert.equal(limited()[0]?.ctx?.clientAddress, "198.51.100.7");
    clock.now += 1000;
    await edgeFlood(400, alice);
    assert.equal(limited().length, 2);
    assert.equal(limited()[1]?.details.suppressed, 999);
    assert.doesNotMatch(JSON.stringify(limited().map((e) => e.details)), /alice/);
    assert.equal(layer.status().refusals.principal, 1000 + 300);
  });

  it("bounds events in all when many subjects are refused at once", async () => {
    const { admit, seen, layer } = setup({
      config: { perPrincipal: { rate: 1, burst: 1 }, perAddress: false },
    });
    for (let i = 0; i < 300; i++) {
      const who = ctx(user(`bot-${i}`));
      await admit(who);
      await admit(who);
    }
    assert.equal(seen.filter((e) => e.type === "rate_limited").length, 100);
    assert.equal(layer.status().eventsSuppressed, 200);
  });

  it("keeps a process-wide memory across a config reload: a flood gets no fresh burst", async () => {
    const memory = new MemoryLimiter();
    const config = rateLimitSection.parse({ perPrincipal: { rate: 1, burst: 3 } });
    const alice = { principal: user("alice"), clientAddress: "198.51.100.7", method: "tools/list" } as const;
    const caller = { ...alice, transport: "http", era: "modern" } as const;
    const at = () => MONDAY_10H;
    const first = rateLimitLayer({ config, memory, logger: silent, now: at });
    for (let i = 0; i < 3; i++) assert.equal(await first.edge.admit(caller, ONE), undefined);
    await first.close?.();
    const reloaded = rateLimitLayer({ config, memory, logger: silent, now: at });
    assert.equal((await reloaded.edge.admit(caller, ONE))?.data?.rule, "principal:default");
  });

  it("admits everything when disabled", async () => {
    const { layer, edgeFlood } = setup({ config: { enabled: false, perPrincipal: { rate: 1, burst: 1 } } });
    assert.equal("onRequest" in layer, false);
    assert.equal((await edgeFlood(10, ctx(user("alice")))).passed, 10);
    assert.equal(layer.status().backend, "memory");
  });
});

describe("message-stage rate limits: tools, upstreams and quotas (memory)", () => {
  it("leaves the address and principal to the edge: a list passes the layer however often", async () => {
    const { flood } = setup({
      config: { perPrincipal: { rate: 1, burst: 1 }, perAddress: { rate: 1, burst: 1 } },
    });
    assert.equal((await flood(50, list, ctx(user("alice")))).passed, 50);
  });

  it("refuses the 4th call of a daily per-tool quota of 3 until midnight UTC; other tools are unaffected", async () => {
    const quotas = [{ id: "search-daily", tools: ["web__search"], per: "day", limit: 3 }];
    const { send, flood, clock, seen } = setup({ config: { quotas } });
    const alice = ctx(user("alice"));
    assert.equal((await flood(3, call("web__search"), alice)).passed, 3);
    const refusal = await send(call("web__search"), alice);
    assert.equal(refusal?.code, "PORTCULLIS_E_QUOTA_EXCEEDED");
    assert.equal(refusal?.rule, "quota:search-daily");
    assert.equal(refusal?.data?.retryAfterSeconds, 14 * 3600);
    assert.equal((await flood(10, call("web__fetch"), alice)).passed, 10);
    assert.equal((await flood(3, call("web__search"), ctx(user("bob")))).passed, 3);
    const event = seen.find((e) => e.type === "quota_exceeded");
    assert.deepEqual(event?.details.limit, { limit: 3, per: "day" });
    clock.now = Date.UTC(2026, 0, 6, 0, 0, 1);
    assert.equal(await send(call("web__search"), alice), undefined);
  });

  it("counts a principal-scope quota across the tools it names, and a principal-tool one per tool", async () => {
    const quotas = [
      { id: "github", tools: ["github__*"], per: "hour", limit: 2 },
      { id: "each", tools: ["fs__*"], per: "minute", limit: 1, scope: "principal-tool" },
    ];
    const { send } = setup({ config: { quotas } });
    const alice = ctx(user("alice"));
    assert.equal(await send(call("github__issues", "github"), alice), undefined);
    assert.equal(await send(call("github__pulls", "github"), alice), undefined);
    assert.equal((await send(call("github__repos", "github"), alice))?.rule, "quota:github");
    assert.equal(await send(call("fs__read"), alice), undefined);
    assert.equal(await send(call("fs__write"), alice), undefined);
    assert.equal((await send(call("fs__read"), alice))?.rule, "quota:each");
  });

  it("spends no tool tokens on a quota refusal", async () => {
    const quotas = [{ id: "q", tools: ["fs__read"], per: "minute", limit: 3 }];
    const tools = { fs__read: { rate: 0.001, burst: 5 } };
    const { flood, clock } = setup({ config: { tools, quotas } });
    const alice = ctx(user("alice"));
    assert.equal((await flood(3, call("fs__read"), alice)).passed, 3);
    assert.equal((await flood(20, call("fs__read"), alice)).refusal?.rule, "quota:q");
    clock.now += 60_000; // a new minute for the quota; the bucket gains almost nothing
    const next = await flood(5, call("fs__read"), alice);
    // The 20 quota refusals left the bucket's last two tokens alone.
    assert.equal(next.passed, 2);
    assert.equal(next.refusal?.rule, "principal-tool:fs__read");
  });

  it("counts no quota on a tool-bucket refusal", async () => {
    const quotas = [{ id: "q", tools: ["fs__read"], per: "day", limit: 3 }];
    const tools = { fs__read: { rate: 0.01, burst: 2 } };
    const { send, flood, clock } = setup({ config: { tools, quotas } });
    const bob = ctx(user("bob"));
    assert.equal((await flood(2, call("fs__read"), bob)).passed, 2);
    assert.equal((await flood(5, call("fs__read"), bob)).refusal?.rule, "principal-tool:fs__read");
    clock.now += 100_000; // one token back
    // The five bucket refusals did not count against the quota: its third call is still there.
    assert.equal(await send(call("fs__read"), bob), undefined);
    clock.now += 100_000;
    assert.equal((await send(call("fs__read"), bob))?.rule, "quota:q");
  });

  it("applies a tool pattern override per principal and tool; an exact name wins over a pattern", async () => {
    const tools = { "fs__write_*": { rate: 1, burst: 2 }, fs__write_log: { rate: 1, burst: 4 } };
    const { flood } = setup({ config: { tools } });
    const alice = ctx(user("alice"));
    const writes = await flood(10, call("fs__write_file"), alice);
    assert.equal(writes.passed, 2);
    assert.equal(writes.refusal?.rule, "principal-tool:fs__write_*");
    assert.equal((await flood(10, call("FS__WRITE_LOG"), alice)).passed, 4);
    assert.equal((await flood(60, call("fs__read_file"), alice)).passed, 40); // perPrincipalTool default
    assert.equal((await flood(2, call("fs__write_file"), ctx(user("bob")))).passed, 2);
  });

  it("protects an upstream from all principals together when perUpstream is set", async () => {
    const { send } = setup({ config: { perUpstream: { rate: 1, burst: 3 } } });
    let passed = 0;
    for (let i = 0; i < 6; i++)
      if ((await send(call("db__query", "db"), ctx(user(`u${i}`)))) === undefined) passed++;
    assert.equal(passed, 3);
    assert.equal((await send(call("db__query", "db"), ctx(user("u9"))))?.rule, "upstream:default");
    assert.equal(await send(call("fs__read", "fs"), ctx(user("u9"))), undefined);
  });

  it("reports the edge's and the layer's refusals in one status", async () => {
    const { admit, send, layer } = setup({
      config: { perPrincipal: { rate: 1, burst: 1 }, tools: { fs__read: { rate: 1, burst: 1 } } },
    });
    const alice = ctx(user("alice"));
    await admit(alice);
    await admit(alice);
    await send(call("fs__read"), alice);
    await send(call("fs__read"), alice);
    assert.equal(layer.status().refusals.principal, 1);
    assert.equal(layer.status().refusals["principal-tool"], 1);
  });
});

describe("the per-principal session cap", () => {
  const live = () => ({ isClosed: false });

  it("refuses the session beyond the cap, naming the rule; another caller is unaffected", () => {
    const cap = new SessionsPerCaller();
    for (let i = 0; i < 3; i++) {
      const place = cap.reserve("alice", 3);
      assert.ok(!("code" in place));
      place.bind(live());
    }
    const refused = cap.reserve("alice", 3);
    assert.ok("code" in refused);
    assert.equal(refused.code, "PORTCULLIS_E_TOO_MANY_SESSIONS");
    assert.deepEqual(refused.data, { layer: "network", rule: "max-sessions-per-principal", limit: 3 });
    assert.ok(!("code" in cap.reserve("bob", 3)));
  });

  it("frees a place when its session closes, or when no session was opened on it", () => {
    const cap = new SessionsPerCaller();
    const session = { isClosed: false };
    const first = cap.reserve("alice", 2);
    const second = cap.reserve("alice", 2);
    assert.ok(!("code" in first) && !("code" in second));
    first.bind(session);
    // A reserved place counts even before its session exists (parallel initializes).
    assert.ok("code" in cap.reserve("alice", 2));
    second.release();
    assert.equal(cap.count("alice"), 1);
    session.isClosed = true;
    assert.equal(cap.count("alice"), 0);
    cap.sweep();
    assert.ok(!("code" in cap.reserve("alice", 1)));
  });
});

describe("rate limits in Redis", { skip: redisSkipReason() }, () => {
  let server: TestRedis;
  let admin: Redis;
  const clients: Redis[] = [];

  const connect = async (): Promise<Redis> => {
    const client = new Redis(server.url, {
      maxRetriesPerRequest: 1,
      enableOfflineQueue: false,
      retryStrategy: () => 50,
    });
    client.on("error", () => undefined);
    clients.push(client);
    await ready(client);
    return client;
  };

  before(async () => {
    server = await startTestRedis();
    admin = new Redis(server.url, { retryStrategy: () => 50 });
    admin.on("error", () => undefined);
  });
  after(async () => {
    for (const client of clients) client.disconnect();
    admin.disconnect();
    await server.close();
  });

  /** Two nodes on one Redis, each with its own client, clock and events. */
  async function twoNodes(
    config: Record<string, unknown>,
    options: { onUnavailable?: "deny" | "local" } = {},
  ) {
    return [
      setup({ config, redis: await connect(), ...options }),
      setup({ config, redis: await connect(), ...options }),
    ] as const;
  }

  it("two nodes sharing one Redis enforce one limit together", async () => {
    const config = { perPrincipal: { rate: 0.01, burst: 10 }, perAddress: false };
    const [a, b] = await twoNodes(config);
    const alice = ctx(user("shared-alice"));
    let passed = 0;
    for (let i = 0; i < 15; i++) {
      if ((await a.admit(alice)) === undefined) passed++;
      if ((await b.admit(alice)) === undefined) passed++;
    }
    assert.equal(passed, 10);
    assert.equal(a.layer.status().backend, "redis");
    // A quota too: three calls in all, whichever node takes them.
    const quotaConfig = { quotas: [{ id: "daily", per: "day", limit: 3 }] };
    const [c, d] = await twoNodes(quotaConfig);
    const bob = ctx(user("shared-bob"));
    const verdicts = [
      await c.send(call("fs__read"), bob),
      await d.send(call("fs__read"), bob),
      await c.send(call("fs__read"), bob),
      await d.send(call("fs__read"), bob),
    ];
    assert.deepEqual(
      verdicts.map((v) => v?.code),
      [undefined, undefined, undefined, "PORTCULLIS_E_QUOTA_EXCEEDED"],
    );
    assert.ok(Number(verdicts[3]?.data?.retryAfterSeconds) >= 1);
  });

  it("refills a shared bucket at its rate on Redis's clock", async () => {
    const [a, b] = await twoNodes({ perPrincipal: { rate: 20, burst: 1 }, perAddress: false });
    const frank = ctx(user("refill-frank"));
    assert.equal(await a.admit(frank), undefined);
    const refusal = await b.admit(frank);
    assert.equal(refusal?.data?.retryAfterSeconds, 1);
    await new Promise((resolve) => setTimeout(resolve, 80)); // one token every 50 ms
    b.clock.now += 80; // the node's own clock, which its memory of the refusal runs on
    assert.equal(await b.admit(frank), undefined);
    assert.equal((await a.admit(frank))?.data?.rule, "principal:default");
  });

  it("spends nothing in Redis when one of a request's limits refuses", async () => {
    const quotas = [{ id: "reads", tools: ["fs__read"], per: "day", limit: 3 }];
    const tools = { fs__read: { rate: 0.01, burst: 5 } };
    const [a, b] = await twoNodes({ tools, quotas });
    const erin = ctx(user("atomic-erin"));
    assert.equal((await a.flood(2, call("fs__read"), erin)).passed, 2);
    assert.equal((await b.flood(1, call("fs__read"), erin)).passed, 1);
    assert.equal((await a.flood(5, call("fs__read"), erin)).refusal?.rule, "quota:reads");
    assert.equal((await b.flood(5, call("fs__read"), erin)).refusal?.rule, "quota:reads");
    // At the edge: an address refusal leaves the principal's tokens alone, on every node.
    const [c, d] = await twoNodes({
      perPrincipal: { rate: 0.01, burst: 5 },
      perAddress: { rate: 0.01, burst: 3 },
    });
    const faye = ctx(user("atomic-faye"), "198.51.100.40");
    assert.equal((await c.edgeFlood(2, faye)).passed, 2);
    const flood = await d.edgeFlood(6, faye);
    assert.equal(flood.passed, 1);
    assert.equal(flood.refusal?.data?.rule, "address:default");
    // Five refusals by the address spent none of Faye's two remaining principal tokens.
    assert.equal((await c.edgeFlood(5, ctx(user("atomic-faye"), "198.51.100.41"))).passed, 2);
  });

  it("spends a batch's messages in one round trip, shared by both nodes", async () => {
    const [a, b] = await twoNodes({ perPrincipal: { rate: 0.01, burst: 10 }, perAddress: false });
    const gina = ctx(user("batch-gina"));
    assert.equal(await a.admit(gina, { address: 4, principal: 4 }), undefined);
    assert.equal(await b.admit(gina, { address: 4, principal: 4 }), undefined);
    // Two left: a batch of three is refused whole, and spends nothing.
    assert.equal((await a.admit(gina, { address: 3, principal: 3 }))?.data?.rule, "principal:default");
    // Remembered for a batch of three, the refusal does not hold back a single request from memory.
    assert.equal(await a.admit(gina), undefined);
    assert.equal(await b.admit(gina), undefined);
    assert.equal((await b.admit(gina))?.data?.rule, "principal:default");
  });

  it("refuses a flooding subject from memory, without more Redis round trips", async () => {
    const [node] = await twoNodes({ perPrincipal: { rate: 0.01, burst: 5 }, perAddress: false });
    const mallory = ctx(user("flood-mallory"));
    assert.equal((await node.edgeFlood(6, mallory)).passed, 5);
    const before = await scriptCalls(admin);
    const { passed, refusal } = await node.edgeFlood(500, mallory);
    assert.equal(passed, 0);
    assert.equal(refusal?.data?.rule, "principal:default");
    assert.ok(Number(refusal?.data?.retryAfterSeconds) >= 90);
    assert.equal(await scriptCalls(admin), before);
    assert.equal(node.layer.status().localBlockHits, 500);
  });

  it("keeps principal ids out of Redis: keys under the prefix name the scope and a digest", async () => {
    // Slow buckets: a bucket's key lives as long as it takes to refill (milliseconds by default),
    // and the keys are listed after the calls, on a machine that may be busy.
    const slow = { rate: 0.01, burst: 5 };
    const config = { perPrincipal: slow, perPrincipalTool: slow, perAddress: slow };
    const node = setup({ config, redis: await connect(), keyPrefix: "tenant-a:" });
    assert.equal(await node.admit(ctx(user("secret-principal-id"))), undefined);
    assert.equal(await node.send(call("fs__read"), ctx(user("secret-principal-id"))), undefined);
    const keys = await admin.keys("tenant-a:*");
    assert.equal(keys.length, 3);
    for (const key of keys) {
      assert.match(key, /^tenant-a:rl:(principal|principal-tool|address):[\w-]{22}$/);
      assert.doesNotMatch(key, /secret|198\.51/);
    }
  });

  it("answers STATE_UNAVAILABLE within the timeout when Redis hangs, never waiting for it", async () => {
    const [node] = await twoNodes({ storeTimeoutMs: 50 });
    await admin.call("CLIENT", "PAUSE", "400", "ALL");
    const refused = await node.admit(ctx(user("patient")));
    assert.equal(refused?.code, "PORTCULLIS_E_STATE_UNAVAILABLE");
    assert.equal(refused?.httpStatus, 503);
    await new Promise((resolve) => setTimeout(resolve, 450));
    assert.equal(await node.admit(ctx(user("patient"))), undefined);
  });

  it("Redis down, deny: refuses with STATE_UNAVAILABLE and emits one state_unavailable; back: shared again", async () => {
    const config = { perPrincipal: { rate: 0.01, burst: 4 }, perAddress: false };
    const a = setup({ config, redis: await connect() });
    // The section's deny wins over a state.onUnavailable of local.
    const b = setup({
      config: { ...config, onStoreUnavailable: "deny" },
      redis: await connect(),
      onUnavailable: "local",
    });
    const alice = ctx(user("outage-alice"));
    assert.equal(await a.admit(alice), undefined);
    await server.stop();
    for (let i = 0; i < 5; i++) {
      const refused = await a.admit(ctx(user(`outage-${i}`)));
      assert.equal(refused?.code, "PORTCULLIS_E_STATE_UNAVAILABLE");
      assert.deepEqual(refused?.data, {
        layer: "ratelimit",
        rule: "state-unavailable",
        verdict: "deny",
        retryAfterSeconds: 1,
      });
    }
    // The message stage fails secure too.
    assert.equal((await a.send(call("fs__read"), alice))?.code, "PORTCULLIS_E_STATE_UNAVAILABLE");
    assert.equal((await b.admit(ctx(user("outage-b"))))?.code, "PORTCULLIS_E_STATE_UNAVAILABLE");
    const outages = a.seen.filter((e) => e.type === "state_unavailable");
    assert.equal(outages.length, 1);
    assert.equal(outages[0]?.severity, "high");
    assert.equal(a.layer.status().storeAvailable, false);
    assert.equal(a.layer.status().refusals["state-unavailable"], 6);

    await server.start();
    await Promise.all(clients.map(ready));
    const bob = ctx(user("after-outage-bob"));
    let passed = 0;
    for (let i = 0; i < 4; i++) {
      if ((await a.admit(bob)) === undefined) passed++;
      if ((await b.admit(bob)) === undefined) passed++;
    }
    assert.equal(passed, 4);
    assert.equal(a.layer.status().storeAvailable, true);
    assert.equal(a.seen.filter((e) => e.type === "state_unavailable").length, 1);
  });

  it("Redis down, local: each node keeps limiting alone and says so once; back: shared again", async () => {
    const config = { perPrincipal: { rate: 0.01, burst: 4 }, perAddress: false };
    // state.onUnavailable says local; one node's section overrides it with the same.
    const a = setup({ config: { ...config, onStoreUnavailable: "local" }, redis: await connect() });
    const b = setup({ config, redis: await connect(), onUnavailable: "local" });
    await server.kill();
    const carol = ctx(user("local-carol"));
    const onA = await a.edgeFlood(10, carol);
    assert.equal(onA.passed, 4);
    assert.equal(onA.refusal?.code, "PORTCULLIS_E_RATE_LIMITED");
    assert.equal((await b.edgeFlood(10, carol)).passed, 4); // each node alone: the limit twice
    assert.equal(a.seen.filter((e) => e.type === "state_unavailable").length, 1);
    assert.equal(b.seen.filter((e) => e.type === "state_unavailable").length, 1);
    assert.equal(a.layer.status().localDecisions, 10);

    await server.start();
    await Promise.all(clients.map(ready));
    const dave = ctx(user("local-dave"));
    let passed = 0;
    for (let i = 0; i < 4; i++) {
      if ((await a.admit(dave)) === undefined) passed++;
      if ((await b.admit(dave)) === undefined) passed++;
    }
    assert.equal(passed, 4);
  });
});

async function ready(client: Redis): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (client.status !== "ready") {
    if (Date.now() > deadline) throw new Error(`Redis client stuck in ${client.status}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** How many times Redis ran a script (EVALSHA and EVAL) so far. */
async function scriptCalls(admin: Redis): Promise<number> {
  const info = await admin.info("commandstats");
  return [...info.matchAll(/^cmdstat_(?:evalsha|eval):calls=(\d+)/gm)].reduce((n, m) => n + Number(m[1]), 0);
}
