// Which tools, prompts and resources a config rule selects (labels, flow labels, data-guard
// overrides): public names with wildcards (tool and prompt names case-insensitive, resource URIs
// case-sensitive) and upstreams. A rule that lists no kind selects every target of its upstreams.
import { namePatterns } from "./namePattern.ts";

export type SelectableKind = "tool" | "prompt" | "resource";

export interface TargetSelection {
  readonly tools?: readonly string[];
  readonly prompts?: readonly string[];
  readonly resources?: readonly string[];
  readonly upstreams?: readonly string[];
}

export type TargetSelector = (
  kind: SelectableKind | undefined,
  name: string,
  upstream: string | undefined,
) => boolean;

export function targetSelector(rule: TargetSelection): TargetSelector {
  const byKind = {
    tool: rule.tools ? namePatterns(rule.tools) : undefined,
    prompt: rule.prompts ? namePatterns(rule.prompts) : undefined,
    resource: rule.resources ? namePatterns(rule.resources, { caseSensitive: true }) : undefined,
  };
  const kindListed = rule.tools || rule.prompts || rule.resources;
  const upstreams = rule.upstreams ? new Set(rule.upstreams) : undefined;
  return (kind, name, upstream) =>
    (!kindListed || (kind !== undefined && byKind[kind]?.(name) === true)) &&
    (!upstreams || (upstream !== undefined && upstreams.has(upstream)));
}
