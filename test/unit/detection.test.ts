// The event bus, the state store, enforcements, each detector (the attack and its benign twin) and
// the playbooks that respond to detections.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { pino } from "pino";
import { configSchema } from "../../src/config/schema.ts";
import { SecurityEventBus, type SecurityEvent, type StampedEvent } from "../../src/events/bus.ts";
import { DetectionEngine } from "../../src/events/detection.ts";
import { anomalyDetector } from "../../src/events/detectors/anomaly.ts";
import { bruteForceDetector, credentialStuffingDetector } from "../../src/events/detectors/authentication.ts";
import { exfiltrationDetector } from "../../src/events/detectors/exfiltration.ts";
import { privilegeProbingDetector } from "../../src/events/detectors/probing.ts";
import type { Detector } from "../../src/events/detectors/types.ts";
import { anonymousPrincipal, type Principal, type RequestContext } from "../../src/pipeline/types.ts";
import { Enforcements } from "../../src/state/enforcements.ts";
import { MemoryStateStore } from "../../src/state/memoryStore.ts";

const silent = pino({ level: "silent" });
const baseConfig = { version: 1, upstreams: { a: { transport: "stdio", command: "x" } } };
const parse = (extra: Record<string, unknown> = {}) => configSchema.parse({ ...baseConfig, ...extra });
const detectionConfig = (detection: Record<string, unknown> = {}) => parse({ detection }).detection;

const alice: Principal = { id: "alice", kind: "user", roles: [], authMethod: "bearer" };

function ctx(principal: Principal = alice, clientAddress = "10.0.0.1", session = "sess-1"): RequestContext {
  return {
    id: "c",
    transport: "http",
    era: "legacy",
    protocolVersion: "2025-11-25",
    clientAddress,
    principal,
    sessionDigest: session,
    clientInfo: undefined,
    findings: {},
  };
}

const stamp = (event: SecurityEvent): StampedEvent => ({ ...event, time: new Date().toISOString() });

function toolCall(
  tool: string,
  verdict = "allow",
  extra: Record<string, unknown> = {},
  c = ctx(),
): StampedEvent {
  return stamp({ type: "tool_call", severity: "info", ctx: c, details: { tool, verdict, ...extra } });
}

function authFailure(principal: string, address: string): StampedEvent {
  return stamp({ type: "auth_failure", severity: "low", details: { principal, address } });
}

/** Feeds events at the given times; returns the detections by index of the event that raised them. */
function feed(detector: Detector, events: [StampedEvent, number][]): number[] {
  const hits: number[] = [];
  events.forEach(([event, at], i) => {
    if (detector.observe(event, at)) hits.push(i);
  });
  return hits;
}

describe("security event bus", () => {
  it("calls detectors inside emit and sinks only afterwards", async () => {
    const bus = new SecurityEventBus(silent);
    const order: string[] = [];
    bus.subscribe(() => order.push("detector"));
    bus.addSink("sink", () => order.push("sink"));
    bus.emit({ type: "upstream_up", severity: "info", details: {} });
    order.push("after emit");
    assert.deepEqual(order, ["detector", "after emit"]);
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(order, ["detector", "after emit", "sink"]);
  });

  it("drops and counts events beyond a sink's queue instead of blocking", async () => {
    const bus = new SecurityEventBus(silent);
    const got: string[] = [];
    bus.addSink("slow", (e) => got.push(e.type), 3);
    for (let i = 0; i < 5; i++) bus.emit({ type: "upstream_up", severity: "info", details: { i } });
    assert.deepEqual(bus.sinkStatus(), [{ name: "slow", depth: 3, dropped: 2 }]);
    await new Promise((r) => setImmediate(r));
    assert.equal(got.length, 3);
    assert.equal(bus.sinkStatus()[0]?.depth, 0);
  });

  it("keeps delivering when a listener or sink throws", async () => {
    const bus = new SecurityEventBus(silent);
    let delivered = 0;
    bus.subscribe(() => {
      throw new Error("broken detector");
    });
    bus.addSink("broken", () => {
      throw new Error("broken sink");
    });
    bus.addSink("fine", () => delivered++);
    bus.emit({ type: "upstream_up", severity: "info", details: {} });
    await new Promise((r) => setImmediate(r));
    assert.equal(delivered, 1);
  });
});

