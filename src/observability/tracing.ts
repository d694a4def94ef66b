// OpenTelemetry tracing, set up only when `tracing.enabled` (the runtime imports this module then and
// only then): a tracer provider of the gateway's own, never registered globally, exporting OTLP/HTTP
// JSON in batches; the parent of each message span comes from the client's W3C trace context.
import {
  ROOT_CONTEXT,
  SpanKind,
  defaultTextMapGetter,
  trace,
  type Context,
  type Link,
  type SpanContext,
  type Tracer,
} from "@opentelemetry/api";
import { ExportResultCode, W3CTraceContextPropagator, type ExportResult } from "@opentelemetry/core";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { defaultResource, resourceFromAttributes } from "@opentelemetry/resources";
import {
  BatchSpanProcessor,
  ParentBasedSampler,
  TraceIdRatioBasedSampler,
  TracerProvider,
  type ReadableSpan,
  type SpanExporter,
} from "@opentelemetry/sdk-trace";
import {
  ATTR_SERVICE_INSTANCE_ID,
  ATTR_SERVICE_NAME,
  ATTR_SERVICE_VERSION,
} from "@opentelemetry/semantic-conventions";
import { TRACEPARENT_META_KEY, TRACESTATE_META_KEY } from "@modelcontextprotocol/client";
import type { Logger } from "pino";
import type { GatewayConfig } from "../config/schema.ts";
import type { RequestContext } from "../pipeline/types.ts";
import { GATEWAY_INFO } from "../upstream/connection.ts";
import { MessageSpan, messageAttributes } from "./messageTrace.ts";
import type { MessageTracer, TraceCarrier } from "./traceContext.ts";

export type TracingConfig = GatewayConfig["tracing"];

export interface TracingOptions {
  readonly config: TracingConfig;
  /** This gateway node's name (service.instance.id). */
  readonly node: string;
  readonly logger: Logger;
  /** Where spans go; default: OTLP/HTTP to `config.endpoint` (tests may pass their own). */
  readonly exporter?: SpanExporter;
}

export class GatewayTracing implements MessageTracer {
  private readonly provider: TracerProvider;
  private readonly tracer: Tracer;
  private readonly propagator = new W3CTraceContextPropagator();
  private readonly config: TracingConfig;
  private readonly logger: Logger;

