// The state store contract, run against the in-memory store and against a real Redis: counters that
// expire and never lose an update, records, sets, publish/subscribe; then what only Redis has to
// get right: several nodes on one server, key prefixes, outages, a wrong password, a least-privilege
// ACL user. And the `state` config section, which needs no server.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { Writable } from "node:stream";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { Redis } from "ioredis";
import { pino } from "pino";
import { stateSection, type StateConfig } from "../../src/config/stateSchema.ts";
import { MemoryStateStore } from "../../src/state/memoryStore.ts";
import { openStateStore } from "../../src/state/open.ts";
import { StateUnavailableError, type RedisStateStore } from "../../src/state/redisStore.ts";
import type { StateStore } from "../../src/state/store.ts";
import { redisSkipReason, startTestRedis, type TestRedis } from "../helpers/redisServer.ts";

const silent = pino({ level: "silent" });
const redisSkip = redisSkipReason();

let server: TestRedis | undefined;
const opened: StateStore[] = [];
after(async () => {
  await Promise.all(opened.map((store) => store.close()));
  await server?.close();
});

/** The test server, started once for the whole file. */
async function testRedis(): Promise<TestRedis> {
  server ??= await startTestRedis();
  return server;
}

function stateConfig(url: string, redis: Partial<StateConfig["redis"]> = {}): StateConfig {
  return stateSection.parse({ backend: "redis", redis: { url, commandTimeoutMs: 500, ...redis } });
}

async function openRedis(keyPrefix: string, url?: string, logger = silent): Promise<RedisStateStore> {
  const config = stateConfig(url ?? (await testRedis()).url, { keyPrefix, connectTimeoutMs: 2_000 });
  const store = await openStateStore(config, logger);
  opened.push(store);
  assert.equal(store.backend, "redis");
  return store;
}

/** A logger whose lines the test can read, as the text that would be written. */
function capturingLogger() {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(chunk.toString());
      done();
    },
  });
  return { logger: pino({ level: "debug" }, stream), lines };
}

async function eventually(what: string, check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) assert.fail(`not within ${timeoutMs} ms: ${what}`);
    await sleep(20);
  }
}

/** Publishes until a listener hears it: a Redis subscription takes effect a moment after subscribe(). */
async function publishUntilHeard(
  publisher: StateStore,
  channel: string,
  message: string,
  heard: readonly string[],
): Promise<void> {
  const deadline = Date.now() + 5_000;
  while (!heard.includes(message)) {
    if (Date.now() > deadline) assert.fail(`nobody heard ${message} on ${channel}`);
    await publisher.publish(channel, message);
    await sleep(20);
  }
}

/** 1, 2, …, n: what n concurrent increments by one must return between them, in some order. */
function oneTo(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i + 1);
}