describe("memory state store", () => {
  it("expires counters and records after their TTL", async () => {
    let now = 1_000;
    const store = new MemoryStateStore(() => now);
    assert.equal(await store.increment("k", 1, 100), 1);
    assert.equal(await store.increment("k", 2, 100), 3);
    await store.set("r", "v", 50);
    now += 60;
    assert.equal(await store.get("r"), undefined);
    now += 50;
    assert.equal(await store.increment("k", 1, 100), 1, "a counter starts anew after it expired");
    await store.close();
  });

  it("keeps sets and publishes to subscribers", async () => {
    const store = new MemoryStateStore();
    assert.equal(await store.addToSet("s", "a"), 1);
    assert.equal(await store.addToSet("s", "a"), 1);
    assert.equal(await store.addToSet("s", "b"), 2);
    await store.removeFromSet("s", "a");
    assert.deepEqual(await store.members("s"), ["b"]);
    const got: string[] = [];
    const off = store.subscribe("ch", (m) => got.push(m));
    await store.publish("ch", "one");
    off();
    await store.publish("ch", "two");
    assert.deepEqual(got, ["one"]);
    await store.close();
  });
});

describe("enforcements", () => {
  it("blocks an address in either IPv4 form until the block expires", async () => {
    let now = 0;
    const enforcements = new Enforcements(new MemoryStateStore(() => now), silent, () => now);
    await enforcements.start();
    await enforcements.blockAddress("::ffff:192.0.2.7", 1_000, "test", "admin");
    assert.ok(enforcements.addressBlock("192.0.2.7"));
    assert.ok(enforcements.addressBlock("::ffff:192.0.2.7"));
    assert.equal(enforcements.addressBlock("192.0.2.8"), undefined);
    now = 1_001;
    assert.equal(enforcements.addressBlock("192.0.2.7"), undefined);
  });

  it("never shortens a block that is already in force", async () => {
    const now = 0;
    const enforcements = new Enforcements(new MemoryStateStore(() => now), silent, () => now);
    await enforcements.start();
    await enforcements.blockAddress("192.0.2.7", 10_000, "long", "admin");
    const again = await enforcements.blockAddress("192.0.2.7", 1_000, "short", "brute_force");
    assert.equal(again.until, 10_000);
  });

  it("adds up trust lowerings, at most to 1, and lifts them", async () => {
    const enforcements = new Enforcements(new MemoryStateStore(), silent);
    await enforcements.start();
    await enforcements.lowerTrust("alice", 0.2, 60_000, "a", "anomaly");
    await enforcements.lowerTrust("alice", 0.3, 60_000, "b", "anomaly");
    assert.equal(enforcements.trustPenalty("alice"), 0.5);
    await enforcements.lowerTrust("alice", 0.9, 60_000, "c", "anomaly");
    assert.equal(enforcements.trustPenalty("alice"), 1);
    assert.equal(enforcements.trustPenalty("bob"), 0);
    assert.equal(await enforcements.lift("trust", "alice"), true);
    assert.equal(enforcements.trustPenalty("alice"), 0);
  });

  it("learns what another node put in force, from the store and from its messages", async () => {
    const store = new MemoryStateStore();
    const first = new Enforcements(store, silent);
    await first.start();
    await first.revokeSession("digest-1", 60_000, "test", "admin");
    const second = new Enforcements(store, silent);
    await second.start();
    assert.ok(second.sessionRevoked("digest-1"), "loaded at start");
    const seen: string[] = [];
    second.onEnforced((e) => seen.push(`${e.kind}:${e.subject}`));
    await first.requireStepUp("alice", 60_000, "test", "admin");
    assert.ok(second.stepUpRequired("alice"), "followed by publish/subscribe");
    assert.deepEqual(seen, ["stepup:alice"]);
  });
});

