// A configured upstream under supervision: its shared connection (catalogue, health checks, shared
// isolation), restarts with exponential backoff when it dies or stops answering pings, its circuit
// breaker, and per-client-session connections.
import { asGateway } from "./credentials.ts";
import type { ClientCapabilities, PriorDiscovery } from "@modelcontextprotocol/client";
import type { Logger } from "pino";
import type { UpstreamConfig } from "../config/schema.ts";
import { GatewayError } from "../errors.ts";
import type { SecurityEventBus } from "../events/bus.ts";
import {
  CircuitBreaker,
  type CallSource,
  type CircuitState,
  type CircuitTransition,
} from "../resilience/circuitBreaker.ts";
import { HealthMonitor } from "../resilience/healthCheck.ts";
import { UpstreamConnection, type ConnectionHandlers } from "./connection.ts";
import { UpstreamListener } from "./listen.ts";

/**
 * What the shared connection declares: servers list some tools only to clients that can sample or
 * elicit, and the catalogue must show them. Roots are never declared here: a server such as the
 * filesystem server would replace its configured directories with whatever the gateway answered.
 */
const CATALOGUE_CAPABILITIES: ClientCapabilities = { sampling: {}, elicitation: { form: {}, url: {} } };

export type UpstreamState = "starting" | "up" | "down" | "disabled" | "stopped";

/** An open breaker's probe timer fires this much after the wait, never a hair before it ends. */
const PROBE_MARGIN_MS = 20;

export interface UpstreamDependencies {
  readonly baseDir: string;
  readonly env: NodeJS.ProcessEnv;
  readonly logger: Logger;
  readonly events: SecurityEventBus;
  /** The shared connection came up (first start or restart): the catalogue should be refreshed. */
  readonly onUp: (upstream: Upstream) => Promise<void>;
  /** Clients can no longer use the upstream (it went down, or its breaker opened). */
  readonly onUnavailable: (upstream: Upstream) => void;
  /** An open breaker's wait is over: the gateway's probe (a catalogue refresh through `guard`) may go. */
  readonly onProbeDue: (upstream: Upstream) => Promise<void>;
  /** The upstream answered: a health check passed, or its breaker closed. */
  readonly onHealthy: (upstream: Upstream) => void;
  /** A notification arrived on the shared connection. */
  readonly onSharedNotification: (
    upstream: Upstream,
    method: string,
    params: Record<string, unknown> | undefined,
  ) => void;
}

export interface UpstreamStatus {
  readonly name: string;
  readonly state: UpstreamState;
  readonly transport: UpstreamConfig["transport"];
  readonly protocolVersion: string | undefined;
  readonly lastError: string | undefined;
  readonly restarts: number;
  /** The circuit breaker's state ("closed" when the breaker is disabled). */
  readonly circuit: CircuitState;
}

export class Upstream {
  private stateValue: UpstreamState = "starting";
  private sharedConnection: UpstreamConnection | undefined;
  private listener: UpstreamListener | undefined;
  private readonly watched = new Map<string, number>();
  private lastError: string | undefined;
  private restartAttempt = 0;
  private restarts = 0;
  private restartTimer: NodeJS.Timeout | undefined;
  private upSince = 0;
  private readonly breaker: CircuitBreaker | undefined;
  private probeTimer: NodeJS.Timeout | undefined;
  private health: HealthMonitor | undefined;
  private firstSettled: Promise<void>;
  private settleFirst!: () => void;
  private settledOnce = false;
  readonly stderrTail: string[] = [];

  readonly name: string;
  readonly config: UpstreamConfig;
  private readonly deps: UpstreamDependencies;

  constructor(name: string, config: UpstreamConfig, deps: UpstreamDependencies) {
    this.name = name;
    this.config = config;
    this.deps = deps;
    const { enabled, failureThreshold, openMs } = config.circuitBreaker;
    this.breaker = enabled
      ? new CircuitBreaker({
          upstream: name,
          failureThreshold,
          openMs,
          check: () => this.checkShared(),
          onTransition: (t) => this.onCircuit(t),
          onCheckCleared: ({ failures, outcome }) =>
            deps.logger.info(
              { upstream: name, failures, check: outcome },
              "circuit breaker stays closed: its check found the upstream alive",
            ),
        })
      : undefined;
    this.firstSettled = new Promise((resolve) => {
      this.settleFirst = () => {
        this.settledOnce = true;
        resolve();
      };
    });
    if (!config.enabled) {
      this.stateValue = "disabled";
      this.settleFirst();
    }
  }

