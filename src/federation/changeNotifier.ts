// Carries what upstreams announce to the clients that should hear it: list changes (after the
// catalogue is reloaded, or an upstream is hidden or shown), resource updates (to subscribed
// sessions), log lines and other notifications (to the session whose connection sent them), every
// one through the layer chain.
import { asGateway } from "../upstream/credentials.ts";
import type { Logger } from "pino";
import type { LayerChain } from "../pipeline/chain.ts";
import { sessionContext } from "../pipeline/context.ts";
import { LIST_CHANGED_NOTIFICATIONS } from "../protocol.ts";
import { GatewayError } from "../errors.ts";
import type { ClientSession, RequestRef } from "../session/clientSession.ts";
import type { Upstream } from "../upstream/upstream.ts";
import type { Catalog, UpstreamLists } from "./catalog.ts";
import { refreshLists } from "./refresh.ts";

/** What the notifier reads from the gateway; getters, because a reload replaces chain and catalogue. */
export interface NotifierSurroundings {
  readonly chain: () => LayerChain;
  readonly catalog: () => Catalog;
  readonly upstream: (name: string) => Upstream | undefined;
  readonly sessions: () => Iterable<ClientSession>;
  readonly logger: Logger;
}

/** A refresh under way: news that arrives meanwhile asks for one more pass; `done` ends with the last. */
interface RefreshState {
  again: boolean;
  readonly signalled: Set<string>;
  /** Resolves when the last pass is over, with why it failed, if it did. */
  done: Promise<unknown>;
}

export class ChangeNotifier {
  private readonly at: NotifierSurroundings;
  /** Refreshes under way, by upstream: news that arrives meanwhile asks for one more pass. */
  private readonly refreshing = new Map<string, RefreshState>();

  constructor(surroundings: NotifierSurroundings) {
    this.at = surroundings;
  }

  /** A notification on a session's own upstream connection. */
  fromSessionConnection(
    session: ClientSession,
    upstream: string,
    method: string,
    params: Record<string, unknown> | undefined,
  ): void {
    if (method.endsWith("/list_changed")) {
      // Lists come from the shared catalogue: refresh it, then pass the news on.
      void this.refresh(upstream, method);
      return;
    }
    if (method === "notifications/progress" || method === "notifications/cancelled") return;
    // A log line belongs on the stream of the request that caused it, when that is unambiguous.
    const related = method === "notifications/message" ? session.soleInFlightOn(upstream) : undefined;
    void this.forward(session, upstream, method, params, related);
  }

  /** A notification on an upstream's shared connection. */
  fromSharedConnection(upstream: string, method: string, params: Record<string, unknown> | undefined): void {
    if (method.endsWith("/list_changed")) {
      void this.refresh(upstream, method);
      return;
    }
    if (method !== "notifications/resources/updated") return;
    const uri = String(params?.uri);
    for (const session of this.at.sessions()) {
      if (session.subscriptions.has(uri)) void this.forward(session, upstream, method, params);
    }
  }

  /** Sends one notification to one client, if the layers let it pass. */
  async forward(
    session: ClientSession,
    upstream: string,
    method: string,
    params: Record<string, unknown> | undefined,
    related?: RequestRef,
  ): Promise<void> {
    const ctx = sessionContext(session);
    const run = await this.at
      .chain()
      .runNotification({ direction: "to-client", method, params, upstream }, ctx);
    if (run.verdict.kind === "pass") session.channel.notify(method, run.value, related);
  }

  /**
   * Reloads an upstream's lists into the catalogue. Clients hear of every list that differs, and
   * of the list the upstream said changed (its per-session view may differ from the shared one).
   * One refresh per upstream at a time: every session's connection may report the same change, and
   * what arrives while a refresh runs is folded into a single further pass, which this waits for.
   */
  async refresh(upstreamName: string, signalled?: string): Promise<void> {
    // The shared catalogue is nobody's: never fetched with the credential of whoever's call
    // happened to carry the change notice.
    await asGateway(() => this.refreshCatalogue(upstreamName, signalled));
  }

  /**
   * Resolves once the catalogue shows the lists the upstream's current connection serves: at once
   * when it does, else after the refresh under way, or one started now (the catalogue guard waits
   * here, bounded, for a call no list has judged). Rejects, without waiting, with the error a
   * client's call gets when the upstream is down or its breaker is not closed; after a refresh that
   * failed, with why it failed.
   */
  async current(upstreamName: string): Promise<void> {
    const upstream = this.at.upstream(upstreamName);
    if (!upstream)
      throw new GatewayError("PORTCULLIS_E_UPSTREAM_UNAVAILABLE", `${upstreamName} is not configured`, {
        upstream: upstreamName,
      });
    if (!upstream.available) throw await refusalOf(upstream);
    const shown = () => this.at.catalog().listed(upstreamName) !== undefined;
    let failure = await this.refreshing.get(upstreamName)?.done;
    if (upstream.available && !shown()) failure = await asGateway(() => this.refreshCatalogue(upstreamName));
    if (!upstream.available) throw await refusalOf(upstream);
    if (!shown())
      throw failure instanceof GatewayError
        ? failure
        : new GatewayError("PORTCULLIS_E_UPSTREAM_UNAVAILABLE", `${upstreamName}'s lists could not be read`, {
            upstream: upstreamName,
          });
  }

