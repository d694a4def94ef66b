// The Streamable HTTP ingress: one endpoint serving both protocol eras, classified per request by
// the SDK's inbound ladder (headers checked against the body); 2025-era clients get sessions with
// SSE streams, 2026-07-28 requests are answered statelessly. Also /healthz and /readyz.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createServer as createHttpsServer, type Server as HttpsServer } from "node:https";
import { performance } from "node:perf_hooks";
import { tlsServerOptions } from "./tls.ts";
import { isLoopbackHost } from "../config/secureUrl.ts";
import { upstreamTokenSigner } from "../upstream/credentials.ts";

/** Where upstreams find the keys of the tokens the gateway signs for them. */
export const UPSTREAM_JWKS_PATH = "/.well-known/portcullis/upstream-jwks.json";
import type { AddressInfo } from "node:net";
import { NodeStreamableHTTPServerTransport } from "@modelcontextprotocol/node";
import { classifyInboundRequest } from "@modelcontextprotocol/server";
import type { Logger } from "pino";
import type { GatewayConfig } from "../config/schema.ts";
import type { GatewayMetrics } from "../observability/metrics.ts";
import { GatewayError, JsonRpcCode, toWireError } from "../errors.ts";
import type { Gateway } from "../gateway.ts";
import { LEGACY_VERSIONS } from "../protocol.ts";
import { newSessionId, sessionDigest, type ClientSession } from "../session/clientSession.ts";

type ClientSessionLike = Pick<
  ClientSession,
  "origin" | "digest" | "credentialExpiresAt" | "bearerToken" | "principal"
>;
import { BoundedEventStore } from "../session/eventStore.ts";
import { readJsonBody } from "./body.ts";
import { checkRebinding } from "./rebinding.ts";
import { rpcError, sendError, sendJson } from "./respond.ts";
import { ModernResponder, type SessionCap } from "./modern.ts";
import { TransportSession } from "./transportSession.ts";
import { networkGuard } from "../layers/network/index.ts";
import { guardConnections, serverTimeouts } from "../layers/network/connections.ts";
import { StreamCounter } from "../layers/network/streams.ts";
import { EventThrottle } from "../events/throttle.ts";
import { clientAddressResolver } from "../layers/network/clientAddress.ts";
import { Authenticator, bearerTokenOf } from "../layers/identity/index.ts";
import { principalKey, type Era, type Principal } from "../pipeline/types.ts";
import { edgeRateLimitOf } from "../layers/index.ts";
import {
  callerSubject,
  edgeLoadOf,
  SessionsPerCaller,
  STREAM_LOAD,
  type EdgeLoad,
} from "../layers/ratelimit/index.ts";
import { buildContext } from "../pipeline/context.ts";

export interface HttpIngressOptions {
  readonly gateway: Gateway;
  readonly logger: Logger;
  readonly metrics?: GatewayMetrics;
  readonly config: () => GatewayConfig;
  /** The config file's folder (key stores and JWKS files are relative to it). */
  readonly baseDir: () => string;
}

export interface HttpIngress {
  readonly server: Server;
  readonly url: string;
  /** Stop taking connections and requests; in-flight ones continue. */
  stopAccepting(): Promise<void>;
  /** Reads the TLS certificate, key and client CA again (rotation); new connections get them. */
  reloadCertificates(): void;
  /** Close every session and connection. */
  close(): Promise<void>;
}

interface LegacySession {
  readonly transport: NodeStreamableHTTPServerTransport;
  readonly bridge: TransportSession;
}

