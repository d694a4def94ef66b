// Runs a gateway process: loads the config, starts upstreams and one ingress, reloads the config on
// file change and SIGHUP (an invalid file is rejected and the running config stays), and shuts
// down gracefully on SIGTERM/SIGINT.
import { NATIVE_REGEXP_FLAG, nativeRegExps } from "./content/nativeRegExp.ts";
import { statSync, watch, type FSWatcher } from "node:fs";
import { basename, dirname, resolve } from "node:path";
import type { Logger } from "pino";
import { loadConfigFile, type LoadedConfig } from "./config/load.ts";
import { ConfigError } from "./errors.ts";
import { exposureProblems } from "./config/schema.ts";
import { SecurityEventBus } from "./events/bus.ts";
import { WebhookSink } from "./events/webhook.ts";
import { Gateway } from "./gateway.ts";
import { startHttpIngress, type HttpIngress } from "./ingress/http.ts";
import { serveStdio } from "./ingress/stdio.ts";
import { createDecisionLogger, createLogger } from "./observability/logger.ts";
import { GatewayMetrics } from "./observability/metrics.ts";
import { loadSigningKey } from "./audit/signing.ts";
import { EDGE_AUDITED_EVENTS, edgeAuditBody } from "./audit/record.ts";
import { BoundedMap } from "./events/detectors/windows.ts";

/** Edge refusals recorded per address and minute at most (the rest are counted in the next record). */
const EDGE_RECORDS_PER_MINUTE = 30;
import { SqliteAuditStore } from "./audit/sqliteStore.ts";
import { PostgresAuditStore } from "./audit/postgresStore.ts";
import { describePostgres } from "./audit/postgresConnection.ts";
import type { AuditSink } from "./audit/sink.ts";
import { hostname } from "node:os";
import { DetectionEngine } from "./events/detection.ts";
import type { GatewayConfig } from "./config/schema.ts";
import type { Principal } from "./pipeline/types.ts";
import { setUpstreamTokenSigner, upstreamTokenSigner, UpstreamTokenSigner } from "./upstream/credentials.ts";
import { clientAddressResolver } from "./layers/network/clientAddress.ts";
import { rangesOverlap } from "./layers/network/addressList.ts";
import type { StampedEvent } from "./events/bus.ts";
import { Enforcements } from "./state/enforcements.ts";
import { ApprovalBook, approvalGate } from "./layers/authz/approvals.ts";
import { ControlSocketError, startControlSocket, type ControlRoute } from "./admin/controlSocket.ts";
import { blockRoutes } from "./admin/blockRoutes.ts";
import { toolRoutes } from "./admin/toolRoutes.ts";
import { toolPinStoreFor } from "./layers/catalog/pins.ts";
import { resolveControlSocketPath } from "./config/controlSchema.ts";
import { describeOrigin } from "./layers/authz/engine.ts";
import { openStateStore } from "./state/open.ts";

export interface RunOptions {
  readonly configPath: string;
  readonly mode: "http" | "stdio";
  readonly host?: string;
  readonly port?: number;
  readonly env?: NodeJS.ProcessEnv;
}

