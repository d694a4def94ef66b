// The pipeline's side of tracing, without the OpenTelemetry SDK (which loads only when tracing is on):
// W3C trace context as it arrives, the per-message trace that layers and upstream calls open spans
// from, and the headers of the upstream call under way (read by the HTTP upstreams' fetch).
import { AsyncLocalStorage } from "node:async_hooks";
import type { IncomingHttpHeaders } from "node:http";
import type { Layer, MessageOutcome, RequestContext, Verdict } from "../pipeline/types.ts";

/** W3C Trace Context as it travels: HTTP headers, or the `_meta` keys of SEP-414. */
export interface TraceCarrier {
  readonly traceparent: string;
  readonly tracestate?: string;
}

/** Starts the trace of one client message; present only when tracing is on. */
export interface MessageTracer {
  /** The message's context with its SERVER span attached as `trace`. */
  traceMessage(
    ctx: RequestContext,
    id: string | number | undefined,
    method: string,
    params: Record<string, unknown> | undefined,
  ): RequestContext;
}

/** The span tree of one client message: the message span, a child per layer hook and per upstream call. */
export interface MessageTrace {
  /** A child span for one layer's hook; undefined when the layer has no such hook (nothing runs). */
  startHook(layer: Layer, hook: string): HookSpan | undefined;
  /** A CLIENT span for one request forwarded to an upstream. */
  startUpstream(upstream: string, method: string, params: Record<string, unknown> | undefined): UpstreamSpan;
  /** Ends a request's span with its outcome. */
  end(outcome: MessageOutcome): void;
  /** Ends a notification's span with the chain's verdict. */
  endNotification(verdict: Verdict<unknown>, decidedBy: string | undefined): void;
}

export interface HookSpan {
  /** The hook returned (undefined: no opinion). */
  end(verdict: Verdict<unknown> | undefined): void;
  /** The hook threw (onRecord: the record could not be made). */
  fail(rule: string): void;
}

export interface UpstreamSpan {
  /** The params to forward: `_meta.traceparent`/`tracestate` are this span's, never the client's. */
  readonly params: Record<string, unknown> | undefined;
  /** Runs the call with this span's W3C headers set for an HTTP upstream's fetch. */
  run<T>(call: () => Promise<T>): Promise<T>;
  end(result: Record<string, unknown>): void;
  fail(error: unknown): void;
}

const upstreamHeaders = new AsyncLocalStorage<TraceCarrier>();

export function withUpstreamTraceHeaders<T>(carrier: TraceCarrier, call: () => Promise<T>): Promise<T> {
  return upstreamHeaders.run(carrier, call);
}

/** The W3C headers of the upstream call this code runs for, if it is traced. */
export function upstreamTraceHeaders(): TraceCarrier | undefined {
  return upstreamHeaders.getStore();
}

/** The trace context of an HTTP request (Node's headers); undefined when it carries none. */
export function carrierFromNodeHeaders(headers: IncomingHttpHeaders): TraceCarrier | undefined {
  const traceparent = headers.traceparent;
  if (typeof traceparent !== "string") return undefined;
  const tracestate = headers.tracestate;
  return typeof tracestate === "string" ? { traceparent, tracestate } : { traceparent };
}

/** The trace context of an HTTP request an SDK transport handed on (2025 sessions); none for stdio. */
export function carrierFromRequest(request: Request | undefined): TraceCarrier | undefined {
  const traceparent = request?.headers.get("traceparent");
  if (!traceparent) return undefined;
  const tracestate = request?.headers.get("tracestate");
  return tracestate ? { traceparent, tracestate } : { traceparent };
}
