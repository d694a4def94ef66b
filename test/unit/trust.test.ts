// The trust layer: each factor raising and lowering the score, the thresholds, penalties from
// security responses, decay, impossible travel, rate and first use, and profiles shared through the
// state store (including one that fails).
import assert from "node:assert/strict";
import { afterEach, describe, it } from "node:test";
import { pino } from "pino";
import { trustSection, type TrustConfig } from "../../src/config/trustSchema.ts";
import { SecurityEventBus, type StampedEvent } from "../../src/events/bus.ts";
import {
  highRiskToolMatcher,
  needsVerification,
  originOf,
  TrustEvaluator,
} from "../../src/layers/trust/evaluator.ts";
import { trustLayer } from "../../src/layers/trust/index.ts";
import type {
  Layer,
  MessageOutcome,
  Principal,
  RequestContext,
  RequestView,
  TrustAssessment,
} from "../../src/pipeline/types.ts";
import { Enforcements } from "../../src/state/enforcements.ts";
import { MemoryStateStore } from "../../src/state/memoryStore.ts";
import type { StateStore } from "../../src/state/store.ts";

const silent = pino({ level: "silent" });
const DAY = 86_400_000;
const YEAR = 365.25 * DAY;

const US = "8.8.8.8";
const US_NEIGHBOUR = "8.8.8.99";
const GB = "81.2.69.142";

const alice: Principal = {
  id: "alice",
  kind: "user",
  roles: [],
  authMethod: "bearer",
  issuer: "https://idp.example",
  clientId: "notes-app",
};
const localUser: Principal = { id: "me", kind: "user", roles: [], authMethod: "stdio-local" };
const laptop: Principal = {
  id: "build-bot",
  kind: "service",
  roles: [],
  authMethod: "mtls",
  device: { id: "laptop-7", fingerprint: "ab:cd:ef" },
};

function ctx(principal: Principal, clientAddress: string | undefined, transport: "http" | "stdio" = "http") {
  const context: RequestContext = {
    id: "c",
    transport,
    era: "legacy",
    protocolVersion: "2025-11-25",
    clientAddress,
    principal,
    sessionDigest: "sess-1",
    clientInfo: { name: "agent", version: "1.0" },
    findings: {},
  };
  return context;
}

const fresh = (c: RequestContext): RequestContext => ({ ...c, findings: {} });

function request(method: string, tool?: string): RequestView {
  return {
    method,
    params: tool === undefined ? undefined : { name: tool, arguments: {} },
    target: tool === undefined ? undefined : { upstream: "a", kind: "tool", name: tool, publicName: tool },
  };
}

function outcome(
  c: RequestContext,
  view: RequestView,
  verdict: MessageOutcome["verdict"] = "allow",
  decidedBy?: MessageOutcome["decidedBy"],
): MessageOutcome {
  return {
    ctx: c,
    method: view.method,
    target: view.target,
    decidedBy,
    verdict,
    errorCode: verdict === "allow" ? undefined : "PORTCULLIS_E_DENIED",
    latencyMs: 1,
    layerDecisions: [],
    params: view.params,
  };
}

const byAuthz = { layer: "authz", rule: "tool:deny" };

/** A layer, its evaluator's store and events, with a clock the test moves. */
function setup(options: { config?: Record<string, unknown>; store?: StateStore } = {}) {
  const clock = { now: Date.UTC(2026, 0, 5, 10, 0, 0) };
  const now = () => clock.now;
  const config: TrustConfig = trustSection.parse(options.config ?? {});
  const store = options.store ?? new MemoryStateStore(now);
  const enforcements = new Enforcements(store, silent, now);
  const events = new SecurityEventBus(silent);
  const seen: StampedEvent[] = [];
  events.subscribe((event) => seen.push(event));
  const layer = trustLayer({ config, store, logger: silent, enforcements, events, now });
  open.push(async () => {
    await layer.close?.();
    enforcements.stop();
  });

  /** Runs a request through the layer; `then` is how it ended (learnt by the layer). */
  async function call(
    c: RequestContext,
    view: RequestView = request("tools/list"),
    then?: { verdict: MessageOutcome["verdict"]; decidedBy?: MessageOutcome["decidedBy"] },
  ) {
    const context = fresh(c);
    const verdict = await layer.onRequest?.(view, context);
    const trust = context.findings.trust;
    if (verdict?.kind === "deny") {
      layer.onOutcome?.(outcome(context, view, "deny", { layer: "trust", rule: verdict.rule }));
    } else {
      layer.onOutcome?.(outcome(context, view, then?.verdict ?? "allow", then?.decidedBy));
    }
    return { verdict, trust: trust as TrustAssessment };
  }

  /** Reports `n` requests of the caller refused by the authorization layer (as they were, elsewhere). */
  async function violate(c: RequestContext, n: number) {
    for (let i = 0; i < n; i++) {
      layer.onOutcome?.(outcome(fresh(c), request("tools/call", "admin_panel"), "deny", byAuthz));
    }
    await new Promise((resolve) => setImmediate(resolve));
  }
  return { clock, config, store, enforcements, events, seen, layer, call, violate };
}

