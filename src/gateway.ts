// The gateway core: runs every client message through the layer chain, the router and the
// upstreams, and every upstream message back; owns the catalogue, sessions and hot reload.
import { performance } from "node:perf_hooks";
import type { Logger } from "pino";
import type { LoadedConfig } from "./config/load.ts";
import type { GatewayConfig } from "./config/schema.ts";
import { GatewayError, JsonRpcCode, toWireError, UpstreamRpcError, type WireError } from "./errors.ts";
import { sanitizeUpstreamError } from "./layers/data/index.ts";
import type { SecurityEventBus } from "./events/bus.ts";
import { Catalog } from "./federation/catalog.ts";
import { ChangeNotifier } from "./federation/changeNotifier.ts";
import { NameSpacer } from "./federation/naming.ts";
import { paginate } from "./federation/pagination.ts";
import { isListMethod, LIST_METHODS, paramsForUpstream, resolveTarget } from "./federation/router.ts";
import { assembleLayers } from "./layers/index.ts";
import { LayerChain, type ChainRun } from "./pipeline/chain.ts";
import type { MessageOutcome, RequestContext, RouteTarget, Verdict } from "./pipeline/types.ts";
import type { ClientSession, RequestRef } from "./session/clientSession.ts";
import type { SubscriptionSource } from "./session/subscriptions.ts";
import type { ForwardOptions, UpstreamConnection } from "./upstream/connection.ts";
import type { AuditSink } from "./audit/sink.ts";
import type { GatewayMetrics } from "./observability/metrics.ts";
import type { MessageTracer } from "./observability/traceContext.ts";
import { planReload, type ReloadPlan } from "./config/reloadPlan.ts";
import { discoverResult, LIST_CHANGED_NOTIFICATIONS } from "./protocol.ts";
import { fulfilInputRounds, withClientEnvelope } from "./federation/inputBridge.ts";
import { sessionContext } from "./pipeline/context.ts";
import { Upstream } from "./upstream/upstream.ts";
import { asCaller, asGateway, setCallerScoped, type UpstreamCaller } from "./upstream/credentials.ts";
import type { Enforcement, Enforcements } from "./state/enforcements.ts";
import { rangeCovers } from "./layers/network/addressList.ts";
import type { StateStore } from "./state/store.ts";
import type { ApprovalGate } from "./layers/authz/index.ts";

export interface HandleOptions {
  /** Aborts the request, e.g. when a stateless client closes its stream. */
  readonly signal?: AbortSignal;
  /** Whose claim a resources/subscribe is: the client's own (default) or one of its listen streams. */
  readonly subscriptionSource?: SubscriptionSource;
}

/** How a request was decided, filled in as it crosses the gateway. */
interface DecisionTrace {
  target: RouteTarget | undefined;
  decidedBy: MessageOutcome["decidedBy"];
  decisions: MessageOutcome["layerDecisions"];
  verdict: MessageOutcome["verdict"];
  errorCode?: string;
}

export type RpcOutcome =
  { result: Record<string, unknown> } | { error: ReturnType<WireError["toJsonRpcError"]> };

export interface GatewayDependencies {
  readonly logger: Logger;
  readonly events: SecurityEventBus;
  readonly env: NodeJS.ProcessEnv;
  /** The audit store, if the config keeps one; closed when the gateway shuts down. */
  readonly auditSink?: AuditSink;
  readonly node: string;
  readonly metrics?: GatewayMetrics;
  readonly decisionLogger?: Logger;
  /** Traces each client message when tracing is on (absent: no span is ever made). */
  readonly tracing?: MessageTracer;
  /** Responses in force (blocks, revocations): sessions they hit are ended at once. */
  readonly enforcements: Enforcements;
  /** Shared security state (usage counters, approvals, trust profiles). */
  readonly state: StateStore;
  /** Where a call that needs a human approval waits for one. */
  readonly approvals?: ApprovalGate;
}

export class Gateway {
  catalog: Catalog;
  private config: GatewayConfig;
  private chain: LayerChain;
  private readonly upstreams = new Map<string, Upstream>();
  private readonly sessions = new Set<ClientSession>();
  private inFlightCount = 0;
  private idleSweep: NodeJS.Timeout | undefined;
  private draining = false;
  private idle: (() => void) | undefined;

  private loaded: LoadedConfig;
  private readonly stopEnforcing: () => void;
  private readonly deps: GatewayDependencies;
  private readonly notifier: ChangeNotifier;

