// Serves `subscriptions/listen` to 2026-07-28 clients: an event stream that starts with an
// acknowledgement of the honored filter and then carries the matching change notifications, each
// tagged with the subscription id (the listen request's id), until the client goes away.
import type { ServerResponse } from "node:http";

export const SUBSCRIPTION_ID_META_KEY = "io.modelcontextprotocol/subscriptionId";
const KEEP_ALIVE_MS = 15_000;

export interface SubscriptionFilter {
  toolsListChanged?: boolean;
  promptsListChanged?: boolean;
  resourcesListChanged?: boolean;
  resourceSubscriptions?: string[];
}

export interface ListenStream {
  readonly filter: SubscriptionFilter;
  deliver(method: string, params: Record<string, unknown> | undefined): void;
  /** Ends the stream (the session was revoked or its address blocked). */
  end(): void;
}

/** The part of the requested filter that the gateway honours (it offers every change type). */
export function honoredFilter(requested: unknown): SubscriptionFilter {
  const r = (requested ?? {}) as SubscriptionFilter;
  const honored: SubscriptionFilter = {};
  if (r.toolsListChanged === true) honored.toolsListChanged = true;
  if (r.promptsListChanged === true) honored.promptsListChanged = true;
  if (r.resourcesListChanged === true) honored.resourcesListChanged = true;
  if (Array.isArray(r.resourceSubscriptions)) {
    const uris = r.resourceSubscriptions.filter((u): u is string => typeof u === "string");
    if (uris.length > 0) honored.resourceSubscriptions = uris;
  }
  return honored;
}

export function filterAccepts(
  filter: SubscriptionFilter,
  method: string,
  params: Record<string, unknown> | undefined,
): boolean {
  switch (method) {
    case "notifications/tools/list_changed":
      return filter.toolsListChanged === true;
    case "notifications/prompts/list_changed":
      return filter.promptsListChanged === true;
    case "notifications/resources/list_changed":
      return filter.resourcesListChanged === true;
    case "notifications/resources/updated":
      return filter.resourceSubscriptions?.includes(String(params?.uri)) === true;
    default:
      return false;
  }
}

/** A notification of a listen stream, tagged with its subscription id. */
export function tagged(
  method: string,
  params: Record<string, unknown> | undefined,
  subscriptionId: string | number,
): { jsonrpc: "2.0"; method: string; params: Record<string, unknown> } {
  const meta = {
    ...((params?._meta as Record<string, unknown> | undefined) ?? {}),
    [SUBSCRIPTION_ID_META_KEY]: subscriptionId,
  };
  return { jsonrpc: "2.0", method, params: { ...params, _meta: meta } };
}

/** Opens the event stream on `res`, writes the acknowledgement, and returns the stream's handle. */
export function openListenStream(
  res: ServerResponse,
  subscriptionId: string | number,
  filter: SubscriptionFilter,
  onClose: () => void,
): ListenStream {
  res.writeHead(200, {
    "content-type": "text/event-stream",
    "cache-control": "no-cache, no-transform",
    connection: "keep-alive",
  });
  const write = (method: string, params: Record<string, unknown> | undefined) => {
    res.write(`event: message\ndata: ${JSON.stringify(tagged(method, params, subscriptionId))}\n\n`);
  };
  write("notifications/subscriptions/acknowledged", { notifications: filter });
  const keepAlive = setInterval(() => res.write(": keepalive\n\n"), KEEP_ALIVE_MS);
  keepAlive.unref();
  res.once("close", () => {
    clearInterval(keepAlive);
    onClose();
  });
  return {
    filter,
    deliver(method, params) {
      if (filterAccepts(filter, method, params)) write(method, params);
    },
    end() {
      res.end();
    },
  };
}
