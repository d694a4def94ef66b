// One live MCP session (2025 era) or stateless channel (2026 era) to an upstream server, spoken
// through the official SDK client. The client never fulfils input requests itself: the gateway
// relays them to the client that caused them.
import {
  Client,
  ProtocolError,
  SdkError,
  SdkErrorCode,
  SdkHttpError,
  SSEClientTransport,
  StreamableHTTPClientTransport,
  type ClientCapabilities,
  type PriorDiscovery,
  type Transport,
} from "@modelcontextprotocol/client";
import { z } from "zod";
import { Agent, fetch as undiciFetch, type RequestInit as UndiciRequestInit } from "undici";
import { UpstreamCredentialError, withUpstreamCredentials } from "./credentials.ts";
import { credentialFailure } from "../resilience/faults.ts";
import type { Logger } from "pino";
import type { HttpUpstreamConfig, StdioUpstreamConfig, UpstreamConfig } from "../config/schema.ts";
import { GatewayError, UpstreamRpcError } from "../errors.ts";
import { isMalformedResponse, SpawnedStdioTransport } from "./stdioTransport.ts";
import { upstreamTraceHeaders, type MessageTrace } from "../observability/traceContext.ts";

export const GATEWAY_INFO = { name: "portcullis", version: "0.1.0" } as const;

/**
 * Results are relayed, not interpreted: a plain-object check. (Left to pick a schema by method, the
 * SDK first tries a lookup that fails on every call; measured at 3.5–5 % of the gateway's CPU.)
 */
const relayedResult = z.looseObject({});

/** The SDK's own timer is a backstop only; the gateway keeps the real deadline (see request()). */
const SDK_TIMEOUT_MS = 24 * 3_600_000;

/** The server-to-client methods a gateway may relay to its client. */
export const relayedServerRequests = ["sampling/createMessage", "elicitation/create", "roots/list"] as const;
export type RelayedServerRequest = (typeof relayedServerRequests)[number];

export interface ConnectionHandlers {
  /** A notification from the upstream (list changes, resource updates, log messages…). */
  onNotification(method: string, params: Record<string, unknown> | undefined): void;
  /** A request from the upstream to the client (sampling, elicitation, roots). */
  onServerRequest(
    method: RelayedServerRequest,
    params: Record<string, unknown> | undefined,
    signal: AbortSignal,
  ): Promise<Record<string, unknown>>;
  /** The connection ended (process exit, network loss, close). */
  onClose(): void;
}

export interface OpenOptions {
  readonly name: string;
  readonly config: UpstreamConfig;
  readonly baseDir: string;
  readonly env: NodeJS.ProcessEnv;
  readonly capabilities: ClientCapabilities;
  readonly handlers: ConnectionHandlers;
  readonly logger: Logger;
  /** Kept for failure reports: the last lines the process wrote to stderr. */
  readonly stderrTail: string[];
  /** A known era verdict (from the shared connection) that spares the version probe. */
  readonly prior?: PriorDiscovery;
}

export interface ForwardOptions {
  readonly signal?: AbortSignal;
  readonly timeoutMs: number;
  readonly onProgress?: (progress: { progress: number; total?: number; message?: string }) => void;
  /** The trace of the client message this call serves: the call gets a span and carries its context. */
  readonly trace?: MessageTrace;
}

export class UpstreamConnection {
  private closedByUs = false;

  readonly name: string;
  readonly client: Client;
  private readonly transport: Transport;
  /** Requests of the upstream to the client that are waiting for the client's answer. */
  private readonly waiting: { count: number };

  private constructor(name: string, client: Client, transport: Transport, waiting: { count: number }) {
    this.name = name;
    this.client = client;
    this.transport = transport;
    this.waiting = waiting;
  }

  static async open(options: OpenOptions): Promise<UpstreamConnection> {
    const { config, handlers } = options;
    const transport = createTransport(options);
    const client = new Client(
      { ...GATEWAY_INFO },
      {
        capabilities: options.capabilities,
        versionNegotiation: versionNegotiation(config),
        inputRequired: { autoFulfill: false },
        supportedProtocolVersions: supportedVersions(config),
        listMaxPages: 64,
      },
    );
    client.fallbackNotificationHandler = async (n) => handlers.onNotification(n.method, n.params);
    const waiting = { count: 0 };
    for (const method of relayedServerRequests) {
      if (!capabilityFor(method, options.capabilities)) continue;
      client.setRequestHandler(method, async (request, ctx) => {
        waiting.count++;
        try {
          // The downstream client's answer was validated by the SDK on the client side; relay as is.
          return (await handlers.onServerRequest(method, request.params, ctx.mcpReq.signal)) as never;
        } catch (err) {
          // The client's own error answer goes upstream with its code and data; the gateway's refusal
          // with its number, and its code, layer and rule in the data.
          if (err instanceof UpstreamRpcError) throw new ProtocolError(err.rpcCode, err.message, err.rpcData);
          if (err instanceof GatewayError) {
            const wire = err.toJsonRpcError();
            throw new ProtocolError(wire.code, wire.message, wire.data);
          }
          throw err;
        } finally {
          waiting.count--;
        }
      });
    }
    const connection = new UpstreamConnection(options.name, client, transport, waiting);
    client.onclose = () => {
      if (!connection.closedByUs)
        options.logger.warn({ upstream: options.name }, "upstream connection closed");
      // Runs inside child-process and socket events: an exception here would end the process.
      try {
        handlers.onClose();
      } catch (err) {
        options.logger.error({ upstream: options.name, err }, "upstream close handler failed");
      }
    };
    client.onerror = (err) =>
      options.logger.debug({ upstream: options.name, err }, "upstream transport error");
    try {
      await client.connect(transport, {
        timeout: config.connectTimeoutMs,
        ...(options.prior ? { prior: options.prior } : {}),
      });
    } catch (err) {
      await transport.close().catch(() => undefined);
      throw err;
    }
    return connection;
  }