  get state(): UpstreamState {
    return this.stateValue;
  }

  get shared(): UpstreamConnection | undefined {
    return this.stateValue === "up" ? this.sharedConnection : undefined;
  }

  get circuit(): CircuitState {
    return this.breaker?.state ?? "closed";
  }

  /** Whether clients can use it now: connected, and its breaker closed. */
  get available(): boolean {
    return this.stateValue === "up" && this.circuit === "closed";
  }

  /**
   * Runs a client's call to this upstream (on any of its connections) under its circuit breaker:
   * refused at once while it is down or the breaker is not closed. Its upstream faults are counted,
   * but only the gateway's own check of the upstream can open the breaker.
   */
  guardClientCall<T>(call: () => Promise<T>): Promise<T> {
    return this.guarded(call, "client");
  }

  /**
   * Runs the gateway's own request (the catalogue refresh) under the circuit breaker: once an open
   * breaker's wait is over, it is the probe that closes or re-opens it. Never for a client's call.
   */
  guard<T>(call: () => Promise<T>): Promise<T> {
    return this.guarded(call, "gateway");
  }

  private guarded<T>(call: () => Promise<T>, source: CallSource): Promise<T> {
    if (this.stateValue !== "up") return Promise.reject(this.unavailable());
    return this.breaker ? this.breaker.run(call, source) : call();
  }

  /** True once the first connection attempt has succeeded (catalogue loaded) or failed. */
  get isSettled(): boolean {
    return this.settledOnce;
  }

  /** Resolves once the first connection attempt has succeeded or failed (for readiness). */
  settled(): Promise<void> {
    return this.firstSettled;
  }

  status(): UpstreamStatus {
    return {
      name: this.name,
      state: this.stateValue,
      transport: this.config.transport,
      protocolVersion: this.sharedConnection?.protocolVersion,
      lastError: this.lastError,
      restarts: this.restarts,
      circuit: this.circuit,
    };
  }

  start(): void {
    if (this.stateValue === "disabled" || this.stateValue === "stopped") return;
    void this.connectShared();
  }

  /** Opens a connection whose server-initiated traffic belongs to one client session. */
  async openFor(capabilities: ClientCapabilities, handlers: ConnectionHandlers): Promise<UpstreamConnection> {
    const shared = this.sharedConnection;
    if (this.stateValue !== "up" || !shared) throw this.unavailable();
    try {
      return await this.open(capabilities, handlers, shared.verdict);
    } catch (err) {
      throw new GatewayError("PORTCULLIS_E_UPSTREAM_UNAVAILABLE", `${this.name}: ${describe(err)}`, {
        upstream: this.name,
      });
    }
  }

  unavailable(): GatewayError {
    return new GatewayError("PORTCULLIS_E_UPSTREAM_UNAVAILABLE", `${this.name} is ${this.stateValue}`, {
      upstream: this.name,
      state: this.stateValue,
    });
  }

  /**
   * Counts the sessions that watch a resource through the shared connection: a 2026-07-28
   * upstream's listen stream (it has no resources/subscribe), or a shared 2025 session. The
   * upstream hears only the first subscribe and the last unsubscribe, and again after a restart.
   */
  watchResource(uri: string, on: boolean): void {
    const count = (this.watched.get(uri) ?? 0) + (on ? 1 : -1);
    if (count > 0) this.watched.set(uri, count);
    else this.watched.delete(uri);
    if ((on && count !== 1) || (!on && count !== 0)) return;
    if (this.listener) this.listener.refresh();
    else void this.tellShared(on ? "resources/subscribe" : "resources/unsubscribe", uri);
  }

  private async tellShared(method: string, uri: string): Promise<void> {
    try {
      await this.shared?.request(method, { uri }, { timeoutMs: this.config.requestTimeoutMs });
    } catch (err) {
      this.deps.logger.warn(
        { upstream: this.name, uri, method, err },
        "could not change a shared subscription",
      );
    }
  }

