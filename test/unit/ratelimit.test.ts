// The rate-limit layer: floods refused at the burst and then at the rate while others pass,
// per-address limits against many principals behind one address, quotas, role and tool overrides,
// bounded events, and the Redis backend shared by two nodes, with Redis failing and coming back.
import assert from "node:assert/strict";
import { after, afterEach, before, describe, it } from "node:test";
import { Redis } from "ioredis";
import { pino } from "pino";
import { rateLimitSection, type RateLimitConfig } from "../../src/config/rateLimitSchema.ts";
import { SecurityEventBus, type StampedEvent } from "../../src/events/bus.ts";
import { addressSubject, MemoryLimiter, rateLimitLayer } from "../../src/layers/ratelimit/index.ts";
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
const ping: RequestView = { method: "ping", params: undefined, target: undefined };
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
  return { layer, clock, seen, send, flood };
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

describe("rate-limit layer (memory)", () => {
  it("lets a burst of 200 through at once, then refuses with a retry hint of at least a second", async () => {
    const { flood } = setup();
    const alice = ctx(user("alice"));
    const { passed, refusal } = await flood(250, list, alice);
    assert.equal(passed, 200);
    assert.equal(refusal?.code, "PORTCULLIS_E_RATE_LIMITED");
    assert.equal(refusal?.rule, "principal:default");
    assert.deepEqual(refusal?.data, {
      layer: "ratelimit",
      rule: "principal:default",
      scope: "principal",
      retryAfterSeconds: 1,
    });
    assert.match(refusal?.reason ?? "", /100\/s, burst 200.*retry after 1 s/);
  });

  it("refills a flooding principal at its rate, not at its burst, while another principal passes", async () => {
    const { flood, clock } = setup();
    const alice = ctx(user("alice"), "198.51.100.1");
    assert.equal((await flood(200, list, alice)).passed, 200);
    clock.now += 10; // one token every 10 ms
    assert.equal((await flood(5, list, alice)).passed, 1);
    clock.now += 1000;
    assert.equal((await flood(300, list, alice)).passed, 100);
    const bob = ctx(user("bob"), "198.51.100.2");
    assert.equal((await flood(200, list, bob)).passed, 200);
  });

  it("limits one address that floods with many principals, per address", async () => {
    const { flood, send } = setup();
    let passed = 0;
    let refusal: Deny | undefined;
    for (let i = 0; i < 500; i++) {
      const verdict = await send(list, ctx(user(`sock-${i}`), "203.0.113.9"));
      if (verdict) refusal = verdict;
      else passed++;
    }
    assert.equal(passed, 400);
    assert.equal(refusal?.rule, "address:default");
    assert.equal(refusal?.data?.scope, "address");
    // Benign twin: as many principals from their own addresses all pass.
    let others = 0;
    for (let i = 0; i < 500; i++)
      if ((await send(list, ctx(user(`user-${i}`), `192.0.2.${i % 250}`))) === undefined) others++;
    assert.equal(others, 500);
    assert.equal((await flood(1, list, ctx(user("carol"), "198.51.100.3"))).passed, 1);
  });

  it("keys anonymous callers by their address, never pooling strangers into one bucket", async () => {
    const { flood } = setup({ config: { perAddress: false } });
    assert.equal((await flood(300, list, ctx(anonymous, "198.51.100.10"))).passed, 200);
    assert.equal((await flood(300, list, ctx(anonymous, "198.51.100.11"))).passed, 200);
  });

  it("groups IPv6 addresses by /64, so one host cannot mint fresh buckets from its prefix", async () => {
    assert.equal(addressSubject("2001:db8:1:2::1"), "2001:db8:1:2::/64");
    assert.equal(addressSubject("2001:db8:1:2:ffff::9"), "2001:db8:1:2::/64");
    assert.equal(addressSubject("::ffff:192.0.2.1"), "192.0.2.1");
    const { send } = setup({ config: { perAddress: { rate: 1, burst: 3 } } });
    let passed = 0;
    for (let i = 1; i <= 10; i++)
      if ((await send(list, ctx(user(`u${i}`), `2001:db8:1:2::${i.toString(16)}`))) === undefined) passed++;
    assert.equal(passed, 3);
    assert.equal(await send(list, ctx(user("v6-elsewhere"), "2001:db8:1:3::1")), undefined);
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

  it("spends no tokens on a quota refusal, and no quota on a bucket refusal", async () => {
    const quotas = [{ id: "q", tools: ["fs__read"], per: "day", limit: 3 }];
    const { send, flood, clock } = setup({ config: { perPrincipal: { rate: 1, burst: 5 }, quotas } });
    const alice = ctx(user("alice"));
    assert.equal((await flood(3, call("fs__read"), alice)).passed, 3);
    const quotaRefusals = await flood(20, call("fs__read"), alice);
    assert.equal(quotaRefusals.refusal?.rule, "quota:q");
    // The 20 quota refusals left the principal's 2 remaining tokens alone.
    assert.equal((await flood(5, list, alice)).passed, 2);

    const bob = ctx(user("bob"));
    assert.equal((await flood(5, list, bob)).passed, 5);
    assert.equal((await send(call("fs__read"), bob))?.rule, "principal:default");
    clock.now += 3000; // three tokens back
    // The bucket refusal did not count against the quota: all three calls pass, the 4th is the quota's.
    assert.equal((await flood(3, call("fs__read"), bob)).passed, 3);
    assert.equal((await send(call("fs__read"), bob))?.rule, "quota:q");
  });

  it("gives a role its own limit; with several roles the most generous wins", async () => {
    const roles = { admin: { rate: 10, burst: 20 }, guest: { rate: 1, burst: 2 } };
    const { flood } = setup({ config: { perPrincipal: { rate: 1, burst: 5 }, roles } });
    assert.equal((await flood(30, list, ctx(user("plain")))).passed, 5);
    assert.equal((await flood(30, list, ctx(user("visitor", ["guest"])))).passed, 2);
    const both = await flood(30, list, ctx(user("root", ["guest", "admin"])));
    assert.equal(both.passed, 20);
    assert.equal(both.refusal?.rule, "principal:role:admin");
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

  it("counts ping and client notifications against the address only, never a cancellation", async () => {
    const { layer, flood } = setup({
      config: { perAddress: { rate: 1, burst: 10 }, perPrincipal: { rate: 1, burst: 3 } },
    });
    const alice = ctx(user("alice"));
    const pings = await flood(15, ping, alice);
    assert.equal(pings.passed, 10);
    assert.equal(pings.refusal?.rule, "address:default");
    const note = (method: string) =>
      layer.onNotification?.(
        { direction: "to-server", method, params: undefined, upstream: undefined },
        alice,
      );
    assert.equal(((await note("notifications/progress")) as Deny | undefined)?.rule, "address:default");
    assert.equal(await note("notifications/cancelled"), undefined);
    const fromServer = await layer.onNotification?.(
      { direction: "to-client", method: "notifications/progress", params: undefined, upstream: "fs" },
      alice,
    );
    assert.equal(fromServer, undefined);
    // Pings did not spend the principal's budget: from another address it has all 3 tokens.
    assert.equal((await flood(5, list, ctx(user("alice"), "198.51.100.99"))).passed, 3);
  });

  it("emits one rate_limited event per subject per second however long the flood, naming no secret", async () => {
    const { flood, clock, seen, layer } = setup();
    const alice = ctx(user("alice@example.com"));
    await flood(1200, list, alice);
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
    clock.now += 1000;
    await flood(400, list, alice);
    assert.equal(limited().length, 2);
    assert.equal(limited()[1]?.details.suppressed, 999);
    assert.doesNotMatch(JSON.stringify(limited().map((e) => e.details)), /alice/);
    assert.equal(layer.status().refusals.principal, 1000 + 300);
  });

  it("bounds events in all when many subjects are refused at once", async () => {
    const { send, seen, layer } = setup({
      config: { perPrincipal: { rate: 1, burst: 1 }, perAddress: false },
    });
    for (let i = 0; i < 300; i++) {
      const who = ctx(user(`bot-${i}`));
      await send(list, who);
      await send(list, who);
    }
    assert.equal(seen.filter((e) => e.type === "rate_limited").length, 100);
    assert.equal(layer.status().eventsSuppressed, 200);
  });

  it("keeps a process-wide memory across a config reload: a flood gets no fresh burst", async () => {
    const memory = new MemoryLimiter();
    const config = rateLimitSection.parse({ perPrincipal: { rate: 1, burst: 3 } });
    const alice = ctx(user("alice"));
    const at = () => MONDAY_10H;
    const first = rateLimitLayer({ config, memory, logger: silent, now: at });
    for (let i = 0; i < 3; i++) assert.equal(await first.onRequest?.(list, alice), undefined);
    await first.close?.();
    const reloaded = rateLimitLayer({ config, memory, logger: silent, now: at });
    assert.equal(((await reloaded.onRequest?.(list, alice)) as Deny | undefined)?.rule, "principal:default");
  });

  it("passes everything when disabled", async () => {
    const { layer } = setup({ config: { enabled: false } });
    assert.equal("onRequest" in layer, false);
    assert.equal(layer.status().backend, "memory");
  });
});

describe("rate-limit layer (Redis)", { skip: redisSkipReason() }, () => {
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
      if ((await a.send(list, alice)) === undefined) passed++;
      if ((await b.send(list, alice)) === undefined) passed++;
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
    assert.equal(await a.send(list, frank), undefined);
    const refusal = await b.send(list, frank);
    assert.equal(refusal?.data?.retryAfterSeconds, 1);
    await new Promise((resolve) => setTimeout(resolve, 80)); // one token every 50 ms
    b.clock.now += 80; // the node's own clock, which its memory of the refusal runs on
    assert.equal(await b.send(list, frank), undefined);
    assert.equal((await a.send(list, frank))?.rule, "principal:default");
  });

  it("spends nothing in Redis when one of a message's limits refuses", async () => {
    const quotas = [{ id: "reads", tools: ["fs__read"], per: "day", limit: 3 }];
    const [a, b] = await twoNodes({ perPrincipal: { rate: 0.01, burst: 5 }, perAddress: false, quotas });
    const erin = ctx(user("atomic-erin"));
    assert.equal((await a.flood(2, call("fs__read"), erin)).passed, 2);
    assert.equal((await b.flood(1, call("fs__read"), erin)).passed, 1);
    assert.equal((await a.flood(5, call("fs__read"), erin)).refusal?.rule, "quota:reads");
    assert.equal((await b.flood(5, call("fs__read"), erin)).refusal?.rule, "quota:reads");
    // Ten quota refusals on two nodes left the principal's last two tokens alone.
    assert.equal((await b.flood(5, list, erin)).passed, 2);
  });

  it("refuses a flooding subject from memory, without more Redis round trips", async () => {
    const [node] = await twoNodes({ perPrincipal: { rate: 0.01, burst: 5 }, perAddress: false });
    const mallory = ctx(user("flood-mallory"));
    assert.equal((await node.flood(6, list, mallory)).passed, 5);
    const before = await scriptCalls(admin);
    const { passed, refusal } = await node.flood(500, list, mallory);
    assert.equal(passed, 0);
    assert.equal(refusal?.rule, "principal:default");
    assert.ok(Number(refusal?.data?.retryAfterSeconds) >= 90);
    assert.equal(await scriptCalls(admin), before);
    assert.equal(node.layer.status().localBlockHits, 500);
  });

  it("keeps principal ids out of Redis: keys under the prefix name the scope and a digest", async () => {
    const node = setup({ redis: await connect(), keyPrefix: "tenant-a:" });
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
    const verdict = await node.send(list, ctx(user("patient")));
    assert.equal(verdict?.code, "PORTCULLIS_E_STATE_UNAVAILABLE");
    await new Promise((resolve) => setTimeout(resolve, 450));
    assert.equal(await node.send(list, ctx(user("patient"))), undefined);
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
    assert.equal(await a.send(list, alice), undefined);
    await server.stop();
    for (let i = 0; i < 5; i++) {
      const verdict = await a.send(list, ctx(user(`outage-${i}`)));
      assert.equal(verdict?.code, "PORTCULLIS_E_STATE_UNAVAILABLE");
      assert.deepEqual(verdict?.data, {
        layer: "ratelimit",
        rule: "state-unavailable",
        retryAfterSeconds: 1,
      });
    }
    assert.equal((await b.send(list, ctx(user("outage-b"))))?.code, "PORTCULLIS_E_STATE_UNAVAILABLE");
    const outages = a.seen.filter((e) => e.type === "state_unavailable");
    assert.equal(outages.length, 1);
    assert.equal(outages[0]?.severity, "high");
    assert.equal(a.layer.status().storeAvailable, false);
    assert.equal(a.layer.status().refusals["state-unavailable"], 5);

    await server.start();
    await Promise.all(clients.map(ready));
    const bob = ctx(user("after-outage-bob"));
    let passed = 0;
    for (let i = 0; i < 4; i++) {
      if ((await a.send(list, bob)) === undefined) passed++;
      if ((await b.send(list, bob)) === undefined) passed++;
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
    const onA = await a.flood(10, list, carol);
    assert.equal(onA.passed, 4);
    assert.equal(onA.refusal?.code, "PORTCULLIS_E_RATE_LIMITED");
    assert.equal((await b.flood(10, list, carol)).passed, 4); // each node alone: the limit twice
    assert.equal(a.seen.filter((e) => e.type === "state_unavailable").length, 1);
    assert.equal(b.seen.filter((e) => e.type === "state_unavailable").length, 1);
    assert.equal(a.layer.status().localDecisions, 10);

    await server.start();
    await Promise.all(clients.map(ready));
    const dave = ctx(user("local-dave"));
    let passed = 0;
    for (let i = 0; i < 4; i++) {
      if ((await a.send(list, dave)) === undefined) passed++;
      if ((await b.send(list, dave)) === undefined) passed++;
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