  get protocolVersion(): string | undefined {
    return this.client.getNegotiatedProtocolVersion();
  }

  /** What a further connection to the same upstream can reuse instead of probing again. */
  get verdict(): PriorDiscovery {
    const discover = this.client.getDiscoverResult();
    return this.era === "modern" && discover ? { kind: "modern", discover } : { kind: "legacy" };
  }

  get era(): "legacy" | "modern" {
    return this.client.getProtocolEra() === "modern" ? "modern" : "legacy";
  }

  /**
   * Forwards one request; upstream JSON-RPC errors pass through, transport failures become gateway
   * errors. The deadline restarts on progress and waits while the upstream waits for the client
   * (an elicitation answered by a person may take longer than any call timeout).
   */
  async request(
    method: string,
    params: Record<string, unknown> | undefined,
    options: ForwardOptions,
  ): Promise<Record<string, unknown>> {
    const controller = new AbortController();
    const cancel = () => controller.abort(options.signal?.reason);
    options.signal?.addEventListener("abort", cancel, { once: true });
    let timedOut = false;
    let timer: NodeJS.Timeout | undefined;
    const arm = () => {
      clearTimeout(timer);
      timer = setTimeout(() => {
        if (this.waiting.count > 0) return arm();
        timedOut = true;
        controller.abort(new Error("upstream deadline"));
      }, options.timeoutMs);
    };
    arm();
    const onprogress = (progress: { progress: number; total?: number; message?: string }) => {
      arm();
      options.onProgress?.(progress);
    };
    const span = options.trace?.startUpstream(this.name, method, params);
    const send = () =>
      this.client.request({ method, params: span ? span.params : params }, relayedResult, {
        signal: controller.signal,
        timeout: SDK_TIMEOUT_MS,
        allowInputRequired: true,
        onprogress,
      });
    try {
      const result = await (span ? span.run(send) : send());
      span?.end(result);
      return result;
    } catch (err) {
      const failure = timedOut
        ? new GatewayError("PORTCULLIS_E_UPSTREAM_TIMEOUT", this.name, { upstream: this.name })
        : options.signal?.aborted
          ? new GatewayError("PORTCULLIS_E_CANCELLED", undefined, { upstream: this.name })
          : toGatewayError(err, this.name);
      span?.fail(failure);
      throw failure;
    } finally {
      clearTimeout(timer);
      options.signal?.removeEventListener("abort", cancel);
    }
  }

  async notify(method: string, params: Record<string, unknown> | undefined): Promise<void> {
    await this.client.notification({ method, params });
  }

  async close(): Promise<void> {
    this.closedByUs = true;
    await this.client.close().catch(() => undefined);
  }
}

function capabilityFor(method: RelayedServerRequest, caps: ClientCapabilities): boolean {
  if (method === "sampling/createMessage") return caps.sampling !== undefined;
  if (method === "elicitation/create") return caps.elicitation !== undefined;
  return caps.roots !== undefined;
}

function versionNegotiation(config: UpstreamConfig): { mode: "legacy" | "auto" | { pin: string } } {
  if (config.protocol === "auto") return { mode: "auto" };
  if (config.protocol === "2026-07-28") return { mode: { pin: "2026-07-28" } };
  return { mode: "legacy" };
}

function supportedVersions(config: UpstreamConfig): string[] | undefined {
  if (config.protocol === "auto" || config.protocol === "2026-07-28") return undefined;
  // Offer only the configured legacy revision (the initialize handshake offers the first entry).
  return [config.protocol];
}

function createTransport(options: OpenOptions): Transport {
  const { config } = options;
  if (config.transport === "stdio") return createStdioTransport(options, config);
  return createHttpTransport(config);
}

