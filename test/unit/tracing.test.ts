// Tracing without a collector: which context parents a message span (and which is only linked), what
// an upstream receives in `_meta`, which layer hooks get spans, what a denial looks like, and the
// config rules (off by default, no plaintext export off loopback).
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ExportResultCode, type ExportResult } from "@opentelemetry/core";
import type { ReadableSpan, SpanExporter } from "@opentelemetry/sdk-trace";
import { pino } from "pino";
import { parseConfigText } from "../../src/config/load.ts";
import { ConfigError } from "../../src/errors.ts";
import { SecurityEventBus } from "../../src/events/bus.ts";
import { GatewayTracing } from "../../src/observability/tracing.ts";
import { LayerChain } from "../../src/pipeline/chain.ts";
import {
  anonymousPrincipal,
  type Layer,
  type MessageOutcome,
  type RequestContext,
} from "../../src/pipeline/types.ts";

const log = pino({ level: "silent" });
const CLIENT_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736";
const CLIENT_SPAN = "00f067aa0ba902b7";
const HEADER_SPAN = "b7ad6b7169203331";
const clientParent = `00-${CLIENT_TRACE}-${CLIENT_SPAN}-01`;
const headerParent = `00-${CLIENT_TRACE}-${HEADER_SPAN}-01`;

const ctx: RequestContext = {
  id: "corr-1",
  transport: "http",
  era: "legacy",
  protocolVersion: "2025-11-25",
  clientAddress: "127.0.0.1",
  principal: anonymousPrincipal,
  sessionDigest: "digest-1",
  clientInfo: undefined,
  findings: {},
};

function configWith(tracing: string) {
  return parseConfigText(
    `version: 1\ntracing:\n${tracing}\nupstreams:\n  a: { transport: stdio, command: x }\n`,
    "x.yaml",
    {},
  );
}

/** Keeps what is exported (the SDK's in-memory exporter forgets everything at shutdown). */
class CollectingExporter implements SpanExporter {
  readonly spans: ReadableSpan[] = [];
  export(spans: ReadableSpan[], done: (result: ExportResult) => void): void {
    this.spans.push(...spans);
    done({ code: ExportResultCode.SUCCESS });
  }
  async shutdown(): Promise<void> {}
}

function tracingWith(extra = "") {
  const exporter = new CollectingExporter();
  const config = configWith(`  enabled: true\n${extra}`).tracing;
  const tracing = new GatewayTracing({ config, node: "node-1", logger: log, exporter });
  return { tracing, exporter };
}

function outcomeOf(traced: RequestContext, overrides: Partial<MessageOutcome> = {}): MessageOutcome {
  return {
    ctx: traced,
    method: "tools/call",
    target: { upstream: "probe", kind: "tool", name: "echo", publicName: "probe__echo" },
    decidedBy: undefined,
    verdict: "allow",
    errorCode: undefined,
    latencyMs: 1,
    layerDecisions: [],
    params: undefined,
    ...overrides,
  };
}

describe("tracing config", () => {
  it("is off by default, with a loopback endpoint", () => {
    const config = parseConfigText(
      "version: 1\nupstreams:\n  a: { transport: stdio, command: x }\n",
      "x.yaml",
      {},
    );
    assert.equal(config.tracing.enabled, false);
    assert.equal(config.tracing.endpoint, "http://127.0.0.1:4318/v1/traces");
    assert.equal(config.tracing.incomingContext, "parent");
  });

  it("refuses to export spans in plaintext off loopback unless told to", () => {
    assert.throws(
      () => configWith("  enabled: true\n  endpoint: http://collector.internal:4318/v1/traces"),
      (err) => err instanceof ConfigError && /tracing\.endpoint.*plain HTTP/.test(err.message),
    );
    const allowed = configWith(
      "  enabled: true\n  endpoint: http://collector.internal:4318/v1/traces\n  allowPlaintext: true",
    );
    assert.equal(allowed.tracing.allowPlaintext, true);
    assert.ok(configWith("  endpoint: https://collector.internal/v1/traces"));
    assert.ok(configWith("  endpoint: http://[::1]:4318/v1/traces"));
  });
});

