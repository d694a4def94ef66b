// The protocol revisions the gateway speaks to clients, the capabilities it offers, and its answers
// to the two handshakes (2025 `initialize`, 2026-07-28 `server/discover`).
import { GATEWAY_INFO } from "./upstream/connection.ts";

export const LEGACY_VERSIONS = ["2025-11-25", "2025-06-18", "2025-03-26"] as const;
export const MODERN_VERSIONS = ["2026-07-28"] as const;

export const gatewayCapabilities = {
  tools: { listChanged: true },
  prompts: { listChanged: true },
  resources: { subscribe: true, listChanged: true },
  completions: {},
  logging: {},
} as const;

export const LIST_CHANGED_NOTIFICATIONS = [
  "notifications/tools/list_changed",
  "notifications/prompts/list_changed",
  "notifications/resources/list_changed",
] as const;

/** Echoes the client's revision when the gateway speaks it, else offers the newest 2025 one. */
export function initializeResult(requestedVersion: unknown): Record<string, unknown> {
  const version =
    typeof requestedVersion === "string" && (LEGACY_VERSIONS as readonly string[]).includes(requestedVersion)
      ? requestedVersion
      : LEGACY_VERSIONS[0];
  return { protocolVersion: version, capabilities: gatewayCapabilities, serverInfo: { ...GATEWAY_INFO } };
}

export function discoverResult(): Record<string, unknown> {
  return {
    supportedVersions: [...MODERN_VERSIONS],
    capabilities: gatewayCapabilities,
    _meta: { "io.modelcontextprotocol/serverInfo": { ...GATEWAY_INFO } },
  };
}