function createStdioTransport(options: OpenOptions, config: StdioUpstreamConfig): Transport {
  const env: Record<string, string> = {};
  for (const name of config.inheritEnv) {
    const value = options.env[name];
    if (value !== undefined) env[name] = value;
  }
  Object.assign(env, config.env);
  const log = options.logger.child({ upstream: options.name, stream: "stderr" });
  return new SpawnedStdioTransport({
    command: config.command,
    args: config.args,
    cwd: config.cwd ?? options.baseDir,
    env,
    onStderrLine: (line) => {
      options.stderrTail.push(line);
      if (options.stderrTail.length > config.stderrLines) options.stderrTail.shift();
      log.info({ line }, "upstream stderr");
    },
    onGarbage: (reason) =>
      options.logger.warn({ upstream: options.name, reason }, "upstream wrote a line that is not JSON-RPC"),
  });
}

function createHttpTransport(config: HttpUpstreamConfig): Transport {
  const url = new URL(config.url);
  const dispatcher = config.tls
    ? new Agent({
        connect: {
          ca: config.tls.ca,
          cert: config.tls.cert,
          key: config.tls.key,
          servername: config.tls.servername,
          rejectUnauthorized: config.tls.rejectUnauthorized,
          minVersion: "TLSv1.2",
        },
      })
    : undefined;
  // undici's own fetch: Node's built-in fetch bundles an older undici that rejects newer dispatchers.
  const fetchWithTls = dispatcher
    ? (input: string | URL, init?: RequestInit) =>
        undiciFetch(input, { ...(init as UndiciRequestInit), dispatcher }) as unknown as Promise<Response>
    : fetch;
  const requestInit: RequestInit = { headers: config.headers };
  const tracedFetch = withTraceHeaders(withUpstreamCredentials(config.auth, config.url, fetchWithTls));
  if (config.transport === "sse") {
    return new SSEClientTransport(url, { requestInit, fetch: tracedFetch });
  }
  return new StreamableHTTPClientTransport(url, { requestInit, fetch: tracedFetch });
}

/**
 * A fetch that adds the W3C `traceparent`/`tracestate` of the traced call it runs for (set by the
 * gateway for this request only; the client's own headers never reach an upstream).
 */
function withTraceHeaders(
  send: (input: string | URL, init?: RequestInit) => Promise<Response>,
): (input: string | URL, init?: RequestInit) => Promise<Response> {
  return (input, init) => {
    const carrier = upstreamTraceHeaders();
    if (!carrier) return send(input, init);
    const headers = new Headers(init?.headers);
    headers.set("traceparent", carrier.traceparent);
    if (carrier.tracestate) headers.set("tracestate", carrier.tracestate);
    else headers.delete("tracestate");
    return send(input, { ...init, headers });
  };
}

/** Maps SDK client failures onto the gateway's error catalogue; upstream JSON-RPC errors pass through. */
export function toGatewayError(err: unknown, upstream: string): GatewayError | UpstreamRpcError {
  if (err instanceof GatewayError || err instanceof UpstreamRpcError) return err;
  if (err instanceof UpstreamCredentialError) return credentialFailure(upstream, err.message);
  if (err instanceof SdkHttpError && (err.status === 401 || err.status === 403))
    return credentialFailure(upstream, `the upstream refused the credential (HTTP ${err.status})`);
  if (err instanceof ProtocolError && isMalformedResponse(err.data)) {
    const detail = `${upstream}: answered with a malformed response`;
    return new GatewayError("PORTCULLIS_E_UPSTREAM_PROTOCOL", detail, { upstream });
  }
  if (err instanceof ProtocolError) return new UpstreamRpcError(upstream, err.code, err.message, err.data);
  if (err instanceof SdkError) {
    switch (err.code) {
      case SdkErrorCode.RequestTimeout:
        return new GatewayError("PORTCULLIS_E_UPSTREAM_TIMEOUT", upstream, { upstream });
      case SdkErrorCode.InvalidResult:
      case SdkErrorCode.UnsupportedResultType:
        return new GatewayError("PORTCULLIS_E_UPSTREAM_PROTOCOL", `${upstream}: ${err.message}`, {
          upstream,
        });
      case SdkErrorCode.CapabilityNotSupported:
        return new GatewayError("PORTCULLIS_E_METHOD_NOT_FOUND", `${upstream}: ${err.message}`, { upstream });
      // Refused by the SDK before sending: a method the upstream's revision does not have, which
      // says nothing about the upstream's health.
      case SdkErrorCode.MethodNotSupportedByProtocolVersion:
        return new GatewayError("PORTCULLIS_E_NOT_BRIDGEABLE", `${upstream}: ${err.message}`, { upstream });
      default:
        return new GatewayError("PORTCULLIS_E_UPSTREAM_UNAVAILABLE", `${upstream}: ${err.message}`, {
          upstream,
        });
    }
  }
  if (err instanceof Error && err.name === "AbortError") {
    return new GatewayError("PORTCULLIS_E_UPSTREAM_UNAVAILABLE", `${upstream}: request cancelled`, {
      upstream,
    });
  }
  const message = err instanceof Error ? err.message : String(err);
  return new GatewayError("PORTCULLIS_E_UPSTREAM_UNAVAILABLE", `${upstream}: ${message}`, { upstream });
}