describe("message spans", () => {
  it("takes the parent from _meta over the HTTP header, and links the header's context", async () => {
    const { tracing, exporter } = tracingWith();
    const traced = tracing.traceMessage(
      { ...ctx, traceCarrier: { traceparent: headerParent } },
      7,
      "tools/call",
      {
        name: "probe__echo",
        _meta: { traceparent: clientParent, tracestate: "vendor=abc" },
      },
    );
    traced.trace!.end(outcomeOf(traced));
    await tracing.shutdown();
    const [span] = exporter.spans;
    assert.ok(span);
    assert.equal(span.name, "tools/call probe__echo");
    assert.equal(span.spanContext().traceId, CLIENT_TRACE);
    assert.equal(span.parentSpanContext?.spanId, CLIENT_SPAN);
    assert.equal(span.spanContext().traceState?.get("vendor"), "abc");
    assert.deepEqual(
      span.links.map((l) => l.context.spanId),
      [HEADER_SPAN],
    );
    assert.equal(span.attributes["jsonrpc.request.id"], "7");
    assert.equal(span.attributes["portcullis.session.digest"], "digest-1");
    assert.equal(span.attributes["gen_ai.tool.name"], "probe__echo");
    assert.equal(span.attributes["portcullis.verdict"], "allow");
  });

  it("starts a trace of its own and only links the client's in link mode; ignores it in ignore mode", async () => {
    for (const mode of ["link", "ignore"] as const) {
      const { tracing, exporter } = tracingWith(`  incomingContext: ${mode}`);
      const traced = tracing.traceMessage(
        { ...ctx, traceCarrier: { traceparent: headerParent } },
        1,
        "ping",
        {},
      );
      traced.trace!.end(outcomeOf(traced, { method: "ping", target: undefined }));
      await tracing.shutdown();
      const [span] = exporter.spans;
      assert.ok(span);
      assert.notEqual(span.spanContext().traceId, CLIENT_TRACE, mode);
      assert.equal(span.parentSpanContext, undefined, mode);
      assert.equal(span.links.length, mode === "link" ? 1 : 0, mode);
    }
  });

  it("ignores a malformed traceparent", async () => {
    const { tracing, exporter } = tracingWith();
    const traced = tracing.traceMessage(ctx, 1, "ping", { _meta: { traceparent: "00-zz-yy-01" } });
    traced.trace!.end(outcomeOf(traced, { method: "ping", target: undefined }));
    await tracing.shutdown();
    assert.equal(exporter.spans[0]?.parentSpanContext, undefined);
  });

  it("does not name a span after a tool the catalogue does not know", async () => {
    const { tracing, exporter } = tracingWith();
    const traced = tracing.traceMessage(ctx, 1, "tools/call", { name: "attacker-chosen-123" });
    traced.trace!.end(
      outcomeOf(traced, {
        target: undefined,
        verdict: "error",
        errorCode: "PORTCULLIS_E_UNKNOWN_TOOL",
        decidedBy: { layer: "router", rule: "PORTCULLIS_E_UNKNOWN_TOOL" },
      }),
    );
    await tracing.shutdown();
    const [span] = exporter.spans;
    assert.equal(span?.name, "tools/call");
    assert.equal(span?.status.code, 2);
    assert.doesNotMatch(JSON.stringify(span?.attributes), /attacker-chosen/);
  });
});

describe("layer and upstream spans", () => {
  it("opens a span per hook a layer has, marks a denial, and ends the message span in error", async () => {
    const { tracing, exporter } = tracingWith();
    const layers: Layer[] = [
      { name: "observer", onOutcome: () => undefined },
      { name: "allow", onRequest: () => ({ kind: "pass" }) },
      { name: "guard", onRequest: () => ({ kind: "deny", rule: "no-tools", reason: "no" }) },
    ];
    const chain = new LayerChain(layers, new SecurityEventBus(log), log);
    const traced = tracing.traceMessage(ctx, 1, "tools/call", { name: "probe__echo" });
    const run = await chain.runRequest({ method: "tools/call", params: {}, target: undefined }, traced);
    assert.equal(run.decidedBy, "guard");
    traced.trace!.end(
      outcomeOf(traced, {
        verdict: "deny",
        errorCode: "PORTCULLIS_E_DENIED",
        decidedBy: { layer: "guard", rule: "no-tools" },
      }),
    );
    await tracing.shutdown();
    const message = exporter.spans.find((s) => s.name === "tools/call probe__echo");
    assert.ok(message);
    const children = exporter.spans.filter(
      (s) => s.parentSpanContext?.spanId === message.spanContext().spanId,
    );
    assert.deepEqual(children.map((s) => s.name).sort(), ["allow.onRequest", "guard.onRequest"]);
    const guard = children.find((s) => s.name === "guard.onRequest")!;
    assert.equal(guard.status.code, 2);
    assert.equal(guard.attributes["portcullis.layer.rule"], "no-tools");
    assert.equal(message.status.code, 2);
    assert.equal(message.attributes["portcullis.decided_by.layer"], "guard");
    assert.equal(message.attributes["error.type"], "-32010");
  });

  it("replaces the client's _meta trace keys with the gateway's call span", async () => {
    const { tracing, exporter } = tracingWith();
    const traced = tracing.traceMessage(ctx, 1, "tools/call", { _meta: { traceparent: clientParent } });
    const call = traced.trace!.startUpstream("probe", "tools/call", {
      name: "echo",
      _meta: { traceparent: clientParent, tracestate: "evil=1", keep: "me" },
    });
    const meta = call.params?._meta as Record<string, string>;
    call.end({ content: [] });
    traced.trace!.end(outcomeOf(traced));
    await tracing.shutdown();
    const upstream = exporter.spans.find((s) => s.name === "tools/call echo")!;
    assert.equal(meta.traceparent, `00-${CLIENT_TRACE}-${upstream.spanContext().spanId}-01`);
    assert.equal(meta.keep, "me");
    assert.equal(meta.tracestate, undefined, "the client's tracestate went with its traceparent");
  });

  it("records no child spans for a message that is not sampled, but still propagates", async () => {
    const { tracing, exporter } = tracingWith("  sampleRatio: 0");
    const traced = tracing.traceMessage(ctx, 1, "tools/call", {});
    assert.equal(traced.trace!.startHook({ name: "a", onRequest: () => undefined }, "onRequest"), undefined);
    const call = traced.trace!.startUpstream("probe", "tools/call", { name: "echo" });
    assert.match(
      String((call.params?._meta as Record<string, unknown>).traceparent),
      /^00-[0-9a-f]{32}-[0-9a-f]{16}-00$/,
    );
    call.end({});
    traced.trace!.end(outcomeOf(traced));
    await tracing.shutdown();
    assert.equal(exporter.spans.length, 0);
  });
});