export async function runGateway(options: RunOptions): Promise<void> {
  const env = options.env ?? process.env;
  let loaded: LoadedConfig = loadConfigFile(options.configPath, env);
  if (options.host !== undefined) {
    loaded.config.server.host = options.host;
    const problems = exposureProblems(options.host, loaded.config);
    if (problems.length > 0)
      throw new ConfigError(
        problems.map((p) => ({
          file: "--host",
          line: undefined,
          column: undefined,
          path: p.path.join("."),
          message: p.message,
        })),
      );
  }
  if (options.port !== undefined) loaded.config.server.port = options.port;
  const logger = createLogger(loaded.config.logging.level);
  if (!nativeRegExps())
    logger.info(
      `node was started without ${NATIVE_REGEXP_FLAG}: the content scanners run slower (the portcullis command sets it)`,
    );
  const events = new SecurityEventBus(logger);
  events.addSink("log", (event) => {
    if (event.severity !== "info")
      logger.warn({ event: loggableEvent(event) }, `security event ${event.type}`);
  });
  // Last resort: a defect must not take every client down with it. Log loudly and keep serving;
  // the fault is a bug to fix, and the security layers deny on their own errors.
  process.on("uncaughtException", (err) => logger.fatal({ err }, "uncaught exception (bug); still serving"));
  process.on("unhandledRejection", (reason) => logger.error({ err: reason }, "unhandled rejection (bug)"));
  const node = loaded.config.audit.node ?? hostname();
  const auditSink = await openAuditStore(loaded, node, logger);
  // Read at scrape time, once the gateway exists.
  const webhooks = loaded.config.alerts.webhooks.map((webhook) => new WebhookSink({ ...webhook, logger }));
  webhooks.forEach((sink, i) => events.addSink(`webhook-${i}`, (event) => sink.offer(event)));
  // Refusals at the edge (bad credentials, hijack attempts, missing scopes) join the audit trail.
  // At most EDGE_RECORDS_PER_MINUTE per address: an unauthenticated sender cannot fill the store;
  // what is left out is counted in the next record from that address.
  const edgeRecords = new BoundedMap<{ minute: number; count: number; skipped: number }>(50_000);
  if (auditSink)
    events.addSink("audit-edge", (event) => {
      if (!EDGE_AUDITED_EVENTS.has(event.type)) return;
      const address = typeof event.details.address === "string" ? event.details.address : "";
      const minute = Math.floor(Date.now() / 60_000);
      const seen = edgeRecords.upsert(address, () => ({ minute, count: 0, skipped: 0 }));
      if (seen.minute !== minute) Object.assign(seen, { minute, count: 0 });
      if (++seen.count > EDGE_RECORDS_PER_MINUTE) {
        seen.skipped++;
        return;
      }
      const skipped = seen.skipped;
      seen.skipped = 0;
      const body = edgeAuditBody(event, node);
      const record =
        skipped > 0 ? { ...body, details: { ...body.details, notRecordedBefore: skipped } } : body;
      Promise.resolve(auditSink.append(record)).catch((err: unknown) =>
        logger.error({ err, eventType: event.type }, "could not record an identity decision"),
      );
    });
  const metrics: GatewayMetrics = new GatewayMetrics({
    upstreams: () => gateway.upstreamStatus(),
    sessions: () => gateway.sessionCount,
    // Sinks are named by position: a URL may carry credentials.
    alertQueues: () => webhooks.map((s, i) => ({ name: `webhook-${i}`, depth: s.depth, dropped: s.dropped })),
    eventSinks: () => events.sinkStatus(),
  });
  events.subscribe((event) => metrics.observeEvent(event));
  // Shared security state (blocks, revocations, trust, rate limits): in memory, or Redis for several nodes.
  const state = await openStateStore(loaded.config.state, logger, loaded.dir);
  const enforcements = new Enforcements(state, logger);
  await enforcements.start();
  state.onAvailability((up, error) => {
    events.emit({
      type: up ? "state_available" : "state_unavailable",
      severity: up ? "info" : "high",
      details: { backend: state.backend, error, onUnavailable: loaded.config.state.onUnavailable },
    });
    // Blocks and revocations set elsewhere during the outage were never heard here.
    if (up) void enforcements.sync();
  });
  // Calls that need a human approval wait in the approval book; approvers decide over the control socket.
  const approvalBook = new ApprovalBook({
    store: state,
    logger,
    limits: loaded.config.authorization.approvals,
    onSettled: (approval) =>
      events.emit({
        type: "approval_settled",
        severity: approval.status === "approved" ? "medium" : "low",
        details: {
          approval: approval.id,
          status: approval.status,
          principal: approval.principal,
          target: approval.target,
          policy: approval.policy,
          decidedBy: approval.decidedBy,
          grantUntil: approval.grantUntil ? new Date(approval.grantUntil).toISOString() : undefined,
        },
      }),
  });
  await approvalBook.start();
  const pins = toolPinStoreFor(state);
  const control = await openControlSocket(loaded, logger, approvalBook, [
    ...blockRoutes(enforcements, events),
    ...toolRoutes(pins, events),
  ]);
  const detection = new DetectionEngine({
    events,
    enforcements,
    logger,
    detection: loaded.config.detection,
    responses: loaded.config.responses,
    onResponse: (action, kind) => metrics.observeResponse(action, kind),
    // Trusted proxies are never blocked, alone or inside a range (the running config's list).
    protectedAddress: (address) => {
      const proxies = gateway.currentConfig.server.trustedProxies;
      return address.includes("/")
        ? proxies.some((proxy) => rangesOverlap(address, proxy))
        : clientAddressResolver(proxies).isTrustedProxy(address);
    },
  });
  detection.start();
  const decisionLogger = createDecisionLogger(loaded.config.logging.level);
  // Off by default: then the OpenTelemetry SDK is not even loaded, and no message makes a span.
  const tracing = loaded.config.tracing.enabled
    ? (await import("./observability/tracing.ts")).startTracing({
        config: loaded.config.tracing,
        node,
        logger,
      })
    : undefined;
  const gateway: Gateway = new Gateway(loaded, {
    logger,
    decisionLogger,
    events,
    env,
    auditSink,
    node,
    metrics,
    enforcements,
    state,
    approvals: approvalGate(
      approvalBook,
      { timeoutMs: () => gateway.currentConfig.authorization.approvals.timeoutMs },
      logger,
    ),
    tracing,
  });
  ensureUpstreamSigner(loaded, logger);
  logPolicies(loaded, logger);
  // An operator's approval of a changed tool shows it again: every client is told to list again.
  pins.onApproval(() =>
    gateway.announceListsChanged(["notifications/tools/list_changed", "notifications/prompts/list_changed"]),
  );
  gateway.start();

  let http: HttpIngress | undefined;
  if (options.mode === "http") {
    http = await startHttpIngress({
      gateway,
      logger,
      metrics,
      config: () => gateway.currentConfig,
      baseDir: () => loaded.dir,
    });
  } else {
    await gateway.ready();
    await serveStdio({
      gateway,
      principal: stdioPrincipal(loaded.config, env),
      onClosed: () => void shutdown("stdin closed"),
    });
    logger.info("stdio ingress ready");
  }

  const reload = async (why: string) => {
    let next: LoadedConfig;
    try {
      next = loadConfigFile(options.configPath, env);
    } catch (err) {
      const issues = err instanceof ConfigError ? err.issues : undefined;
      logger.error(
        { issues, err: issues ? undefined : err, why },
        "config rejected; the running config stays",
      );
      events.emit({ type: "config_rejected", severity: "medium", details: { why, issues: issues?.length } });
      return;
    }
    const previousPolicies = loaded.policies.watched;
    next.config.server.host = loaded.config.server.host;
    next.config.server.port = loaded.config.server.port;
    loaded = next;
    ensureUpstreamSigner(next, logger);
    const changes = await gateway.reload(next);
    http?.reloadCertificates();
    if (next.policies.watched.join("\n") !== previousPolicies.join("\n")) {
      watcher?.close();
      watcher = watchConfig(
        resolve(options.configPath),
        next.policies.watched,
        logger,
        () => void reload("file changed"),
      );
    }
    detection.reconfigure(next.config.detection, next.config.responses);
    approvalBook.configure(next.config.authorization.approvals);
    logPolicies(next, logger);
    logger.level = next.config.logging.level;
    decisionLogger.level = next.config.logging.level;
    logger.info({ why, ...changes }, "config reloaded");
    if (changes.restartOnly.length > 0)
      logger.warn(
        { keys: changes.restartOnly },
        "these settings apply at restart, not on reload: the audit store is opened once per process (changing it in a reload would fork the chain)",
      );
    events.emit({ type: "config_reloaded", severity: "info", details: { why, ...changes } });
  };

  let watcher = watchConfig(
    resolve(options.configPath),
    loaded.policies.watched,
    logger,
    () => void reload("file changed"),
  );
  process.on("SIGHUP", () => void reload("SIGHUP"));

  let stopping = false;
  const shutdown = async (why: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ why }, "shutting down");
    watcher?.close();
    const grace = gateway.currentConfig.server.shutdownGraceMs;
    await http?.stopAccepting();
    await gateway.shutdown(grace);
    await http?.close();
    await tracing?.shutdown(); // exports the spans of the calls that just finished
    detection.stop();
    await control?.close();
    approvalBook.stop();
    enforcements.stop();
    await state.close();
    logger.info("stopped");
    logger.flush();
    decisionLogger.flush();
    setTimeout(() => process.exit(0), 50).unref();
  };
  process.once("SIGTERM", () => void shutdown("SIGTERM"));
  process.once("SIGINT", () => void shutdown("SIGINT"));
}