function contract(backend: string, open: () => Promise<StateStore>, skip: string | undefined): void {
  describe(`state store contract: ${backend}`, { skip: skip ?? false }, () => {
    let store: StateStore;
    before(async () => {
      store = await open();
    });
    after(() => store.close());

    it("creates a counter with its expiry and starts it over once that passed", async () => {
      assert.equal(await store.increment("attempts", 1, 200), 1);
      assert.equal(await store.increment("attempts", 2, 200), 3);
      await sleep(300);
      assert.equal(await store.increment("attempts", 1, 200), 1);
    });

    it("never extends a counter's expiry with later increments (a slow flood still resets)", async () => {
      assert.equal(await store.increment("window", 1, 500), 1);
      await sleep(250);
      assert.equal(await store.increment("window", 1, 500), 2);
      await sleep(400);
      assert.equal(await store.increment("window", 1, 500), 1, "the window ended 500 ms after it began");
    });

    it("loses no update when 200 increments race", async () => {
      const results = await Promise.all(oneTo(200).map(() => store.increment("race", 1, 60_000)));
      assert.deepEqual(
        results.sort((a, b) => a - b),
        oneTo(200),
      );
      assert.equal(await store.get("race"), "200");
    });

    it("keeps records until deleted, or until their time-to-live passed", async () => {
      assert.equal(await store.get("record"), undefined);
      await store.set("record", "kept");
      await store.set("short", "gone soon", 200);
      assert.equal(await store.get("record"), "kept");
      assert.equal(await store.get("short"), "gone soon");
      await store.set("record", "replaced");
      assert.equal(await store.get("record"), "replaced");
      await store.delete("record");
      assert.equal(await store.get("record"), undefined);
      await sleep(300);
      assert.equal(await store.get("short"), undefined);
    });

    it("adds to and removes from sets, counting distinct members", async () => {
      assert.deepEqual(await store.members("blocked"), []);
      assert.equal(await store.addToSet("blocked", "10.0.0.1"), 1);
      assert.equal(await store.addToSet("blocked", "10.0.0.2"), 2);
      assert.equal(await store.addToSet("blocked", "10.0.0.1"), 2);
      assert.deepEqual((await store.members("blocked")).sort(), ["10.0.0.1", "10.0.0.2"]);
      await store.removeFromSet("blocked", "10.0.0.1");
      await store.removeFromSet("blocked", "not a member");
      assert.deepEqual(await store.members("blocked"), ["10.0.0.2"]);
      await store.removeFromSet("blocked", "10.0.0.2");
      assert.deepEqual(await store.members("blocked"), []);
      assert.equal(await store.addToSet("blocked", "10.0.0.3"), 1);
    });

    it("delivers published messages to subscribers until they unsubscribe", async () => {
      const first: string[] = [];
      const second: string[] = [];
      const barrier: string[] = [];
      const stopFirst = store.subscribe("revocations", (m) => first.push(m));
      const stopSecond = store.subscribe("revocations", (m) => second.push(m));
      const stopBarrier = store.subscribe("barrier", (m) => barrier.push(m));
      await publishUntilHeard(store, "revocations", "session-1", first);
      await eventually("the second subscriber hears it too", () => second.includes("session-1"));

      stopFirst();
      await publishUntilHeard(store, "revocations", "session-2", second);
      assert.ok(!first.includes("session-2"), "an unsubscribed listener heard a message");

      stopSecond();
      await store.publish("revocations", "session-3");
      // Messages reach a subscriber in the order they were published: once this one is heard,
      // session-3 would have been too.
      await publishUntilHeard(store, "barrier", "after session-3", barrier);
      assert.ok(!second.includes("session-3"), "a listener heard a message after the last unsubscribe");
      stopBarrier();
    });
  });
}

contract("memory", async () => new MemoryStateStore(), undefined);
contract("redis", () => openRedis("contract:"), redisSkip);

describe("redis state store: several gateway nodes", { skip: redisSkip ?? false }, () => {
  it("lets two nodes count, read and hear each other's state", async () => {
    const [a, b] = await Promise.all([openRedis("shared:"), openRedis("shared:")]);
    const results = await Promise.all(
      oneTo(200).map((i) => (i % 2 === 0 ? a : b).increment("logins:alice", 1, 60_000)),
    );
    assert.deepEqual(
      results.sort((x, y) => x - y),
      oneTo(200),
    );
    assert.equal(await b.increment("logins:alice", 1, 60_000), 201);

    await a.set("enf:block:10.0.0.9", "blocked");
    assert.equal(await b.get("enf:block:10.0.0.9"), "blocked");
    assert.equal(await a.addToSet("enf:index", "block:10.0.0.9"), 1);
    assert.equal(await b.addToSet("enf:index", "revoke:abc"), 2);

    const heardByB: string[] = [];
    b.subscribe("enforcements", (m) => heardByB.push(m));
    await publishUntilHeard(a, "enforcements", "block 10.0.0.9", heardByB);
  });

  it("keeps deployments with different key prefixes apart, channels included", async () => {
    const [tenantA, tenantB] = await Promise.all([openRedis("tenant-a:"), openRedis("tenant-b:")]);
    assert.equal(await tenantA.increment("failures", 5, 60_000), 5);
    assert.equal(await tenantB.increment("failures", 1, 60_000), 1);
    await tenantA.set("record", "a's");
    assert.equal(await tenantB.get("record"), undefined);
    assert.equal(await tenantA.client.get("tenant-a:record"), "a's", "the prefix is on the key in Redis");

    const heardByA: string[] = [];
    const heardByB: string[] = [];
    tenantA.subscribe("events", (m) => heardByA.push(m));
    tenantB.subscribe("events", (m) => heardByB.push(m));
    await publishUntilHeard(tenantA, "events", "for a", heardByA);
    // On the same connection as the message to tenant A: heard after it, had both been delivered.
    await tenantB.publish("events", "warm-up");
    await eventually("tenant B subscribed", () => heardByB.includes("warm-up"), 5_000);
    await tenantA.publish("events", "for a, again");
    await tenantA.client.publish("tenant-b:events", "barrier");
    await eventually("tenant B hears the barrier", () => heardByB.includes("barrier"), 5_000);
    assert.deepEqual(heardByB, ["warm-up", "barrier"]);
  });
});

