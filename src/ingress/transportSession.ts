// Serves one client over an SDK server transport (stdio, or one 2025-era Streamable HTTP session):
// answers the handshake, runs each message through the gateway, relays server-to-client requests.
import { randomUUID } from "node:crypto";
import type { JSONRPCMessage, Transport } from "@modelcontextprotocol/server";
import type { ClientCapabilities } from "@modelcontextprotocol/client";
import { GatewayError, JsonRpcCode, toWireError, UpstreamRpcError } from "../errors.ts";
import type { Gateway } from "../gateway.ts";
import { initializeResult, MODERN_VERSIONS } from "../protocol.ts";
import { anonymousPrincipal, type Era, type Principal } from "../pipeline/types.ts";
import {
  ClientSession,
  newSessionId,
  type ClientChannel,
  type RequestRef,
} from "../session/clientSession.ts";
import { sessionContext } from "../pipeline/context.ts";
import { carrierFromRequest, type TraceCarrier } from "../observability/traceContext.ts";
import { encodeResult } from "./eraCodec.ts";
import { InputRounds } from "./inputRounds.ts";
import { filterAccepts, honoredFilter, tagged, type SubscriptionFilter } from "./listen.ts";
import { edgeRateLimitOf } from "../layers/index.ts";

const PROTOCOL_VERSION_META_KEY = "io.modelcontextprotocol/protocolVersion";
const CLIENT_CAPABILITIES_META_KEY = "io.modelcontextprotocol/clientCapabilities";
const CLIENT_INFO_META_KEY = "io.modelcontextprotocol/clientInfo";

export interface TransportSessionOptions {
  readonly gateway: Gateway;
  readonly transport: Transport;
  readonly kind: "http" | "stdio";
  readonly clientAddress: string | undefined;
  readonly principal?: Principal;
  /** The session id the transport announced (HTTP), or a fresh one (stdio). */
  readonly sessionId?: () => string | undefined;
  readonly serverRequestTimeoutMs?: number;
  /** The client session was opened (initialize, or a first 2026-07-28 request over stdio). */
  readonly onOpened?: (session: ClientSession) => void;
  readonly onClosed?: (session: ClientSession | undefined) => void;
}

type Pending = { resolve: (r: Record<string, unknown>) => void; reject: (e: Error) => void };

export class TransportSession implements ClientChannel {
  era: Era = "legacy";
  capabilities: ClientCapabilities = {};
  session: ClientSession | undefined;
  private readonly options: TransportSessionOptions;
  private readonly pending = new Map<string, Pending>();
  /** Input rounds of a 2026-07-28 client (none for 2025 clients, which are asked directly). */
  private rounds: InputRounds | undefined;
  /** Open listen streams of a 2026-07-28 stdio client, by subscription (request) id. */
  private readonly listens = new Map<string | number, SubscriptionFilter>();
  private nextRequestId = 0;

  constructor(options: TransportSessionOptions) {
    this.options = options;
    const { transport } = options;
    // Over HTTP the SDK hands on the request: its W3C trace headers may parent the message's span.
    transport.onmessage = (message, extra) =>
      void this.onMessage(message, carrierFromRequest(extra?.request));
    transport.onclose = () => void this.onClose();
  }

  start(): Promise<void> {
    return this.options.transport.start();
  }

  notify(method: string, params: Record<string, unknown> | undefined, related?: RequestRef): void {
    if (this.era === "modern" && related === undefined) {
      // 2026-07-28 has no unsolicited notifications: changes travel on the client's listen streams.
      for (const [subscriptionId, filter] of this.listens) {
        if (!filterAccepts(filter, method, params)) continue;
        void this.options.transport.send(tagged(method, params, subscriptionId)).catch(() => undefined);
      }
      return;
    }
    const message = { jsonrpc: "2.0" as const, method, ...(params ? { params } : {}) };
    this.options.transport
      .send(message, related === undefined ? undefined : { relatedRequestId: related.id })
      .catch(() => undefined);
  }