describe("brute force and credential stuffing", () => {
  it("raises brute force at N failures from one address within the window", () => {
    const detector = bruteForceDetector(detectionConfig({ bruteForce: { failures: 3, windowMs: 1_000 } }));
    const hits = feed(detector, [
      [authFailure("u1", "198.51.100.1"), 0],
      [authFailure("u1", "198.51.100.1"), 100],
      [authFailure("u1", "198.51.100.1"), 200],
    ]);
    assert.deepEqual(hits, [2]);
  });

  it("does not raise it for failures spread wider than the window (benign twin)", () => {
    const detector = bruteForceDetector(detectionConfig({ bruteForce: { failures: 3, windowMs: 1_000 } }));
    const hits = feed(detector, [
      [authFailure("u1", "198.51.100.1"), 0],
      [authFailure("u1", "198.51.100.1"), 900],
      [authFailure("u1", "198.51.100.1"), 1_950],
      [authFailure("u1", "198.51.100.1"), 2_900],
    ]);
    assert.deepEqual(hits, []);
  });

  it("raises brute force against one principal from many addresses", () => {
    const detector = bruteForceDetector(detectionConfig({ bruteForce: { failures: 3, windowMs: 1_000 } }));
    const hits = feed(detector, [
      [authFailure("victim", "198.51.100.1"), 0],
      [authFailure("victim", "198.51.100.2"), 10],
      [authFailure("victim", "198.51.100.3"), 20],
    ]);
    assert.deepEqual(hits, [2]);
  });

  it("raises credential stuffing when many principals fail from one address", () => {
    const detector = credentialStuffingDetector(
      detectionConfig({ credentialStuffing: { principals: 3, windowMs: 1_000 } }),
    );
    const hits = feed(detector, [
      [authFailure("a", "203.0.113.9"), 0],
      [authFailure("a", "203.0.113.9"), 1],
      [authFailure("b", "203.0.113.9"), 2],
      [authFailure("c", "203.0.113.9"), 3],
    ]);
    assert.deepEqual(hits, [3]);
  });

  it("does not count one user retrying their own password as stuffing (benign twin)", () => {
    const detector = credentialStuffingDetector(
      detectionConfig({ credentialStuffing: { principals: 3, windowMs: 1_000 } }),
    );
    const hits = feed(
      detector,
      Array.from({ length: 10 }, (_, i) => [authFailure("a", "203.0.113.9"), i] as [StampedEvent, number]),
    );
    assert.deepEqual(hits, []);
  });
});

describe("privilege probing", () => {
  const config = detectionConfig({ privilegeProbing: { denials: 3, windowMs: 10_000 } });

  it("raises it for repeated refusals on high-risk tools, unknown ones included", () => {
    const detector = privilegeProbingDetector(config);
    const hits = feed(detector, [
      [toolCall("fs__delete_file", "deny"), 0],
      [toolCall("admin__exec", "error", { errorCode: "PORTCULLIS_E_UNKNOWN_TOOL" }), 1],
      [toolCall("ops__drop_table", "challenge"), 2],
    ]);
    assert.deepEqual(hits, [2]);
  });

  it("counts tools annotated destructive as high risk whatever their name", () => {
    const detector = privilegeProbingDetector(config);
    const denied = toolCall("fs__tidy", "deny", { annotations: { destructiveHint: true } });
    assert.deepEqual(
      feed(detector, [
        [denied, 0],
        [denied, 1],
        [denied, 2],
      ]),
      [2],
    );
  });

  it("ignores refusals on low-risk tools and successful high-risk calls (benign twin)", () => {
    const detector = privilegeProbingDetector(config);
    const hits = feed(detector, [
      [toolCall("docs__search", "deny"), 0],
      [toolCall("docs__search", "deny"), 1],
      [toolCall("docs__search", "deny"), 2],
      [toolCall("fs__delete_file", "allow"), 3],
      [toolCall("fs__delete_file", "allow"), 4],
      [toolCall("fs__delete_file", "error", { errorCode: "upstream:-32603" }), 5],
    ]);
    assert.deepEqual(hits, []);
  });

  it("keeps anonymous callers at different addresses apart", () => {
    const detector = privilegeProbingDetector(config);
    const at = (address: string) => toolCall("x__delete", "deny", {}, ctx(anonymousPrincipal, address));
    assert.deepEqual(
      feed(detector, [
        [at("192.0.2.1"), 0],
        [at("192.0.2.2"), 1],
        [at("192.0.2.3"), 2],
      ]),
      [],
    );
  });
});

