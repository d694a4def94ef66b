// Answers 2026-07-28 (stateless) requests. There is no protocol session: the gateway keeps the
// security state (and the isolated upstream connections) per principal and client instead, and
// streams a request's progress on its own response when the client accepts event streams.
import type { IncomingMessage, ServerResponse } from "node:http";
import { StreamCounter } from "../layers/network/streams.ts";
import type { InboundModernRoute } from "@modelcontextprotocol/server";
import type { ClientCapabilities } from "@modelcontextprotocol/client";
import type { Logger } from "pino";
import { GatewayError, toWireError } from "../errors.ts";
import type { Gateway } from "../gateway.ts";
import { MODERN_VERSIONS } from "../protocol.ts";
import { principalKey, type Principal, type RequestContext } from "../pipeline/types.ts";
import {
  ClientSession,
  sessionDigest,
  type ClientChannel,
  type RequestRef,
} from "../session/clientSession.ts";
import { buildContext } from "../pipeline/context.ts";
import { carrierFromNodeHeaders } from "../observability/traceContext.ts";
import { encodeResult } from "./eraCodec.ts";
import { honoredFilter, openListenStream, type ListenStream } from "./listen.ts";
import { InputRounds } from "./inputRounds.ts";
import { checkModernRequest } from "./modernHeaders.ts";
import { bearerTokenOf } from "../layers/identity/index.ts";
import { rpcError, sendError, sendJson } from "./respond.ts";
import { callerSubject, type SessionsPerCaller } from "../layers/ratelimit/index.ts";

const CLIENT_INFO_META_KEY = "io.modelcontextprotocol/clientInfo";
const CLIENT_CAPABILITIES_META_KEY = "io.modelcontextprotocol/clientCapabilities";

type StreamWriter = (message: Record<string, unknown>) => void;

/** The channel of a stateless client: notifications travel on the stream of the request they relate to. */
class StatelessChannel implements ClientChannel {
  readonly era = "modern" as const;
  readonly streams = new Map<string, StreamWriter>();
  /** Open `subscriptions/listen` streams by subscription id. */
  readonly listeners = new Map<string, ListenStream>();
  capabilities: ClientCapabilities = {};

  notify(method: string, params: Record<string, unknown> | undefined, related?: RequestRef): void {
    if (related === undefined) {
      for (const listener of this.listeners.values()) listener.deliver(method, params);
      return;
    }
    this.streams.get(related.key)?.({ jsonrpc: "2.0", method, ...(params ? { params } : {}) });
  }

  /** This client's input rounds (a 2025-era upstream asking for sampling, elicitation, roots). */
  readonly rounds: InputRounds;

  constructor(binding: string) {
    this.rounds = new InputRounds(binding);
  }

  request(
    method: string,
    params: Record<string, unknown> | undefined,
    options: { related?: RequestRef; signal: AbortSignal },
  ): Promise<Record<string, unknown>> {
    return this.rounds.ask(method, params, options);
  }
}

/** Refusals that 2026-07-28 answers with an HTTP status of their own, as the edge would. */
const REFUSAL_STATUS: Readonly<Record<string, number>> = {
  PORTCULLIS_E_RATE_LIMITED: 429,
  PORTCULLIS_E_QUOTA_EXCEEDED: 429,
  PORTCULLIS_E_STATE_UNAVAILABLE: 503,
};

/** Sessions per principal across both eras (network.maxSessionsPerPrincipal), and its refusals' report. */
export interface SessionCap {
  readonly perCaller: SessionsPerCaller;
  refused(clientAddress: string | undefined, refusal: GatewayError): void;
}

export class ModernResponder {
  private readonly sessions = new Map<string, ClientSession>();
  /**
   * Requests and listen streams each principal's stateless clients have open now, together
   * (network.maxStreamsPerSession): a client name is the caller's to choose, so keyed by it, every
   * invented name would bring a fresh budget.
   */
  private readonly streams = new StreamCounter();
  private readonly gateway: Gateway;
  private readonly logger: Logger;
  private readonly sessionCap: SessionCap;

  constructor(gateway: Gateway, logger: Logger, sessionCap: SessionCap) {
    this.gateway = gateway;
    this.logger = logger;
    this.sessionCap = sessionCap;
  }