  async stop(): Promise<void> {
    this.stateValue = "stopped";
    clearTimeout(this.restartTimer);
    clearTimeout(this.probeTimer);
    const { connection, listenerClosed } = this.detachShared();
    await listenerClosed;
    await connection?.close();
  }

  /** Forgets the shared connection and what runs on it (listen stream, health checks). */
  private detachShared(): { connection?: UpstreamConnection; listenerClosed?: Promise<void> } {
    const connection = this.sharedConnection;
    this.sharedConnection = undefined;
    const listenerClosed = this.listener?.close();
    this.listener = undefined;
    this.health?.stop();
    this.health = undefined;
    return { connection, listenerClosed };
  }

  private open(
    capabilities: ClientCapabilities,
    handlers: ConnectionHandlers,
    prior?: PriorDiscovery,
  ): Promise<UpstreamConnection> {
    return UpstreamConnection.open({
      prior,
      name: this.name,
      config: this.config,
      baseDir: this.deps.baseDir,
      env: this.deps.env,
      capabilities,
      handlers,
      logger: this.deps.logger,
      stderrTail: this.stderrTail,
    });
  }

  private async connectShared(): Promise<void> {
    const log = this.deps.logger.child({ upstream: this.name });
    let connection: UpstreamConnection | undefined;
    try {
      connection = await this.open(CATALOGUE_CAPABILITIES, {
        onNotification: (method, params) => this.deps.onSharedNotification(this, method, params),
        onServerRequest: () =>
          Promise.reject(
            new GatewayError(
              "PORTCULLIS_E_NOT_BRIDGEABLE",
              "server requests on a shared connection have no client",
            ),
          ),
        onClose: () => this.onSharedClosed(connection),
      });
    } catch (err) {
      this.lastError = describe(err);
      const tail = this.stderrTail.slice(-10);
      log.error(
        { command: commandLine(this.config), error: this.lastError, stderrTail: tail },
        "upstream failed to start",
      );
      this.markDown();
      return;
    }
    if (this.stateValue === "stopped") {
      await connection.close();
      return;
    }
    this.sharedConnection = connection;
    if (connection.era === "modern") {
      this.listener = new UpstreamListener(connection, log, () => [...this.watched.keys()]);
      this.listener.start();
    }
    this.stateValue = "up";
    this.upSince = performance.now();
    if (!this.listener)
      for (const uri of this.watched.keys()) void this.tellShared("resources/subscribe", uri);
    this.startHealthChecks(connection);
    this.lastError = undefined;
    log.info({ protocolVersion: connection.protocolVersion, era: connection.era }, "upstream connected");
    this.deps.events.emit({ type: "upstream_up", severity: "info", details: { upstream: this.name } });
    await this.deps.onUp(this);
    this.settleFirst();
  }

  private onSharedClosed(connection: UpstreamConnection | undefined): void {
    // A connection that never finished opening is reported by connectShared's own failure path.
    if (this.stateValue === "stopped" || !connection || connection !== this.sharedConnection) return;
    this.detachShared();
    this.lastError = "connection closed";
    this.deps.logger.warn(
      { upstream: this.name, stderrTail: this.stderrTail.slice(-10) },
      "upstream went down",
    );
    this.markDown();
  }

  private startHealthChecks(connection: UpstreamConnection): void {
    this.health = new HealthMonitor(this.config.healthCheck, {
      ping: (timeoutMs) => checkConnection(connection, timeoutMs),
      onUnhealthy: (failures, err) => this.onUnhealthy(connection, failures, err),
      onHealthy: () => this.deps.onHealthy(this),
    });
    // Timers armed here must not run as whichever caller's request led to this connection.
    asGateway(() => this.health?.start());
  }

  /**
   * The breaker's check of a suspicion: one health check, now, as nobody's call (never with the
   * credential of the client whose call raised it). A down upstream has nothing to confirm: its
   * restart and the catalogue refresh that follows take over.
   */
  private checkShared(): Promise<unknown> {
    const connection = this.shared;
    if (!connection) return Promise.resolve();
    return asGateway(() => checkConnection(connection, this.config.healthCheck.timeoutMs));
  }

