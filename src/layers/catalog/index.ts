// The catalogue guard layer: tools, prompts and resources whose definitions are poisoned, changed since
// they were pinned (rug pulls) or shadow another upstream's are left out of lists, and calls to them
// are refused — as unknown when hidden, or with PORTCULLIS_E_TOOL_POISONED / _TOOL_CHANGED.
import type { ErrorCode } from "../../errors.ts";
import type {
  CatalogKind,
  CatalogView,
  Layer,
  RequestContext,
  RequestView,
  RouteTarget,
  Verdict,
} from "../../pipeline/types.ts";
import { CatalogGuard, itemKey, type CatalogGuardOptions, type ItemVerdict } from "./guard.ts";
import { ON_DEMAND_RULES, OnDemandJudge, unverifiedRefusal } from "./onDemand.ts";

export {
  CatalogGuard,
  itemKey,
  scannerFor,
  type CatalogGuardOptions,
  type CatalogReader,
  type ItemVerdict,
} from "./guard.ts";
export { digestOf, statusOf, ToolPinStore, toolPinStoreFor, PinError, type PinRecord } from "./pins.ts";
export { DefinitionScanner, type Finding, type ScanResult } from "./scanner.ts";
export { ON_DEMAND_RULES } from "./onDemand.ts";

/** The layer's options: the guard's (config, the catalogue getter, the shared pins, events). */
export type CatalogGuardLayerOptions = CatalogGuardOptions;

/** Items of these verdicts are left out of lists and their calls refused. */
const WITHHELD = new Set<ItemVerdict["action"]>(["hide", "block", "changed", "unapproved"]);

export function catalogGuardLayer(options: CatalogGuardLayerOptions): Layer {
  const guard = new CatalogGuard(options);
  const onDemand = new OnDemandJudge({
    guard,
    catalog: options.catalog,
    timeoutMs: options.config.onDemandTimeoutMs,
  });
  return {
    name: "catalog",

    async onCatalog(catalog: CatalogView) {
      const judgement = await guard.judge(catalog.kind);
      const kept = catalog.items.filter((item) => {
        const verdict = judgement.get(itemKey(item.upstream, item.publicName));
        return !verdict || !WITHHELD.has(verdict.action);
      });
      return kept.length === catalog.items.length ? undefined : { kind: "pass", rewrite: kept };
    },

    async onRequest(request: RequestView, ctx: RequestContext) {
      const target = request.target;
      const kind = kindOfRequest(request);
      if (!kind || !target?.publicName) return undefined;
      const verdict = await guard.verdictFor(kind, target.upstream, target.publicName);
      // A verdict on lists being read again (the upstream reconnected, or said they changed) may be
      // stale: a tool pulled across a reconnection must not pass on its old verdict meanwhile.
      const stale = verdict !== undefined && options.catalog().settled?.(target.upstream) === false;
      if (verdict && !stale) return decide(kind, verdict);
      // No list has judged it: its upstream is hidden from lists (down, restarting). A subscription
      // fetches nothing (each read is judged); anything else waits for the upstream's current lists.
      if (request.method === "resources/subscribe") return verdict ? decide(kind, verdict) : undefined;
      const found = await onDemand.judge(kind, target.upstream, target.publicName, ctx.signal);
      if (found.kind === "judged") return decide(kind, found.verdict);
      if (found.kind === "absent") return notListed(kind, target);
      return unverifiedRefusal(target.upstream, target.publicName, found.cause);
    },
  };
}

function decide(kind: CatalogKind, verdict: ItemVerdict): Verdict<never> | undefined {
  return WITHHELD.has(verdict.action) ? refusal(kind, verdict) : undefined;
}

/** A target its upstream's current lists do not have: unknown, as the router says of any such name. */
function notListed(kind: CatalogKind, target: RouteTarget): Verdict<never> {
  const publicName = target.publicName ?? "";
  return {
    kind: "deny",
    rule: ON_DEMAND_RULES.notListed,
    reason: `${publicName} is not in ${target.upstream}'s current lists`,
    conceal: unknownTarget(kind, publicName),
  };
}

/** Which list a request's target comes from, for the requests that name one. */
function kindOfRequest(request: RequestView): CatalogKind | undefined {
  switch (request.method) {
    case "tools/call":
      return "tools";
    case "prompts/get":
      return "prompts";
    case "resources/read":
    case "resources/subscribe":
      return "resources";
    case "completion/complete": {
      const ref = request.params?.ref as { type?: unknown } | undefined;
      if (ref?.type === "ref/prompt") return "prompts";
      if (ref?.type === "ref/resource") return "resourceTemplates";
      return undefined;
    }
    default:
      return undefined;
  }
}

/**
 * A changed definition and a poisoned one under `block` are refused by name, so that an operator (and
 * the user) can tell why a tool stopped working; a hidden one is answered exactly as if it did not
 * exist, as the list the client got says.
 */
function refusal(kind: CatalogKind, verdict: ItemVerdict): Verdict<never> {
  const rule = verdict.rule ?? "catalog";
  if (verdict.action === "changed")
    return {
      kind: "deny",
      rule,
      reason: verdict.reason,
      code: "PORTCULLIS_E_TOOL_CHANGED",
      data: { upstream: verdict.upstream, name: verdict.publicName },
    };
  if (verdict.action === "block")
    return {
      kind: "deny",
      rule,
      reason: verdict.reason,
      code: "PORTCULLIS_E_TOOL_POISONED",
      data: { upstream: verdict.upstream, name: verdict.publicName, rules: verdict.rules },
    };
  return { kind: "deny", rule, reason: verdict.reason, conceal: unknownTarget(kind, verdict.publicName) };
}

function unknownTarget(
  kind: CatalogKind,
  publicName: string,
): { code: ErrorCode; detail: string; data?: Record<string, unknown> } {
  if (kind === "tools") return { code: "PORTCULLIS_E_UNKNOWN_TOOL", detail: publicName };
  if (kind === "prompts") return { code: "PORTCULLIS_E_UNKNOWN_PROMPT", detail: publicName };
  return { code: "PORTCULLIS_E_UNKNOWN_RESOURCE", detail: publicName, data: { uri: publicName } };
}