describe("behaviour anomalies", () => {
  const minute = 60_000;
  const rateOnlyDetector = () =>
    anomalyDetector(
      detectionConfig({
        anomaly: {
          rate: { windowMs: minute, factor: 5, minCalls: 10, learningWindows: 3 },
          firstUse: { enabled: false },
          unusualHours: { enabled: false },
        },
      }),
    );

  it("raises a rate spike against the principal's own baseline, once it has one", () => {
    const detector = rateOnlyDetector();
    const events: [StampedEvent, number][] = [];
    // Four quiet minutes of 2 calls each, then 20 calls in one minute.
    for (let m = 0; m < 4; m++)
      for (let i = 0; i < 2; i++) events.push([toolCall("a__read"), m * minute + i]);
    for (let i = 0; i < 20; i++) events.push([toolCall("a__read"), 4 * minute + i]);
    const hits = feed(detector, events);
    assert.equal(hits.length, 1);
    assert.equal(hits[0], 8 + 10, "raised on the 11th call of the busy minute (above max(10, 5 × 2))");
  });

  it("does not raise it for a steady busy principal (benign twin)", () => {
    const detector = rateOnlyDetector();
    const events: [StampedEvent, number][] = [];
    for (let m = 0; m < 10; m++)
      for (let i = 0; i < 40; i++) events.push([toolCall("a__read"), m * minute + i]);
    assert.deepEqual(feed(detector, events), []);
  });

  it("raises the first use of a tool only after the learning period", () => {
    const detector = anomalyDetector(
      detectionConfig({
        anomaly: {
          rate: { enabled: false },
          firstUse: { learningMs: 1_000 },
          unusualHours: { enabled: false },
        },
      }),
    );
    const hits = feed(detector, [
      [toolCall("a__read"), 0],
      [toolCall("a__write"), 500],
      [toolCall("a__read"), 2_000],
      [toolCall("a__delete"), 2_001],
    ]);
    assert.deepEqual(hits, [3]);
  });

  it("raises calls at an hour the principal hardly ever works", () => {
    const detector = anomalyDetector(
      detectionConfig({
        anomaly: { rate: { enabled: false }, firstUse: { enabled: false }, unusualHours: { minHistory: 50 } },
      }),
    );
    const tenUtc = Date.UTC(2026, 10, 2, 10);
    const events: [StampedEvent, number][] = [];
    for (let i = 0; i < 60; i++) events.push([toolCall("a__read"), tenUtc + i * 1000]);
    events.push([toolCall("a__read"), Date.UTC(2026, 10, 3, 3)]);
    events.push([toolCall("a__read"), tenUtc + 86_400_000]);
    assert.deepEqual(feed(detector, events), [60]);
  });
});

describe("exfiltration suspicion", () => {
  const config = detectionConfig({ exfiltration: { windowMs: 10_000 } });

  it("raises a call to an external sink soon after a sensitive result", () => {
    const detector = exfiltrationDetector(config);
    const hits = feed(detector, [
      [toolCall("vault__read_secret"), 0],
      [toolCall("web__http_post"), 5_000],
    ]);
    assert.deepEqual(hits, [1]);
  });

  it("treats results labelled sensitive and tools annotated open-world the same way", () => {
    const detector = exfiltrationDetector(config);
    const hits = feed(detector, [
      [toolCall("crm__lookup", "allow", { labels: ["pii"] }), 0],
      [toolCall("x__notify", "allow", { annotations: { openWorldHint: true } }), 1_000],
    ]);
    assert.deepEqual(hits, [1]);
  });

  it("does not raise a sink call without a sensitive result before it, or long after (benign twin)", () => {
    const detector = exfiltrationDetector(config);
    const hits = feed(detector, [
      [toolCall("web__http_post"), 0],
      [toolCall("vault__read_secret"), 1_000],
      [toolCall("web__http_post"), 20_000],
    ]);
    assert.deepEqual(hits, []);
  });

  it("does not mix principals", () => {
    const detector = exfiltrationDetector(config);
    const bob: Principal = { ...alice, id: "bob" };
    const hits = feed(detector, [
      [toolCall("vault__read_secret"), 0],
      [toolCall("web__http_post", "allow", {}, ctx(bob)), 1_000],
    ]);
    assert.deepEqual(hits, []);
  });
});