/**
 * The audit store the config asks for; opened once, so that a reload never forks the chain. An
 * unreachable PostgreSQL does not stop the start: the store is unhealthy (tool calls are refused)
 * and reconnects in the background.
 */
async function openAuditStore(
  loaded: LoadedConfig,
  node: string,
  logger: Logger,
): Promise<AuditSink | undefined> {
  const { audit, profile } = loaded.config;
  if (!audit.enabled || profile === "dev") return undefined;
  const { durability, batchMs, checkpointEvery } = audit;
  if (audit.store === "postgres") {
    const key = loadSigningKey(audit.signingKey, resolve(loaded.dir, "portcullis-audit.postgres.key"));
    const store = await PostgresAuditStore.open({
      settings: audit.postgres,
      node,
      durability,
      batchMs,
      checkpointEvery,
      key,
      logger,
    });
    const where = describePostgres(audit.postgres.url ?? "");
    logger.info(
      { store: where, node, keyId: key.keyId, durability, healthy: store.healthy },
      "audit trail open",
    );
    return store;
  }
  const path = resolve(loaded.dir, audit.path);
  const key = loadSigningKey(audit.signingKey, `${path}.key`);
  const store = new SqliteAuditStore({
    path,
    node,
    durability,
    batchMs,
    fsync: audit.fsync,
    maxSizeMb: audit.maxSizeMb,
    checkpointEvery,
    key,
    logger,
  });
  logger.info({ path, keyId: key.keyId, durability }, "audit trail open");
  return store;
}