describe("redis state store: when Redis is away", { skip: redisSkip ?? false }, () => {
  it("fails fast while the server is down, reports the outage once and recovers", async () => {
    const redis = await testRedis();
    const { logger, lines } = capturingLogger();
    const store = await openRedis("outage:", undefined, logger);
    const edges: { up: boolean; error?: string }[] = [];
    store.onAvailability((up, error) => edges.push({ up, error }));
    const heard: string[] = [];
    store.subscribe("revocations", (m) => heard.push(m));
    await publishUntilHeard(store, "revocations", "before", heard);
    assert.ok(store.isAvailable());

    await redis.stop();
    try {
      for (const attempt of [
        () => store.increment("attempts", 1, 60_000),
        () => store.get("record"),
        () => store.set("record", "x", 1_000),
        () => store.addToSet("set", "m"),
        () => store.publish("revocations", "lost"),
      ]) {
        const started = Date.now();
        await assert.rejects(attempt(), (err: Error) => {
          assert.ok(err instanceof StateUnavailableError, `${err.name}: ${err.message}`);
          assert.match(err.message, new RegExp(`Redis at redis://127\\.0\\.0\\.1:${redis.port}`));
          assert.ok(!err.message.includes(redis.password), "the password is in the error");
          return true;
        });
        assert.ok(Date.now() - started < 5_000, "a command waited for Redis");
      }
      await eventually("the store reports the outage", () => !store.isAvailable());
      assert.equal(edges.length, 1, "one report per outage, however many reconnect attempts");
      assert.equal(edges[0]?.up, false);
      assert.ok(edges[0]?.error, "the report says why");
      await sleep(500);
      assert.equal(edges.length, 1, "reconnect attempts are not new outages");
    } finally {
      await redis.start();
    }

    await eventually("the store reconnects", () => store.isAvailable());
    assert.deepEqual(edges.at(-1), { up: true, error: undefined });
    // A fresh server: the old subscription must have been made again on the new connection.
    await publishUntilHeard(store, "revocations", "after", heard);
    assert.equal(await store.increment("attempts", 1, 60_000), 1);
    assert.ok(!lines.join("").includes(redis.password), "the password was logged");
  });

  it("fails a command that Redis does not answer within commandTimeoutMs", async () => {
    const redis = await testRedis();
    const store = await openRedis("slow:");
    const admin = new Redis({ port: redis.port, host: "127.0.0.1", password: redis.password });
    try {
      // The server holds every client's commands for 1.5 s: a Redis that is up but does not answer.
      await admin.call("CLIENT", "PAUSE", "1500", "ALL");
      const started = Date.now();
      await assert.rejects(store.get("anything"), StateUnavailableError);
      assert.ok(Date.now() - started < 1_400, "the command waited for the paused server");
      await sleep(1_600 - (Date.now() - started));
      assert.equal(await store.get("anything"), undefined, "the store answers again");
    } finally {
      admin.disconnect();
    }
  });

  it("starts with Redis unreachable, saying where (not the password), and connects later", async () => {
    const redis = await testRedis();
    const { logger, lines } = capturingLogger();
    await redis.stop();
    let store: RedisStateStore;
    const heard: string[] = [];
    try {
      const started = Date.now();
      store = await openRedis("late:", undefined, logger);
      assert.ok(Date.now() - started < 2_500, "the start waited longer than connectTimeoutMs");
      assert.equal(store.isAvailable(), false);
      const logged = lines.join("");
      assert.match(logged, new RegExp(`127\\.0\\.0\\.1:${redis.port}.*unreachable`));
      assert.match(logged, /ECONNREFUSED/);
      assert.ok(!logged.includes(redis.password), "the password was logged");
      await assert.rejects(store.members("set"), StateUnavailableError);
      // Made while Redis is away: it must reach Redis once it is there.
      store.subscribe("revocations", (m) => heard.push(m));
    } finally {
      await redis.start();
    }
    await eventually("the store connects", () => store.isAvailable());
    await publishUntilHeard(store, "revocations", "hello", heard);
  });

  it("refuses a wrong password with a clear error that does not contain it", async () => {
    const redis = await testRedis();
    const wrong = `not-the-password-${randomBytes(6).toString("hex")}`;
    const { logger, lines } = capturingLogger();
    const store = await openRedis("auth:", `redis://:${wrong}@127.0.0.1:${redis.port}`, logger);
    assert.equal(store.isAvailable(), false);
    const logged = lines.join("");
    assert.match(logged, /WRONGPASS/);
    assert.ok(!logged.includes(wrong), "the wrong password was logged");
    await assert.rejects(store.get("record"), (err: Error) => {
      assert.ok(err instanceof StateUnavailableError);
      assert.match(err.message, /WRONGPASS/);
      assert.ok(!err.message.includes(wrong), "the password is in the error");
      return true;
    });
  });
});