describe("detection engine and playbooks", () => {
  async function engineWith(extra: Record<string, unknown>) {
    const config = parse(extra);
    const bus = new SecurityEventBus(silent);
    const enforcements = new Enforcements(new MemoryStateStore(), silent);
    await enforcements.start();
    const seen: StampedEvent[] = [];
    bus.subscribe((e) => seen.push(e));
    const engine = new DetectionEngine({
      events: bus,
      enforcements,
      logger: silent,
      detection: config.detection,
      responses: config.responses,
    });
    engine.start();
    return { bus, enforcements, seen, engine };
  }

  it("blocks the address and alerts on brute force, and raises it once per cooldown", async () => {
    const { bus, enforcements, seen } = await engineWith({ detection: { bruteForce: { failures: 2 } } });
    for (let i = 0; i < 6; i++) bus.emit(authFailure("mallory", "198.51.100.66"));
    await new Promise((r) => setImmediate(r));
    assert.equal(seen.filter((e) => e.type === "brute_force").length, 1);
    assert.ok(enforcements.addressBlock("198.51.100.66"));
    const alert = seen.find((e) => e.type === "alert");
    assert.equal(alert?.details.detection, "brute_force");
    const responses = seen.filter((e) => e.type === "response_taken").map((e) => e.details.action);
    assert.deepEqual(responses.sort(), ["alert", "block-address"]);
  });

  it("never blocks the address that happened to fail last for a principal attacked from many places", async () => {
    const { bus, enforcements, seen } = await engineWith({ detection: { bruteForce: { failures: 4 } } });
    for (const address of ["198.51.100.1", "198.51.100.2", "198.51.100.3"])
      bus.emit(authFailure("alice", address));
    bus.emit(authFailure("alice", "192.0.2.50")); // alice herself, with an expired token
    await new Promise((r) => setImmediate(r));
    assert.equal(seen.filter((e) => e.type === "brute_force").length, 1, "the attack on alice is raised");
    assert.equal(enforcements.addressBlock("192.0.2.50"), undefined, "but her address is not blocked");
    assert.ok(seen.some((e) => e.type === "alert"));
  });

  it("lowers trust, requires step-up and revokes the session as the playbook says", async () => {
    const { bus, enforcements } = await engineWith({
      detection: { privilegeProbing: { denials: 2 } },
      responses: {
        privilege_probing: [
          { action: "lower-trust", by: 0.25 },
          { action: "step-up" },
          { action: "revoke-session" },
        ],
      },
    });
    bus.emit(toolCall("fs__delete_file", "deny"));
    bus.emit(toolCall("fs__delete_file", "deny"));
    await new Promise((r) => setImmediate(r));
    assert.equal(enforcements.trustPenalty("alice"), 0.25);
    assert.ok(enforcements.stepUpRequired("alice"));
    assert.ok(enforcements.sessionRevoked("sess-1"));
    assert.equal(enforcements.addressBlock("10.0.0.1"), undefined, "not in this playbook");
  });

  it("applies a reloaded playbook at once", async () => {
    const { bus, enforcements, engine } = await engineWith({ detection: { bruteForce: { failures: 2 } } });
    const next = parse({ detection: { bruteForce: { failures: 2 } }, responses: { brute_force: [] } });
    engine.reconfigure(next.detection, next.responses);
    bus.emit(authFailure("m", "198.51.100.1"));
    bus.emit(authFailure("m", "198.51.100.1"));
    await new Promise((r) => setImmediate(r));
    assert.equal(enforcements.addressBlock("198.51.100.1"), undefined);
  });
});
