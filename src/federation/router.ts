// Decides where each client request goes: answered by the gateway (lists, ping, discovery), sent
// to the one upstream that owns a name or URI, or broadcast to every upstream of the session.
import { GatewayError } from "../errors.ts";
import type { RouteTarget } from "../pipeline/types.ts";
import type { Catalog } from "./catalog.ts";

export const LIST_METHODS = {
  "tools/list": "tools",
  "prompts/list": "prompts",
  "resources/list": "resources",
  "resources/templates/list": "resourceTemplates",
} as const;

export type ListMethod = keyof typeof LIST_METHODS;

const localMethods = new Set<string>([
  ...Object.keys(LIST_METHODS),
  "ping",
  "server/discover",
  // The gateway serves listen streams itself, fed by every upstream's changes.
  "subscriptions/listen",
]);

export function isListMethod(method: string): method is ListMethod {
  return Object.hasOwn(LIST_METHODS, method);
}

export function resolveTarget(
  method: string,
  params: Record<string, unknown> | undefined,
  catalog: Catalog,
): RouteTarget {
  if (localMethods.has(method)) return local(method);
  switch (method) {
    case "tools/call": {
      const publicName = stringParam(params, "name");
      const resolved = catalog.resolveTool(publicName);
      if (!resolved) throw new GatewayError("PORTCULLIS_E_UNKNOWN_TOOL", publicName);
      const { upstream, name, annotations } = resolved;
      const definition = catalog.toolDefinition(publicName);
      return {
        upstream,
        kind: "tool",
        name,
        publicName,
        ...(annotations ? { annotations } : {}),
        ...(definition ? { definition } : {}),
      };
    }
    case "prompts/get": {
      const publicName = stringParam(params, "name");
      const resolved = catalog.resolvePrompt(publicName);
      if (!resolved) throw new GatewayError("PORTCULLIS_E_UNKNOWN_PROMPT", publicName);
      return { upstream: resolved.upstream, kind: "prompt", name: resolved.name, publicName };
    }
    case "resources/read":
    case "resources/subscribe":
    case "resources/unsubscribe": {
      const uri = uriParam(stringParam(params, "uri"));
      const upstream = catalog.resolveResource(uri);
      if (!upstream) throw new GatewayError("PORTCULLIS_E_UNKNOWN_RESOURCE", uri, { uri });
      return { upstream, kind: "resource", name: uri, publicName: uri };
    }
    case "completion/complete":
      return completionTarget(params, catalog);
    case "logging/setLevel":
      return { upstream: "*", kind: "broadcast", name: undefined, publicName: undefined };
    default:
      throw new GatewayError("PORTCULLIS_E_METHOD_NOT_FOUND", method, { method });
  }
}

function completionTarget(params: Record<string, unknown> | undefined, catalog: Catalog): RouteTarget {
  const ref = params?.ref;
  if (!ref || typeof ref !== "object")
    throw new GatewayError("PORTCULLIS_E_INVALID_PARAMS", "ref is required");
  const { type, name, uri } = ref as Record<string, unknown>;
  if (type === "ref/prompt" && typeof name === "string") {
    const resolved = catalog.resolvePrompt(name);
    if (!resolved) throw new GatewayError("PORTCULLIS_E_UNKNOWN_PROMPT", name);
    return { upstream: resolved.upstream, kind: "completion", name: resolved.name, publicName: name };
  }
  if (type === "ref/resource" && typeof uri === "string") {
    uriParam(uri);
    const upstream = catalog.resolveTemplate(uri) ?? catalog.resolveResource(uri);
    if (!upstream) throw new GatewayError("PORTCULLIS_E_UNKNOWN_RESOURCE", uri, { uri });
    return { upstream, kind: "completion", name: uri, publicName: uri };
  }
  throw new GatewayError(
    "PORTCULLIS_E_INVALID_PARAMS",
    "ref must be a ref/prompt with a name or a ref/resource with a uri",
  );
}

function local(method: string): RouteTarget {
  return { upstream: "portcullis", kind: "local", name: method, publicName: undefined };
}

/** Longer URIs are refused before any matching: no resource needs one, and matching costs per byte. */
export const MAX_URI_LENGTH = 8192;

function uriParam(uri: string): string {
  if (uri.length > MAX_URI_LENGTH)
    throw new GatewayError(
      "PORTCULLIS_E_INVALID_PARAMS",
      `the URI is longer than ${MAX_URI_LENGTH} characters`,
    );
  return uri;
}

function stringParam(params: Record<string, unknown> | undefined, key: string): string {
  const value = params?.[key];
  if (typeof value !== "string" || value.length === 0) {
    throw new GatewayError("PORTCULLIS_E_INVALID_PARAMS", `params.${key} must be a non-empty string`);
  }
  return value;
}

/** Rewrites the client's params into the upstream's names. */
export function paramsForUpstream(
  method: string,
  clientParams: Record<string, unknown> | undefined,
  target: RouteTarget,
): Record<string, unknown> | undefined {
  const params = withoutClientEnvelope(clientParams);
  if (!params) return params;
  if (method === "tools/call" || method === "prompts/get") return { ...params, name: target.name };
  if (method === "completion/complete" && target.name !== undefined) {
    const ref = params.ref as Record<string, unknown>;
    if (ref.type === "ref/prompt") return { ...params, ref: { ...ref, name: target.name } };
  }
  return params;
}

/**
 * The client's per-request envelope (`io.modelcontextprotocol/*` keys of `_meta`) describes the
 * client to the gateway; upstream, the gateway is the client and its SDK writes its own envelope.
 * The progress token is the gateway's own too (the SDK assigns one per forwarded request).
 */
/** A 2026-07-28 client's per-request log level travels on to the upstream. */
const LOG_LEVEL_META_KEY = "io.modelcontextprotocol/logLevel";

function withoutClientEnvelope(
  params: Record<string, unknown> | undefined,
): Record<string, unknown> | undefined {
  const meta = params?._meta;
  if (!params || !meta || typeof meta !== "object") return params;
  const kept: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(meta)) {
    const envelopeKey = key.startsWith("io.modelcontextprotocol/") && key !== LOG_LEVEL_META_KEY;
    if (key !== "progressToken" && !envelopeKey) kept[key] = value;
  }
  const { _meta: _dropped, ...rest } = params;
  return Object.keys(kept).length > 0 ? { ...rest, _meta: kept } : rest;
}