  constructor(loaded: LoadedConfig, deps: GatewayDependencies) {
    this.notifier = new ChangeNotifier({
      chain: () => this.chain,
      catalog: () => this.catalog,
      upstream: (name) => this.upstreams.get(name),
      sessions: () => this.sessions,
      logger: deps.logger,
    });
    this.loaded = loaded;
    this.deps = deps;
    this.config = loaded.config;
    setCallerScoped(Object.values(loaded.config.upstreams));
    this.catalog = this.newCatalog(loaded.config);
    this.chain = this.newChain(loaded);
    for (const [name, upstreamConfig] of Object.entries(loaded.config.upstreams)) {
      this.upstreams.set(name, this.newUpstream(name, upstreamConfig));
    }
    this.stopEnforcing = deps.enforcements.onEnforced((e) => this.enforce(e));
  }

  get enforcements(): Enforcements {
    return this.deps.enforcements;
  }

  /** What the identity layer saw of a request: a success, a failure, a session presented by another principal. */
  reportAuthentication(
    type: "auth_success" | "auth_failure" | "session_hijack_suspected" | "authz_denied",
    address: string | undefined,
    details: Record<string, unknown>,
  ): void {
    const severity = type === "auth_success" ? "info" : type === "session_hijack_suspected" ? "high" : "low";
    this.deps.events.emit({ type, severity, details: { address, layer: "identity", ...details } });
  }

  /** A request refused at the edge (a blocked address): an event, counted, not logged one by one. */
  reportBlocked(address: string | undefined, error: GatewayError): void {
    this.deps.events.emit({
      type: "request_blocked",
      severity: "info",
      details: { address, layer: "network", rule: error.data?.rule, code: error.code },
    });
  }

  /** Ends at once the sessions a new block or revocation hits: their open streams close too. */
  private enforce(enforcement: Enforcement): void {
    const hit = (session: ClientSession): boolean => {
      if (enforcement.kind === "revoke") return session.digest === enforcement.subject;
      if (enforcement.kind !== "block") return false;
      const address = session.origin.clientAddress;
      return address !== undefined && rangeCovers(enforcement.subject, address);
    };
    for (const session of [...this.sessions]) {
      if (!hit(session)) continue;
      this.endSession(session, {
        enforcement: enforcement.kind,
        source: enforcement.source,
        reason: enforcement.reason,
      });
    }
  }

  /** Tells every client that lists changed (a tool definition approved by an operator). */
  announceListsChanged(methods: readonly string[]): void {
    this.notifier.notifyAll(methods);
  }

  /** Client sessions held now (2025 sessions and stateless clients' state). */
  clientSessions(): readonly ClientSession[] {
    return [...this.sessions];
  }

  /**
   * Ends a session at once, its streams too, for a security reason (a response, a credential that
   * expired or was revoked): an event and a log line name why.
   */
  endSession(
    session: ClientSession,
    details: { reason: string; source: string; enforcement?: string },
  ): void {
    this.deps.logger.warn(
      { session: session.digest, ...details },
      "ending a session: a security response applies to it",
    );
    this.deps.events.emit({
      type: "session_revoked",
      severity: "medium",
      ctx: sessionContext(session),
      details,
    });
    // After the current turn: the answer that triggered the response (already decided) still goes
    // out; anything after it finds the session gone.
    setImmediate(() => (session.terminate ? session.terminate() : void this.unregister(session)));
  }

  get currentConfig(): GatewayConfig {
    return this.config;
  }

  start(): void {
    for (const upstream of this.upstreams.values()) upstream.start();
    this.idleSweep = setInterval(() => this.closeIdleConnections(Date.now()), 1000);
    this.idleSweep.unref();
  }

  /**
   * Closes the sessions' own upstream connections that have been unused for their upstream's
   * `sessionIdleMs`, unless a call is on its way or the session is subscribed to one of the
   * upstream's resources. The next call opens a fresh one (and carries subscriptions over).
   */
  private closeIdleConnections(now: number): void {
    for (const session of this.sessions) {
      for (const [name, connection] of session.upstreams) {
        const idleMs = this.upstreams.get(name)?.config.sessionIdleMs ?? 0;
        const usedAt = session.upstreamUsedAt.get(name) ?? session.createdAt;
        if (idleMs === 0 || now - usedAt < idleMs || session.busyOn(name)) continue;
        if (session.subscriptions.uris().some((uri) => this.catalog.resolveResource(uri) === name)) continue;
        session.upstreams.delete(name);
        session.upstreamUsedAt.delete(name);
        this.deps.logger.debug(
          { upstream: name, session: session.digest },
          "closed an idle upstream connection",
        );
        void connection.then((c) => c.close()).catch(() => undefined);
      }
    }
  }

  /** Resolves once every upstream is connected or marked down. */
  async ready(): Promise<void> {
    await Promise.all([...this.upstreams.values()].map((u) => u.settled()));
  }

