// OpenTelemetry tracing of a running gateway, against a real OTLP/HTTP receiver: the client's W3C
// trace context parents the message span, each layer hook and upstream call is a child, the upstreams
// receive the gateway's call span as their parent (HTTP headers and `_meta`, never the client's own),
// a denial is an error span naming the layer, and with tracing off nothing is exported.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { after, before, describe, it } from "node:test";
import { Client, StreamableHTTPClientTransport } from "@modelcontextprotocol/client";
import {
  fixture,
  nodeUpstream,
  startGateway,
  type RunningGateway,
  permitAll,
} from "../helpers/gatewayProcess.ts";
import { startReportingUpstream } from "../helpers/reportingUpstream.ts";

interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  attributes?: { key: string; value: { stringValue?: string; intValue?: string } }[];
  status?: { code?: number; message?: string };
  links?: { traceId: string; spanId: string }[];
}

const SPAN_KIND_SERVER = 2;
const SPAN_KIND_CLIENT = 3;
const STATUS_ERROR = 2;

function attribute(span: OtlpSpan, key: string): string | undefined {
  const value = span.attributes?.find((a) => a.key === key)?.value;
  return value?.stringValue ?? value?.intValue;
}

/** An OTLP/HTTP receiver: every export request's content type and spans. */
class Collector {
  readonly spans: OtlpSpan[] = [];
  readonly contentTypes: string[] = [];
  readonly authorizations: (string | undefined)[] = [];
  private server: Server | undefined;
  url = "";

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        this.contentTypes.push(String(req.headers["content-type"]));
        this.authorizations.push(req.headers.authorization);
        const body = JSON.parse(Buffer.concat(chunks).toString("utf8")) as {
          resourceSpans: { scopeSpans: { spans: OtlpSpan[] }[] }[];
        };
        for (const rs of body.resourceSpans) for (const ss of rs.scopeSpans) this.spans.push(...ss.spans);
        res.writeHead(200, { "content-type": "application/json" }).end("{}");
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, "127.0.0.1", resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/v1/traces`;
  }

  async waitFor(predicate: (spans: OtlpSpan[]) => boolean, what: string): Promise<void> {
    const deadline = Date.now() + 15_000;
    while (!predicate(this.spans)) {
      if (Date.now() > deadline)
        throw new Error(`no ${what} among ${this.spans.map((s) => s.name).join(", ") || "no spans"}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  close(): void {
    this.server?.closeAllConnections();
    this.server?.close();
  }
}

function newTraceparent(): { traceparent: string; traceId: string; spanId: string } {
  const traceId = randomBytes(16).toString("hex");
  const spanId = randomBytes(8).toString("hex");
  return { traceparent: `00-${traceId}-${spanId}-01`, traceId, spanId };
}

async function connect(
  url: string,
  headers: Record<string, string>,
  mode: "legacy" | "auto" = "legacy",
): Promise<Client & { sessionId?: string }> {
  const client = new Client({ name: `trace-${mode}`, version: "1" }, { versionNegotiation: { mode } });
  const transport = new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers } });
  await client.connect(transport);
  return Object.assign(client, { sessionId: transport.sessionId });
}

function textOf(result: { content?: unknown }): string {
  return (result.content as { text?: string }[]).map((c) => c.text ?? "").join("");
}

function upstreamsYaml(remoteUrl: string): string {
  return `${nodeUpstream("probe", fixture("session-probe-server.ts"), [], "    protocol: 2025-11-25\n    isolation: shared\n")}
  remote:
    transport: streamable-http
    url: ${remoteUrl}
    protocol: 2025-11-25
    isolation: shared
`;
}

