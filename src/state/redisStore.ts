// The Redis state store: the security state every gateway node shares. While Redis is away commands
// fail at once (no offline queue, a timeout on every command) and both connections come back by
// themselves; the runtime learns of both edges through isAvailable() and onAvailability().
import type { ConnectionOptions } from "node:tls";
import { Redis, type RedisOptions } from "ioredis";
import type { Logger } from "pino";
import type { StateStore, Unsubscribe } from "./store.ts";

/** Called when shared state becomes reachable (`up`) or unreachable (with why, never a password). */
export type AvailabilityListener = (up: boolean, error?: string) => void;

export interface RedisStateStoreOptions {
  readonly host: string;
  readonly port: number;
  /** An ACL user; the `default` user when unset. */
  readonly username?: string;
  readonly password?: string;
  readonly db?: number;
  /** Set for rediss://. */
  readonly tls?: ConnectionOptions;
  /** Put before every key and channel. */
  readonly keyPrefix: string;
  readonly connectTimeoutMs: number;
  readonly commandTimeoutMs: number;
  /** For failures of callbacks (subscribers, availability listeners): they have no caller to throw to. */
  readonly logger: Logger;
}

/** Shared state cannot be reached: the caller applies `state.onUnavailable`. */
export class StateUnavailableError extends Error {
  readonly code = "PORTCULLIS_E_STATE_UNAVAILABLE";

  constructor(message: string) {
    super(message);
    this.name = "StateUnavailableError";
  }
}

/** Reconnect backoff: 100 ms doubling to this cap, for as long as Redis is away. */
const RECONNECT_MAX_MS = 2_000;

/**
 * Creates the counter with its expiry only when it does not exist, then adds: one script, so that
 * concurrent increments from any number of nodes never lose an update or extend the expiry (time
 * stands still for the keys while a script runs).
 */
const INCREMENT_SCRIPT = `
redis.call("SET", KEYS[1], 0, "NX", "PX", ARGV[2])
return redis.call("INCRBY", KEYS[1], ARGV[1])`;

interface WithIncrement {
  portcullisIncrement(key: string, by: number, ttlMs: number): Promise<number>;
}

export class RedisStateStore implements StateStore {
  readonly backend = "redis";
  /**
   * The command connection, for the rate limiter to share. What others write through it gets no
   * prefix from this store: give them keyPrefix themselves (a prefix-limited ACL user expects it).
   */
  readonly client: Redis;
  /** `redis://host:port/db` or `rediss://…`: where the state is, as messages may show it. */
  readonly where: string;
  private readonly subscriber: Redis;
  private readonly options: RedisStateStoreOptions;
  private readonly channels = new Map<string, Set<(message: string) => void>>();
  private readonly listeners = new Set<AvailabilityListener>();
  /** Every subscription has been made on the subscriber connection since it last connected. */
  private subscriberUp = false;
  /** Undefined until the first connection attempt has succeeded or failed. */
  private available: boolean | undefined;
  private lastError: string | undefined;
  private closed = false;

  constructor(options: RedisStateStoreOptions) {
    this.options = options;
    const scheme = options.tls ? "rediss" : "redis";
    const host = options.host.includes(":") ? `[${options.host}]` : options.host;
    this.where = `${scheme}://${host}:${options.port}${options.db ? `/${options.db}` : ""}`;
    this.client = new Redis(connectionOptions(options));
    this.client.defineCommand("portcullisIncrement", { numberOfKeys: 1, lua: INCREMENT_SCRIPT });
    // Its own connection: a connection in subscriber mode takes no other commands.
    this.subscriber = this.client.duplicate();
    this.watchCommandConnection();
    this.watchSubscriberConnection();
  }

  isAvailable(): boolean {
    return this.available === true;
  }