  isReady(): boolean {
    return [...this.upstreams.values()].every((u) => u.isSettled);
  }

  upstreamStatus(): ReturnType<Upstream["status"]>[] {
    return [...this.upstreams.values()].map((u) => u.status());
  }

  /** Client sessions held now: 2025 sessions and stateless clients' state together. */
  get sessionCount(): number {
    return this.sessions.size;
  }

  register(session: ClientSession): void {
    this.sessions.add(session);
  }

  async unregister(session: ClientSession): Promise<void> {
    this.sessions.delete(session);
    for (const uri of session.subscriptions.uris()) {
      const upstream = this.upstreams.get(this.catalog.resolveResource(uri) ?? "");
      if (upstream && this.watchedThroughUpstream(upstream)) upstream.watchResource(uri, false);
    }
    session.subscriptions.clear();
    await session.close();
  }

  /**
   * Runs one client request through the pipeline; always resolves to a result or a wire error. The
   * outcome is recorded before the answer is released; an answer whose record fails is withheld.
   */
  async handleRequest(
    session: ClientSession,
    ctx: RequestContext,
    id: string | number,
    method: string,
    params: Record<string, unknown> | undefined,
    options: HandleOptions = {},
  ): Promise<RpcOutcome> {
    // With tracing on, the message's span rides on its context (ended by the tracing observer).
    ctx = this.deps.tracing?.traceMessage(ctx, id, method, params) ?? ctx;
    const { signal } = options;
    const started = performance.now();
    const trace: DecisionTrace = { target: undefined, decidedBy: undefined, decisions: [], verdict: "allow" };
    const controller = new AbortController();
    ctx = { ...ctx, client: questionsFor(session, { id, key: ctx.id }), signal: controller.signal };
    const abortFromCaller = () => controller.abort(signal?.reason);
    signal?.addEventListener("abort", abortFromCaller, { once: true });
    const request = { id, key: ctx.id, controller, upstream: undefined as string | undefined };
    this.inFlightCount++;
    session.inFlight.set(request.key, request);
    session.touch();
    try {
      const answer = await this.decide(session, ctx, request, method, params, options, trace);
      const result = "result" in answer ? answer.result : undefined;
      return await this.recordThenRelease(
        this.outcomeOf(ctx, method, trace, params, started, result),
        answer,
      );
    } finally {
      signal?.removeEventListener("abort", abortFromCaller);
      session.inFlight.delete(request.key);
      if (request.upstream && session.upstreams.has(request.upstream)) {
        session.upstreamUsedAt.set(request.upstream, Date.now());
      }
      this.inFlightCount--;
      if (this.inFlightCount === 0) this.idle?.();
    }
  }

  /** Routes, runs the layers both ways and forwards; fills `trace` with how it was decided. */
  private async decide(
    session: ClientSession,
    ctx: RequestContext,
    request: RequestRef & { upstream: string | undefined; controller: AbortController },
    method: string,
    params: Record<string, unknown> | undefined,
    options: HandleOptions,
    trace: DecisionTrace,
  ): Promise<RpcOutcome> {
    try {
      if (this.draining) throw new GatewayError("PORTCULLIS_E_SHUTTING_DOWN");
      const target = resolveTarget(method, params, this.catalog);
      trace.target = target;
      request.upstream = target.kind === "local" ? undefined : target.upstream;
      const inbound = await this.chain.runRequest({ method, params, target }, ctx);
      trace.decisions = inbound.decisions;
      if (inbound.verdict.kind !== "pass") {
        trace.verdict = inbound.verdict.kind;
        trace.decidedBy = { layer: inbound.decidedBy ?? "unknown", rule: inbound.verdict.rule };
        throw this.denial(inbound.verdict, inbound.decidedBy, ctx, method, target);
      }
      const result = await this.execute(session, ctx, request, method, inbound.value, target, {
        signal: request.controller.signal,
        subscriptionSource: options.subscriptionSource ?? "explicit",
      });
      const outbound = await this.chain.runResult({ method, target, result }, ctx);
      trace.decisions = [...trace.decisions, ...outbound.decisions];
      if (outbound.verdict.kind !== "pass") {
        trace.verdict = outbound.verdict.kind;
        trace.decidedBy = { layer: outbound.decidedBy ?? "unknown", rule: outbound.verdict.rule };
        throw this.denial(outbound.verdict, outbound.decidedBy, ctx, method, target);
      }
      return { result: outbound.value };
    } catch (err) {
      const wire = toWireError(err);
      if (wire !== err) {
        this.deps.logger.error(
          { err, method, correlationId: ctx.id },
          "unexpected error while handling a request",
        );
      }
      if (trace.verdict === "allow" || wire !== err) trace.verdict = "error";
      const errorCode =
        "code" in wire && typeof wire.code === "string"
          ? wire.code
          : `upstream:${wire.toJsonRpcError().code}`;
      trace.errorCode = errorCode;
      trace.decidedBy ??= {
        layer: wire instanceof GatewayError && /UPSTREAM|CIRCUIT/.test(wire.code) ? "upstream" : "router",
        rule: errorCode,
      };
      // An upstream's own error reaches the model too: it passes the data guard like a result.
      if (wire instanceof UpstreamRpcError)
        return { error: sanitizeUpstreamError(this.config.dataGuard, wire.toJsonRpcError(), trace.target) };
      return { error: wire.toJsonRpcError() };
    }
  }