  async respond(
    req: IncomingMessage,
    res: ServerResponse,
    route: InboundModernRoute,
    principal: Principal,
    clientAddress: string | undefined,
  ): Promise<void> {
    const message = route.message;
    const params = message.params;
    const rejection = checkModernRequest(
      req,
      route.classification.revision ?? "",
      message.method,
      params,
      route.messageKind === "request",
    );
    if (rejection) {
      const id = route.messageKind === "request" ? route.message.id : null;
      sendJson(res, rejection.httpStatus, rpcError(id, rejection.code, rejection.message, rejection.data));
      return;
    }
    const meta = (params?._meta ?? {}) as Record<string, unknown>;
    const caller = callerSubject(principal, clientAddress);
    const session = this.sessionFor(principal, meta, clientAddress, caller);
    if (session instanceof GatewayError) {
      sendError(res, session);
      return;
    }
    const maxStreams = this.gateway.currentConfig.network.maxStreamsPerSession;
    if (!this.streams.admit(caller, res, maxStreams)) return;
    session.principal = principal;
    session.credentialExpiresAt = principal.expiresAt;
    session.bearerToken = bearerTokenOf(principal);
    const channel = session.channel as StatelessChannel;
    channel.capabilities = (meta[CLIENT_CAPABILITIES_META_KEY] as ClientCapabilities | undefined) ?? {};
    const ctx = buildContext(
      {
        transport: "http",
        era: "modern",
        protocolVersion: MODERN_VERSIONS[0],
        clientAddress,
        principal,
        traceCarrier: carrierFromNodeHeaders(req.headers),
      },
      session,
    );
    if (route.messageKind === "notification") {
      await this.gateway.handleNotification(session, ctx, message.method, params);
      res.writeHead(202).end();
      return;
    }
    const { id } = route.message;
    if (message.method === "subscriptions/listen") return this.listen(res, session, ctx, id, params);
    const wantsStream = acceptsEventStream(req) && meta.progressToken !== undefined;
    let stream: StreamWriter | undefined;
    if (wantsStream) {
      res.writeHead(200, {
        "content-type": "text/event-stream",
        "cache-control": "no-store",
        connection: "keep-alive",
      });
      stream = (m) => res.write(`event: message\ndata: ${JSON.stringify(m)}\n\n`);
      channel.streams.set(ctx.id, stream);
    }
    // A client that closes its stream before the answer cancels the upstream call.
    const disconnected = new AbortController();
    res.once("close", () => {
      if (!res.writableFinished) disconnected.abort(new Error("the client closed the stream"));
    });
    let reply: Record<string, unknown>;
    try {
      reply = await this.answer(session, ctx, id, message.method, params, disconnected.signal);
    } catch (err) {
      reply = { jsonrpc: "2.0", id, error: toWireError(err).toJsonRpcError() };
    } finally {
      channel.streams.delete(ctx.id);
    }
    if (stream) {
      stream(reply);
      res.end();
      return;
    }
    const error = reply.error as { code?: number; data?: Record<string, unknown> } | undefined;
    // A step-up is an OAuth challenge (403 insufficient_scope with acr_values and max_age).
    const challenge =
      error?.data?.code === "PORTCULLIS_E_STEP_UP_REQUIRED" ? error.data.wwwAuthenticate : undefined;
    if (typeof challenge === "string") {
      res.setHeader("www-authenticate", challenge);
      sendJson(res, 403, reply);
      return;
    }
    // A rate limit or quota is a 429 with Retry-After; shared state out of reach is a 503. Only the
    // gateway's own refusals (a layer named in data) get a status: an upstream's error never does.
    const refusal = error?.data?.code;
    if (typeof refusal === "string" && Object.hasOwn(REFUSAL_STATUS, refusal) && error?.data?.layer) {
      const retryAfter = Number(error?.data?.retryAfterSeconds);
      if (retryAfter > 0) res.setHeader("retry-after", String(Math.ceil(retryAfter)));
      sendJson(res, REFUSAL_STATUS[refusal] ?? 200, reply);
      return;
    }
    sendJson(res, httpStatusOf(error), reply);
  }

  /**
   * Runs one request, or one round of a request whose upstream asked for client input: a retry
   * carrying this gateway's sealed request state resumes the waiting upstream call.
   */
  private async answer(
    session: ClientSession,
    ctx: RequestContext,
    id: string | number,
    method: string,
    params: Record<string, unknown> | undefined,
    signal: AbortSignal,
  ): Promise<Record<string, unknown>> {
    const channel = session.channel as StatelessChannel;
    const round = await channel.rounds.run(ctx.id, method, params, () =>
      this.gateway.handleRequest(session, ctx, id, method, params, { signal }),
    );
    if (round.kind === "refused") return rpcError(id, -32602, round.message);
    if (round.kind === "input")
      return { jsonrpc: "2.0", id, result: encodeResult("modern", method, round.result) };
    const { outcome } = round;
    return "error" in outcome
      ? { jsonrpc: "2.0", id, error: modernError(outcome.error) }
      : { jsonrpc: "2.0", id, result: encodeResult("modern", method, outcome.result) };
  }

