// The layer chain: order, rewrites, the first deny wins, and fail-secure on a throwing layer.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { pino } from "pino";
import { SecurityEventBus } from "../../src/events/bus.ts";
import { parseConfigText } from "../../src/config/load.ts";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadSigningKey } from "../../src/audit/signing.ts";
import { SqliteAuditStore } from "../../src/audit/sqliteStore.ts";
import { assembleLayers } from "../../src/layers/index.ts";
import { PolicySet } from "../../src/layers/authz/engine.ts";
import { Enforcements } from "../../src/state/enforcements.ts";
import { MemoryStateStore } from "../../src/state/memoryStore.ts";
import { LayerChain } from "../../src/pipeline/chain.ts";
import { anonymousPrincipal, type Layer, type RequestContext } from "../../src/pipeline/types.ts";

const log = pino({ level: "silent" });
const ctx: RequestContext = {
  id: "t",
  transport: "http",
  era: "legacy",
  protocolVersion: "2025-11-25",
  clientAddress: "127.0.0.1",
  principal: anonymousPrincipal,
  sessionDigest: undefined,
  clientInfo: undefined,
  findings: {},
};
const view = { method: "tools/call", params: { name: "x" }, target: undefined };

function chainOf(layers: Layer[]) {
  const events = new SecurityEventBus(log);
  const seen: string[] = [];
  events.subscribe((e) => seen.push(e.type));
  return { chain: new LayerChain(layers, events, log), seen };
}

describe("layer chain", () => {
  it("passes a message through every layer in order, with rewrites", async () => {
    const order: string[] = [];
    const { chain } = chainOf([
      { name: "a", onRequest: (v) => (order.push("a"), { kind: "pass", rewrite: { ...v.params, a: true } }) },
      { name: "b", onRequest: (v) => (order.push("b"), assert.equal(v.params?.a, true), { kind: "pass" }) },
    ]);
    const run = await chain.runRequest(view, ctx);
    assert.equal(run.verdict.kind, "pass");
    assert.deepEqual(order, ["a", "b"]);
    assert.deepEqual(run.value, { name: "x", a: true });
  });

  it("stops at the first deny and names the layer and rule", async () => {
    let reached = false;
    const { chain } = chainOf([
      { name: "guard", onRequest: () => ({ kind: "deny", rule: "no-x", reason: "x is not allowed" }) },
      { name: "after", onRequest: () => ((reached = true), { kind: "pass" }) },
    ]);
    const run = await chain.runRequest(view, ctx);
    assert.equal(run.verdict.kind, "deny");
    assert.equal(run.decidedBy, "guard");
    assert.ok(run.verdict.kind === "deny" && run.verdict.rule === "no-x");
    assert.equal(reached, false);
  });

  it("denies when a layer throws (fail-secure), with an event", async () => {
    const { chain, seen } = chainOf([
      {
        name: "buggy",
        onRequest: () => {
          throw new Error("boom");
        },
      },
    ]);
    const run = await chain.runRequest(view, ctx);
    assert.equal(run.verdict.kind, "deny");
    assert.ok(run.verdict.kind === "deny" && run.verdict.rule === "internal");
    assert.deepEqual(seen, ["layer_error"]);
  });

  it("denies when an async layer rejects", async () => {
    const { chain } = chainOf([{ name: "slow", onRequest: () => Promise.reject(new Error("io failed")) }]);
    assert.equal((await chain.runRequest(view, ctx)).verdict.kind, "deny");
  });

  it("runs result hooks in reverse order", async () => {
    const order: string[] = [];
    const { chain } = chainOf([
      { name: "outer", onResult: () => (order.push("outer"), { kind: "pass" }) },
      { name: "inner", onResult: () => (order.push("inner"), { kind: "pass" }) },
    ]);
    await chain.runResult({ method: "tools/call", target: undefined, result: {} }, ctx);
    assert.deepEqual(order, ["inner", "outer"]);
  });

  it("lets a layer refuse an upstream's request to the client, and fails secure there too", async () => {
    const order: string[] = [];
    const { chain } = chainOf([
      { name: "outer", onServerRequest: () => (order.push("outer"), { kind: "pass" }) },
      {
        name: "sampling-guard",
        onServerRequest: (v) =>
          v.method === "sampling/createMessage"
            ? { kind: "deny", rule: "no-sampling", reason: "sampling is not allowed" }
            : (order.push("guard"), { kind: "pass" }),
      },
    ]);
    const denied = await chain.runServerRequest(
      { method: "sampling/createMessage", params: {}, upstream: "u" },
      ctx,
    );
    assert.equal(denied.verdict.kind, "deny");
    assert.equal(denied.decidedBy, "sampling-guard");
    const allowed = await chain.runServerRequest(
      { method: "elicitation/create", params: {}, upstream: "u" },
      ctx,
    );
    assert.equal(allowed.verdict.kind, "pass");
    assert.deepEqual(order, ["guard", "outer"], "server requests travel the chain in reverse");
    const { chain: broken } = chainOf([
      {
        name: "buggy",
        onServerRequest: () => {
          throw new Error("boom");
        },
      },
    ]);
    assert.equal(
      (await broken.runServerRequest({ method: "roots/list", params: undefined, upstream: "u" }, ctx)).verdict
        .kind,
      "deny",
    );
  });

  it("runs the client's answers to an upstream's requests in chain order, rewrites them, and fails secure there too", async () => {
    const order: string[] = [];
    const { chain } = chainOf([
      { name: "outer", onServerResult: (v) => (order.push(`outer:${String(v.result.text)}`), undefined) },
      {
        name: "answer-guard",
        onServerResult: (v) =>
          v.upstream === "sink"
            ? { kind: "deny", rule: "no-answers", reason: "answers to this upstream are refused" }
            : (order.push("guard"), { kind: "pass", rewrite: { text: "rewritten" } }),
      },
    ]);
    const answer = {
      method: "sampling/createMessage",
      params: {},
      upstream: "u",
      result: { text: "original" },
    };
    const passed = await chain.runServerResult(answer, ctx);
    assert.deepEqual(order, ["outer:original", "guard"], "answers travel the chain in order, like requests");
    assert.deepEqual(passed.value, { text: "rewritten" });
    const denied = await chain.runServerResult({ ...answer, upstream: "sink" }, ctx);
    assert.equal(denied.verdict.kind === "deny" && denied.verdict.rule, "no-answers");
    assert.equal(denied.decidedBy, "answer-guard");
    const { chain: broken, seen } = chainOf([
      {
        name: "buggy",
        onServerResult: () => {
          throw new Error("boom");
        },
      },
    ]);
    assert.equal((await broken.runServerResult(answer, ctx)).verdict.kind, "deny");
    assert.ok(seen.includes("layer_error"));
  });

  it("keeps going when an outcome observer throws", () => {
    let observed = false;
    const { chain } = chainOf([
      {
        name: "bad-observer",
        onOutcome: () => {
          throw new Error("x");
        },
      },
      { name: "good-observer", onOutcome: () => void (observed = true) },
    ]);
    chain.reportOutcome({
      ctx,
      method: "ping",
      target: undefined,
      decidedBy: undefined,
      verdict: "allow",
      errorCode: undefined,
      latencyMs: 1,
      layerDecisions: [],
      params: undefined,
    });
    assert.equal(observed, true);
  });
});