  /** Makes the outcome durable, then tells the observers; a record that fails withholds a result. */
  private async recordThenRelease(outcome: MessageOutcome, answer: RpcOutcome): Promise<RpcOutcome> {
    try {
      await this.chain.record(outcome);
    } catch (err) {
      this.deps.logger.error({ err, correlationId: outcome.ctx.id }, "could not record a decision");
      this.deps.events.emit({
        type: "audit_unavailable",
        severity: "high",
        ctx: outcome.ctx,
        details: { method: outcome.method, error: err instanceof Error ? err.message : String(err) },
      });
      if ("result" in answer) {
        const withheld = new GatewayError("PORTCULLIS_E_AUDIT_UNAVAILABLE");
        this.chain.reportOutcome({
          ...outcome,
          verdict: "error",
          errorCode: withheld.code,
          decidedBy: { layer: "audit", rule: "audit-unavailable" },
        });
        return { error: withheld.toJsonRpcError() };
      }
    }
    this.chain.reportOutcome(outcome);
    if (outcome.method === "tools/call") this.reportToolCall(outcome);
    return answer;
  }

  /** Every tool call's outcome becomes a `tool_call` event: what the detectors learn behaviour from. */
  private reportToolCall(outcome: MessageOutcome): void {
    const name = outcome.target?.publicName ?? outcome.params?.name;
    if (typeof name !== "string") return;
    this.deps.events.emit({
      type: "tool_call",
      severity: "info",
      ctx: outcome.ctx,
      details: {
        tool: name,
        upstream: outcome.target?.kind === "tool" ? outcome.target.upstream : undefined,
        verdict: outcome.verdict,
        errorCode: outcome.errorCode,
        decidedBy: outcome.decidedBy,
        annotations: this.catalog.resolveTool(name)?.annotations,
      },
    });
  }

  /** A notification from the client: cancellation, roots changes, and the initialized handshake. */
  async handleNotification(
    session: ClientSession,
    ctx: RequestContext,
    method: string,
    params: Record<string, unknown> | undefined,
  ): Promise<void> {
    session.touch();
    ctx = this.deps.tracing?.traceMessage(ctx, undefined, method, params) ?? ctx;
    const run = await this.chain.runNotification(
      { direction: "to-server", method, params, upstream: undefined },
      ctx,
    );
    ctx.trace?.endNotification(run.verdict, run.decidedBy);
    if (run.verdict.kind !== "pass") return;
    if (method === "notifications/cancelled") {
      const requestId = run.value?.requestId;
      if (typeof requestId === "string" || typeof requestId === "number") {
        const reason = typeof run.value?.reason === "string" ? run.value.reason : "cancelled by client";
        session.cancel(requestId, reason);
      }
      return;
    }
    if (method === "notifications/roots/list_changed") {
      const caller = callerOf(ctx, session);
      for (const connection of session.upstreams.values()) {
        void connection
          .then((c) => asCaller(caller, () => c.notify(method, run.value)))
          .catch(() => undefined);
      }
    }
  }

  private async execute(
    session: ClientSession,
    ctx: RequestContext,
    request: RequestRef,
    method: string,
    params: Record<string, unknown> | undefined,
    target: RouteTarget,
    how: { signal: AbortSignal; subscriptionSource: SubscriptionSource },
  ): Promise<Record<string, unknown>> {
    const { signal } = how;
    if (target.kind === "local") return this.answerLocally(ctx, method, params);
    // Whom the call is for: an upstream credential the gateway signs or exchanges names this caller.
    const caller = callerOf(ctx, session);
    if (target.kind === "broadcast") return asCaller(caller, () => this.broadcastSetLevel(session, params));
    const upstream = this.upstreams.get(target.upstream);
    if (!upstream) throw new GatewayError("PORTCULLIS_E_UPSTREAM_UNAVAILABLE", target.upstream);
    if (method === "resources/subscribe" || method === "resources/unsubscribe") {
      const subscribe = method === "resources/subscribe";
      await asCaller(caller, () =>
        this.setResourceSubscription(session, String(target.name), subscribe, how.subscriptionSource),
      );
      return {};
    }
    // Under the upstream's circuit breaker: refused at once while it is down or the breaker not closed.
    return upstream.guardClientCall(() =>
      asCaller(caller, () => this.forwardTo(session, ctx, request, method, params, target, upstream, signal)),
    );
  }

