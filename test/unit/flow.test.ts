// Toxic-flow control: a session that has read private data and untrusted content cannot then call
// an external sink; each half alone can (the benign twins). Taint is per session, shared between
// nodes through the state store, read fail-secure, and visible to policies as session.labels.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { dataFlowSection } from "../../src/config/dataFlowSchema.ts";
import { dataFlowLayer } from "../../src/layers/flow/index.ts";
import { conditionInput } from "../../src/layers/authz/input.ts";
import type { Layer, RequestContext, RouteTarget } from "../../src/pipeline/types.ts";
import { MemoryStateStore } from "../../src/state/memoryStore.ts";
import type { StateStore } from "../../src/state/store.ts";
import type { StampedEvent } from "../../src/events/bus.ts";
import { SecurityEventBus } from "../../src/events/bus.ts";
import pino from "pino";
import { testContext } from "../helpers/context.ts";

const config = dataFlowSection.parse({
  labels: [
    { tools: ["crm__*"], labels: ["private-data"] },
    { tools: ["web__fetch"], labels: ["untrusted-content"] },
    { tools: ["mail__send"], labels: ["external-sink"] },
  ],
});

/** A request of principal `who` (in a session of its own unless `session` says otherwise). */
function ctxFor(who: string, session = who): RequestContext {
  return testContext({
    id: "c1",
    clientAddress: "10.1.2.3",
    sessionDigest: session,
    principal: { id: who, kind: "user", roles: [], authMethod: "bearer" },
  });
}

const tool = (publicName: string, annotations?: Record<string, unknown>): RouteTarget => ({
  upstream: publicName.split("__")[0] ?? "",
  kind: "tool",
  name: publicName.split("__")[1],
  publicName,
  annotations,
});

/** Calls a tool through the layer: the request hook, then (when allowed) the result hook. */
async function call(layer: Layer, who: string, target: RouteTarget, session = who) {
  const ctx = ctxFor(who, session);
  const verdict = await layer.onRequest?.({ method: "tools/call", params: {}, target }, ctx);
  if (verdict?.kind === "deny") return { verdict, ctx };
  await layer.onResult?.({ method: "tools/call", target, result: { content: [] } }, ctx);
  return { verdict, ctx };
}

function busWith(seen: StampedEvent[]): SecurityEventBus {
  const bus = new SecurityEventBus(pino({ level: "silent" }));
  bus.subscribe((event) => seen.push(event));
  return bus;
}