  /** Whether this upstream's lists are being read again now. */
  isRefreshing(upstreamName: string): boolean {
    return this.refreshing.has(upstreamName);
  }

  /**
   * Takes a down upstream's items out of every list (`whenDown: hide`) and tells the clients whose
   * lists lost something. The refresh that follows its recovery puts them back.
   */
  hide(upstreamName: string): void {
    const catalog = this.at.catalog();
    const before = catalog.listed(upstreamName);
    catalog.setHidden(upstreamName, true);
    if (before) this.notifyAll(changedLists(before, undefined, []));
  }

  /**
   * Brings an upstream that answers again back into the lists: a hidden one, or one whose lists
   * never loaded. Nothing to do while a refresh runs (it shows the upstream when it ends).
   */
  relist(upstreamName: string): void {
    const upstream = this.at.upstream(upstreamName);
    const catalog = this.at.catalog();
    if (!upstream?.available || this.refreshing.has(upstreamName)) return;
    if (catalog.isHidden(upstreamName) || !catalog.lists(upstreamName)) void this.refresh(upstreamName);
  }

  /** Joins the refresh under way (asking for one more pass) or starts one; resolves with its last failure. */
  private refreshCatalogue(upstreamName: string, signalled?: string): Promise<unknown> {
    const running = this.refreshing.get(upstreamName);
    if (running) {
      running.again = true;
      if (signalled) running.signalled.add(signalled);
      return running.done;
    }
    const state: RefreshState = {
      again: true,
      signalled: new Set(signalled ? [signalled] : []),
      done: Promise.resolve(undefined),
    };
    this.refreshing.set(upstreamName, state);
    state.done = this.refreshPasses(upstreamName, state);
    return state.done;
  }

  private async refreshPasses(upstreamName: string, state: RefreshState): Promise<unknown> {
    let failure: unknown;
    try {
      while (state.again) {
        state.again = false;
        const reported = [...state.signalled];
        state.signalled.clear();
        failure = await this.refreshOnce(upstreamName, reported);
      }
    } finally {
      this.refreshing.delete(upstreamName);
    }
    return failure;
  }

  /**
   * One refresh, as one call under the upstream's circuit breaker (when the breaker's wait is over,
   * it is the probe that closes or re-opens it), each list request retried after upstream faults.
   * Resolves with why it failed, if it did.
   */
  private async refreshOnce(upstreamName: string, signalled: readonly string[]): Promise<unknown> {
    const upstream = this.at.upstream(upstreamName);
    const connection = upstream?.shared;
    if (!upstream || !connection) return upstream?.unavailable();
    const { requestTimeoutMs, listRetries } = upstream.config;
    const log = this.at.logger;
    try {
      const lists = await upstream.guard(() =>
        refreshLists(connection, {
          timeoutMs: requestTimeoutMs,
          retries: listRetries,
          onRetry: (method, err, attempt) =>
            log.info({ upstream: upstreamName, method, attempt, err }, "retrying a list request"),
        }),
      );
      // Read after the wait: the upstream may have been hidden or shown meanwhile.
      const catalog = this.at.catalog();
      const before = catalog.listed(upstreamName);
      catalog.set(upstreamName, lists);
      if (upstream.available) catalog.setHidden(upstreamName, false);
      this.notifyAll(changedLists(before, catalog.listed(upstreamName), signalled));
      return undefined;
    } catch (err) {
      const refused = err instanceof GatewayError && err.code === "PORTCULLIS_E_CIRCUIT_OPEN";
      // An open breaker's refusal is expected: its own probe refreshes the catalogue later.
      if (refused) log.debug({ upstream: upstreamName }, "catalogue refresh waits for the circuit breaker");
      else log.warn({ upstream: upstreamName, err }, "could not refresh the catalogue");
      return err;
    }
  }

  notifyAll(methods: readonly string[]): void {
    for (const session of this.at.sessions()) {
      for (const method of methods) void this.forward(session, "portcullis", method, undefined);
    }
  }
}

/**
 * The error a client's call to an upstream that is not available gets now: it is down, or its
 * breaker is not closed, which refuses a client's call at once (the call itself never runs).
 */
async function refusalOf(upstream: Upstream): Promise<unknown> {
  if (upstream.state !== "up") return upstream.unavailable();
  return upstream
    .guardClientCall(() => Promise.resolve())
    .then(
      () => upstream.unavailable(),
      (err: unknown) => err,
    );
}

/** The list_changed notifications clients need when what they are shown goes from `before` to `after`. */
function changedLists(
  before: UpstreamLists | undefined,
  after: UpstreamLists | undefined,
  signalled: readonly string[],
): string[] {
  const changed = new Set<string>();
  for (const method of signalled) {
    if ((LIST_CHANGED_NOTIFICATIONS as readonly string[]).includes(method)) changed.add(method);
  }
  const differs = (kind: keyof UpstreamLists) =>
    JSON.stringify(before?.[kind] ?? []) !== JSON.stringify(after?.[kind] ?? []);
  if (differs("tools")) changed.add("notifications/tools/list_changed");
  if (differs("prompts")) changed.add("notifications/prompts/list_changed");
  if (differs("resources") || differs("resourceTemplates"))
    changed.add("notifications/resources/list_changed");
  return [...changed];
}