  /** Sends a routed request to its upstream on the session's connection (opened if need be). */
  private async forwardTo(
    session: ClientSession,
    ctx: RequestContext,
    request: RequestRef,
    method: string,
    params: Record<string, unknown> | undefined,
    target: RouteTarget,
    upstream: Upstream,
    signal: AbortSignal,
  ): Promise<Record<string, unknown>> {
    // Opened as nobody: its streams and handlers outlive this call and must not carry its caller.
    const connection = await asGateway(() => this.connectionFor(session, upstream));
    const progressToken = (params?._meta as Record<string, unknown> | undefined)?.progressToken;
    const modern = connection.era === "modern";
    const forwarded = paramsForUpstream(method, params, target);
    const upstreamParams = modern ? withClientEnvelope(forwarded, session) : forwarded;
    // Progress crosses the layers like any notification, in order, and ahead of the result.
    let progressSent: Promise<void> = Promise.resolve();
    const relayProgress = (p: { progress: number; total?: number; message?: string }) => {
      const notification = { ...p, progressToken };
      progressSent = progressSent.then(() =>
        this.notifier.forward(session, upstream.name, "notifications/progress", notification, request),
      );
    };
    const options: ForwardOptions = {
      signal,
      timeoutMs: upstream.config.requestTimeoutMs,
      onProgress: progressToken === undefined ? undefined : relayProgress,
      trace: ctx.trace,
    };
    let result = await connection.request(method, upstreamParams, options);
    if (modern && session.channel.era === "legacy" && result.resultType === "input_required") {
      // Each input request goes to the client through the layers, like a 2025 upstream's request.
      const ask = (m: string, p: Record<string, unknown> | undefined, s: AbortSignal) =>
        this.relayServerRequest(session, upstream.name, m, p, s, request);
      result = await fulfilInputRounds(ask, connection, method, upstreamParams ?? {}, result, options);
    }
    await progressSent;
    return result;
  }

  /**
   * Adds or drops a session's claim on a resource's updates. The upstream hears of it only when the
   * session's subscription starts or ends: a 2025-era per-session connection gets resources/subscribe
   * itself; a shared connection and a 2026-07-28 upstream (which has no resources/subscribe, and is
   * watched through the gateway's listen stream) are counted across sessions by the upstream.
   */
  async setResourceSubscription(
    session: ClientSession,
    uri: string,
    on: boolean,
    source: SubscriptionSource,
  ): Promise<void> {
    const upstreamName = this.catalog.resolveResource(uri);
    const upstream = upstreamName === undefined ? undefined : this.upstreams.get(upstreamName);
    if (!upstream) throw new GatewayError("PORTCULLIS_E_UNKNOWN_RESOURCE", uri, { uri });
    const changed = on ? session.subscriptions.add(uri, source) : session.subscriptions.remove(uri, source);
    if (!changed) return;
    try {
      await this.applySubscription(session, upstream, uri, on);
    } catch (err) {
      if (on) session.subscriptions.remove(uri, source);
      throw err;
    }
  }

  private async applySubscription(
    session: ClientSession,
    upstream: Upstream,
    uri: string,
    on: boolean,
  ): Promise<void> {
    if (this.watchedThroughUpstream(upstream)) return upstream.watchResource(uri, on);
    // Unsubscribing never opens a connection: a closed one has no subscriptions left.
    const connection = on
      ? await this.connectionFor(session, upstream)
      : await session.upstreams.get(upstream.name);
    if (!connection) return;
    await connection.request(
      on ? "resources/subscribe" : "resources/unsubscribe",
      { uri },
      {
        timeoutMs: upstream.config.requestTimeoutMs,
      },
    );
  }

  private watchedThroughUpstream(upstream: Upstream): boolean {
    return upstream.config.isolation === "shared" || upstream.shared?.era === "modern";
  }

