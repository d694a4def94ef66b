// The actions policies speak of: every MCP method that reaches a tool, prompt, resource or list
// through the gateway, and the upstream's requests to the client. `ping` and `server/discover`
// carry no data and are never subject to policy.
import { namePatterns } from "../../federation/namePattern.ts";

export const POLICY_ACTIONS = [
  "tools/call",
  "tools/list",
  "prompts/get",
  "prompts/list",
  "resources/read",
  "resources/list",
  "resources/templates/list",
  "resources/subscribe",
  "resources/unsubscribe",
  "completion/complete",
  "logging/setLevel",
  "subscriptions/listen",
  "sampling/createMessage",
  "elicitation/create",
  "roots/list",
] as const;

export type PolicyAction = (typeof POLICY_ACTIONS)[number];

const known = new Set<string>(POLICY_ACTIONS);

/** Methods every principal may send: they reveal nothing and change nothing. */
export const UNGOVERNED_METHODS = new Set(["ping", "server/discover"]);

export function isPolicyAction(method: string): method is PolicyAction {
  return known.has(method);
}

/** The actions a policy's `actions` list names (wildcards expanded); unknown names are returned apart. */
export function expandActions(patterns: readonly string[] | undefined): {
  actions: PolicyAction[];
  unknown: string[];
} {
  if (patterns === undefined) return { actions: [...POLICY_ACTIONS], unknown: [] };
  const actions = new Set<PolicyAction>();
  const unknown: string[] = [];
  for (const pattern of patterns) {
    const matches = POLICY_ACTIONS.filter(namePatterns([pattern]));
    if (matches.length === 0) unknown.push(pattern);
    for (const action of matches) actions.add(action);
  }
  return { actions: [...actions], unknown };
}

/** The list whose items a list method returns: an item is listed when this action is permitted on it. */
export const LIST_ACTION_OF_KIND = {
  tools: "tools/list",
  prompts: "prompts/list",
  resources: "resources/list",
  resourceTemplates: "resources/templates/list",
} as const;

/** The list action that decides whether a target of this kind is visible to the principal. */
export function listActionFor(kind: "tool" | "prompt" | "resource"): PolicyAction {
  return kind === "tool" ? "tools/list" : kind === "prompt" ? "prompts/list" : "resources/list";
}

/** Methods aimed at one target, which must be visible: denied on a hidden one exactly as on an unknown one. */
export const TARGETED_ACTIONS: ReadonlySet<string> = new Set([
  "tools/call",
  "prompts/get",
  "resources/read",
  "resources/subscribe",
  "resources/unsubscribe",
  "completion/complete",
]);