const open: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const close of open.splice(0)) await close();
});

describe("trust: the design's defaults", () => {
  it("lets a brand-new local user through without additional verification (score ≥ 0.8)", async () => {
    const { call, config } = setup();
    const { verdict, trust } = await call(ctx(localUser, undefined, "stdio"));
    assert.equal(verdict, undefined);
    assert.deepEqual(trust.factors, { reputation: 0.5, device: 0.9, location: 1, behaviour: 1 });
    assert.equal(trust.score, 0.83);
    assert.deepEqual(trust.unusual, []);
    assert.equal(needsVerification(trust, config, false), undefined);
  });

  it("treats a loopback address like stdio: the local machine is fully known", async () => {
    const { call } = setup();
    for (const address of ["127.0.0.1", "::1", "::ffff:127.0.0.1"]) {
      const { trust } = await call(ctx(localUser, address));
      assert.equal(trust.score, 0.83, address);
      assert.equal(trust.factors.location, 1);
    }
  });

  it("allows a brand-new remote bearer user from a new network, but asks for verification", async () => {
    const { call, config } = setup();
    const { verdict, trust } = await call(ctx(alice, US));
    assert.equal(verdict, undefined);
    assert.deepEqual(trust.factors, { reputation: 0.5, device: 0.6, location: 0.8, behaviour: 1 });
    assert.equal(trust.score, 0.73);
    assert.deepEqual(trust.unusual, ["new-device", "new-network"]);
    assert.match(needsVerification(trust, config, false) ?? "", /trust score 0\.73 is below 0\.80/);
  });

  it("scores a certificate-verified device on a known network with an old account above 0.9", async () => {
    const { call, clock } = setup({ config: { profileTtlMs: 5 * 365 * DAY } });
    await call(ctx(laptop, US));
    clock.now += 3 * YEAR;
    const { trust } = await call(ctx(laptop, US));
    assert.deepEqual(trust.factors, { reputation: 0.7, device: 1, location: 1, behaviour: 1 });
    assert.equal(trust.score, 0.91);
    assert.ok(trust.score > 0.9);
  });

  it("does not score pings", async () => {
    const { layer } = setup();
    const context = ctx(alice, US);
    assert.equal(await layer.onRequest?.(request("ping"), context), undefined);
    assert.equal(context.findings.trust, undefined);
  });
});

