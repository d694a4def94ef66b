// Connection limits of the network layer, applied to the TCP socket before TLS or HTTP is spoken:
// a cap on all connections and one per peer address (IPv6 per /64; trusted proxies exempt), and the slow-client
// timeouts of Node's HTTP server (request head within `headersTimeoutMs`, checked every second).
import type { Server } from "node:http";
import type { Socket } from "node:net";
import type { NetworkConfig } from "../../config/networkSchema.ts";
import { normalizeAddress } from "../../state/enforcements.ts";
import { addressSubject } from "../ratelimit/plan.ts";

export interface ConnectionGuardOptions {
  readonly config: () => NetworkConfig;
  readonly isTrustedProxy: (address: string | undefined) => boolean;
  /** A connection was closed at once because its address holds too many (called once per refusal). */
  readonly onRefused: (address: string, open: number) => void;
}

export interface ConnectionGuard {
  /** Connections an address holds now. */
  openFrom(address: string): number;
}

/** The timeouts Node's HTTP server takes at creation (they are re-applied on every new connection). */
export function serverTimeouts(config: NetworkConfig): {
  headersTimeout: number;
  requestTimeout: number;
  keepAliveTimeout: number;
  connectionsCheckingInterval: number;
} {
  return {
    headersTimeout: config.headersTimeoutMs,
    // SSE streams are long-lived: a whole-request timeout would cut them; bodies have their own.
    requestTimeout: 0,
    keepAliveTimeout: 5_000,
    // How often Node looks for requests past headersTimeout (its default, 30 s, lets a slow client stay 40 s).
    connectionsCheckingInterval: 1_000,
  };
}

export function guardConnections(server: Server, options: ConnectionGuardOptions): ConnectionGuard {
  const open = new Map<string, number>();
  const apply = (config: NetworkConfig) => {
    server.maxConnections = config.maxConnections;
    server.headersTimeout = config.headersTimeoutMs;
  };
  apply(options.config());
  server.on("connection", (socket: Socket) => {
    const config = options.config();
    apply(config); // a reload's limits hold from the next connection on
    const peer = socket.remoteAddress;
    if (peer === undefined || options.isTrustedProxy(peer)) return;
    // IPv6 peers count per /64: one host usually holds a whole /64 and could rotate through it.
    const address = addressSubject(normalizeAddress(peer)) ?? peer;
    const count = (open.get(address) ?? 0) + 1;
    if (count > config.maxConnectionsPerAddress) {
      socket.destroy();
      options.onRefused(address, count - 1);
      return;
    }
    open.set(address, count);
    socket.once("close", () => {
      const left = (open.get(address) ?? 1) - 1;
      if (left > 0) open.set(address, left);
      else open.delete(address);
    });
  });
  return { openFrom: (address) => open.get(addressSubject(normalizeAddress(address)) ?? address) ?? 0 };
}