export async function startHttpIngress(options: HttpIngressOptions): Promise<HttpIngress> {
  const { gateway, logger } = options;
  const sessions = new Map<string, LegacySession>();
  const network = networkGuard(gateway.enforcements, () => options.config().network);
  /** Requests and streams each 2025 session has open now (network.maxStreamsPerSession). */
  const streams = new StreamCounter();
  /** One event per second per address and refusal, however many requests or connections are refused. */
  const edgeEvents = new EventThrottle();
  /** Sessions each principal holds, both eras together (network.maxSessionsPerPrincipal). */
  const sessionCap: SessionCap = {
    perCaller: new SessionsPerCaller(),
    refused(address, refusal) {
      if (edgeEvents.take(`${refusal.code}:${address ?? ""}`)) gateway.reportBlocked(address, refusal);
    },
  };
  const modern = new ModernResponder(gateway, logger, sessionCap);
  // The listener's TLS settings are read once, at start (the socket cannot change its mind later).
  const tls = options.config().server.tls;
  const mutualTls = tls?.clientCertificates ?? "off";
  let identity = {
    config: options.config().identity,
    authenticator: new Authenticator(options.config().identity, options.baseDir(), mutualTls),
  };
  /** The authenticator of the running config (rebuilt when a reload changes the identity section). */
  const authenticator = (): Authenticator => {
    const current = options.config().identity;
    if (current !== identity.config)
      identity = { config: current, authenticator: new Authenticator(current, options.baseDir(), mutualTls) };
    return identity.authenticator;
  };

  /** Authenticates one request; a refusal is answered here (and raises an event). */
  async function authenticate(
    req: IncomingMessage,
    res: ServerResponse,
    address: string | undefined,
  ): Promise<Principal | undefined> {
    const outcome = await authenticator().authenticate(req);
    if (outcome.ok) {
      if (outcome.principal.authMethod !== "none")
        gateway.reportAuthentication("auth_success", address, {
          principal: outcome.principal.id,
          method: outcome.principal.authMethod,
        });
      return outcome.principal;
    }
    if (outcome.attempted)
      gateway.reportAuthentication("auth_failure", address, {
        principal: outcome.principal,
        claimed: outcome.claimed,
        reason: outcome.error.message,
        rule: outcome.error.data?.rule,
      });
    if (outcome.challenge) res.setHeader("www-authenticate", outcome.challenge);
    sendError(res, outcome.error);
    return undefined;
  }

  /**
   * The 2025 session a request names, once it is known to be live, not revoked and this principal's;
   * otherwise the refusal is answered here. A revoked session has been ended already, so its id is
   * hashed (to tell "revoked" from "unknown") only when it is not found.
   */
  function openSession(
    sessionId: string,
    principal: Principal,
    clientAddress: string | undefined,
    res: ServerResponse,
  ): LegacySession | undefined {
    const existing = sessions.get(sessionId);
    const digest = existing?.bridge.session?.digest ?? sessionDigest(sessionId);
    const revoked = gateway.enforcements.sessionRevoked(digest);
    if (revoked) {
      sendError(res, new GatewayError("PORTCULLIS_E_SESSION_REVOKED", revoked.reason));
      return undefined;
    }
    if (!existing) {
      sendError(res, new GatewayError("PORTCULLIS_E_SESSION_NOT_FOUND"));
      return undefined;
    }
    if (!boundTo(existing.bridge.session, principal, clientAddress, res)) return undefined;
    existing.bridge.session?.touch();
    return existing;
  }

  /** A session id presented with another principal's credentials: refused, and an event. */
  function boundTo(
    session: ClientSessionLike | undefined,
    principal: Principal,
    clientAddress: string | undefined,
    res: ServerResponse,
  ): boolean {
    const owner = session?.origin.principal;
    if (!owner || principalKey(owner) === principalKey(principal)) {
      // The newest credential presented for the session decides how long its streams may stay.
      if (session) {
        session.principal = principal;
        session.credentialExpiresAt = principal.expiresAt;
        session.bearerToken = bearerTokenOf(principal);
      }
      return true;
    }
    gateway.reportAuthentication("session_hijack_suspected", clientAddress, {
      principal: principal.id,
      owner: owner.id,
      session: session.digest,
    });
    sendError(
      res,
      new GatewayError("PORTCULLIS_E_SESSION_BINDING", undefined, {
        layer: "identity",
        rule: "session-binding",
      }),
    );
    return false;
  }

  /**
   * The address and principal buckets (rateLimits), checked before any session is looked up or
   * created and before the message stage; a refusal is answered here (429 or, Redis away, 503).
   */
  async function withinRateLimits(
    res: ServerResponse,
    caller: { principal: Principal; clientAddress: string | undefined; era: Era; method: string },
    load: EdgeLoad,
    started: number,
  ): Promise<boolean> {
    const limits = edgeRateLimitOf(gateway.enforcements);
    const refused = await limits?.admit({ ...caller, transport: "http" }, load);
    if (!refused) return true;
    // Counted like a refusal of the layer chain (portcullis_rate_limited_total and requests_total).
    const decidedBy = { layer: "ratelimit", rule: String(refused.data?.rule) };
    options.metrics?.observeOutcome({
      ctx: buildContext({ ...caller, transport: "http", protocolVersion: "" }, undefined),
      method: caller.method,
      target: undefined,
      decidedBy,
      verdict: "deny",
      errorCode: refused.code,
      latencyMs: performance.now() - started,
      layerDecisions: [{ ...decidedBy, verdict: "deny" }],
      params: undefined,
    });
    sendError(res, refused);
    return false;
  }

  let accepting = true;

  const listener = (req: IncomingMessage, res: ServerResponse) => {
    handle(req, res).catch((err: unknown) => {
      logger.error({ err }, "unhandled error in the HTTP ingress");
      if (!res.headersSent) sendError(res, new GatewayError("PORTCULLIS_E_INTERNAL"));
      else res.end();
    });
  };
  const timeouts = serverTimeouts(options.config().network);
  const server: Server = tls
    ? createHttpsServer({ ...tlsServerOptions(tls, options.baseDir()), ...timeouts }, listener)
    : createServer(timeouts, listener);
  guardConnections(server, {
    config: () => options.config().network,
    isTrustedProxy: (address) =>
      clientAddressResolver(options.config().server.trustedProxies).isTrustedProxy(address),
    onRefused: (address, open) => {
      if (!edgeEvents.take(`connections:${address}`)) return;
      const refused = new GatewayError("PORTCULLIS_E_TOO_MANY_CONNECTIONS", `${open} open`, {
        layer: "network",
        rule: "max-connections-per-address",
      });
      gateway.reportBlocked(address, refused);
    },
  });

  /** A refused address learns why (and, when blocked, for how long); the connection is not kept alive. */
  function refuseAddress(res: ServerResponse, address: string | undefined, refused: GatewayError): void {
    if (edgeEvents.take(`${refused.code}:${address ?? ""}`)) gateway.reportBlocked(address, refused);
    res.setHeader("connection", "close");
    sendError(res, refused);
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const started = performance.now();
    const config = options.config();
    const path = (req.url ?? "/").split("?", 1)[0];
    if (path === "/healthz") return sendJson(res, 200, { status: "ok" });
    if (path === "/readyz") {
      const ready = gateway.isReady() && accepting;
      // States only: error texts, commands and URLs stay in the log, off this unauthenticated probe.
      const upstreams = gateway.upstreamStatus().map(({ name, state }) => ({ name, state }));
      return sendJson(res, ready ? 200 : 503, { ready, upstreams });
    }
    // Resolved once per request; every check and event below uses this one.
    let clientAddress: string | undefined;
    try {
      clientAddress = clientAddressResolver(
        config.server.trustedProxies,
        config.network.forwardedHeader,
      ).resolve(req);
    } catch (err) {
      res.setHeader("connection", "close");
      return sendError(res, toWireError(err) as GatewayError);
    }
    const refused = network.admit(clientAddress);
    if (refused) return refuseAddress(res, clientAddress, refused);
    if (path === "/metrics" && options.metrics && config.server.metrics) {
      // Detection counters and upstream states are for operators: credentials like any other call.
      if (authenticator().required && !(await authenticate(req, res, clientAddress))) return;
      const text = await options.metrics.render();
      res.writeHead(200, { "content-type": options.metrics.contentType });
      res.end(text);
      return;
    }
    const auth = authenticator();
    const signer = upstreamTokenSigner();
    if (req.method === "GET" && path === UPSTREAM_JWKS_PATH && signer)
      return sendJson(res, 200, await signer.publicJwks());
    if (req.method === "GET" && path !== undefined && auth.metadataPaths(config.server.path).includes(path))
      return sendJson(res, 200, auth.metadata());
    if (path !== config.server.path) return sendJson(res, 404, { error: "not found" });
    const rebinding = checkRebinding(req, config.server);
    if (rebinding) return sendError(res, rebinding);
    if (!accepting) return sendError(res, new GatewayError("PORTCULLIS_E_SHUTTING_DOWN"));

    const principal = await authenticate(req, res, clientAddress);
    if (!principal) return;
    const sessionId = header(req, "mcp-session-id");
    if (req.method === "GET" || req.method === "DELETE") {
      if (!sessionId) return sendError(res, new GatewayError("PORTCULLIS_E_SESSION_REQUIRED"));
      // A stream is a request; ending a session only ever reduces work, so it is never refused.
      const caller = { principal, clientAddress, era: "legacy" as const, method: req.method };
      if (req.method === "GET" && !(await withinRateLimits(res, caller, STREAM_LOAD, started))) return;
      const existing = openSession(sessionId, principal, clientAddress, res);
      if (!existing || !streams.admit(sessionId, res, config.network.maxStreamsPerSession)) return;
      return existing.transport.handleRequest(req, res);
    }
    if (req.method !== "POST") {
      res.setHeader("Allow", "GET, POST, DELETE");
      return sendJson(
        res,
        405,
        rpcError(null, JsonRpcCode.invalidRequest, `HTTP method ${req.method} is not allowed`),
      );
    }
    const contentType = header(req, "content-type") ?? "";
    if (!/^application\/json\b/i.test(contentType)) {
      return sendError(res, new GatewayError("PORTCULLIS_E_CONTENT_TYPE", `got "${contentType || "none"}"`));
    }
    let body: unknown;
    try {
      body = await readJsonBody(req, {
        maxBytes: config.server.maxBodyBytes,
        maxDepth: config.server.maxJsonDepth,
        maxString: config.network.maxStringLength,
        timeoutMs: config.server.bodyTimeoutMs,
      });
    } catch (err) {
      return sendError(res, toWireError(err) as GatewayError);
    }
    if (body === null || typeof body !== "object") {
      return sendError(
        res,
        new GatewayError("PORTCULLIS_E_INVALID_REQUEST", "the body must be a JSON-RPC object"),
      );
    }
    const outcome = classifyInboundRequest({
      httpMethod: "POST",
      protocolVersionHeader: header(req, "mcp-protocol-version"),
      mcpMethodHeader: header(req, "mcp-method"),
      mcpNameHeader: header(req, "mcp-name"),
      body,
    });
    if (outcome.kind === "reject") {
      const id = (body as { id?: unknown }).id;
      return sendJson(
        res,
        outcome.httpStatus,
        rpcError(isId(id) ? id : null, outcome.code, outcome.message, outcome.data),
      );
    }
    // Every message of a batch counts, and is checked: one that lacks a scope refuses the whole request.
    const messages: unknown[] = Array.isArray(body) ? body : [body];
    const era: Era = outcome.kind === "modern" ? "modern" : "legacy";
    const caller = { principal, clientAddress, era, method: messageTarget(messages[0] ?? {})[0] };
    if (!(await withinRateLimits(res, caller, edgeLoadOf(messages), started))) return;
    let scopeRefusal: ReturnType<Authenticator["missingScopes"]>;
    for (const message of messages) scopeRefusal ??= auth.missingScopes(principal, ...messageTarget(message));
    if (scopeRefusal && !scopeRefusal.ok) {
      gateway.reportAuthentication("authz_denied", clientAddress, {
        principal: principal.id,
        rule: "required-scope",
        scope: scopeRefusal.error.data?.scope,
      });
      if (scopeRefusal.challenge) res.setHeader("www-authenticate", scopeRefusal.challenge);
      return sendError(res, scopeRefusal.error);
    }
    if (outcome.kind === "modern") return modern.respond(req, res, outcome, principal, clientAddress);

    if (sessionId) {
      const existing = openSession(sessionId, principal, clientAddress, res);
      if (!existing || !streams.admit(sessionId, res, config.network.maxStreamsPerSession)) return;
      return existing.transport.handleRequest(req, res, body);
    }
    if (outcome.reason !== "initialize") {
      return sendError(res, new GatewayError("PORTCULLIS_E_SESSION_REQUIRED", "send initialize first"));
    }
    if (gateway.sessionCount >= config.server.maxSessions) {
      return sendError(
        res,
        new GatewayError("PORTCULLIS_E_TOO_MANY_SESSIONS", `limit ${config.server.maxSessions}`),
      );
    }
    const place = sessionCap.perCaller.reserve(
      callerSubject(principal, clientAddress),
      config.network.maxSessionsPerPrincipal,
    );
    if (place instanceof GatewayError) {
      sessionCap.refused(clientAddress, place);
      return sendError(res, place);
    }
    const transport: NodeStreamableHTTPServerTransport = new NodeStreamableHTTPServerTransport({
      sessionIdGenerator: newSessionId,
      eventStore: new BoundedEventStore(1000),
      retryInterval: 1000,
      onsessioninitialized: (id: string) => void sessions.set(id, { transport, bridge }),
    });
    transport.setSupportedProtocolVersions([...LEGACY_VERSIONS]);
    const bridge = new TransportSession({
      gateway,
      transport,
      kind: "http",
      clientAddress,
      principal,
      sessionId: () => transport.sessionId,
      onOpened: (session) => place.bind(session),
      onClosed: () => {
        if (transport.sessionId) sessions.delete(transport.sessionId);
      },
    });
    try {
      await bridge.start();
      await transport.handleRequest(req, res, body);
    } finally {
      // The SDK refused the initialize (no session was opened): the place is free again.
      if (!place.bound) place.release();
    }
  }

  const sweeper = setInterval(() => {
    const { sessionIdleTimeoutMs, sessionMaxLifetimeMs } = options.config().server;
    const now = Date.now();
    modern.sweep(sessionIdleTimeoutMs, sessionMaxLifetimeMs);
    sessionCap.perCaller.sweep();
    for (const [id, entry] of sessions) {
      const session = entry.bridge.session;
      if (!session) continue;
      if (now - session.lastSeen > sessionIdleTimeoutMs || now - session.createdAt > sessionMaxLifetimeMs) {
        logger.info({ session: session.digest }, "closing an expired session");
        sessions.delete(id);
        void entry.transport.close();
      }
    }
  }, sweepEvery(options.config().server.sessionIdleTimeoutMs));
  sweeper.unref();

  // Streams outlive the request that opened them: end a session once its credential has expired
  // or its API key was revoked, rather than at the client's next request.
  const credentialSweeper = setInterval(() => {
    const auth = authenticator();
    if (!auth.required) return;
    const now = Date.now();
    for (const session of gateway.clientSessions()) {
      if (session.origin.transport !== "http" || session.isClosed) continue;
      let holds: boolean;
      try {
        holds = auth.credentialHolds(session.principal, session.credentialExpiresAt, now);
      } catch {
        holds = false; // a key store that cannot be read vouches for nobody
      }
      if (holds) continue;
      gateway.endSession(session, { reason: "its credential expired or was revoked", source: "identity" });
    }
  }, 1_000);
  credentialSweeper.unref();

  const { host, port } = options.config().server;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => resolve());
  });
  const address = server.address() as AddressInfo;
  const url = `${tls ? "https" : "http"}://${address.family === "IPv6" ? `[${address.address}]` : address.address}:${address.port}${options.config().server.path}`;
  logger.info({ url }, "HTTP ingress listening");
  if (!tls && !isLoopbackHost(host))
    logger.warn(
      { host },
      "serving PLAIN HTTP off loopback (server.insecureAllowPlaintext): safe only behind a TLS-terminating proxy on a private link",
    );

  return {
    server,
    url,
    reloadCertificates() {
      const current = options.config().server.tls;
      if (!tls || !current) return;
      try {
        (server as HttpsServer).setSecureContext(tlsServerOptions(current, options.baseDir()));
        logger.info("TLS certificates reloaded");
      } catch (err) {
        logger.error({ err }, "TLS certificates could not be reloaded; the previous ones stay");
      }
    },
    async stopAccepting() {
      accepting = false;
      server.close();
      server.closeIdleConnections();
    },
    async close() {
      clearInterval(sweeper);
      clearInterval(credentialSweeper);
      await Promise.allSettled([...sessions.values()].map((s) => s.transport.close()));
      sessions.clear();
      server.closeAllConnections();
    },
  };
}

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function isId(id: unknown): id is string | number {
  return typeof id === "string" || typeof id === "number";
}

/** The method of a JSON-RPC message and, for tools/call, the tool it names. */
function messageTarget(body: unknown): [string, string | undefined] {
  const { method, params } = body as { method?: unknown; params?: { name?: unknown } };
  return [
    typeof method === "string" ? method : "",
    typeof params?.name === "string" ? params.name : undefined,
  ];
}

/** How often idle sessions are looked for: a quarter of the idle timeout, between 250 ms and 10 s. */
function sweepEvery(idleMs: number): number {
  return Math.min(10_000, Math.max(250, Math.floor(idleMs / 4)));
}