  private async listen(
    res: ServerResponse,
    session: ClientSession,
    ctx: RequestContext,
    id: string | number,
    params: Record<string, unknown> | undefined,
  ): Promise<void> {
    let gone = false;
    res.once("close", () => (gone = true));
    const admitted = await this.gateway.handleRequest(session, ctx, id, "subscriptions/listen", params);
    if ("error" in admitted) {
      sendJson(
        res,
        httpStatusOf(admitted.error),
        rpcError(id, admitted.error.code, admitted.error.message, admitted.error.data),
      );
      return;
    }
    const filter = honoredFilter(params?.notifications);
    const subscribed: string[] = [];
    for (const uri of filter.resourceSubscriptions ?? []) {
      // Each URI is a subscription request of its own: the layers decide it and it is logged.
      const outcome = await this.gateway.handleRequest(
        session,
        ctx,
        id,
        "resources/subscribe",
        { uri },
        {
          subscriptionSource: "stream",
        },
      );
      if ("error" in outcome)
        this.logger.debug({ uri, error: outcome.error }, "listen: resource subscription refused");
      else subscribed.push(uri);
    }
    if (filter.resourceSubscriptions) {
      if (subscribed.length > 0) filter.resourceSubscriptions = subscribed;
      else delete filter.resourceSubscriptions;
    }
    const release = () => {
      for (const uri of subscribed)
        void this.gateway.setResourceSubscription(session, uri, false, "stream").catch(() => undefined);
    };
    if (gone) return release(); // the client left while the subscriptions were being set up
    const channel = session.channel as StatelessChannel;
    const key = ctx.id;
    const stream = openListenStream(res, id, filter, () => {
      channel.listeners.delete(key);
      release();
    });
    channel.listeners.set(key, stream);
  }

  /**
   * Stateless traffic keeps its state per principal and client name; no client-supplied handle is
   * trusted. New state counts against the principal's (`caller`'s) share of sessions.
   */
  private sessionFor(
    principal: Principal,
    meta: Record<string, unknown>,
    clientAddress: string | undefined,
    caller: string,
  ): ClientSession | GatewayError {
    const info = meta[CLIENT_INFO_META_KEY] as { name?: unknown; version?: unknown } | undefined;
    const clientName = typeof info?.name === "string" ? info.name : "unknown";
    // The client name is self-declared: it separates an authenticated principal's agents, but for
    // anonymous callers only the network address tells one caller from another.
    const who =
      principal.kind === "anonymous" ? `${principal.id}@${clientAddress ?? "?"}` : principalKey(principal);
    const key = `${who}\u0000${clientName}`;
    // The id never leaves the gateway; derived from the key, so that its digest names this
    // principal and client on every node and a revocation outlives the state it ended.
    const id = `stateless\u0000${key}`;
    const revoked = this.gateway.enforcements.sessionRevoked(sessionDigest(id));
    if (revoked) return new GatewayError("PORTCULLIS_E_SESSION_REVOKED", revoked.reason);
    let session = this.sessions.get(key);
    if (!session || session.isClosed) {
      const config = this.gateway.currentConfig;
      const limit = config.server.maxSessions;
      if (this.gateway.sessionCount >= limit)
        return new GatewayError("PORTCULLIS_E_TOO_MANY_SESSIONS", `limit ${limit}`);
      const place = this.sessionCap.perCaller.reserve(caller, config.network.maxSessionsPerPrincipal);
      if (place instanceof GatewayError) {
        this.sessionCap.refused(clientAddress, place);
        return place;
      }
      session = new ClientSession(
        id,
        new StatelessChannel(key),
        { name: clientName, version: typeof info?.version === "string" ? info.version : "" },
        MODERN_VERSIONS[0],
        { transport: "http", clientAddress, principal },
      );
      place.bind(session);
      this.sessions.set(key, session);
      this.gateway.register(session);
      const held = session;
      held.terminate = () => {
        if (this.sessions.get(key) === held) this.sessions.delete(key);
        for (const listener of (held.channel as StatelessChannel).listeners.values()) listener.end();
        void this.gateway.unregister(held);
      };
      this.logger.debug({ session: session.digest, client: clientName }, "stateless client state created");
    }
    return session;
  }

  /** Closes the state of clients idle for longer than `idleMs`. */
  /**
   * Closes the state of clients idle for longer than `idleMs`, and of any older than
   * `maxLifetimeMs` however busy (its listen streams end; the client simply opens new ones).
   */
  sweep(idleMs: number, maxLifetimeMs: number): void {
    const now = Date.now();
    for (const [key, session] of this.sessions) {
      const channel = session.channel as StatelessChannel;
      if (now - session.createdAt > maxLifetimeMs) {
        session.terminate?.();
        continue;
      }
      // Open listen streams and pending input rounds are activity, however quiet.
      if (channel.listeners.size > 0 || channel.rounds.pending > 0) session.touch();
      if (now - session.lastSeen <= idleMs) continue;
      this.sessions.delete(key);
      void this.gateway.unregister(session);
    }
  }
}

/** Upstreams of the 2025 revisions may answer -32002 for a missing resource; 2026-07-28 says -32602. */
function modernError<E extends { code: number }>(error: E): E {
  return error.code === -32002 ? { ...error, code: -32602 } : error;
}

/**
 * 2026-07-28 over HTTP gives some JSON-RPC errors an HTTP status of their own: an unknown method is
 * a 404; header mismatches, unsupported revisions and missing client capabilities are 400s.
 */
function httpStatusOf(error: { code?: number } | undefined): number {
  if (error?.code === -32601) return 404;
  if (error?.code === -32020 || error?.code === -32021 || error?.code === -32022) return 400;
  return 200;
}

function acceptsEventStream(req: IncomingMessage): boolean {
  return (req.headers.accept ?? "").includes("text/event-stream");
}