  /** Pings went unanswered: down it goes, and a stdio server is stopped before its restart. */
  private onUnhealthy(connection: UpstreamConnection, failures: number, err: unknown): void {
    if (this.stateValue !== "up" || connection !== this.sharedConnection) return;
    this.detachShared();
    this.lastError = `${failures} health checks failed: ${describe(err)}`;
    this.deps.logger.warn(
      { upstream: this.name, failures, error: describe(err), stderrTail: this.stderrTail.slice(-10) },
      "upstream failed its health check",
    );
    this.markDown();
    void connection.close();
  }

  private onCircuit(transition: CircuitTransition): void {
    const { from, to, failures } = transition;
    const details = { upstream: this.name, from, failures };
    const log = this.deps.logger;
    if (to === "open") {
      const retryAfterSeconds = Math.ceil(this.config.circuitBreaker.openMs / 1000);
      log.warn({ ...details, retryAfterSeconds }, "circuit breaker opened");
      this.deps.events.emit({
        type: "circuit_open",
        severity: "medium",
        details: { ...details, retryAfterSeconds },
      });
      this.scheduleProbe();
      if (from === "closed" && this.stateValue === "up") this.deps.onUnavailable(this);
      return;
    }
    clearTimeout(this.probeTimer);
    if (to === "half-open") {
      log.info(details, "circuit breaker half-open");
      this.deps.events.emit({ type: "circuit_half_open", severity: "info", details });
    } else {
      log.info(details, "circuit breaker closed");
      this.deps.events.emit({ type: "circuit_closed", severity: "info", details });
      if (this.stateValue === "up") this.deps.onHealthy(this);
    }
  }

  /** When an open breaker's wait ends, the gateway probes the upstream itself: a client's call never probes. */
  private scheduleProbe(): void {
    const breaker = this.breaker;
    if (!breaker) return;
    clearTimeout(this.probeTimer);
    this.probeTimer = asGateway(() =>
      setTimeout(() => {
        if (breaker.state !== "open" || this.stateValue === "stopped") return;
        if (breaker.waitMs > 0) return this.scheduleProbe();
        // A down upstream is probed by the catalogue refresh that follows its restart.
        if (this.stateValue === "up") void this.deps.onProbeDue(this);
      }, breaker.waitMs + PROBE_MARGIN_MS),
    );
    this.probeTimer.unref();
  }

  private markDown(): void {
    const wasUp = this.stateValue === "up";
    this.stateValue = "down";
    this.settleFirst();
    const { initialDelayMs, maxDelayMs } = this.config.restart;
    // The backoff starts over only for a server that stayed up as long as its longest delay: one
    // that dies soon after every start is restarted ever more slowly.
    if (wasUp && performance.now() - this.upSince >= maxDelayMs) this.restartAttempt = 0;
    if (wasUp || this.restartAttempt === 0) {
      this.deps.events.emit({
        type: "upstream_down",
        severity: "medium",
        details: { upstream: this.name, error: this.lastError },
      });
    }
    if (wasUp) this.deps.onUnavailable(this);
    if (this.restartTimer) clearTimeout(this.restartTimer); // one restart loop, never two
    const delay = Math.min(maxDelayMs, initialDelayMs * 2 ** this.restartAttempt);
    const jittered = Math.round(delay * (0.8 + Math.random() * 0.4));
    this.restartAttempt++;
    this.restartTimer = asGateway(() =>
      setTimeout(() => {
        if (this.stateValue !== "down") return;
        this.restarts++;
        void this.connectShared();
      }, jittered),
    );
    this.restartTimer.unref();
  }
}

/** One health check: the 2026-07-28 revision has no `ping`; its cheapest request that any server answers is discovery. */
function checkConnection(connection: UpstreamConnection, timeoutMs: number): Promise<unknown> {
  const method = connection.era === "modern" ? "server/discover" : "ping";
  return connection.request(method, undefined, { timeoutMs });
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function commandLine(config: UpstreamConfig): string {
  return config.transport === "stdio" ? [config.command, ...config.args].join(" ") : config.url;
}