describe("trust: reputation", () => {
  it("denies a principal whose recent violations pull the score below 0.7", async () => {
    const { call, clock, seen, violate } = setup();
    await violate(ctx(alice, US), 3);
    clock.now += 3_600_000; // past the recent-denial window: reputation alone
    const { verdict, trust } = await call(ctx(alice, US));
    assert.equal(trust.factors.reputation, 0.2);
    assert.equal(trust.factors.behaviour, 1);
    assert.equal(trust.score, 0.64);
    assert.equal(verdict?.kind, "deny");
    assert.ok(verdict?.kind === "deny");
    assert.equal(verdict.rule, "trust.min-score");
    assert.equal(verdict.code, "PORTCULLIS_E_DENIED");
    // The answer names the minimum, never the score or its factors (the caller must not learn what to change).
    assert.equal(verdict.reason, "the caller's trust score is below the minimum (0.70)");
    const low = seen.find((e) => e.type === "trust_low");
    assert.ok(low, "a trust_low event is emitted");
    assert.equal(low.details.score, 0.64);
    assert.deepEqual(low.details.factors, trust.factors);
  });

  it("forgets violations older than the window (decay)", async () => {
    const { call, clock, violate } = setup();
    await violate(ctx(alice, US), 3);
    clock.now += 6 * DAY;
    assert.equal((await call(ctx(alice, US))).verdict?.kind, "deny");
    clock.now += 2 * DAY;
    const { verdict, trust } = await call(ctx(alice, US));
    assert.equal(verdict, undefined);
    assert.equal(trust.factors.reputation, 0.5);
  });

  it("counts recent denials against behaviour as well, briefly", async () => {
    const { call, clock } = setup();
    await call(ctx(localUser, undefined, "stdio"), request("tools/call", "x"), {
      verdict: "deny",
      decidedBy: byAuthz,
    });
    const soon = await call(ctx(localUser, undefined, "stdio"));
    assert.equal(soon.trust.factors.behaviour, 0.9);
    clock.now += 16 * 60_000;
    const later = await call(ctx(localUser, undefined, "stdio"));
    assert.equal(later.trust.factors.behaviour, 1);
    assert.equal(later.trust.factors.reputation, 0.4);
  });

  it("does not count its own denials, router errors or failing layers as violations", async () => {
    const { call } = setup();
    const c = ctx(localUser, undefined, "stdio");
    const view = request("tools/call", "x");
    await call(c, view, { verdict: "deny", decidedBy: { layer: "trust", rule: "trust.min-score" } });
    await call(c, view, {
      verdict: "error",
      decidedBy: { layer: "router", rule: "PORTCULLIS_E_UNKNOWN_TOOL" },
    });
    await call(c, view, { verdict: "deny", decidedBy: { layer: "validation", rule: "internal" } });
    await call(c, view, { verdict: "deny", decidedBy: { layer: "audit", rule: "audit-unavailable" } });
    assert.equal((await call(c)).trust.factors.reputation, 0.5);
  });

  it("raises reputation with account age, by 0.1 a year up to 0.2", async () => {
    const { call, clock } = setup({ config: { profileTtlMs: 5 * 365 * DAY } });
    await call(ctx(alice, US));
    clock.now += YEAR;
    assert.equal((await call(ctx(alice, US))).trust.factors.reputation, 0.6);
    clock.now += 3 * YEAR;
    assert.equal((await call(ctx(alice, US))).trust.factors.reputation, 0.7);
  });

  it("counts a detection about the principal as a violation", async () => {
    const { call, events } = setup();
    const c = ctx(alice, US);
    await call(c);
    events.emit({ type: "privilege_probing", severity: "high", ctx: c, details: {} });
    assert.equal((await call(c)).trust.factors.reputation, 0.4);
  });
});

describe("trust: device", () => {
  it("scores a client seen before above one at first sight", async () => {
    const { call } = setup();
    assert.equal((await call(ctx(alice, US))).trust.factors.device, 0.6);
    const again = await call(ctx(alice, US));
    assert.equal(again.trust.factors.device, 0.8);
    assert.ok(!again.trust.unusual.includes("new-device"));
  });

  it("does not let a client's self-declared name make a device known or new", async () => {
    const { call } = setup();
    await call(ctx(alice, US));
    const renamed = { ...ctx(alice, US), clientInfo: { name: "unknown-tool", version: "0.1" } };
    const { trust } = await call(renamed);
    assert.equal(trust.factors.device, 0.8, "the device is what the credential proves: the same");
    assert.ok(!trust.unusual.includes("new-device"));
  });

  it("gives a verified client certificate full device trust, even at first sight", async () => {
    const { call } = setup();
    assert.equal((await call(ctx(laptop, US))).trust.factors.device, 1);
  });

  it("does not make a device known from a request that was denied", async () => {
    const { call } = setup();
    await call(ctx(alice, US), request("tools/call", "x"), { verdict: "challenge", decidedBy: byAuthz });
    assert.equal((await call(ctx(alice, US))).trust.factors.device, 0.6);
  });
});

