// Which flow labels a target carries: those of every `dataFlow.labels` rule that matches it, plus
// the open-world labels when its upstream declares openWorldHint (a hint may add labels, never
// remove them); and which an upstream carries as a whole (rules that name no tool, prompt or
// resource), for what it asks of the client. Matching is linear (name patterns); results are cached
// in bounded maps.
import type { DataFlowConfig } from "../../config/dataFlowSchema.ts";
import { targetSelector, type TargetSelector } from "../../federation/targetSelector.ts";
import type { RouteTarget } from "../../pipeline/types.ts";

type FlowKind = "tool" | "prompt" | "resource";

interface Rule {
  readonly labels: readonly string[];
  readonly matches: TargetSelector;
}

const CACHE_LIMIT = 10_000;

export class FlowLabels {
  private readonly rules: readonly Rule[];
  private readonly openWorld: readonly string[];
  private readonly cache = new Map<string, readonly string[]>();
  private readonly upstreams = new Map<string, readonly string[]>();

  constructor(config: DataFlowConfig) {
    this.openWorld = config.openWorldLabels;
    this.rules = config.labels.map((rule) => ({ labels: rule.labels, matches: targetSelector(rule) }));
  }

  /** The labels of a routed request's target; none for targets that are not tools, prompts or resources. */
  of(target: RouteTarget | undefined): readonly string[] {
    const kind = flowKind(target);
    if (!target || !kind) return [];
    const name = target.publicName ?? target.name ?? "";
    const openWorld = kind === "tool" && target.annotations?.openWorldHint === true;
    const key = `${kind}\u0000${target.upstream}\u0000${name}\u0000${openWorld ? 1 : 0}`;
    let labels = this.cache.get(key);
    if (!labels) {
      const found = new Set<string>(openWorld ? this.openWorld : []);
      for (const rule of this.rules)
        if (rule.matches(kind, name, target.upstream)) for (const label of rule.labels) found.add(label);
      labels = [...found].sort();
      // Only names of bounded length are cached, in a bounded map (names come from the catalogue).
      if (key.length <= 512) {
        if (this.cache.size >= CACHE_LIMIT) this.cache.clear();
        this.cache.set(key, labels);
      }
    }
    return labels;
  }

  /**
   * The labels of an upstream as a whole: those of the rules that select every target of it (they
   * list no tool, prompt or resource). They apply to what the upstream asks of the client (sampling,
   * elicitation, roots) and to the client's answers, which go to the upstream itself.
   */
  ofUpstream(upstream: string): readonly string[] {
    let labels = this.upstreams.get(upstream);
    if (!labels) {
      const found = new Set<string>();
      for (const rule of this.rules)
        if (rule.matches(undefined, "", upstream)) for (const label of rule.labels) found.add(label);
      labels = [...found].sort();
      // Upstream names come from the config: the map stays as small as the config.
      this.upstreams.set(upstream, labels);
    }
    return labels;
  }
}

function flowKind(target: RouteTarget | undefined): FlowKind | undefined {
  switch (target?.kind) {
    case "tool":
      return "tool";
    case "prompt":
      return "prompt";
    case "resource":
      return "resource";
    default:
      return undefined;
  }
}
