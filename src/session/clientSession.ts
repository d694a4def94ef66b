// A client's session at the gateway: the channel back to the client, its own upstream connections
// (isolation), its in-flight requests (for cancellation) and its resource subscriptions.
import { createHash, randomBytes } from "node:crypto";
import type { ClientCapabilities } from "@modelcontextprotocol/client";
import type { Era, Principal } from "../pipeline/types.ts";
import type { UpstreamConnection } from "../upstream/connection.ts";
import { ResourceSubscriptions } from "./subscriptions.ts";

/**
 * One client request as the gateway tracks it: `id` is the client's JSON-RPC id (for the wire),
 * `key` is unique to this request at the gateway (clients may reuse ids across streams).
 */
export interface RequestRef {
  readonly id: string | number;
  readonly key: string;
}

/** How the gateway reaches back to one client; implemented by each ingress. */
export interface ClientChannel {
  readonly era: Era;
  readonly capabilities: ClientCapabilities;
  /** Sends a notification, on the stream of the related request when the transport has one. */
  notify(method: string, params: Record<string, unknown> | undefined, related?: RequestRef): void;
  /** Sends a server-to-client request and waits for the answer. */
  request(
    method: string,
    params: Record<string, unknown> | undefined,
    options: { related?: RequestRef; signal: AbortSignal },
  ): Promise<Record<string, unknown>>;
}

/** The edge facts of the request that opened a session. */
export interface SessionOrigin {
  readonly transport: "http" | "stdio";
  readonly clientAddress: string | undefined;
  readonly principal: Principal;
}

interface InFlightRequest extends RequestRef {
  readonly controller: AbortController;
  /** The upstream the request was forwarded to, once routed. */
  upstream: string | undefined;
}

/** 256 random bits, base64url: far above the 128 bits the identity design asks for. */
export function newSessionId(): string {
  return randomBytes(32).toString("base64url");
}

/** What logs and audit see instead of a session id. */
export function sessionDigest(id: string): string {
  return createHash("sha256").update(id).digest("base64url").slice(0, 16);
}

export class ClientSession {
  readonly digest: string;
  readonly createdAt = Date.now();
  lastSeen = Date.now();
  /** Upstream connections owned by this session, by upstream name. */
  readonly upstreams = new Map<string, Promise<UpstreamConnection>>();
  /** When each of the session's own upstream connections was last used, by upstream name. */
  readonly upstreamUsedAt = new Map<string, number>();
  /** In-flight client requests by their gateway key. */
  readonly inFlight = new Map<string, InFlightRequest>();
  readonly subscriptions = new ResourceSubscriptions();
  logLevel: string | undefined;
  /** Ends the client's transport (its streams too); set by the ingress that holds it. */
  terminate: (() => void) | undefined;
  private closed = false;

  readonly id: string;
  channel: ClientChannel;
  readonly clientInfo: { name: string; version: string } | undefined;
  readonly protocolVersion: string;

  /** Where the session was opened from, for messages that arrive from upstream on its behalf. */
  readonly origin: SessionOrigin;
  /**
   * The principal of the newest authenticated request of this session (the same principal as the
   * origin's, by binding, but with the roles, scopes and expiry of its newest credential).
   */
  principal: Principal;
  /** When the credential last presented for this session stops being valid (ms), if it does. */
  credentialExpiresAt: number | undefined;
  /**
   * The newest bearer token the client presented, kept in memory only (never logged or stored), for
   * upstreams that get a token exchanged for it (RFC 8693).
   */
  bearerToken: string | undefined;

  constructor(
    id: string,
    channel: ClientChannel,
    clientInfo: { name: string; version: string } | undefined,
    protocolVersion: string,
    origin: SessionOrigin,
  ) {
    this.origin = origin;
    this.principal = origin.principal;
    this.credentialExpiresAt = origin.principal.expiresAt;
    this.id = id;
    this.channel = channel;
    this.clientInfo = clientInfo;
    this.protocolVersion = protocolVersion;
    this.digest = sessionDigest(id);
  }

  get isClosed(): boolean {
    return this.closed;
  }

  touch(): void {
    this.lastSeen = Date.now();
  }

  /** True while a request of this session is forwarded to `upstream`. */
  busyOn(upstream: string): boolean {
    for (const request of this.inFlight.values()) if (request.upstream === upstream) return true;
    return false;
  }

  /**
   * The request an upstream's own request or log line belongs to: the only request of this session
   * in flight on that upstream. Undefined when there is none or several (then it is ambiguous).
   */
  soleInFlightOn(upstream: string): RequestRef | undefined {
    let found: RequestRef | undefined;
    for (const request of this.inFlight.values()) {
      if (request.upstream !== upstream) continue;
      if (found) return undefined;
      found = { id: request.id, key: request.key };
    }
    return found;
  }

  /** notifications/cancelled names the client's id; 2025 sessions keep ids unique while in flight. */
  cancel(clientId: string | number, reason: string): void {
    for (const request of this.inFlight.values()) {
      if (String(request.id) === String(clientId)) request.controller.abort(new Error(reason));
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const { controller } of this.inFlight.values()) controller.abort(new Error("session closed"));
    this.inFlight.clear();
    const connections = [...this.upstreams.values()];
    this.upstreams.clear();
    await Promise.allSettled(connections.map(async (c) => (await c).close()));
  }
}