  constructor(options: TracingOptions) {
    const { config, logger } = options;
    this.config = config;
    this.logger = logger;
    const exporter = new ReportingExporter(options.exporter ?? otlpExporter(config), logger);
    this.provider = new TracerProvider({
      // Named attributes only: no resource detectors (a process detector would export the command
      // line, which may carry secrets).
      resource: defaultResource().merge(
        resourceFromAttributes({
          [ATTR_SERVICE_NAME]: config.serviceName,
          [ATTR_SERVICE_VERSION]: GATEWAY_INFO.version,
          [ATTR_SERVICE_INSTANCE_ID]: options.node,
        }),
      ),
      sampler: new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(config.sampleRatio) }),
      spanLimits: { attributeValueLengthLimit: 1024, linkCountLimit: 4 },
      spanProcessors: [
        new BatchSpanProcessor({
          exporter,
          maxQueueSize: config.batch.maxQueueSize,
          maxExportBatchSize: config.batch.maxExportBatchSize,
          scheduledDelayMillis: config.batch.scheduledDelayMs,
          exportTimeoutMillis: config.batch.exportTimeoutMs,
        }),
      ],
    });
    this.tracer = this.provider.getTracer("portcullis", GATEWAY_INFO.version);
    logger.info(
      { endpoint: redactedEndpoint(config.endpoint), sampleRatio: config.sampleRatio },
      "tracing on: exporting OTLP/HTTP",
    );
  }

  traceMessage(
    ctx: RequestContext,
    id: string | number | undefined,
    method: string,
    params: Record<string, unknown> | undefined,
  ): RequestContext {
    const { parent, links } = this.parentOf(ctx.traceCarrier, params?._meta);
    const span = this.tracer.startSpan(
      method,
      { kind: SpanKind.SERVER, attributes: messageAttributes(ctx, id, method), links },
      parent,
    );
    return { ...ctx, trace: new MessageSpan(this.tracer, this.propagator, span, method) };
  }

  /** Exports what is queued and stops; bounded by the export timeout, so a dead collector cannot hold shutdown. */
  async shutdown(): Promise<void> {
    const limit = this.config.batch.exportTimeoutMs;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<"timeout">((resolve) => {
      timer = setTimeout(() => resolve("timeout"), limit);
      timer.unref();
    });
    try {
      const outcome = await Promise.race([this.provider.shutdown().then(() => "done" as const), timeout]);
      if (outcome === "timeout") this.logger.warn({ limitMs: limit }, "tracing: spans not flushed in time");
    } catch (err) {
      this.logger.warn({ err }, "tracing: flushing spans at shutdown failed");
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * The parent of a message span. `params._meta` (SEP-414, set by the MCP client for this very
   * message) wins over the HTTP headers (which describe the HTTP request, possibly a child of it);
   * the context not chosen, if different, becomes a link. In "link" mode the client's context is
   * only linked and the gateway starts (and samples) a trace of its own; "ignore" drops it.
   */
  private parentOf(headers: TraceCarrier | undefined, meta: unknown): { parent: Context; links: Link[] } {
    if (this.config.incomingContext === "ignore") return { parent: ROOT_CONTEXT, links: [] };
    const fromMeta = this.extract(metaCarrier(meta));
    const fromHeaders = this.extract(headers);
    const chosen = fromMeta ?? fromHeaders;
    if (!chosen) return { parent: ROOT_CONTEXT, links: [] };
    const other = fromMeta && fromHeaders && fromHeaders.spanId !== fromMeta.spanId ? fromHeaders : undefined;
    if (this.config.incomingContext === "link") {
      return {
        parent: ROOT_CONTEXT,
        links: [chosen, ...(other ? [other] : [])].map((context) => ({ context })),
      };
    }
    return { parent: trace.setSpanContext(ROOT_CONTEXT, chosen), links: other ? [{ context: other }] : [] };
  }

  /** A valid remote span context, or undefined (the propagator rejects malformed values). */
  private extract(carrier: TraceCarrier | undefined): SpanContext | undefined {
    if (!carrier) return undefined;
    return trace.getSpanContext(this.propagator.extract(ROOT_CONTEXT, carrier, defaultTextMapGetter));
  }
}

/** The trace context a client put in `_meta`: string values only. */
function metaCarrier(meta: unknown): TraceCarrier | undefined {
  if (meta === null || typeof meta !== "object") return undefined;
  const traceparent = (meta as Record<string, unknown>)[TRACEPARENT_META_KEY];
  const tracestate = (meta as Record<string, unknown>)[TRACESTATE_META_KEY];
  if (typeof traceparent !== "string") return undefined;
  return typeof tracestate === "string" ? { traceparent, tracestate } : { traceparent };
}

function otlpExporter(config: TracingConfig): SpanExporter {
  const tls = config.tls;
  return new OTLPTraceExporter({
    url: config.endpoint,
    headers: config.headers,
    timeoutMillis: config.batch.exportTimeoutMs,
    // Set here so that OTEL_EXPORTER_OTLP_* certificate variables cannot change whom spans go to.
    httpAgentOptions: {
      keepAlive: true,
      minVersion: "TLSv1.2",
      ...(tls
        ? {
            ca: tls.ca,
            cert: tls.cert,
            key: tls.key,
            servername: tls.servername,
            rejectUnauthorized: tls.rejectUnauthorized,
          }
        : {}),
    },
  });
}

/** Logs when exports start failing and when they recover (once each, not per batch). */
class ReportingExporter implements SpanExporter {
  private failing = false;
  private readonly inner: SpanExporter;
  private readonly logger: Logger;

  constructor(inner: SpanExporter, logger: Logger) {
    this.inner = inner;
    this.logger = logger;
  }

  export(spans: ReadableSpan[], done: (result: ExportResult) => void): void {
    this.inner.export(spans, (result) => {
      if (result.code !== ExportResultCode.SUCCESS && !this.failing) {
        this.failing = true;
        this.logger.warn(
          { err: result.error, spans: spans.length },
          "tracing: span export failed; spans are dropped",
        );
      } else if (result.code === ExportResultCode.SUCCESS && this.failing) {
        this.failing = false;
        this.logger.info("tracing: span export works again");
      }
      done(result);
    });
  }

  shutdown(): Promise<void> {
    return this.inner.shutdown();
  }

  forceFlush(): Promise<void> {
    return this.inner.forceFlush?.() ?? Promise.resolve();
  }
}

/** The endpoint for the log: no credentials or query (a URL may carry a token). */
function redactedEndpoint(endpoint: string): string {
  const url = new URL(endpoint);
  return `${url.protocol}//${url.host}${url.pathname}`;
}

export function startTracing(options: TracingOptions): GatewayTracing {
  return new GatewayTracing(options);
}
