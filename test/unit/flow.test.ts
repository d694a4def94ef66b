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
import { LayerChain } from "../../src/pipeline/chain.ts";
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

describe("toxic-flow control of an upstream's requests to the client and the client's answers", () => {
  // `mail` is an external sink as a whole; `web` is untrusted content as a whole; `crm__*` and
  // `files__read` carry labels per tool only.
  const upstreams = dataFlowSection.parse({
    labels: [
      { tools: ["crm__*"], labels: ["private-data"] },
      { tools: ["files__read"], labels: ["untrusted-content"] },
      { tools: ["files__upload"], labels: ["external-sink"] },
      { upstreams: ["mail"], labels: ["external-sink"] },
      { upstreams: ["web"], labels: ["untrusted-content"] },
    ],
  });
  const sampling = (upstream: string) => ({
    method: "sampling/createMessage",
    params: { messages: [], maxTokens: 10 },
    upstream,
  });
  const answer = (upstream: string, method = "sampling/createMessage") => ({
    method,
    params: {},
    upstream,
    result: { role: "assistant", content: { type: "text", text: "done" } },
  });

  it("refuses a sampling request from an upstream that is a sink while the caller is tainted, and lets a clean caller's through", async () => {
    const seen: StampedEvent[] = [];
    const layer = dataFlowLayer({ config: upstreams, store: new MemoryStateStore(), events: busWith(seen) });
    const clean = ctxFor("clean");
    assert.equal(await layer.onServerRequest?.(sampling("mail"), clean), undefined);
    await call(layer, "victim", tool("crm__lookup"));
    await call(layer, "victim", tool("files__read"));
    const ctx = ctxFor("victim");
    const verdict = await layer.onServerRequest?.(sampling("mail"), ctx);
    assert.equal(verdict?.kind === "deny" && verdict.code, "PORTCULLIS_E_TOXIC_FLOW");
    assert.equal(verdict?.kind === "deny" && verdict.rule, "toxic-flow:private-and-untrusted-to-sink");
    assert.match(verdict?.kind === "deny" ? verdict.reason : "", /upstream mail is external-sink/);
    assert.deepEqual(ctx.findings.taint, ["private-data", "untrusted-content"]);
    const event = seen.find((e) => e.type === "toxic_flow_blocked");
    assert.equal(event?.details.upstream, "mail");
    assert.equal(event?.details.method, "sampling/createMessage");
    // Elicitation and roots are not refused before the client is asked (the answer is judged).
    assert.equal(
      await layer.onServerRequest?.({ ...sampling("mail"), method: "elicitation/create" }, ctx),
      undefined,
    );
  });

  it("refuses a tainted caller's answer to a sink's sampling, elicitation or roots request, reading the taint again", async () => {
    const layer = dataFlowLayer({ config: upstreams, store: new MemoryStateStore() });
    const ctx = ctxFor("racer");
    // Clean when the request came: it is relayed.
    assert.equal(await layer.onServerRequest?.(sampling("mail"), ctx), undefined);
    // While the client's model works on it, the caller reads private data and untrusted content.
    await call(layer, "racer", tool("crm__lookup"));
    await call(layer, "racer", tool("files__read"));
    for (const method of ["sampling/createMessage", "elicitation/create", "roots/list"]) {
      const verdict = await layer.onServerResult?.(answer("mail", method), ctx);
      assert.equal(
        verdict?.kind === "deny" && verdict.rule,
        "toxic-flow:private-and-untrusted-to-sink",
        method,
      );
    }
    // The same answer to an upstream that is no sink passes; so does a clean caller's to the sink.
    assert.equal(await layer.onServerResult?.(answer("crm"), ctx), undefined);
    assert.equal(await layer.onServerResult?.(answer("mail"), ctxFor("someone-else")), undefined);
  });

  it("takes only labels of a whole upstream: a sink tool does not make its upstream's sampling a sink", async () => {
    const layer = dataFlowLayer({ config: upstreams, store: new MemoryStateStore() });
    await call(layer, "t1", tool("crm__lookup"));
    await call(layer, "t1", tool("files__read"));
    assert.equal((await call(layer, "t1", tool("files__upload"))).verdict?.kind, "deny");
    assert.equal(await layer.onServerRequest?.(sampling("files"), ctxFor("t1")), undefined);
    assert.equal(await layer.onServerResult?.(answer("files"), ctxFor("t1")), undefined);
  });

  it("taints the caller with the source labels of an upstream whose sampling request is relayed", async () => {
    const layer = dataFlowLayer({ config: upstreams, store: new MemoryStateStore() });
    await call(layer, "t2", tool("crm__lookup"));
    // The untrusted upstream's messages reach the model that holds the private data…
    assert.equal(await layer.onServerRequest?.(sampling("web"), ctxFor("t2")), undefined);
    // …so the flow to a sink is now the toxic one.
    assert.equal((await call(layer, "t2", tool("files__upload"))).verdict?.kind, "deny");
  });

  it("splits the work between the stages: the flow stage refuses, the taint stage adds", async () => {
    const store = new MemoryStateStore();
    const taint = dataFlowLayer({ config: upstreams, store, stage: "taint" });
    const flow = dataFlowLayer({ config: upstreams, store, stage: "flow" });
    const chain = new LayerChain(
      [taint, flow],
      new SecurityEventBus(pino({ level: "silent" })),
      pino({ level: "silent" }),
    );
    await call(taint, "t3", tool("crm__lookup"));
    await chain.runServerRequest(sampling("web"), ctxFor("t3"));
    assert.equal(
      await taint.onServerResult?.(answer("mail"), ctxFor("t3")),
      undefined,
      "the taint stage never refuses",
    );
    const refused = await chain.runServerResult(answer("mail"), ctxFor("t3"));
    assert.equal(refused.verdict.kind, "deny");
    assert.equal(refused.decidedBy, "flow");
  });

  it("flags a sink's sampling request instead of refusing it when the rule says flag", async () => {
    const seen: StampedEvent[] = [];
    const flagging = dataFlowSection.parse({
      ...upstreams,
      rules: [{ id: "watch", after: ["private-data"], to: "external-sink", action: "flag" }],
    });
    const layer = dataFlowLayer({ config: flagging, store: new MemoryStateStore(), events: busWith(seen) });
    await call(layer, "t4", tool("crm__lookup"));
    assert.equal(await layer.onServerRequest?.(sampling("mail"), ctxFor("t4")), undefined);
    assert.equal(await layer.onServerResult?.(answer("mail"), ctxFor("t4")), undefined);
    assert.equal(
      seen.filter((e) => e.type === "toxic_flow_blocked" && e.details.action === "flag").length,
      2,
    );
  });

  it("refuses (fail-secure) an answer to a sink when the taint cannot be read", async () => {
    const broken: StateStore = new MemoryStateStore();
    broken.get = () => Promise.reject(new Error("store away"));
    const chain = new LayerChain(
      [dataFlowLayer({ config: upstreams, store: broken })],
      new SecurityEventBus(pino({ level: "silent" })),
      pino({ level: "silent" }),
    );
    const run = await chain.runServerResult(answer("mail"), ctxFor("t5"));
    assert.equal(run.verdict.kind === "deny" && run.verdict.rule, "internal");
  });
});