  private async answerLocally(
    ctx: RequestContext,
    method: string,
    params: Record<string, unknown> | undefined,
  ): Promise<Record<string, unknown>> {
    if (method === "ping") return {};
    if (method === "server/discover") return discoverResult();
    if (method === "subscriptions/listen") return {}; // admitted; the ingress holds the stream open
    if (!isListMethod(method)) throw new GatewayError("PORTCULLIS_E_METHOD_NOT_FOUND", method);
    const kind = LIST_METHODS[method];
    const run = await this.chain.runCatalog({ kind, items: this.catalog.items(kind) }, ctx);
    if (run.verdict.kind !== "pass") throw new GatewayError("PORTCULLIS_E_DENIED", run.verdict.reason);
    const page = paginate(run.value, params?.cursor, this.config.federation.pageSize, this.catalog.version);
    const result: Record<string, unknown> = { [kind]: page.items.map((i) => i.definition) };
    if (page.nextCursor) result.nextCursor = page.nextCursor;
    return result;
  }

  private async broadcastSetLevel(
    session: ClientSession,
    params: Record<string, unknown> | undefined,
  ): Promise<Record<string, unknown>> {
    session.logLevel = typeof params?.level === "string" ? params.level : undefined;
    const connections = [...session.upstreams.values()];
    await Promise.allSettled(
      connections.map(async (c) => (await c).request("logging/setLevel", params, { timeoutMs: 5000 })),
    );
    return {};
  }

  /** The session's own connection to an upstream (isolation), or the shared one. */
  private connectionFor(session: ClientSession, upstream: Upstream): Promise<UpstreamConnection> {
    if (session.isClosed)
      return Promise.reject(new GatewayError("PORTCULLIS_E_SESSION_NOT_FOUND", "session closed"));
    const shared = upstream.shared;
    if (!shared) return Promise.reject(upstream.unavailable());
    if (upstream.config.isolation === "shared") return Promise.resolve(shared);
    session.upstreamUsedAt.set(upstream.name, Date.now());
    const existing = session.upstreams.get(upstream.name);
    if (existing) return existing;
    const forget = () => {
      if (session.upstreams.get(upstream.name) === opened) session.upstreams.delete(upstream.name);
    };
    // `forget` runs only from later events (close, failure), after `opened` is assigned.
    const opened = this.openSessionConnection(session, upstream, forget);
    session.upstreams.set(upstream.name, opened);
    opened.then(
      // A session that closed while its connection was being opened must not keep it.
      (connection) => (session.isClosed ? void connection.close() : undefined),
      forget,
    );
    return opened;
  }

  private async openSessionConnection(
    session: ClientSession,
    upstream: Upstream,
    onClose: () => void,
  ): Promise<UpstreamConnection> {
    // The upstream may ask this client for what it can give: 2025 clients are asked directly,
    // 2026-07-28 clients through input-required rounds.
    const { sampling, elicitation, roots } = session.channel.capabilities;
    const caps = {
      ...(sampling ? { sampling } : {}),
      ...(elicitation ? { elicitation } : {}),
      ...(roots ? { roots } : {}),
    };
    const connection = await upstream.openFor(caps, {
      onNotification: (method, params) =>
        this.notifier.fromSessionConnection(session, upstream.name, method, params),
      onServerRequest: (method, params, signal) =>
        this.relayServerRequest(session, upstream.name, method, params, signal),
      onClose,
    });
    if (session.logLevel) {
      await connection
        .request("logging/setLevel", { level: session.logLevel }, { timeoutMs: 5000 })
        .catch(() => undefined);
    }
    // A connection opened again (the previous one closed) carries the session's subscriptions on.
    for (const uri of session.subscriptions.uris()) {
      if (this.catalog.resolveResource(uri) !== upstream.name) continue;
      await connection.request("resources/subscribe", { uri }, { timeoutMs: 5000 }).catch(() => undefined);
    }
    return connection;
  }