/** The rules docs/state.md suggests for the gateway's ACL user. */
const SUGGESTED_ACL =
  "reset on resetkeys resetchannels ~portcullis:* &portcullis:* -@all +@read +@write +@pubsub +@transaction +eval +evalsha -@dangerous +info +ping +select +time";

describe("redis state store: least privilege", { skip: redisSkip ?? false }, () => {
  it("works as an ACL user limited to its key prefix, as docs/state.md suggests", async () => {
    const redis = await testRedis();
    const password = randomBytes(12).toString("hex");
    const admin = new Redis({ port: redis.port, host: "127.0.0.1", password: redis.password });
    try {
      await admin.call("ACL", "SETUSER", "portcullis", ...SUGGESTED_ACL.split(" "), `>${password}`);
    } finally {
      admin.disconnect();
    }
    const store = await openRedis("portcullis:", `redis://portcullis:${password}@127.0.0.1:${redis.port}`);
    assert.ok(store.isAvailable(), store.unavailableReason ?? "not available");
    assert.equal(await store.increment("counter", 1, 60_000), 1);
    await store.set("record", "v", 60_000);
    assert.equal(await store.get("record"), "v");
    assert.equal(await store.addToSet("set", "m"), 1);
    const heard: string[] = [];
    store.subscribe("channel", (m) => heard.push(m));
    await publishUntilHeard(store, "channel", "hello", heard);
    // The rate limiter's script reads Redis's clock (one clock for every node).
    assert.ok(Array.isArray(await store.client.eval("return redis.call('TIME')", 0)));
    await assert.rejects(store.client.get("elsewhere:record"), /NOPERM/);
    await assert.rejects(store.client.keys("*"), /NOPERM/, "it could list every key's name");
  });
});

describe("state config section", () => {
  const issues = (input: unknown): string[] => {
    const parsed = stateSection.safeParse(input);
    return parsed.success ? [] : parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`);
  };

  it("defaults to memory, fail-secure, with a prefix and timeouts", () => {
    assert.deepEqual(stateSection.parse(undefined), {
      backend: "memory",
      redis: { keyPrefix: "portcullis:", connectTimeoutMs: 5_000, commandTimeoutMs: 1_000 },
      onUnavailable: "deny",
    });
  });

  it("needs a URL for the redis backend", () => {
    assert.match(issues({ backend: "redis" }).join("\n"), /^redis\.url: state\.backend is "redis"/);
  });

  it("refuses plain redis:// off loopback: the password and the state would travel in clear", () => {
    const found = issues({ backend: "redis", redis: { url: "redis://:secret@cache.internal:6379" } });
    assert.equal(found.length, 1);
    assert.match(
      found[0]!,
      /^redis\.url: state\.redis\.url: .*only for a loopback host, not cache\.internal/,
    );
    assert.ok(!found[0]!.includes("secret"), "the message shows the password");
  });

  it("accepts rediss:// anywhere, and redis:// on loopback", () => {
    assert.deepEqual(issues({ backend: "redis", redis: { url: "rediss://u:p@cache.internal:6380/2" } }), []);
    assert.deepEqual(issues({ backend: "redis", redis: { url: "redis://:p@127.0.0.1:6379" } }), []);
    assert.deepEqual(issues({ backend: "redis", redis: { url: "redis://[::1]:6379" } }), []);
  });

  it("refuses other URLs without repeating them", () => {
    for (const url of ["http://:hunter2@cache:6379", "rediss://:hunter2@cache:6380?tls=false", "hunter2"]) {
      const found = issues({ backend: "redis", redis: { url } });
      assert.equal(found.length, 1, url);
      assert.match(found[0]!, /^redis\.url: must be redis:\/\//);
      assert.ok(!found[0]!.includes("hunter2"));
    }
  });

  it("refuses TLS files with a plain URL, and half a client certificate", () => {
    assert.match(
      issues({ backend: "redis", redis: { url: "redis://127.0.0.1", tls: { caFile: "ca.pem" } } }).join(),
      /use rediss:\/\//,
    );
    assert.match(
      issues({ backend: "redis", redis: { url: "rediss://cache", tls: { certFile: "c.pem" } } }).join(),
      /^redis\.tls\.keyFile: .*go together/,
    );
  });
});
