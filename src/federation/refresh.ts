// Fetches an upstream's complete lists (every page) over its shared connection, asking only for
// what the server declared it offers.
import type { UpstreamConnection } from "../upstream/connection.ts";
import type { UpstreamLists } from "./catalog.ts";

const MAX_PAGES = 64;

export async function refreshLists(
  connection: UpstreamConnection,
  timeoutMs: number,
): Promise<UpstreamLists> {
  const caps = connection.client.getServerCapabilities() ?? {};
  const [tools, prompts, resources, resourceTemplates] = await Promise.all([
    caps.tools ? listAll(connection, "tools/list", "tools", timeoutMs) : [],
    caps.prompts ? listAll(connection, "prompts/list", "prompts", timeoutMs) : [],
    caps.resources ? listAll(connection, "resources/list", "resources", timeoutMs) : [],
    caps.resources ? listAll(connection, "resources/templates/list", "resourceTemplates", timeoutMs) : [],
  ]);
  return { tools, prompts, resources, resourceTemplates };
}

async function listAll(
  connection: UpstreamConnection,
  method: string,
  key: string,
  timeoutMs: number,
): Promise<Record<string, unknown>[]> {
  const items: Record<string, unknown>[] = [];
  let cursor: string | undefined;
  for (let page = 0; page < MAX_PAGES; page++) {
    const result = await connection.request(method, cursor ? { cursor } : undefined, { timeoutMs });
    const batch = result[key];
    if (Array.isArray(batch)) items.push(...(batch as Record<string, unknown>[]));
    cursor =
      typeof result.nextCursor === "string" && result.nextCursor.length > 0 ? result.nextCursor : undefined;
    if (!cursor) return items;
  }
  throw new Error(`${method} did not end after ${MAX_PAGES} pages`);
}