  request(
    method: string,
    params: Record<string, unknown> | undefined,
    options: { related?: RequestRef; signal: AbortSignal },
  ): Promise<Record<string, unknown>> {
    // A 2026-07-28 client has no server-to-client requests: it is asked in input-required rounds.
    if (this.rounds) return this.rounds.ask(method, params, options);
    const id = `portcullis-${++this.nextRequestId}`;
    const timeoutMs = this.options.serverRequestTimeoutMs ?? 300_000;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => finish(new GatewayError("PORTCULLIS_E_UPSTREAM_TIMEOUT", `client did not answer ${method}`)),
        timeoutMs,
      );
      timer.unref();
      const onAbort = () => finish(new Error("cancelled"));
      const finish = (error?: Error, result?: Record<string, unknown>) => {
        clearTimeout(timer);
        options.signal.removeEventListener("abort", onAbort);
        this.pending.delete(id);
        if (error) reject(error);
        else resolve(result ?? {});
      };
      options.signal.addEventListener("abort", onAbort, { once: true });
      this.pending.set(id, { resolve: (r) => finish(undefined, r), reject: (e) => finish(e) });
      const message = { jsonrpc: "2.0" as const, id, method, ...(params ? { params } : {}) };
      const sendOptions =
        options.related === undefined ? undefined : { relatedRequestId: options.related.id };
      this.options.transport
        .send(message, sendOptions)
        .catch((err: unknown) => finish(err instanceof Error ? err : new Error(String(err))));
    });
  }

  private async onMessage(message: JSONRPCMessage, traceCarrier?: TraceCarrier): Promise<void> {
    if ("method" in message && "id" in message)
      return this.onRequest(message.id, message.method, message.params, traceCarrier);
    if ("method" in message) return this.onNotification(message.method, message.params, traceCarrier);
    if ("id" in message && message.id !== undefined) {
      const waiter = this.pending.get(String(message.id));
      if (!waiter) return;
      if ("result" in message) waiter.resolve(message.result);
      else if ("error" in message)
        waiter.reject(
          new UpstreamRpcError("client", message.error.code, message.error.message, message.error.data),
        );
    }
  }

  private async onRequest(
    id: string | number,
    method: string,
    rawParams: unknown,
    traceCarrier?: TraceCarrier,
  ): Promise<void> {
    const params = rawParams as Record<string, unknown> | undefined;
    // Over HTTP the ingress spent the request's tokens already (and the handshake stays synchronous).
    if (this.options.kind === "stdio" && (await this.refusedAtEdge(id, method))) return;
    if (method === "initialize") return this.onInitialize(id, params);
    const meta = params?._meta as Record<string, unknown> | undefined;
    const envelopeVersion = meta?.[PROTOCOL_VERSION_META_KEY];
    if (!this.session && typeof envelopeVersion === "string") this.startModern(meta ?? {});
    const session = this.session;
    if (!session) {
      return this.reply(id, undefined, {
        code: JsonRpcCode.invalidRequest,
        message: "Send initialize first (2025 revisions) or a 2026-07-28 request envelope",
      });
    }
    const era = this.era;
    const ctx = sessionContext(session, traceCarrier);
    const start = () => this.options.gateway.handleRequest(session, ctx, id, method, params);
    const round = this.rounds ? await this.rounds.run(ctx.id, method, params, start) : undefined;
    if (round?.kind === "refused")
      return this.reply(id, undefined, { code: JsonRpcCode.invalidParams, message: round.message });
    if (round?.kind === "input") return this.reply(id, encodeResult(era, method, round.result));
    const outcome = round?.kind === "done" ? round.outcome : await start();
    if ("error" in outcome) return this.reply(id, undefined, outcome.error);
    if (era === "modern" && method === "subscriptions/listen") return this.openListen(id, params);
    try {
      return this.reply(id, encodeResult(era, method, outcome.result));
    } catch (err) {
      return this.reply(id, undefined, toWireError(err).toJsonRpcError());
    }
  }

  /**
   * stdio has no HTTP edge: its one local user's requests spend the principal's bucket here, before
   * the message stage, so that requests the layers refuse are limited too (ping is never counted).
   */
  private async refusedAtEdge(id: string | number, method: string): Promise<boolean> {
    if (method === "ping") return false;
    const limits = edgeRateLimitOf(this.options.gateway.enforcements);
    const refused = await limits?.admit(
      {
        principal: this.session?.principal ?? this.options.principal ?? anonymousPrincipal,
        clientAddress: this.options.clientAddress,
        transport: "stdio",
        era: this.era,
        method,
        sessionDigest: this.session?.digest,
      },
      { address: 1, principal: 1 },
    );
    if (!refused) return false;
    await this.reply(id, undefined, refused.toJsonRpcError());
    return true;
  }

  private async onInitialize(
    id: string | number,
    params: Record<string, unknown> | undefined,
  ): Promise<void> {
    if (this.session) {
      return this.reply(id, undefined, {
        code: JsonRpcCode.invalidRequest,
        message: "Session is already initialized",
      });
    }
    const result = initializeResult(params?.protocolVersion);
    this.capabilities = (params?.capabilities as ClientCapabilities | undefined) ?? {};
    this.era = "legacy";
    this.openSession(String(result.protocolVersion), params?.clientInfo);
    await this.reply(id, result);
  }

  private startModern(meta: Record<string, unknown>): void {
    this.era = "modern";
    // One stdio connection is one client: its rounds are bound to this connection alone.
    this.rounds = new InputRounds(randomUUID());
    this.capabilities = (meta[CLIENT_CAPABILITIES_META_KEY] as ClientCapabilities | undefined) ?? {};
    const version = String(meta[PROTOCOL_VERSION_META_KEY]);
    this.openSession(
      (MODERN_VERSIONS as readonly string[]).includes(version) ? version : MODERN_VERSIONS[0],
      meta[CLIENT_INFO_META_KEY],
    );
  }

  private openSession(protocolVersion: string, clientInfo: unknown): void {
    const info = clientInfo as { name?: unknown; version?: unknown } | undefined;
    const session = new ClientSession(
      this.options.sessionId?.() ?? newSessionId(),
      this,
      typeof info?.name === "string"
        ? { name: info.name, version: typeof info.version === "string" ? info.version : "" }
        : undefined,
      protocolVersion,
      {
        transport: this.options.kind,
        clientAddress: this.options.clientAddress,
        principal: this.options.principal ?? anonymousPrincipal,
      },
    );
    session.terminate = () => void this.options.transport.close().catch(() => undefined);
    this.session = session;
    this.options.gateway.register(session);
    this.options.onOpened?.(session);
  }

  /** A listen stream over stdio: acknowledged now, answered only when the client cancels it. */
  private openListen(id: string | number, params: Record<string, unknown> | undefined): Promise<void> {
    const filter = honoredFilter(params?.notifications);
    const subscriptionId = id;
    this.listens.set(subscriptionId, filter);
    const ack = tagged("notifications/subscriptions/acknowledged", { notifications: filter }, subscriptionId);
    return this.options.transport.send(ack).catch(() => undefined);
  }

  private async onNotification(method: string, params: unknown, traceCarrier?: TraceCarrier): Promise<void> {
    const session = this.session;
    if (!session) return;
    if (method === "notifications/cancelled") {
      const requestId = (params as { requestId?: unknown } | undefined)?.requestId;
      if ((typeof requestId === "string" || typeof requestId === "number") && this.listens.delete(requestId))
        return;
    }
    const ctx = sessionContext(session, traceCarrier);
    await this.options.gateway.handleNotification(
      session,
      ctx,
      method,
      params as Record<string, unknown> | undefined,
    );
  }

  private async reply(
    id: string | number,
    result: Record<string, unknown> | undefined,
    error?: { code: number; message: string; data?: unknown },
  ): Promise<void> {
    const message = error
      ? { jsonrpc: "2.0" as const, id, error }
      : { jsonrpc: "2.0" as const, id, result: result ?? {} };
    await this.options.transport.send(message, { relatedRequestId: id }).catch(() => undefined);
  }

  private async onClose(): Promise<void> {
    for (const waiter of this.pending.values()) waiter.reject(new Error("client disconnected"));
    this.pending.clear();
    const session = this.session;
    if (session) await this.options.gateway.unregister(session);
    this.options.onClosed?.(session);
  }
}