describe("profiles", () => {
  const base = parseConfigText(
    `version: 1\nupstreams:\n  a: { transport: stdio, command: x }\n`,
    "x.yaml",
    {},
  );
  const dir = mkdtempSync(join(tmpdir(), "portcullis-profile-"));
  const auditSink = new SqliteAuditStore({
    path: join(dir, "audit.sqlite"),
    node: "n",
    durability: "strict",
    batchMs: 5,
    fsync: false,
    checkpointEvery: 100,
    key: loadSigningKey(undefined, join(dir, "audit.key")),
    logger: log,
  });
  const state = new MemoryStateStore();
  const names = (profile: "strict" | "balanced" | "dev") =>
    assembleLayers({
      config: { ...base, profile },
      logger: log,
      auditSink,
      node: "n",
      policies: PolicySet.compile([]).set,
      enforcements: new Enforcements(state, log),
      state,
    }).map((l) => l.name);

  it("runs the audit trail first, then the decision log, trust and authorization, in strict (the default) and balanced", () => {
    assert.equal(base.profile, "strict");
    const chain = [
      ...["audit", "decision-log", "validation", "trust", "taint", "authz"],
      ...["ratelimit", "tool-validation", "flow", "arguments", "data"],
    ];
    assert.deepEqual(names("strict"), chain);
    assert.deepEqual(names("balanced"), chain);
  });

  it("runs no layer in dev", () => {
    assert.deepEqual(names("dev"), []);
  });
});