  /**
   * An upstream's request to its session's client (sampling, elicitation, roots): the layers see the
   * request on its way to the client and the client's answer on its way back, and either may refuse
   * it (the upstream gets the error, naming the layer and the rule). The exchange is recorded like a
   * client request: audit record and decision line, the answer withheld when the record fails.
   */
  private async relayServerRequest(
    session: ClientSession,
    upstream: string,
    method: string,
    params: Record<string, unknown> | undefined,
    signal: AbortSignal,
    related: RequestRef | undefined = session.soleInFlightOn(upstream),
  ): Promise<Record<string, unknown>> {
    const ctx = sessionContext(session);
    const started = performance.now();
    const target: RouteTarget = { upstream, kind: "broadcast", name: undefined, publicName: undefined };
    const trace: DecisionTrace = { target, decidedBy: undefined, decisions: [], verdict: "allow" };
    const refuse = (run: ChainRun<unknown>): GatewayError => {
      const verdict = run.verdict as Exclude<Verdict<unknown>, { kind: "pass" }>;
      const error = this.denial(verdict, run.decidedBy, ctx, method, target);
      trace.verdict = verdict.kind;
      trace.decidedBy = { layer: run.decidedBy ?? "unknown", rule: verdict.rule };
      trace.errorCode = error.code;
      return error;
    };
    let relayed = params;
    let answer: Record<string, unknown>;
    try {
      const out = await this.chain.runServerRequest({ method, params, upstream }, ctx);
      trace.decisions = out.decisions;
      if (out.verdict.kind !== "pass") throw refuse(out);
      relayed = out.value;
      // The client's error answer goes to the upstream too (its message and data are the client's
      // words): the layers read it like a result, as { error }.
      let failed = false;
      const reply = await session.channel
        .request(method, relayed, { related, signal })
        .catch((err: unknown) => {
          if (!(err instanceof UpstreamRpcError && err.upstream === "client")) throw err;
          failed = true;
          return { error: err.toJsonRpcError() };
        });
      const back = await this.chain.runServerResult(
        { method, params: relayed, upstream, result: reply },
        ctx,
      );
      trace.decisions = [...trace.decisions, ...back.decisions];
      if (back.verdict.kind !== "pass") throw refuse(back);
      if (failed) throw clientErrorOf(back.value.error);
      answer = back.value;
    } catch (err) {
      const wire = toWireError(err);
      if (trace.verdict === "allow") {
        // Not a layer's refusal: the client's own error answer, no answer in time, the client gone.
        trace.verdict = "error";
        trace.errorCode = wire instanceof GatewayError ? wire.code : `client:${wire.rpcCode}`;
        trace.decidedBy = { layer: "client", rule: trace.errorCode };
      }
      await this.recordThenRelease(this.outcomeOf(ctx, method, trace, relayed, started), {
        error: wire.toJsonRpcError(),
      });
      throw err;
    }
    const released = await this.recordThenRelease(this.outcomeOf(ctx, method, trace, relayed, started), {
      result: answer,
    });
    if ("error" in released) throw new GatewayError("PORTCULLIS_E_AUDIT_UNAVAILABLE");
    return answer;
  }

  /** The outcome of a message (a client's request or an upstream's), for the audit record and the decision log. */
  private outcomeOf(
    ctx: RequestContext,
    method: string,
    trace: DecisionTrace,
    params: Record<string, unknown> | undefined,
    started: number,
    result?: Record<string, unknown>,
  ): MessageOutcome {
    return {
      ctx,
      method,
      target: trace.target,
      decidedBy: trace.verdict === "allow" ? undefined : trace.decidedBy,
      verdict: trace.verdict,
      errorCode: trace.errorCode,
      latencyMs: performance.now() - started,
      layerDecisions: trace.decisions,
      params,
      result,
    };
  }

  private denial(
    verdict: Exclude<Verdict<unknown>, { kind: "pass" }>,
    layer: string | undefined,
    ctx: RequestContext,
    method: string,
    target: RouteTarget,
  ): GatewayError {
    this.deps.events.emit({
      type: "message_denied",
      severity: "low",
      ctx,
      details: {
        layer,
        rule: verdict.rule,
        reason: verdict.reason,
        method,
        upstream: target.upstream,
        name: target.publicName,
        ...(ctx.findings.trust ? { trust: ctx.findings.trust.score } : {}),
        ...(verdict.kind === "deny" ? verdict.data : verdict.details),
      },
    });
    if (verdict.kind === "deny" && verdict.conceal) {
      const { code, detail, data } = verdict.conceal;
      return new GatewayError(code, detail, data);
    }
    if (verdict.kind === "challenge") {
      const code = verdict.challenge === "step-up" ? "PORTCULLIS_E_STEP_UP_REQUIRED" : "PORTCULLIS_E_DENIED";
      return new GatewayError(code, verdict.reason, {
        layer,
        rule: verdict.rule,
        verdict: verdict.kind,
        challenge: verdict.challenge,
        ...verdict.details,
      });
    }
    return new GatewayError(verdict.code ?? "PORTCULLIS_E_DENIED", verdict.reason, {
      layer,
      rule: verdict.rule,
      verdict: verdict.kind,
      ...verdict.data,
    });
  }

  private newChain(loaded: LoadedConfig): LayerChain {
    const { metrics } = this.deps;
    const timer = metrics ? metrics.observeHook.bind(metrics) : undefined;
    return new LayerChain(
      assembleLayers({
        ...this.deps,
        config: loaded.config,
        policies: loaded.policies.set,
        catalog: () => this.catalog,
      }),
      this.deps.events,
      this.deps.logger,
      timer,
    );
  }

  private newCatalog(config: GatewayConfig): Catalog {
    // A call no list has judged waits (bounded) for its upstream's current lists: the catalogue guard.
    // While an upstream's lists are read again (a reconnection, a change notice), its calls wait for them too.
    return new Catalog(
      Object.keys(config.upstreams),
      namingFor(config),
      (name) => this.notifier.current(name),
      (name) => this.notifier.isRefreshing(name),
    );
  }

