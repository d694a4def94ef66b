// What a request is about, as policies see it: the target's kind, the name clients know it by, its
// upstream, the labels the config gives it and the tool's annotations. Also the error a client gets
// for a target it may not see, identical to the router's error for one that does not exist.
import type { AuthorizationConfig } from "../../config/authzSchema.ts";
import type { ErrorCode } from "../../errors.ts";
import { targetSelector } from "../../federation/targetSelector.ts";
import type { CatalogItem, CatalogKind, RouteTarget } from "../../pipeline/types.ts";
import type { AuthzTarget } from "./engine.ts";

type LabelledKind = "tool" | "prompt" | "resource";

export class LabelBook {
  private readonly rules: readonly {
    readonly match: (kind: LabelledKind, name: string, upstream: string) => boolean;
    readonly labels: Readonly<Record<string, string>>;
  }[];
  private readonly cache = new Map<string, Readonly<Record<string, string>>>();

  constructor(rules: AuthorizationConfig["labels"]) {
    this.rules = rules.map((rule) => ({ labels: rule.labels, match: targetSelector(rule) }));
  }

  labelsOf(kind: LabelledKind, name: string, upstream: string): Readonly<Record<string, string>> {
    const key = `${kind}\u0000${upstream}\u0000${name}`;
    let labels = this.cache.get(key);
    if (!labels) {
      const merged: Record<string, string> = {};
      for (const rule of this.rules) if (rule.match(kind, name, upstream)) Object.assign(merged, rule.labels);
      labels = Object.freeze(merged);
      // Names come from clients (resource URIs): only short ones are kept, in a bounded map.
      if (name.length > 512) return labels;
      if (this.cache.size >= 10_000) this.cache.clear();
      this.cache.set(key, labels);
    }
    return labels;
  }
}

/** The policy target of a routed request; undefined for lists, broadcasts and gateway methods. */
export function targetOfRoute(
  route: RouteTarget | undefined,
  params: Record<string, unknown> | undefined,
  labels: LabelBook,
): AuthzTarget | undefined {
  if (!route || route.publicName === undefined) return undefined;
  const kind = kindOfRoute(route, params);
  if (!kind) return undefined;
  return {
    kind,
    name: route.publicName,
    upstream: route.upstream,
    labels: labels.labelsOf(kind, route.publicName, route.upstream),
    annotations: route.annotations,
  };
}

function kindOfRoute(
  route: RouteTarget,
  params: Record<string, unknown> | undefined,
): LabelledKind | undefined {
  switch (route.kind) {
    case "tool":
    case "prompt":
    case "resource":
      return route.kind;
    // A completion is for a prompt (a name) or a resource (a URI).
    case "completion":
      return (params?.ref as { type?: unknown } | undefined)?.type === "ref/prompt" ? "prompt" : "resource";
    default:
      return undefined;
  }
}

const kindOfCatalog: Record<CatalogKind, LabelledKind> = {
  tools: "tool",
  prompts: "prompt",
  resources: "resource",
  resourceTemplates: "resource",
};

export function targetOfItem(kind: CatalogKind, item: CatalogItem, labels: LabelBook): AuthzTarget {
  const targetKind = kindOfCatalog[kind];
  const annotations = item.definition.annotations;
  return {
    kind: targetKind,
    name: item.publicName,
    upstream: item.upstream,
    labels: labels.labelsOf(targetKind, item.publicName, item.upstream),
    annotations:
      annotations && typeof annotations === "object" ? (annotations as Record<string, unknown>) : undefined,
  };
}

/** The router's answer for a name that does not exist, for a target the principal may not see. */
export function unknownTargetError(target: AuthzTarget): {
  code: ErrorCode;
  detail: string;
  data?: Record<string, unknown>;
} {
  if (target.kind === "tool") return { code: "PORTCULLIS_E_UNKNOWN_TOOL", detail: target.name };
  if (target.kind === "prompt") return { code: "PORTCULLIS_E_UNKNOWN_PROMPT", detail: target.name };
  return { code: "PORTCULLIS_E_UNKNOWN_RESOURCE", detail: target.name, data: { uri: target.name } };
}

/**
 * Why a resource URI is not in the one form policies can judge, or undefined: dot segments, empty
 * segments, escaped characters that need no escaping (`%65tc`, `%2e`, `%2f`), backslashes, or a
 * host in a `file:` URI. Each would let `file:///tmp/../etc/passwd` slip past `file:///etc/*`.
 */
export function uriProblem(uri: string): string | undefined {
  if (uri.includes("\\")) return "a backslash";
  for (const match of uri.matchAll(/%([0-9a-fA-F]{2})/g)) {
    const ch = String.fromCharCode(Number.parseInt(match[1] ?? "0", 16));
    if (/[A-Za-z0-9\-._~/\\]/.test(ch)) return `an escaped "${ch}" (${match[0]})`;
  }
  const parsed = /^([A-Za-z][A-Za-z0-9+.-]*):(\/\/([^/?#]*))?([^?#]*)/.exec(uri);
  if (!parsed) return "no scheme";
  const [, scheme, , authority, path] = parsed;
  if (scheme?.toLowerCase() === "file" && authority) return `a host in a file URI (${authority})`;
  const segments = (path ?? "").split("/").slice(1);
  if (segments.some((s) => s === "." || s === "..")) return "a dot segment";
  if (segments.slice(0, -1).some((s) => s === "")) return "an empty segment (//)";
  return undefined;
}