describe("tracing on", () => {
  const collector = new Collector();
  let remote: { url: string; close: () => void };
  let gateway: RunningGateway;

  before(async () => {
    await collector.start();
    remote = await startReportingUpstream();
    gateway = await startGateway(
      `version: 1
${permitAll}
tracing:
  enabled: true
  endpoint: ${collector.url}
  headers:
    Authorization: "Bearer \${env:COLLECTOR_TOKEN}"
  batch: { scheduledDelayMs: 50 }
upstreams:
${upstreamsYaml(remote.url)}`,
      { env: { COLLECTOR_TOKEN: "collector-secret" } },
    );
  });

  after(async () => {
    await gateway?.stop();
    remote?.close();
    collector.close();
  });

  it("parents the message span on the client's traceparent, with a child per layer hook and the upstream call", async () => {
    const incoming = newTraceparent();
    const client = await connect(gateway.url, {
      traceparent: incoming.traceparent,
      tracestate: "vendor=abc",
    });
    let seen: { traceparent?: string; tracestate?: string; meta: Record<string, unknown> };
    try {
      seen = JSON.parse(textOf(await client.callTool({ name: "remote__report", arguments: {} })));
    } finally {
      await client.close();
    }
    const isMessage = (s: OtlpSpan) =>
      s.name === "tools/call remote__report" && s.traceId === incoming.traceId;
    await collector.waitFor((spans) => spans.some(isMessage), "message span");
    const message = collector.spans.find(isMessage)!;
    assert.equal(message.kind, SPAN_KIND_SERVER);
    assert.equal(message.parentSpanId, incoming.spanId);
    assert.equal(attribute(message, "mcp.method.name"), "tools/call");
    assert.equal(attribute(message, "gen_ai.tool.name"), "remote__report");
    assert.equal(attribute(message, "portcullis.upstream"), "remote");
    assert.equal(attribute(message, "portcullis.verdict"), "allow");
    assert.equal(attribute(message, "network.transport"), "tcp");
    assert.ok(client.sessionId);
    assert.ok(attribute(message, "portcullis.session.digest"));
    assert.ok(!JSON.stringify(collector.spans).includes(client.sessionId), "never the raw session id");

    const children = () => collector.spans.filter((s) => s.parentSpanId === message.spanId);
    await collector.waitFor(() => children().some((s) => s.kind === SPAN_KIND_CLIENT), "upstream span");
    const layerSpans = children().filter((s) => attribute(s, "portcullis.layer.name") !== undefined);
    const hooks = layerSpans.map(
      (s) => `${attribute(s, "portcullis.layer.name")}.${attribute(s, "portcullis.layer.hook")}`,
    );
    assert.ok(hooks.includes("audit.onRequest"), hooks.join());
    assert.ok(hooks.includes("audit.onRecord"), hooks.join());
    assert.equal(new Set(hooks).size, hooks.length, `one span per layer hook: ${hooks.join()}`);
    for (const span of layerSpans)
      assert.equal(
        span.name,
        `${attribute(span, "portcullis.layer.name")}.${attribute(span, "portcullis.layer.hook")}`,
      );

    const call = children().find((s) => s.kind === SPAN_KIND_CLIENT)!;
    assert.equal(call.name, "tools/call report");
    // The upstream's parent is the gateway's call span, in the HTTP headers and in _meta alike.
    assert.equal(seen.traceparent, `00-${incoming.traceId}-${call.spanId}-01`);
    assert.equal(seen.tracestate, "vendor=abc");
    assert.equal(seen.meta.traceparent, seen.traceparent);

    assert.ok(
      collector.contentTypes.every((t) => t.startsWith("application/json")),
      collector.contentTypes.join(),
    );
    assert.ok(collector.authorizations.every((a) => a === "Bearer collector-secret"));
    const exported = JSON.stringify(collector.spans);
    assert.doesNotMatch(exported, /collector-secret/);
  });

  it("puts the gateway's call span in a stdio upstream's _meta, never the client's own trace keys", async () => {
    const header = newTraceparent();
    const fromMeta = newTraceparent();
    const client = await connect(gateway.url, { traceparent: header.traceparent });
    let meta: Record<string, unknown>;
    try {
      const result = await client.callTool({
        name: "probe__echo-meta",
        arguments: {},
        _meta: { traceparent: fromMeta.traceparent, tracestate: "client=forged" },
      });
      meta = JSON.parse(textOf(result));
    } finally {
      await client.close();
    }
    // _meta (set for this message by the client's MCP instrumentation) parents; the header is linked.
    const isMessage = (s: OtlpSpan) =>
      s.name === "tools/call probe__echo-meta" && s.traceId === fromMeta.traceId;
    await collector.waitFor((spans) => spans.some(isMessage), "message span");
    const message = collector.spans.find(isMessage)!;
    assert.equal(message.parentSpanId, fromMeta.spanId);
    assert.deepEqual(
      message.links?.map((l) => l.spanId),
      [header.spanId],
    );
    await collector.waitFor(
      (spans) => spans.some((s) => s.parentSpanId === message.spanId && s.kind === SPAN_KIND_CLIENT),
      "stdio upstream span",
    );
    const call = collector.spans.find(
      (s) => s.parentSpanId === message.spanId && s.kind === SPAN_KIND_CLIENT,
    )!;
    assert.equal(meta.traceparent, `00-${fromMeta.traceId}-${call.spanId}-01`);
    assert.equal(meta.tracestate, "client=forged", "the parent's tracestate travels on, as W3C asks");
    assert.notEqual(meta.traceparent, fromMeta.traceparent);
  });

  it("traces a 2026-07-28 (stateless) request from its traceparent header", async () => {
    const incoming = newTraceparent();
    const client = await connect(gateway.url, { traceparent: incoming.traceparent }, "auto");
    try {
      await client.callTool({ name: "probe__whoami", arguments: {} });
    } finally {
      await client.close();
    }
    const isMessage = (s: OtlpSpan) =>
      s.name === "tools/call probe__whoami" && s.traceId === incoming.traceId;
    await collector.waitFor((spans) => spans.some(isMessage), "2026 message span");
    const message = collector.spans.find(isMessage)!;
    assert.equal(message.parentSpanId, incoming.spanId);
    assert.equal(attribute(message, "mcp.protocol.version"), "2026-07-28");
    assert.equal(attribute(message, "portcullis.era"), "modern");
  });

  it("ends a denied message's span in error, naming the layer and rule", async () => {
    const incoming = newTraceparent();
    const client = await connect(gateway.url, { traceparent: incoming.traceparent });
    const lock = new DatabaseSync(join(gateway.dir, "portcullis-audit.sqlite"));
    try {
      lock.exec("BEGIN EXCLUSIVE"); // the audit trail cannot be written: tool calls are refused
      await assert.rejects(client.callTool({ name: "probe__whoami", arguments: {} }), /audit/i);
      await assert.rejects(
        client.callTool({ name: "probe__whoami", arguments: {} }),
        /audit trail cannot be written/,
      );
    } finally {
      lock.exec("ROLLBACK");
      lock.close();
      await client.close();
    }
    const isDenied = (s: OtlpSpan) =>
      s.traceId === incoming.traceId &&
      s.kind === SPAN_KIND_SERVER &&
      attribute(s, "portcullis.verdict") === "deny";
    await collector.waitFor((spans) => spans.some(isDenied), "denied message span");
    const denied = collector.spans.find(isDenied)!;
    assert.equal(denied.status?.code, STATUS_ERROR);
    assert.equal(attribute(denied, "portcullis.decided_by.layer"), "audit");
    assert.equal(attribute(denied, "portcullis.decided_by.rule"), "audit-unavailable");
    assert.equal(attribute(denied, "portcullis.error.code"), "PORTCULLIS_E_AUDIT_UNAVAILABLE");
    assert.match(denied.status?.message ?? "", /deny by audit \(audit-unavailable\)/);
    const hook = collector.spans.find(
      (s) => s.parentSpanId === denied.spanId && s.name === "audit.onRequest",
    );
    assert.ok(hook, "the deciding layer's hook span");
    assert.equal(hook.status?.code, STATUS_ERROR);
    assert.equal(attribute(hook, "portcullis.layer.verdict"), "deny");
    assert.ok(
      !collector.spans.some((s) => s.parentSpanId === denied.spanId && s.kind === SPAN_KIND_CLIENT),
      "a denied call never reaches an upstream",
    );
  });
});

