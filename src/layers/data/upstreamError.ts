// An upstream's JSON-RPC error goes to the client (and to the model) like a result does, so its
// message and data pass through the same inspection: secrets and personal data redacted or masked
// per the default result policy (an error cannot be blocked, so "block" redacts), exfiltration links
// redacted, forged markers defused, and a text that carries instructions for the model quarantined.
// The error code is kept.
import type { DataAction, DataGuardConfig } from "../../config/dataGuardSchema.ts";
import type { RouteTarget } from "../../pipeline/types.ts";
import { messageWork } from "./budget.ts";
import { inspectText } from "./inspect.ts";
import { DataPolicies, type DirectionPolicy } from "./policy.ts";
import { quarantine, quarantineId } from "./quarantine.ts";
import { rewriteResult, WalkBudget, type TextPlace } from "./walk.ts";

export interface RpcErrorShape {
  readonly code: number;
  readonly message: string;
  readonly data?: unknown;
}

const policiesByConfig = new WeakMap<DataGuardConfig, DataPolicies>();

/** What an error that cannot be inspected within the limits is replaced with. */
const UNSCANNED_MESSAGE = "The upstream returned an error the gateway could not inspect";

export function sanitizeUpstreamError(
  config: DataGuardConfig,
  error: RpcErrorShape,
  target?: RouteTarget,
  newId: () => string = quarantineId,
): RpcErrorShape {
  if (!config.enabled) return error;
  let policies = policiesByConfig.get(config);
  if (!policies) policiesByConfig.set(config, (policies = new DataPolicies(config)));
  const policy = policies.of(target);
  const results = redactingPolicy(policy.results);
  const links = policy.links === "off" ? "off" : "redact";
  const { limits } = config;
  const work = messageWork(limits);
  const budget = new WalkBudget(limits.maxChars, limits.maxDepth, work);
  let id: string | undefined;
  const visit = (text: string, place: TextPlace): string => {
    const inspection = inspectText(text, {
      policy: results,
      modelFacing: true,
      secretField: place.secretField,
      links,
      allowedHost: policy.allowedHost,
      injection: policy.injection === "off" ? undefined : config.injection.scorer,
      work,
    });
    const injection = inspection.injection;
    if (!injection || policy.injection === "off" || injection.score < config.injection.threshold)
      return inspection.text;
    return quarantine(inspection.text, (id ??= newId()), injection.rules, "the upstream error output");
  };
  let message: string;
  let data: unknown;
  try {
    message = visit(String(error.message), { modelFacing: true, secretField: false });
    data =
      error.data === undefined
        ? undefined
        : rewriteResult(error.data as Record<string, unknown>, visit, budget);
  } catch {
    return { code: error.code, message: UNSCANNED_MESSAGE };
  }
  // Past the limits nothing unscanned is relayed (fail secure).
  if (budget.overflow) return { code: error.code, message };
  return data === undefined ? { code: error.code, message } : { code: error.code, message, data };
}

/** The result policy, where "block" (which an error cannot do) redacts instead. */
function redactingPolicy(policy: DirectionPolicy): DirectionPolicy {
  return {
    scanSecrets: policy.scanSecrets,
    scanPii: policy.scanPii,
    action: (kind: string): DataAction => {
      const action = policy.action(kind);
      return action === "block" ? "redact" : action;
    },
  } as unknown as DirectionPolicy;
}
