// The network layer's parts: address lists in every notation, the RFC 7239 Forwarded header from
// trusted proxies only, static lists and range blocks in the guard, body shape limits, the event
// throttle and the per-session stream cap.
import assert from "node:assert/strict";
import { EventEmitter } from "node:events";
import type { IncomingMessage, ServerResponse } from "node:http";
import { describe, it } from "node:test";
import pino from "pino";
import { isAddressOrRange } from "../../src/config/networkSchema.ts";
import { configSchema } from "../../src/config/schema.ts";
import { EventThrottle } from "../../src/events/throttle.ts";
import { jsonShapeProblem } from "../../src/ingress/body.ts";
import { AddressList, canonicalRange } from "../../src/layers/network/addressList.ts";
import { ClientAddressResolver } from "../../src/layers/network/clientAddress.ts";
import { networkGuard } from "../../src/layers/network/index.ts";
import { StreamCounter } from "../../src/layers/network/streams.ts";
import { Enforcements } from "../../src/state/enforcements.ts";
import { MemoryStateStore } from "../../src/state/memoryStore.ts";

const silent = pino({ level: "silent" });

function forwarded(peer: string, header: string): IncomingMessage {
  return {
    socket: { remoteAddress: peer },
    headersDistinct: { forwarded: [header], "x-forwarded-for": ["198.51.100.250"] },
  } as unknown as IncomingMessage;
}

describe("address lists", () => {
  const list = new AddressList(["10.0.0.0/8", "2001:db8::/32", "192.0.2.7", "::ffff:198.51.100.0/120"]);

  it("matches IPv4 and IPv6 ranges and single addresses", () => {
    assert.equal(list.match("10.200.1.1"), "10.0.0.0/8");
    assert.equal(list.match("2001:db8:1::9"), "2001:db8::/32");
    assert.equal(list.match("192.0.2.7"), "192.0.2.7");
    assert.equal(list.match("192.0.2.8"), undefined);
    assert.equal(list.match("2001:db9::1"), undefined);
  });

  it("sees through IPv4-mapped IPv6 on either side", () => {
    assert.equal(list.match("::ffff:10.1.2.3"), "10.0.0.0/8");
    assert.equal(list.match("198.51.100.42"), "::ffff:198.51.100.0/120");
    assert.equal(list.match("::ffff:198.51.100.42"), "::ffff:198.51.100.0/120");
  });

  it("never matches text that is not an address", () => {
    assert.equal(list.match("not-an-ip"), undefined);
    assert.equal(list.match(undefined), undefined);
  });

  it("accepts only strict notations in the config (no decimal, octal, hex or short forms)", () => {
    for (const good of ["10.0.0.0/8", "::1", "2001:db8::/32", "203.0.113.7"])
      assert.ok(isAddressOrRange(good), good);
    for (const bad of [
      "10",
      "127.1",
      "0x7f.0.0.1",
      "017700000001",
      "1.2.3.4/33",
      "1.2.3.4/",
      "10.0.0.0/8/1",
      "host",
    ])
      assert.equal(isAddressOrRange(bad), false, bad);
    const parsed = configSchema.safeParse({
      version: 1,
      network: { deny: ["10.0.0.0/33"] },
      upstreams: { a: { transport: "stdio", command: "x" } },
    });
    assert.equal(parsed.success, false);
    assert.deepEqual(parsed.error?.issues[0]?.path, ["network", "deny", 0]);
  });

  it("names a range by its network address", () => {
    assert.equal(canonicalRange("10.1.2.3/8"), "10.0.0.0/8");
    assert.equal(canonicalRange("10.1.2.3/32"), "10.1.2.3");
    assert.equal(canonicalRange("2001:db8::1/32"), "2001:db8::/32");
  });
});