describe("toxic-flow control", () => {
  it("refuses a sink after private data and untrusted content, naming the rule", async () => {
    const seen: StampedEvent[] = [];
    const layer = dataFlowLayer({ config, store: new MemoryStateStore(), events: busWith(seen) });
    await call(layer, "s1", tool("crm__lookup"));
    await call(layer, "s1", tool("web__fetch"));
    const { verdict, ctx } = await call(layer, "s1", tool("mail__send"));
    assert.equal(verdict?.kind, "deny");
    assert.equal(verdict?.kind === "deny" && verdict.code, "PORTCULLIS_E_TOXIC_FLOW");
    assert.equal(verdict?.kind === "deny" && verdict.rule, "toxic-flow:private-and-untrusted-to-sink");
    assert.deepEqual(ctx.findings.taint, ["private-data", "untrusted-content"]);
    const event = seen.find((e) => e.type === "toxic_flow_blocked");
    assert.equal(event?.details.rule, "private-and-untrusted-to-sink");
  });

  it("lets each half of the flow through (the benign twins), and keeps principals apart", async () => {
    const layer = dataFlowLayer({ config, store: new MemoryStateStore() });
    await call(layer, "private-only", tool("crm__lookup"));
    assert.equal((await call(layer, "private-only", tool("mail__send"))).verdict, undefined);
    await call(layer, "untrusted-only", tool("web__fetch"));
    assert.equal((await call(layer, "untrusted-only", tool("mail__send"))).verdict, undefined);
    // The two halves of two principals never meet.
    assert.equal((await call(layer, "private-only", tool("mail__send"))).verdict, undefined);
  });

  it("takes openWorldHint as untrusted content and an external sink (a hint adds, never removes)", async () => {
    const layer = dataFlowLayer({ config, store: new MemoryStateStore() });
    await call(layer, "s2", tool("crm__lookup"));
    await call(layer, "s2", tool("search__web", { openWorldHint: true }));
    const { verdict } = await call(layer, "s2", tool("search__post", { openWorldHint: true }));
    assert.equal(verdict?.kind, "deny");
    // A hint of false on a labelled sink does not make it safe.
    const again = await call(layer, "s2", tool("mail__send", { openWorldHint: false }));
    assert.equal(again.verdict?.kind, "deny");
  });

  it("keeps a principal's taint across its sessions: a new session or client name does not wash it off", async () => {
    const layer = dataFlowLayer({ config, store: new MemoryStateStore() });
    await call(layer, "mallory", tool("crm__lookup"), "session-1");
    await call(layer, "mallory", tool("web__fetch"), "session-2");
    assert.equal((await call(layer, "mallory", tool("mail__send"), "session-3")).verdict?.kind, "deny");
  });

  it("refuses in the enforcing stage on the taint the tainting stage read before authorization", async () => {
    const store = new MemoryStateStore();
    const before = dataFlowLayer({ config, store, stage: "taint" });
    const after = dataFlowLayer({ config, store, stage: "flow" });
    assert.deepEqual([before.name, after.name], ["taint", "flow"]);
    await call(before, "trent", tool("crm__lookup"));
    await call(before, "trent", tool("web__fetch"));
    const ctx = ctxFor("trent");
    const request = { method: "tools/call", params: {}, target: tool("mail__send") };
    assert.equal(await before.onRequest?.(request, ctx), undefined, "the tainting stage never refuses");
    assert.deepEqual(ctx.findings.taint, ["private-data", "untrusted-content"]);
    assert.equal((await after.onRequest?.(request, ctx))?.kind, "deny");
  });

  it("shares a session's taint between two nodes through the state store", async () => {
    const store = new MemoryStateStore();
    const nodeA = dataFlowLayer({ config, store });
    const nodeB = dataFlowLayer({ config, store });
    await call(nodeA, "s3", tool("crm__lookup"));
    await call(nodeB, "s3", tool("web__fetch"));
    assert.equal((await call(nodeA, "s3", tool("mail__send"))).verdict?.kind, "deny");
  });

  it("flags instead of refusing when the rule says so", async () => {
    const seen: StampedEvent[] = [];
    const flagging = dataFlowSection.parse({
      ...config,
      rules: [{ id: "watch", after: ["private-data"], to: "external-sink", action: "flag" }],
    });
    const layer = dataFlowLayer({ config: flagging, store: new MemoryStateStore(), events: busWith(seen) });
    await call(layer, "s4", tool("crm__lookup"));
    assert.equal((await call(layer, "s4", tool("mail__send"))).verdict, undefined);
    assert.equal(seen.filter((e) => e.type === "toxic_flow_blocked").length, 1);
  });

  it("refuses (fail-secure) when the taint cannot be read", async () => {
    const broken: StateStore = new MemoryStateStore();
    broken.get = () => Promise.reject(new Error("store away"));
    const layer = dataFlowLayer({ config, store: broken });
    await assert.rejects(
      Promise.resolve(
        layer.onRequest?.({ method: "tools/call", params: {}, target: tool("mail__send") }, ctxFor("s5")),
      ),
      /store away/,
    );
  });

  it("shows the taint to policies as session.labels", async () => {
    const layer = dataFlowLayer({ config, store: new MemoryStateStore() });
    await call(layer, "s6", tool("crm__lookup"));
    const { ctx } = await call(layer, "s6", tool("crm__export"));
    const input = conditionInput({
      ctx,
      action: "tools/call",
      target: undefined,
      now: Date.now(),
      timeZone: "UTC",
      readsCountry: false,
      ratePerMinute: 0,
      usage: { tool: { minute: 0, hour: 0, day: 0 }, all: { minute: 0, hour: 0, day: 0 } },
      arguments: undefined,
      argumentKeys: [],
    });
    assert.deepEqual((input.session as { labels: string[] }).labels, ["private-data"]);
  });

  it("refuses a config label that is not a flow label", () => {
    assert.equal(
      dataFlowSection.safeParse({ labels: [{ tools: ["x"], labels: ["Private Data"] }] }).success,
      false,
    );
  });
});