describe("trust: location", () => {
  it("scores a known network above a new one, and knows the whole /24", async () => {
    const { call } = setup();
    assert.equal((await call(ctx(alice, US))).trust.factors.location, 0.8);
    const neighbour = await call(ctx(alice, US_NEIGHBOUR));
    assert.equal(neighbour.trust.factors.location, 1);
    assert.ok(!neighbour.trust.unusual.includes("new-network"));
  });

  it("groups IPv6 addresses by /64", () => {
    const a = originOf(ctx(alice, "2001:db8:1:2:aaaa::1"));
    const b = originOf(ctx(alice, "2001:db8:1:2:bbbb::9"));
    const c = originOf(ctx(alice, "2001:db8:1:3::1"));
    assert.equal(a.network, "2001:db8:1:2::/64");
    assert.equal(a.network, b.network);
    assert.notEqual(a.network, c.network);
    assert.equal(originOf(ctx(alice, "::ffff:8.8.8.8")).network, "8.8.8.0/24");
  });

  it("does not make an attacker's network known before a request from it was allowed", async () => {
    const { call } = setup();
    await call(ctx(alice, GB), request("tools/call", "x"), { verdict: "deny", decidedBy: byAuthz });
    const { trust } = await call(ctx(alice, GB));
    assert.ok(trust.unusual.includes("new-network"));
  });

  it("flags a new country and scores it below a new network at home", async () => {
    const { call, clock } = setup();
    await call(ctx(alice, US));
    clock.now += 2 * 3_600_000; // long enough to have travelled
    const abroad = await call(ctx(alice, GB));
    assert.equal(abroad.trust.factors.location, 0.5);
    assert.deepEqual(abroad.trust.unusual, ["new-network", "new-country"]);
    assert.equal(abroad.verdict, undefined);
  });

  it("denies impossible travel: another country within the hour", async () => {
    const { call, clock } = setup();
    await call(ctx(alice, US));
    clock.now += 30 * 60_000;
    const { verdict, trust } = await call(ctx(alice, GB));
    assert.ok(trust.unusual.includes("impossible-travel"));
    assert.equal(trust.factors.location, 0);
    assert.equal(trust.score, 0.61);
    assert.equal(verdict?.kind, "deny");
  });
});

describe("trust: behaviour", () => {
  it("flags the first use of a tool after the learning period, and not once it was used", async () => {
    const { call, clock } = setup();
    const c = ctx(localUser, undefined, "stdio");
    await call(c, request("tools/call", "read_file"));
    await call(c, request("tools/call", "brand_new_tool"));
    clock.now += 8 * DAY;
    const known = await call(c, request("tools/call", "read_file"));
    assert.deepEqual(known.trust.unusual, []);
    const first = await call(c, request("tools/call", "export_all"));
    assert.deepEqual(first.trust.unusual, ["first-use-of-tool"]);
    assert.equal(first.trust.factors.behaviour, 0.8);
    const second = await call(c, request("tools/call", "export_all"));
    assert.deepEqual(second.trust.unusual, []);
    assert.equal(second.trust.factors.behaviour, 1);
  });

  it("flags a request rate far above the principal's baseline, and not a usual one", async () => {
    const { call, clock } = setup({
      config: { behaviour: { rate: { learningWindows: 2, minRequests: 5, factor: 3 } } },
    });
    const c = ctx(localUser, undefined, "stdio");
    for (let minute = 0; minute < 2; minute++) {
      for (let i = 0; i < 2; i++) assert.deepEqual((await call(c)).trust.unusual, []);
      clock.now += 60_000;
    }
    // Baseline 2 a minute: up to max(5, 3 × 2) = 6 in a minute is usual, the 7th is not.
    for (let i = 0; i < 6; i++) assert.deepEqual((await call(c)).trust.unusual, [], `request ${i + 1}`);
    const burst = await call(c);
    assert.deepEqual(burst.trust.unusual, ["rate-above-baseline"]);
    assert.equal(burst.trust.factors.behaviour, 0.5);
  });

  it("flags an hour of the day the principal was never active, once it has enough history", async () => {
    const { call, clock } = setup({ config: { behaviour: { unusualHours: { minHistory: 3 } } } });
    const c = ctx(localUser, undefined, "stdio");
    for (let i = 0; i < 3; i++) await call(c); // 10:00 UTC
    clock.now += 2 * 3_600_000;
    const { trust } = await call(c); // 12:00 UTC
    assert.deepEqual(trust.unusual, ["unusual-hour"]);
    assert.equal(trust.factors.behaviour, 0.8);
    clock.now += 22 * 3_600_000; // 10:00 UTC again
    assert.deepEqual((await call(c)).trust.unusual, []);
  });
});

