// Keeps one `subscriptions/listen` stream open to a 2026-07-28 upstream: list changes for the
// catalogue, and updates of every resource some client subscribed to. The stream is reopened
// whenever the set of watched resources changes or the upstream ends it.
import type { McpSubscription } from "@modelcontextprotocol/client";
import type { Logger } from "pino";
import type { UpstreamConnection } from "./connection.ts";

export class UpstreamListener {
  private subscription: McpSubscription | undefined;
  private reopening: Promise<void> | undefined;
  private dirty = false;
  private closed = false;
  private readonly connection: UpstreamConnection;
  private readonly logger: Logger;

  /** The URIs some client watches; owned by the upstream so that they survive reconnects. */
  private readonly watched: () => readonly string[];

  constructor(connection: UpstreamConnection, logger: Logger, watched: () => readonly string[]) {
    this.connection = connection;
    this.logger = logger;
    this.watched = watched;
  }

  start(): void {
    this.schedule();
  }

  /** The set of watched resources changed: reopen the stream with the new filter. */
  refresh(): void {
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
      ...(caps.resources?.subscribe && this.watched().length > 0
        ? { resourceSubscriptions: [...this.watched()] }
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
