// Keeps one `subscriptions/listen` stream open to a 2026-07-28 upstream: list changes for the
// catalogue, and updates of every resource some client subscribed to. The stream is reopened
// whenever the set of watched resources changes or the upstream ends it.
import type { McpSubscription } from "@modelcontextprotocol/client";
import type { Logger } from "pino";
import type { UpstreamConnection } from "./connection.ts";

export class UpstreamListener {
  private readonly watched = new Map<string, number>();
  private subscription: McpSubscription | undefined;
  private reopening: Promise<void> | undefined;
  private dirty = false;
  private closed = false;
  private readonly connection: UpstreamConnection;
  private readonly logger: Logger;

  constructor(connection: UpstreamConnection, logger: Logger) {
    this.connection = connection;
    this.logger = logger;
  }

  start(): void {
    this.schedule();
  }

  /** Counts watchers per URI, so one client's unsubscribe does not end another's. */
  watch(uri: string, on: boolean): void {
    const count = (this.watched.get(uri) ?? 0) + (on ? 1 : -1);
    if (count > 0) this.watched.set(uri, count);
    else this.watched.delete(uri);
    this.schedule();
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.subscription?.close().catch(() => undefined);
  }

  private schedule(): void {
    this.dirty = true;
    this.reopening ??= this.reopen().finally(() => {
      this.reopening = undefined;
      if (this.dirty && !this.closed) this.schedule();
    });
  }

  private async reopen(): Promise<void> {
    await Promise.resolve();
    this.dirty = false;
    const previous = this.subscription;
    this.subscription = undefined;
    await previous?.close().catch(() => undefined);
    if (this.closed) return;
    const caps = this.connection.client.getServerCapabilities() ?? {};
    const filter = {
      ...(caps.tools?.listChanged ? { toolsListChanged: true } : {}),
      ...(caps.prompts?.listChanged ? { promptsListChanged: true } : {}),
      ...(caps.resources?.listChanged ? { resourcesListChanged: true } : {}),
      ...(caps.resources?.subscribe && this.watched.size > 0
        ? { resourceSubscriptions: [...this.watched.keys()] }
        : {}),
    };
    if (Object.keys(filter).length === 0) {
      this.logger.debug(
        { upstream: this.connection.name, caps },
        "upstream offers no change notifications to listen to",
      );
      return;
    }
    try {
      const subscription = await this.connection.client.listen(filter);
      this.subscription = subscription;
      this.logger.debug(
        { upstream: this.connection.name, honored: subscription.honoredFilter },
        "upstream listen stream open",
      );
      void subscription.closed.then((how) => {
        if (how !== "local" && this.subscription === subscription && !this.closed) {
          this.logger.debug(
            { upstream: this.connection.name, how },
            "upstream listen stream ended; reopening",
          );
          setTimeout(() => this.schedule(), 1000).unref();
        }
      });
    } catch (err) {
      this.logger.warn(
        { upstream: this.connection.name, err },
        "could not open subscriptions/listen upstream",
      );
    }
  }
}