describe("tracing off (the default)", () => {
  const collector = new Collector();
  let remote: { url: string; close: () => void };
  let gateway: RunningGateway;

  before(async () => {
    await collector.start();
    remote = await startReportingUpstream();
    // The endpoint is configured, but tracing is not enabled.
    gateway = await startGateway(
      `version: 1
${permitAll}
tracing:
  endpoint: ${collector.url}
  batch: { scheduledDelayMs: 50 }
upstreams:
${upstreamsYaml(remote.url)}`,
    );
  });

  after(async () => {
    await gateway?.stop();
    remote?.close();
    collector.close();
  });

  it("exports nothing and adds no trace header upstream", async () => {
    const incoming = newTraceparent();
    const client = await connect(gateway.url, { traceparent: incoming.traceparent });
    let seen: { traceparent?: string };
    try {
      seen = JSON.parse(textOf(await client.callTool({ name: "remote__report", arguments: {} })));
      await client.callTool({ name: "probe__whoami", arguments: {} });
    } finally {
      await client.close();
    }
    await gateway.stop(); // a shutdown would flush spans, if there were any
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(seen.traceparent, undefined, "the client's headers never reach an upstream");
    assert.equal(collector.contentTypes.length, 0, "no export request arrived");
    assert.equal(
      gateway.logs.some((l) => l.msg === "tracing on: exporting OTLP/HTTP"),
      false,
    );
  });
});
