// What a config reload changes among the upstreams: which start, which stop, which are replaced
// (any setting changed). Unchanged upstreams keep running, with their sessions and calls. Settings
// that only apply at restart (the audit store) are reported, not applied.
import type { GatewayConfig } from "./schema.ts";

export interface ReloadPlan {
  readonly added: string[];
  readonly removed: string[];
  readonly replaced: string[];
  /** Changed keys that a reload does not apply: they take effect when the gateway restarts. */
  readonly restartOnly: string[];
}

/**
 * The audit store is opened once per process: switching stores (or databases, files, keys or
 * nodes) in a reload would fork or orphan a hash chain, so these keys wait for a restart.
 */
const auditStoreKeys = [
  "store",
  "path",
  "postgres",
  "node",
  "durability",
  "batchMs",
  "fsync",
  "maxSizeMb",
  "checkpointEvery",
  "signingKey",
] as const;

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
  const restartOnly = auditStoreKeys
    .filter((key) => JSON.stringify(previous.audit[key]) !== JSON.stringify(next.audit[key]))
    .map((key) => `audit.${key}`);
  return { added, removed, replaced, restartOnly };
}