function watchConfig(
  path: string,
  policyPaths: readonly string[],
  logger: Logger,
  onChange: () => void,
): { close(): void } | undefined {
  let timer: NodeJS.Timeout | undefined;
  const changed = () => {
    if (timer) clearTimeout(timer);
    timer = setTimeout(onChange, 200);
  };
  // Watch folders: editors replace a file on save, which ends a watch on the file itself.
  const targets = [{ dir: dirname(path), file: basename(path) as string | undefined }];
  for (const policyPath of policyPaths) {
    const isDir = (() => {
      try {
        return statSync(policyPath).isDirectory();
      } catch {
        return false;
      }
    })();
    targets.push(
      isDir ? { dir: policyPath, file: undefined } : { dir: dirname(policyPath), file: basename(policyPath) },
    );
  }
  const watchers: FSWatcher[] = [];
  for (const { dir, file } of targets) {
    try {
      const watcher = watch(dir, { persistent: false }, (_event, name) => {
        if (file !== undefined && name !== null && name !== file) return;
        changed();
      });
      watcher.on("error", (err) => logger.warn({ err, dir }, "config watcher failed; SIGHUP still reloads"));
      watchers.push(watcher);
    } catch (err) {
      logger.warn({ err, dir }, "cannot watch a config or policy folder; SIGHUP still reloads");
    }
  }
  return {
    close: () => {
      if (timer) clearTimeout(timer);
      for (const w of watchers) w.close();
    },
  };
}

/**
 * The local control socket (approvals) when the config enables it. Another live gateway on the same
 * socket (a second `stdio` instance of one config) is a warning: calls needing approval are then
 * refused here, since no approver can reach this process.
 */
async function openControlSocket(
  loaded: LoadedConfig,
  logger: Logger,
  approvals: ApprovalBook,
  routes: readonly ControlRoute[],
): Promise<{ close(): Promise<void> } | undefined> {
  if (!loaded.config.control.enabled) return undefined;
  const path = resolveControlSocketPath(loaded.dir, loaded.config.control, loaded.file);
  try {
    const socket = await startControlSocket({ path, logger, approvals, routes });
    logger.info({ path }, "control socket listening (portcullis approvals …, portcullis block …)");
    return socket;
  } catch (err) {
    if (err instanceof ControlSocketError && err.problem === "in-use") {
      logger.warn({ path }, "another gateway answers on the control socket; approvals cannot reach this one");
      return undefined;
    }
    throw err;
  }
}

/** How many policies are in force, and the warnings `portcullis policy validate` would give. */
function logPolicies(loaded: LoadedConfig, logger: Logger): void {
  const { authorization, profile } = loaded.config;
  if (!authorization.enabled || profile === "dev") {
    logger.warn("authorization is off: every method is allowed");
    return;
  }
  const { set, warnings } = loaded.policies;
  if (set.size === 0) logger.warn("no authorization policy: every method is denied (default deny)");
  else logger.info({ policies: set.size }, "authorization policies in force");
  for (const problem of warnings) {
    const where = problem.origin ? describeOrigin(problem.origin) : undefined;
    logger.warn({ policy: problem.policy, where, problem: problem.message }, "policy warning");
  }
}

/** An event as the log shows it: who and where, never the whole request context. */
function loggableEvent(event: StampedEvent): Record<string, unknown> {
  const { ctx, ...rest } = event;
  if (!ctx) return rest;
  return {
    ...rest,
    principal: ctx.principal.id,
    session: ctx.sessionDigest,
    clientAddress: ctx.clientAddress,
    correlationId: ctx.id,
  };
}

/** The key upstreams with gateway-signed tokens are given tokens under, loaded when one needs it. */
function ensureUpstreamSigner(loaded: LoadedConfig, logger: Logger): void {
  if (upstreamTokenSigner()) return;
  const needed = Object.values(loaded.config.upstreams).some(
    (u) => "auth" in u && u.auth?.kind === "gateway-jwt",
  );
  if (!needed) return;
  const { identity } = loaded.config;
  const key = loadSigningKey(identity.upstreamSigningKey, resolve(loaded.dir, "portcullis-upstream.key"));
  setUpstreamTokenSigner(new UpstreamTokenSigner(key, identity.resource ?? "portcullis"));
  logger.info({ keyId: key.keyId }, "signing upstream tokens");
}

/** The configured principal of the stdio ingress's local user. */
function stdioPrincipal(config: GatewayConfig, env: NodeJS.ProcessEnv): Principal {
  const { id, kind, roles } = config.identity.stdioPrincipal;
  return { id: id ?? `local:${env.USER ?? "user"}`, kind, roles, authMethod: "stdio-local" };
}