describe("trust: thresholds and penalties", () => {
  it("denies a caller the default policy allows once denyBelow is raised above its score", async () => {
    const strict = setup({ config: { denyBelow: 0.75, verifyBelow: 0.8 } });
    assert.equal((await strict.call(ctx(alice, US))).verdict?.kind, "deny");
    const exact = setup({ config: { denyBelow: 0.73 } });
    assert.equal(
      (await exact.call(ctx(alice, US))).verdict,
      undefined,
      "a score equal to the minimum passes",
    );
  });

  it("subtracts a lower-trust response from the score and denies below the minimum", async () => {
    const { call, enforcements } = setup();
    await enforcements.start();
    await enforcements.lowerTrust("me", 0.2, 3_600_000, "anomaly", "anomaly");
    const { verdict, trust } = await call(ctx(localUser, undefined, "stdio"));
    assert.equal(trust.penalty, 0.2);
    assert.equal(trust.score, 0.63);
    assert.ok(verdict?.kind === "deny");
    assert.equal(verdict.rule, "trust.min-score");
  });

  it("looks an anonymous caller's penalty up by its address, as the detection engine sets it", async () => {
    const { call, enforcements } = setup();
    await enforcements.start();
    const stranger: Principal = { id: "anonymous", kind: "anonymous", roles: [], authMethod: "none" };
    await enforcements.lowerTrust("anonymous@8.8.8.8", 0.3, 3_600_000, "probing", "privilege_probing");
    assert.equal((await call(ctx(stranger, US))).trust.penalty, 0.3);
    assert.equal((await call(ctx(stranger, US_NEIGHBOUR))).trust.penalty, 0);
  });

  it("asks for verification on a high-risk tool or an unusual access, even with a high score", () => {
    const config = trustSection.parse({});
    const high: TrustAssessment = {
      score: 0.9,
      factors: { reputation: 0.7, device: 1, location: 1, behaviour: 1 },
      unusual: [],
      penalty: 0,
    };
    assert.equal(needsVerification(high, config, false), undefined);
    assert.equal(needsVerification(high, config, true), "the tool is high-risk");
    assert.equal(
      needsVerification({ ...high, unusual: ["new-network"] }, config, false),
      "unusual access: new-network",
    );
    const quiet = trustSection.parse({ verifyOnUnusual: false });
    assert.equal(needsVerification({ ...high, unusual: ["new-network"] }, quiet, false), undefined);
    const risky = highRiskToolMatcher(config);
    assert.ok(risky("fs__delete_file"));
    assert.ok(risky("Shell_Exec"));
    assert.ok(!risky("read_file"));
  });

  it("rejects weights that do not add up to 1 and a verification threshold below the deny one", () => {
    assert.throws(() => trustSection.parse({ weights: { reputation: 0.5 } }), /add up to 1/);
    assert.throws(() => trustSection.parse({ denyBelow: 0.9 }), /verifyBelow/);
  });
});