  /** Called on every change after registration (not for the state now: read isAvailable()). */
  onAvailability(listener: AvailabilityListener): Unsubscribe {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Resolves once the first connection attempt has succeeded or failed, or after `timeoutMs`. */
  async settled(timeoutMs: number): Promise<boolean> {
    if (this.available !== undefined) return this.available;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(done, timeoutMs);
      const stop = this.onAvailability(done);
      function done(): void {
        clearTimeout(timer);
        stop();
        resolve();
      }
    });
    return this.isAvailable();
  }

  /** Why shared state is unreachable, as the last connection error said (never with a password). */
  get unavailableReason(): string | undefined {
    return this.lastError;
  }

  async increment(key: string, by: number, ttlMs: number): Promise<number> {
    if (!Number.isSafeInteger(by)) throw new TypeError(`counters add integers, not ${by}`);
    const client = this.client as Redis & WithIncrement;
    return this.run(() => client.portcullisIncrement(this.key(key), by, positiveMs(ttlMs)));
  }

  async get(key: string): Promise<string | undefined> {
    return (await this.run(() => this.client.get(this.key(key)))) ?? undefined;
  }

  async set(key: string, value: string, ttlMs?: number): Promise<void> {
    if (ttlMs === undefined) await this.run(() => this.client.set(this.key(key), value));
    // Already expired: what a reader would see, without the invalid PX 0.
    else if (ttlMs <= 0) await this.delete(key);
    else await this.run(() => this.client.set(this.key(key), value, "PX", positiveMs(ttlMs)));
  }

  async delete(key: string): Promise<void> {
    await this.run(() => this.client.del(this.key(key)));
  }

  async addToSet(key: string, member: string): Promise<number> {
    const results = await this.run(() =>
      this.client.multi().sadd(this.key(key), member).scard(this.key(key)).exec(),
    );
    const [added, size] = results ?? [];
    const failed = added?.[0] ?? size?.[0];
    if (failed) throw this.failure(failed);
    return Number(size?.[1]);
  }

  async removeFromSet(key: string, member: string): Promise<void> {
    await this.run(() => this.client.srem(this.key(key), member));
  }

  async members(key: string): Promise<string[]> {
    return this.run(() => this.client.smembers(this.key(key)));
  }

  async publish(channel: string, message: string): Promise<void> {
    await this.run(() => this.client.publish(this.key(channel), message));
  }

  subscribe(channel: string, onMessage: (message: string) => void): Unsubscribe {
    const name = this.key(channel);
    let listeners = this.channels.get(name);
    if (!listeners) {
      this.channels.set(name, (listeners = new Set()));
      if (this.subscriber.status === "ready") this.syncSubscription(this.subscriber.subscribe(name));
    }
    listeners.add(onMessage);
    return () => {
      listeners.delete(onMessage);
      if (listeners.size > 0 || this.channels.get(name) !== listeners) return;
      this.channels.delete(name);
      if (this.subscriber.status === "ready") this.subscriber.unsubscribe(name).catch(() => undefined);
    };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.listeners.clear();
    this.channels.clear();
    await Promise.all([quit(this.client), quit(this.subscriber)]);
  }

  private key(key: string): string {
    return this.options.keyPrefix + key;
  }

  private async run<T>(command: () => Promise<T>): Promise<T> {
    if (this.closed) throw new StateUnavailableError("the state store is closed");
    try {
      return await command();
    } catch (err) {
      throw this.failure(err);
    }
  }

  /**
   * A clear error of our own: the driver's errors carry the command's arguments (the password, for
   * AUTH), so they are never passed on or logged.
   */
  private failure(err: unknown): Error {
    const message = this.scrub(err instanceof Error ? err.message : String(err));
    if (err instanceof Error && err.name === "ReplyError" && !/^(NOAUTH|WRONGPASS|LOADING)/.test(message))
      return new Error(`Redis at ${this.where} refused a state command: ${message}`);
    const reason = this.client.status === "ready" ? message : (this.lastError ?? "connection lost");
    return new StateUnavailableError(`shared state (Redis at ${this.where}) is unavailable: ${reason}`);
  }

  private scrub(text: string): string {
    const { password } = this.options;
    return password ? text.replaceAll(password, "***") : text;
  }

  private watchCommandConnection(): void {
    this.client.on("ready", () => this.report());
    this.client.on("error", (err: Error) => this.lost("command", err));
    this.client.on("close", () => this.lost("command"));
  }

  private watchSubscriberConnection(): void {
    const subscriber = this.subscriber;
    subscriber.on("message", (channel: string, message: string) => this.deliver(channel, message));
    subscriber.on("error", (err: Error) => this.lost("subscriber", err));
    subscriber.on("close", () => this.lost("subscriber"));
    // Subscriptions are ours to restore (autoResubscribe is off): those made while Redis was away
    // never reached it, and the node counts as available only once it hears every channel again.
    subscriber.on("ready", () => {
      const names = [...this.channels.keys()];
      const restored = names.length > 0 ? subscriber.subscribe(...names) : Promise.resolve();
      restored.then(
        () => {
          this.subscriberUp = subscriber.status === "ready";
          this.report();
        },
        () => this.resubscribe(),
      );
    });
  }

  /** A SUBSCRIBE that fails on a live connection would leave this node deaf: start over. */
  private syncSubscription(subscribed: Promise<unknown>): void {
    subscribed.catch(() => this.resubscribe());
  }

  private resubscribe(): void {
    if (this.closed || this.subscriber.status !== "ready") return;
    this.subscriberUp = false;
    this.report();
    this.subscriber.disconnect(true);
  }

  private deliver(channel: string, message: string): void {
    for (const listener of this.channels.get(channel) ?? []) {
      try {
        listener(message);
      } catch (err) {
        this.options.logger.error({ err, channel }, "a state subscriber failed");
      }
    }
  }

  private lost(connection: "command" | "subscriber", err?: Error): void {
    if (err) this.lastError = this.scrub(err.message || err.name);
    else this.lastError ??= "connection closed";
    if (connection === "subscriber" && this.subscriber.status !== "ready") this.subscriberUp = false;
    this.report();
  }

  /** Tells listeners of a change, once per edge: one outage is one `false`, however many retries. */
  private report(): void {
    if (this.closed) return;
    const up = this.client.status === "ready" && this.subscriberUp && this.subscriber.status === "ready";
    if (up === this.available) return;
    // While the first attempt is still under way, one connection being ready is no news.
    if (!up && this.available === undefined && this.lastError === undefined) return;
    this.available = up;
    const reason = up ? undefined : (this.lastError ?? "connection lost");
    if (up) this.lastError = undefined;
    for (const listener of [...this.listeners]) {
      try {
        listener(up, reason);
      } catch (err) {
        this.options.logger.error({ err }, "a state availability listener failed");
      }
    }
  }
}

function connectionOptions(options: RedisStateStoreOptions): RedisOptions {
  return {
    host: options.host,
    port: options.port,
    username: options.username,
    password: options.password,
    db: options.db ?? 0,
    tls: options.tls,
    connectTimeout: options.connectTimeoutMs,
    commandTimeout: options.commandTimeoutMs,
    // Fail fast: nothing waits for a connection that is not there, and a command in flight when the
    // connection drops fails at once instead of being sent twice (an increment would count twice).
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    autoResendUnfulfilledCommands: false,
    autoResubscribe: false,
    retryStrategy: (attempt: number) => Math.min(100 * 2 ** Math.min(attempt - 1, 5), RECONNECT_MAX_MS),
    lazyConnect: false,
  };
}

/** Redis takes whole milliseconds above zero. */
function positiveMs(ms: number): number {
  return Math.max(1, Math.ceil(ms));
}

/** QUIT when connected (bounded by the command timeout), then no reconnecting either way. */
async function quit(connection: Redis): Promise<void> {
  try {
    if (connection.status === "ready") await connection.quit();
  } catch {
    // Closing anyway.
  } finally {
    connection.disconnect(false);
  }
}
