// What a config reload changes among the upstreams: which start, which stop, which are replaced
// (any setting changed). Unchanged upstreams keep running, with their sessions and calls.
import type { GatewayConfig } from "./schema.ts";

export interface ReloadPlan {
  readonly added: string[];
  readonly removed: string[];
  readonly replaced: string[];
}

export function planReload(previous: GatewayConfig, next: GatewayConfig): ReloadPlan {
  const added: string[] = [];
  const removed: string[] = [];
  const replaced: string[] = [];
  for (const name of Object.keys(previous.upstreams)) {
    if (!(name in next.upstreams)) removed.push(name);
    else if (JSON.stringify(previous.upstreams[name]) !== JSON.stringify(next.upstreams[name]))
      replaced.push(name);
  }
  for (const name of Object.keys(next.upstreams)) if (!(name in previous.upstreams)) added.push(name);
  return { added, removed, replaced };
}
