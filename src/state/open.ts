// Opens the state store the config asks for: this process's memory, or Redis shared by every node.
// An unreachable Redis never stops the start: the store is returned unavailable, and the layers
// refuse or fall back (state.onUnavailable) until it reconnects in the background.
import { readFileSync } from "node:fs";
import { isIP } from "node:net";
import { resolve } from "node:path";
import type { ConnectionOptions } from "node:tls";
import type { Logger } from "pino";
import type { StateConfig } from "../config/stateSchema.ts";
import { ConfigError } from "../errors.ts";
import { MemoryStateStore } from "./memoryStore.ts";
import { RedisStateStore, type AvailabilityListener, type RedisStateStoreOptions } from "./redisStore.ts";
import type { Unsubscribe } from "./store.ts";

/** The in-memory store, with the availability API every store has: it is always there. */
export class LocalStateStore extends MemoryStateStore {
  readonly backend = "memory";

  isAvailable(): boolean {
    return true;
  }

  onAvailability(_listener: AvailabilityListener): Unsubscribe {
    return () => undefined;
  }
}

/** What the runtime holds; `backend` tells them apart (only Redis has a `client` to share). */
export type OpenedStateStore = LocalStateStore | RedisStateStore;

/**
 * The configured store. For Redis, waits at most `connectTimeoutMs` for the first connection and
 * logs one error (naming host and port, never the password) when it is not there.
 */
export async function openStateStore(
  config: StateConfig,
  logger: Logger,
  configDir: string = process.cwd(),
): Promise<OpenedStateStore> {
  if (config.backend === "memory") return new LocalStateStore();
  const store = new RedisStateStore(redisStoreOptions(config, logger, configDir));
  const { keyPrefix, connectTimeoutMs } = config.redis;
  if (await store.settled(connectTimeoutMs)) {
    logger.info({ redis: store.where, keyPrefix }, "shared state store open (Redis)");
    return store;
  }
  const meanwhile =
    config.onUnavailable === "deny"
      ? "requests that need shared state are refused"
      : "each node uses its own in-memory state";
  const reason = store.unavailableReason ?? `no connection within ${connectTimeoutMs} ms`;
  logger.error(
    { redis: store.where, reason, onUnavailable: config.onUnavailable },
    `shared state store (Redis at ${store.where}) is unreachable: ${reason}; ${meanwhile} until it is back (reconnecting in the background)`,
  );
  return store;
}

/** The connection settings from the URL, which itself never reaches the driver (nor its errors). */
export function redisStoreOptions(
  config: StateConfig,
  logger: Logger,
  configDir: string,
): RedisStateStoreOptions {
  const { url, tls, keyPrefix, connectTimeoutMs, commandTimeoutMs } = config.redis;
  if (url === undefined) throw new Error("state.redis.url is not set");
  const parsed = new URL(url);
  const host = parsed.hostname.replace(/^\[(.*)\]$/, "$1");
  return {
    host,
    port: parsed.port ? Number(parsed.port) : 6379,
    username: parsed.username ? decoded(parsed.username) : undefined,
    password: parsed.password ? decoded(parsed.password) : undefined,
    db: parsed.pathname.length > 1 ? Number(parsed.pathname.slice(1)) : undefined,
    tls: parsed.protocol === "rediss:" ? tlsOptions(host, tls ?? {}, configDir) : undefined,
    keyPrefix,
    connectTimeoutMs,
    commandTimeoutMs,
    logger,
  };
}

type RedisTlsFiles = NonNullable<StateConfig["redis"]["tls"]>;

function tlsOptions(host: string, files: RedisTlsFiles, configDir: string): ConnectionOptions {
  const read = (key: keyof RedisTlsFiles): Buffer | undefined => {
    const file = files[key];
    if (file === undefined) return undefined;
    const path = resolve(configDir, file);
    try {
      return readFileSync(path);
    } catch (err) {
      throw new ConfigError([
        {
          file: path,
          line: undefined,
          column: undefined,
          path: `state.redis.tls.${key}`,
          message: `cannot read: ${err instanceof Error ? err.message : String(err)}`,
        },
      ]);
    }
  };
  return {
    minVersion: "TLSv1.2",
    rejectUnauthorized: true,
    // SNI takes names only; the certificate is checked against the host either way.
    servername: isIP(host) === 0 ? host : undefined,
    ca: read("caFile"),
    cert: read("certFile"),
    key: read("keyFile"),
  };
}

/** A user name or password from the URL: percent-decoded when it is valid percent-encoding. */
function decoded(part: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    return part;
  }
}