describe("the RFC 7239 Forwarded header", () => {
  const resolver = new ClientAddressResolver(["10.0.0.0/8"], "forwarded");

  it("takes the right-most for= that is not a trusted proxy", () => {
    assert.equal(
      resolver.resolve(forwarded("10.0.0.1", "for=203.0.113.9;proto=https, for=10.0.0.5")),
      "203.0.113.9",
    );
    assert.equal(
      resolver.resolve(forwarded("10.0.0.1", 'for="[2001:db8:cafe::17]:4711"')),
      "2001:db8:cafe::17",
    );
    assert.equal(resolver.resolve(forwarded("10.0.0.1", 'for="192.0.2.60:8080"')), "192.0.2.60");
  });

  it("reads only the configured header: X-Forwarded-For is ignored when Forwarded is chosen", () => {
    assert.equal(resolver.resolve(forwarded("10.0.0.1", "for=203.0.113.9")), "203.0.113.9");
  });

  it("believes nothing from an untrusted peer", () => {
    assert.equal(resolver.resolve(forwarded("198.51.100.1", "for=203.0.113.9")), "198.51.100.1");
  });

  it("refuses an obfuscated, unknown or unparsable hop before the client instead of taking the proxy", () => {
    const unreadable = { code: "PORTCULLIS_E_FORWARDING_HEADER" };
    assert.throws(() => resolver.resolve(forwarded("10.0.0.1", "for=_hidden")), unreadable);
    assert.throws(() => resolver.resolve(forwarded("10.0.0.1", "for=unknown")), unreadable);
    assert.throws(() => resolver.resolve(forwarded("10.0.0.1", 'for="unterminated')), unreadable);
    // A port makes the value a quoted-string in RFC 7239; bare, it does not parse.
    assert.throws(() => resolver.resolve(forwarded("10.0.0.1", "for=192.0.2.60:8080")), unreadable);
  });

  it("does not let garbage in the client's own element spoil the proxy's (the proxy stays blockable)", () => {
    assert.equal(resolver.resolve(forwarded("10.0.0.1", "for=@@, for=203.0.113.9")), "203.0.113.9");
    assert.equal(
      resolver.resolve(forwarded("10.0.0.1", 'for="unterminated, for=203.0.113.9')),
      "203.0.113.9",
    );
    assert.equal(resolver.resolve(forwarded("10.0.0.1", "for=203.0.113.9, for=10.0.0.7")), "203.0.113.9");
  });
});

describe("the network guard", () => {
  const config = (allow: string[], deny: string[]) =>
    configSchema.parse({
      version: 1,
      network: { allow, deny },
      upstreams: { a: { transport: "stdio", command: "x" } },
    }).network;

  it("refuses the deny list, then anything the allow list leaves out, naming the rule", async () => {
    const enforcements = new Enforcements(new MemoryStateStore(), silent);
    const guard = networkGuard(enforcements, () => config(["10.0.0.0/8"], ["10.6.6.0/24"]));
    assert.equal(guard.admit("10.1.1.1"), undefined);
    const denied = guard.admit("10.6.6.6");
    assert.equal(denied?.code, "PORTCULLIS_E_ADDRESS_DENIED");
    assert.equal(denied?.data?.rule, "deny-list:10.6.6.0/24");
    assert.equal(guard.admit("192.0.2.1")?.data?.rule, "allow-list");
    assert.equal(guard.admit(undefined)?.data?.rule, "allow-list");
  });

  it("enforces a block on a range, and lifts it", async () => {
    const enforcements = new Enforcements(new MemoryStateStore(), silent);
    await enforcements.start();
    const guard = networkGuard(enforcements, () => config([], []));
    await enforcements.blockAddress("203.0.113.77/24", 60_000, "botnet", "admin");
    const blocked = guard.admit("203.0.113.5");
    assert.equal(blocked?.code, "PORTCULLIS_E_ADDRESS_BLOCKED");
    assert.equal(blocked?.data?.rule, "dynamic-block:admin");
    assert.ok(Number(blocked?.data?.retryAfterSeconds) >= 59);
    assert.equal(guard.admit("203.0.114.5"), undefined);
    assert.equal(await enforcements.lift("block", "203.0.113.0/24"), true);
    assert.equal(guard.admit("203.0.113.5"), undefined);
    enforcements.stop();
  });

  it("sees a block set on another node through the shared store", async () => {
    const store = new MemoryStateStore();
    const here = new Enforcements(store, silent);
    const there = new Enforcements(store, silent);
    await here.start();
    await there.start();
    await there.blockAddress("::ffff:198.51.100.9", 60_000, "probing", "privilege_probing");
    assert.equal(here.addressBlock("198.51.100.9")?.source, "privilege_probing");
    here.stop();
    there.stop();
  });
});

describe("body shape limits", () => {
  it("finds nesting beyond the limit outside strings only", () => {
    assert.equal(jsonShapeProblem("[".repeat(65) + "]".repeat(65), 64), "depth");
    assert.equal(jsonShapeProblem(JSON.stringify({ a: "[[[[[[[[" }), 2), undefined);
  });

  it("finds a string or key longer than the limit, escapes counted as written", () => {
    assert.equal(jsonShapeProblem(JSON.stringify({ a: "x".repeat(100) }), 64, 100), undefined);
    assert.equal(jsonShapeProblem(JSON.stringify({ a: "x".repeat(101) }), 64, 100), "string");
    assert.equal(jsonShapeProblem(JSON.stringify({ ["k".repeat(101)]: 1 }), 64, 100), "string");
    assert.equal(jsonShapeProblem(JSON.stringify({ a: '"'.repeat(60) }), 64, 100), "string");
    assert.equal(jsonShapeProblem('{"a":"' + "x".repeat(200), 64, 100), "string");
  });
});