describe("trust: profiles in the state store", () => {
  it("shares what one node learnt with another on the same store", async () => {
    const store = new MemoryStateStore();
    const config = trustSection.parse({});
    const first = new TrustEvaluator({ config, store, logger: silent });
    const c = ctx(alice, US);
    await first.assess(request("tools/list"), c);
    first.learn(outcome(c, request("tools/call", "read_file")));
    await first.flush();
    const second = new TrustEvaluator({ config, store, logger: silent });
    const pending = second.assess(request("tools/list"), c);
    assert.ok(pending instanceof Promise, "a profile not cached is read from the store");
    const trust = await pending;
    assert.equal(trust.factors.location, 1);
    assert.equal(trust.factors.device, 0.8);
    assert.ok(!(second.assess(request("tools/list"), c) instanceof Promise), "then served from memory");
    await Promise.all([first.close(), second.close(), store.close()]);
  });

  it("keeps violations another node wrote concurrently (the store is read, merged, written)", async () => {
    const store = new MemoryStateStore();
    const config = trustSection.parse({});
    const a = new TrustEvaluator({ config, store, logger: silent });
    const b = new TrustEvaluator({ config, store, logger: silent });
    const c = ctx(alice, US);
    await a.assess(request("tools/list"), c);
    await b.assess(request("tools/list"), c);
    a.learn(outcome(c, request("tools/call", "x"), "deny", byAuthz));
    b.learn(outcome(c, request("tools/call", "y"), "deny", { layer: "ratelimit", rule: "per-caller" }));
    await a.flush();
    await b.flush();
    const third = new TrustEvaluator({ config, store, logger: silent });
    assert.equal((await third.assess(request("tools/list"), c)).factors.reputation, 0.3);
    await Promise.all([a.close(), b.close(), third.close(), store.close()]);
  });

  it("keeps answering when the state store fails, and logs the failure", async () => {
    const warnings: string[] = [];
    const logger = pino({ level: "warn" }, { write: (line: string) => void warnings.push(line) });
    const failing = new MemoryStateStore();
    failing.set = () => Promise.reject(new Error("store down"));
    const evaluator = new TrustEvaluator({ config: trustSection.parse({}), store: failing, logger });
    const c = ctx(alice, US);
    await evaluator.assess(request("tools/list"), c);
    evaluator.learn(outcome(c, request("tools/list")));
    await evaluator.flush(); // never throws
    assert.ok(warnings.some((w) => w.includes("could not write trust profiles")));
    assert.equal((await evaluator.assess(request("tools/list"), c)).factors.location, 1, "learnt in memory");

    failing.get = () => Promise.reject(new Error("store down"));
    const cold = new TrustEvaluator({ config: trustSection.parse({}), store: failing, logger });
    const trust = await cold.assess(request("tools/list"), c);
    // A history it cannot read is scored as the worst it could be (0.5 - 0.3), not as a clean slate.
    assert.equal(trust.factors.reputation, 0.2, "fail-secure while the store cannot be read");
    assert.ok(trust.score < 0.7);
    assert.ok(warnings.some((w) => w.includes("could not read a trust profile")));
    await Promise.all([evaluator.close(), cold.close(), failing.close()]);
  });

  it("keeps the layer answering when the store throws on write", async () => {
    const failing = new MemoryStateStore();
    failing.set = () => Promise.reject(new Error("store down"));
    const { call, layer } = setup({ store: failing });
    for (let i = 0; i < 3; i++) assert.equal((await call(ctx(alice, US))).verdict, undefined);
    await layer.close?.();
  });
});

describe("trust: bounded memory", () => {
  it("remembers at most maxPrincipals profiles", async () => {
    const store = new MemoryStateStore();
    const evaluator = new TrustEvaluator({
      config: trustSection.parse({ maxPrincipals: 3 }),
      store,
      logger: silent,
    });
    for (let i = 0; i < 20; i++) {
      await evaluator.assess(request("tools/list"), ctx({ ...alice, id: `user-${i}` }, US));
    }
    assert.equal(evaluator.cachedProfiles, 3);
    await Promise.all([evaluator.close(), store.close()]);
  });

  it("forgets the oldest networks beyond maxEntriesPerProfile", async () => {
    const { call } = setup({ config: { maxEntriesPerProfile: 4 } });
    // Private networks: no country, so no travel between them.
    for (let i = 1; i <= 5; i++) await call(ctx(alice, `10.0.${i}.7`));
    assert.ok((await call(ctx(alice, "10.0.1.7"))).trust.unusual.includes("new-network"), "forgotten");
    assert.ok(!(await call(ctx(alice, "10.0.5.7"))).trust.unusual.includes("new-network"), "remembered");
  });

  it("pools anonymous callers by network, not all strangers into one profile", async () => {
    const { call, violate } = setup();
    const stranger: Principal = { id: "anonymous", kind: "anonymous", roles: [], authMethod: "none" };
    await violate(ctx(stranger, GB), 3);
    assert.equal((await call(ctx(stranger, US))).trust.factors.reputation, 0.5);
    assert.equal((await call(ctx(stranger, GB))).trust.factors.reputation, 0.2);
  });
});

describe("trust: the layer", () => {
  it("puts its assessment in the findings for the layers after it", async () => {
    const { layer } = setup();
    const context = ctx(alice, US);
    await layer.onRequest?.(request("tools/call", "read_file"), context);
    assert.equal(context.findings.trust?.score, 0.73);
  });

  it("does nothing when disabled", async () => {
    const { layer } = setup({ config: { enabled: false } });
    const context = ctx(alice, US);
    assert.equal(await layer.onRequest?.(request("tools/call", "x"), context), undefined);
    assert.equal(context.findings.trust, undefined);
  });

  it("is named trust", () => {
    const { layer }: { layer: Layer } = setup();
    assert.equal(layer.name, "trust");
  });
});
