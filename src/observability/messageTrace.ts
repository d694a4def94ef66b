// The spans of one client message: the SERVER span (what was asked, by whom, how it was decided), a
// child per layer hook that ran, and a CLIENT span per upstream call whose W3C context is propagated.
// Never in a span: arguments, results, raw session ids, tokens, error texts from upstreams.
import {
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  defaultTextMapSetter,
  trace,
  type Attributes,
  type Context,
  type Span,
  type TextMapPropagator,
  type Tracer,
} from "@opentelemetry/api";
import {
  ATTR_CLIENT_ADDRESS,
  ATTR_ERROR_TYPE,
  ATTR_NETWORK_PROTOCOL_NAME,
  ATTR_NETWORK_TRANSPORT,
} from "@opentelemetry/semantic-conventions";
import { TRACEPARENT_META_KEY, TRACESTATE_META_KEY } from "@modelcontextprotocol/client";
import { errorCatalogue, GatewayError, toWireError, type ErrorCode } from "../errors.ts";
import type { Layer, MessageOutcome, RequestContext, RouteTarget, Verdict } from "../pipeline/types.ts";
import {
  withUpstreamTraceHeaders,
  type HookSpan,
  type MessageTrace,
  type TraceCarrier,
  type UpstreamSpan,
} from "./traceContext.ts";

// MCP and GenAI attributes are still "development" in the semantic conventions: their package asks
// instrumentations to copy such names rather than import its unstable entry point.
const MCP_METHOD_NAME = "mcp.method.name";
const MCP_PROTOCOL_VERSION = "mcp.protocol.version";
const MCP_RESOURCE_URI = "mcp.resource.uri";
const JSONRPC_REQUEST_ID = "jsonrpc.request.id";
const RPC_RESPONSE_STATUS_CODE = "rpc.response.status_code";
const GEN_AI_TOOL_NAME = "gen_ai.tool.name";
const GEN_AI_PROMPT_NAME = "gen_ai.prompt.name";
const GEN_AI_OPERATION_NAME = "gen_ai.operation.name";

export const attr = {
  correlationId: "portcullis.correlation_id",
  sessionDigest: "portcullis.session.digest",
  principal: "portcullis.principal.id",
  era: "portcullis.era",
  upstream: "portcullis.upstream",
  verdict: "portcullis.verdict",
  decidedByLayer: "portcullis.decided_by.layer",
  decidedByRule: "portcullis.decided_by.rule",
  errorCode: "portcullis.error.code",
  layer: "portcullis.layer.name",
  hook: "portcullis.layer.hook",
  layerVerdict: "portcullis.layer.verdict",
  layerRule: "portcullis.layer.rule",
} as const;

/** What a SERVER span knows when the message arrives (the target is known once it is routed). */
export function messageAttributes(
  ctx: RequestContext,
  id: string | number | undefined,
  method: string,
): Attributes {
  const attributes: Attributes = {
    [MCP_METHOD_NAME]: method,
    [MCP_PROTOCOL_VERSION]: ctx.protocolVersion,
    [ATTR_NETWORK_TRANSPORT]: ctx.transport === "stdio" ? "pipe" : "tcp",
    [attr.correlationId]: ctx.id,
    [attr.principal]: ctx.principal.id,
    [attr.era]: ctx.era,
  };
  if (id !== undefined) attributes[JSONRPC_REQUEST_ID] = String(id);
  if (ctx.transport === "http") attributes[ATTR_NETWORK_PROTOCOL_NAME] = "http";
  if (ctx.clientAddress !== undefined) attributes[ATTR_CLIENT_ADDRESS] = ctx.clientAddress;
  if (ctx.sessionDigest !== undefined) attributes[attr.sessionDigest] = ctx.sessionDigest;
  return attributes;
}

export class MessageSpan implements MessageTrace {
  private readonly tracer: Tracer;
  private readonly propagator: TextMapPropagator;
  private readonly span: Span;
  private readonly method: string;
  /** The context children are started in. */
  private readonly context: Context;

  constructor(tracer: Tracer, propagator: TextMapPropagator, span: Span, method: string) {
    this.tracer = tracer;
    this.propagator = propagator;
    this.span = span;
    this.method = method;
    this.context = trace.setSpan(ROOT_CONTEXT, span);
  }