describe("the event throttle", () => {
  it("lets one event per key through per interval, and forgets the oldest keys first", () => {
    let now = 0;
    const throttle = new EventThrottle(1000, 2, () => now);
    assert.equal(throttle.take("a"), true);
    assert.equal(throttle.take("a"), false);
    assert.equal(throttle.take("b"), true);
    now = 1000;
    assert.equal(throttle.take("a"), true);
    throttle.take("c"); // evicts b, the oldest
    now = 1500;
    assert.equal(throttle.take("b"), true);
  });
});

describe("the stream cap", () => {
  it("refuses beyond the cap with 429 and frees a slot when a response closes", () => {
    const counter = new StreamCounter();
    const response = () => {
      const res = new EventEmitter() as EventEmitter & Partial<ServerResponse> & { status?: number };
      Object.assign(res, {
        headersSent: false,
        setHeader: () => res,
        writeHead: (status: number) => ((res.status = status), res),
        end: () => res,
      });
      return res as unknown as ServerResponse & EventEmitter & { status?: number };
    };
    const first = response();
    assert.equal(counter.admit("s", first, 2), true);
    assert.equal(counter.admit("s", response(), 2), true);
    const third = response();
    assert.equal(counter.admit("s", third, 2), false);
    assert.equal((third as { status?: number }).status, 429);
    assert.equal(counter.admit("other", response(), 2), true);
    first.emit("close");
    assert.equal(counter.count("s"), 1);
    assert.equal(counter.admit("s", response(), 2), true);
  });
});

describe("blocks across notations and outages", () => {
  it("enforces a block given in a non-canonical IPv6 notation on the canonical address", async () => {
    const enforcements = new Enforcements(new MemoryStateStore(), silent);
    await enforcements.start();
    await enforcements.blockAddress("2001:0db8:0:0::1", 60_000, "x", "admin");
    assert.ok(enforcements.addressBlock("2001:db8::1"));
    await enforcements.blockAddress("::ffff:a00:1", 60_000, "x", "admin");
    assert.ok(enforcements.addressBlock("10.0.0.1"));
    assert.equal(await enforcements.lift("block", "2001:db8:0::1"), true);
    assert.equal(enforcements.addressBlock("2001:db8::1"), undefined);
    enforcements.stop();
  });

  it("lifts a range given in any spelling on every node", async () => {
    const store = new MemoryStateStore();
    const here = new Enforcements(store, silent);
    const there = new Enforcements(store, silent);
    await here.start();
    await there.start();
    await here.blockAddress("203.0.113.0/24", 60_000, "x", "admin");
    assert.ok(there.addressBlock("203.0.113.9"));
    // `there` lifts it by another spelling of the same range.
    assert.equal(await there.lift("block", "203.0.113.77/24"), true);
    assert.equal(here.addressBlock("203.0.113.9"), undefined);
    here.stop();
    there.stop();
  });

  it("enforces a block on its own node while the store is away, and shares it once the store is back", async () => {
    const store = new MemoryStateStore();
    let down = true;
    const flaky = new Proxy(store, {
      get(target, name, receiver) {
        const value = Reflect.get(target, name, receiver) as unknown;
        if (typeof value !== "function" || name === "subscribe") return value;
        return (...args: unknown[]) =>
          down
            ? Promise.reject(new Error("store away"))
            : (value as (...a: unknown[]) => unknown).apply(target, args);
      },
    });
    const here = new Enforcements(flaky, silent);
    const there = new Enforcements(store, silent);
    await here.start(); // the store is away: nothing to read, no crash
    await there.start();
    await here.blockAddress("198.51.100.66", 60_000, "probing", "privilege_probing");
    assert.ok(here.addressBlock("198.51.100.66"), "enforced where it was set");
    assert.equal(there.addressBlock("198.51.100.66"), undefined);
    down = false;
    await here.sync();
    assert.ok(there.addressBlock("198.51.100.66"), "shared once written");
    here.stop();
    there.stop();
  });

  it("drops on sync a block another node lifted while this one was cut off", async () => {
    const store = new MemoryStateStore();
    const here = new Enforcements(store, silent);
    await here.start();
    await here.blockAddress("192.0.2.44", 60_000, "x", "admin");
    here.stop(); // cut off: the lift below is never heard
    const there = new Enforcements(store, silent);
    await there.start();
    await there.lift("block", "192.0.2.44");
    assert.ok(here.addressBlock("192.0.2.44"));
    await here.sync();
    assert.equal(here.addressBlock("192.0.2.44"), undefined);
    there.stop();
  });
});