  private newUpstream(name: string, config: GatewayConfig["upstreams"][string]): Upstream {
    return new Upstream(name, config, {
      baseDir: this.loaded.dir,
      env: this.deps.env,
      logger: this.deps.logger,
      events: this.deps.events,
      onUp: (u) => this.notifier.refresh(u.name),
      onUnavailable: (u) => (u.config.whenDown === "hide" ? this.notifier.hide(u.name) : undefined),
      onProbeDue: (u) => this.notifier.refresh(u.name),
      onHealthy: (u) => this.notifier.relist(u.name),
      onSharedNotification: (u, method, params) => this.notifier.fromSharedConnection(u.name, method, params),
    });
  }

  /**
   * Applies a new, already validated config without dropping in-flight calls: layers are rebuilt,
   * upstreams that were added start, removed ones stop, changed ones are replaced (calls already
   * running on the old connection finish there).
   */
  async reload(next: LoadedConfig): Promise<ReloadPlan> {
    const previous = this.config;
    const oldChain = this.chain;
    this.loaded = next;
    this.config = next.config;
    setCallerScoped(Object.values(next.config.upstreams));
    this.chain = this.newChain(next);
    const plan = planReload(previous, next.config);
    const { added, removed, replaced } = plan;
    const retired: Upstream[] = [];
    for (const name of [...removed, ...replaced]) {
      const old = this.upstreams.get(name);
      if (old) retired.push(old);
      this.upstreams.delete(name);
      for (const session of this.sessions) {
        const connection = session.upstreams.get(name);
        session.upstreams.delete(name);
        void connection?.then((c) => c.close()).catch(() => undefined);
      }
    }
    const fresh = this.newCatalog(next.config);
    for (const name of Object.keys(next.config.upstreams)) {
      const lists = !replaced.includes(name) ? this.catalog.lists(name) : undefined;
      if (lists) fresh.set(name, lists);
      if (lists && this.catalog.isHidden(name)) fresh.setHidden(name, true);
    }
    this.catalog = fresh;
    for (const name of [...added, ...replaced]) {
      const upstream = this.newUpstream(name, next.config.upstreams[name]!);
      this.upstreams.set(name, upstream);
      upstream.start();
    }
    if (removed.length > 0) this.notifier.notifyAll(LIST_CHANGED_NOTIFICATIONS);
    await Promise.allSettled(retired.map((u) => u.stop()));
    await oldChain.close();
    return plan;
  }

  /** Stops taking new requests, waits for in-flight ones (up to the grace period), closes everything. */
  async shutdown(graceMs: number): Promise<void> {
    this.draining = true;
    this.stopEnforcing();
    if (this.idleSweep) clearInterval(this.idleSweep);
    if (this.inFlightCount > 0) {
      await new Promise<void>((resolve) => {
        this.idle = resolve;
        setTimeout(resolve, graceMs).unref();
      });
    }
    await Promise.allSettled([...this.sessions].map((s) => this.unregister(s)));
    await Promise.allSettled([...this.upstreams.values()].map((u) => u.stop()));
    await this.chain.close();
    try {
      await this.deps.auditSink?.close(); // flushes batched records and signs the head
    } catch (err) {
      this.deps.logger.error({ err }, "could not close the audit store cleanly");
    }
  }
}

/** The client's error answer as the layers left it (a rewritten message or data), to relay to the upstream. */
function clientErrorOf(error: unknown): UpstreamRpcError {
  const { code, message, data } = (error ?? {}) as { code?: unknown; message?: unknown; data?: unknown };
  return new UpstreamRpcError(
    "client",
    typeof code === "number" ? code : JsonRpcCode.internalError,
    typeof message === "string" ? message : "the client answered with an error",
    data,
  );
}

function namingFor(config: GatewayConfig): NameSpacer {
  const prefix = config.federation.prefixSingleUpstream || Object.keys(config.upstreams).length > 1;
  return new NameSpacer(config.federation.separator, prefix);
}

/** Whom an upstream request is for: what a credential the gateway signs or exchanges names. */
function callerOf(ctx: RequestContext, session: ClientSession): UpstreamCaller {
  return { principal: ctx.principal, session: ctx.sessionDigest, bearerToken: session.bearerToken };
}

/** How a layer asks the client about the request `related` (an approval the user may confirm). */
function questionsFor(session: ClientSession, related: RequestRef): RequestContext["client"] {
  return {
    canElicit: session.channel.capabilities.elicitation !== undefined,
    ask: (method, params, signal) => session.channel.request(method, params, { related, signal }),
  };
}