  /** A context that is logged or serialized shows the span's ids, not the SDK's internals. */
  toJSON(): { traceId: string; spanId: string } {
    const { traceId, spanId } = this.span.spanContext();
    return { traceId, spanId };
  }

  startHook(layer: Layer, hook: string): HookSpan | undefined {
    // A message that is not sampled records no children; a layer without this hook runs nothing.
    if (!this.span.isRecording() || typeof layer[hook as keyof Layer] !== "function") return undefined;
    const span = this.tracer.startSpan(
      `${layer.name}.${hook}`,
      { kind: SpanKind.INTERNAL, attributes: { [attr.layer]: layer.name, [attr.hook]: hook } },
      this.context,
    );
    return new LayerHookSpan(span);
  }

  startUpstream(upstream: string, method: string, params: Record<string, unknown> | undefined): UpstreamSpan {
    const name = params?.name;
    const tool = method === "tools/call" && typeof name === "string" ? name : undefined;
    const prompt = method === "prompts/get" && typeof name === "string" ? name : undefined;
    const attributes: Attributes = { [MCP_METHOD_NAME]: method, [attr.upstream]: upstream };
    if (tool !== undefined) attributes[GEN_AI_TOOL_NAME] = tool;
    if (prompt !== undefined) attributes[GEN_AI_PROMPT_NAME] = prompt;
    const span = this.tracer.startSpan(
      tool !== undefined || prompt !== undefined ? `${method} ${tool ?? prompt}` : method,
      { kind: SpanKind.CLIENT, attributes },
      this.context,
    );
    const carrier: { traceparent?: string; tracestate?: string } = {};
    this.propagator.inject(trace.setSpan(ROOT_CONTEXT, span), carrier, defaultTextMapSetter);
    return new UpstreamCallSpan(span, carrier.traceparent ? (carrier as TraceCarrier) : undefined, params);
  }

  end(outcome: MessageOutcome): void {
    const { target } = outcome;
    // Named after the resolved target only: a name the catalogue does not know is the caller's
    // free text and would make span names (and the tracing backend's indexes) unbounded.
    const publicName = target?.kind === "tool" || target?.kind === "prompt" ? target.publicName : undefined;
    if (publicName !== undefined) this.span.updateName(`${this.method} ${publicName}`);
    if (target) this.span.setAttributes(targetAttributes(this.method, target));
    this.span.setAttribute(attr.verdict, outcome.verdict);
    if (outcome.decidedBy) {
      this.span.setAttribute(attr.decidedByLayer, outcome.decidedBy.layer);
      this.span.setAttribute(attr.decidedByRule, outcome.decidedBy.rule);
    }
    if (outcome.verdict !== "allow") {
      const rpcCode = jsonRpcCodeOf(outcome.errorCode);
      this.span.setAttributes({
        [ATTR_ERROR_TYPE]: rpcCode ?? "_OTHER",
        ...(rpcCode === undefined ? {} : { [RPC_RESPONSE_STATUS_CODE]: rpcCode }),
        ...(outcome.errorCode === undefined ? {} : { [attr.errorCode]: outcome.errorCode }),
      });
      const by = outcome.decidedBy;
      this.span.setStatus({
        code: SpanStatusCode.ERROR,
        message: by ? `${outcome.verdict} by ${by.layer} (${by.rule})` : outcome.verdict,
      });
    }
    this.span.end();
  }

  endNotification(verdict: Verdict<unknown>, decidedBy: string | undefined): void {
    if (verdict.kind === "pass") {
      this.span.setAttribute(attr.verdict, "allow");
    } else {
      this.span.setAttributes({
        [attr.verdict]: verdict.kind,
        [attr.decidedByLayer]: decidedBy ?? "unknown",
        [attr.decidedByRule]: verdict.rule,
      });
      this.span.setStatus({
        code: SpanStatusCode.ERROR,
        message: `${verdict.kind} by ${decidedBy ?? "unknown"} (${verdict.rule})`,
      });
    }
    this.span.end();
  }
}

class LayerHookSpan implements HookSpan {
  private readonly span: Span;

  constructor(span: Span) {
    this.span = span;
  }

  end(verdict: Verdict<unknown> | undefined): void {
    this.span.setAttribute(attr.layerVerdict, verdict?.kind ?? "none");
    if (verdict !== undefined && verdict.kind !== "pass") {
      this.span.setAttribute(attr.layerRule, verdict.rule);
      this.span.setStatus({ code: SpanStatusCode.ERROR, message: `${verdict.kind} (${verdict.rule})` });
    }
    this.span.end();
  }

