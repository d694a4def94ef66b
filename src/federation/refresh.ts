// Fetches an upstream's complete lists (every page) over its shared connection, asking only for
// what the server declared it offers; a page that fails with an upstream fault is asked again.
import { GatewayError } from "../errors.ts";
import { withListRetries } from "../resilience/retry.ts";
import type { UpstreamConnection } from "../upstream/connection.ts";
import type { UpstreamLists } from "./catalog.ts";

const MAX_PAGES = 64;

export interface RefreshOptions {
  readonly timeoutMs: number;
  /** Further attempts of a page after an upstream fault (see `withListRetries`). */
  readonly retries: number;
  readonly retryDelayMs?: number;
  readonly onRetry?: (method: string, err: unknown, attempt: number) => void;
}

export async function refreshLists(
  connection: UpstreamConnection,
  options: RefreshOptions,
): Promise<UpstreamLists> {
  const caps = connection.client.getServerCapabilities() ?? {};
  const [tools, prompts, resources, resourceTemplates] = await Promise.all([
    caps.tools ? listAll(connection, "tools/list", "tools", options) : [],
    caps.prompts ? listAll(connection, "prompts/list", "prompts", options) : [],
    caps.resources ? listAll(connection, "resources/list", "resources", options) : [],
    caps.resources ? listAll(connection, "resources/templates/list", "resourceTemplates", options) : [],
  ]);
  return { tools, prompts, resources, resourceTemplates };
}

async function listAll(
  connection: UpstreamConnection,
  method: string,
  key: string,
  options: RefreshOptions,
): Promise<Record<string, unknown>[]> {
  const items: Record<string, unknown>[] = [];
  let cursor: string | undefined;
  for (let page = 0; page < MAX_PAGES; page++) {
    const params = cursor ? { cursor } : undefined;
    const result = await withListRetries(
      method,
      () => connection.request(method, params, { timeoutMs: options.timeoutMs }),
      {
        retries: options.retries,
        delayMs: options.retryDelayMs,
        onRetry: (err, attempt) => options.onRetry?.(method, err, attempt),
      },
    );
    const batch = result[key];
    if (Array.isArray(batch)) items.push(...(batch as Record<string, unknown>[]));
    cursor =
      typeof result.nextCursor === "string" && result.nextCursor.length > 0 ? result.nextCursor : undefined;
    if (!cursor) return items;
  }
  throw new GatewayError("PORTCULLIS_E_UPSTREAM_PROTOCOL", `${method} did not end after ${MAX_PAGES} pages`, {
    upstream: connection.name,
  });
}