  fail(rule: string): void {
    this.span.setAttributes({ [attr.layerVerdict]: "error", [attr.layerRule]: rule });
    this.span.setStatus({ code: SpanStatusCode.ERROR, message: rule });
    this.span.end();
  }
}

class UpstreamCallSpan implements UpstreamSpan {
  readonly params: Record<string, unknown> | undefined;
  private readonly span: Span;
  private readonly carrier: TraceCarrier | undefined;

  constructor(span: Span, carrier: TraceCarrier | undefined, params: Record<string, unknown> | undefined) {
    this.span = span;
    this.carrier = carrier;
    this.params = withTraceMeta(params, carrier);
  }

  run<T>(call: () => Promise<T>): Promise<T> {
    return this.carrier ? withUpstreamTraceHeaders(this.carrier, call) : call();
  }

  end(result: Record<string, unknown>): void {
    // A tool that ran and reported a failure (semantic conventions: error.type "tool_error").
    if (result.isError === true) {
      this.span.setAttribute(ATTR_ERROR_TYPE, "tool_error");
      this.span.setStatus({ code: SpanStatusCode.ERROR, message: "tool_error" });
    }
    this.span.end();
  }

  fail(error: unknown): void {
    const rpcCode = String(toWireError(error).toJsonRpcError().code);
    this.span.setAttributes({ [ATTR_ERROR_TYPE]: rpcCode, [RPC_RESPONSE_STATUS_CODE]: rpcCode });
    if (error instanceof GatewayError) this.span.setAttribute(attr.errorCode, error.code);
    // The status names the code only: an upstream's error text is its own and may carry anything.
    this.span.setStatus({
      code: SpanStatusCode.ERROR,
      message: error instanceof GatewayError ? error.code : `upstream error ${rpcCode}`,
    });
    this.span.end();
  }
}

/**
 * The forwarded params with the gateway's trace context in `_meta` (SEP-414 keys): whatever trace
 * context the client sent is replaced, so the upstream's parent is the gateway's call span.
 */
function withTraceMeta(
  params: Record<string, unknown> | undefined,
  carrier: TraceCarrier | undefined,
): Record<string, unknown> | undefined {
  const meta = params?._meta;
  const hadClientContext =
    meta !== null &&
    typeof meta === "object" &&
    (TRACEPARENT_META_KEY in meta || TRACESTATE_META_KEY in meta);
  if (!carrier && !hadClientContext) return params;
  const kept: Record<string, unknown> = { ...(meta as Record<string, unknown> | undefined) };
  delete kept[TRACEPARENT_META_KEY];
  delete kept[TRACESTATE_META_KEY];
  if (carrier) {
    kept[TRACEPARENT_META_KEY] = carrier.traceparent;
    if (carrier.tracestate) kept[TRACESTATE_META_KEY] = carrier.tracestate;
  }
  return { ...params, _meta: kept };
}

function targetAttributes(method: string, target: RouteTarget): Attributes {
  const attributes: Attributes = {};
  if (target.kind === "local") return attributes;
  if (target.kind !== "broadcast") attributes[attr.upstream] = target.upstream;
  if (target.kind === "tool" && target.publicName !== undefined) {
    attributes[GEN_AI_TOOL_NAME] = target.publicName;
    if (method === "tools/call") attributes[GEN_AI_OPERATION_NAME] = "execute_tool";
  }
  if (target.kind === "prompt" && target.publicName !== undefined)
    attributes[GEN_AI_PROMPT_NAME] = target.publicName;
  if (target.kind === "resource" && target.name !== undefined) attributes[MCP_RESOURCE_URI] = target.name;
  return attributes;
}

/** The JSON-RPC code of an outcome's error: a gateway code from the catalogue, or an upstream's own. */
function jsonRpcCodeOf(errorCode: string | undefined): string | undefined {
  if (errorCode === undefined) return undefined;
  if (errorCode.startsWith("upstream:")) return errorCode.slice("upstream:".length);
  const entry = Object.hasOwn(errorCatalogue, errorCode) ? errorCatalogue[errorCode as ErrorCode] : undefined;
  return entry === undefined ? undefined : String(entry.jsonRpc);
}
