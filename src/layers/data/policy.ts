// What the data guard does for one target: the action for each kind of data in its results and in
// its arguments (overrides first, then, for an external tool, `externalArguments`, then the
// defaults), its injection and link actions and its allowed link hosts. Resolved once per target
// and kept in a bounded map. An upstream as a whole (for its requests to the client, its
// notifications and the client's answers) gets the overrides that select all of it.
import type {
  DataAction,
  DataActions,
  DataGuardConfig,
  DataGuardOverride,
} from "../../config/dataGuardSchema.ts";
import { targetSelector, type TargetSelector } from "../../federation/targetSelector.ts";
import type { RouteTarget } from "../../pipeline/types.ts";
import { dataTypesOf, PII_KINDS, SECRET_KINDS } from "../../redaction/kinds.ts";

export type InjectionAction = DataGuardConfig["injection"]["action"];
export type LinkAction = DataGuardConfig["links"]["action"];

export class DirectionPolicy {
  /** Whether any credential, or any personal data, has an action other than allow. */
  readonly scanSecrets: boolean;
  readonly scanPii: boolean;
  private readonly levels: readonly DataActions[];
  private readonly resolved = new Map<string, DataAction>();

  constructor(levels: readonly DataActions[]) {
    this.levels = levels;
    const acts = (kinds: readonly string[]) => kinds.some((kind) => this.action(kind) !== "allow");
    this.scanSecrets = acts(SECRET_KINDS) || acts(["secret"]);
    this.scanPii = acts(PII_KINDS);
  }

  /** The first level that names the kind, its national-id group or its category decides; none: allow. */
  action(kind: string): DataAction {
    let action = this.resolved.get(kind);
    if (action) return action;
    action = "allow";
    const types = kind === "secret" ? ["secret"] : dataTypesOf(kind);
    find: for (const level of this.levels) {
      for (const type of types) {
        const found = level[type as keyof DataActions];
        if (found) {
          action = found;
          break find;
        }
      }
    }
    // Kinds are a closed set (and secretlint's rule names): the map stays small.
    if (this.resolved.size < 256) this.resolved.set(kind, action);
    return action;
  }
}

export interface TargetPolicy {
  readonly results: DirectionPolicy;
  readonly arguments: DirectionPolicy;
  /** The tool sends what it is given outside (an external label, or openWorldHint). */
  readonly external: boolean;
  readonly injection: InjectionAction;
  readonly links: LinkAction;
  readonly allowedHost: (host: string) => boolean;
}

type TargetKind = "tool" | "prompt" | "resource";

interface CompiledOverride {
  readonly override: DataGuardOverride;
  readonly matches: TargetSelector;
}

const CACHE_LIMIT = 10_000;

export class DataPolicies {
  private readonly config: DataGuardConfig;
  private readonly labelsOf: ((target: RouteTarget) => readonly string[]) | undefined;
  private readonly overrides: readonly CompiledOverride[];
  private readonly cache = new Map<string, TargetPolicy>();

  constructor(config: DataGuardConfig, labelsOf?: (target: RouteTarget) => readonly string[]) {
    this.config = config;
    this.labelsOf = labelsOf;
    this.overrides = config.overrides.map((override) => ({ override, matches: targetSelector(override) }));
  }

  /** The policy of a message's target (messages without one, such as lists, get the defaults). */
  of(target: RouteTarget | undefined): TargetPolicy {
    const kind = targetKind(target);
    const name = target?.publicName ?? target?.name ?? "";
    const external = kind === "tool" && target !== undefined && this.isExternal(target);
    const key = `${kind ?? ""}\u0000${target?.upstream ?? ""}\u0000${name}\u0000${external ? 1 : 0}`;
    let policy = this.cache.get(key);
    if (!policy) {
      policy = this.resolve(kind, name, target?.upstream, external);
      // Only names of bounded length are kept (resource URIs come from clients).
      if (key.length <= 512) {
        if (this.cache.size >= CACHE_LIMIT) this.cache.clear();
        this.cache.set(key, policy);
      }
    }
    return policy;
  }

  /**
   * The policy of an upstream as a whole: what it asks of the client and notifies it of (`results`,
   * injection and links), and the client's answers it is sent (`arguments`; `externalArguments` when
   * the upstream carries one of `externalLabels` as a whole). Overrides that name no tool, prompt or
   * resource apply.
   */
  ofUpstream(upstream: string, labels: readonly string[] = []): TargetPolicy {
    const external = labels.some((label) => this.config.externalLabels.includes(label));
    const key = `upstream\u0000${upstream}\u0000${external ? 1 : 0}`;
    let policy = this.cache.get(key);
    if (!policy) {
      policy = this.resolve(undefined, "", upstream, external);
      // Upstream names come from the config: at most two entries each.
      this.cache.set(key, policy);
    }
    return policy;
  }

  private isExternal(target: RouteTarget): boolean {
    if (target.annotations?.openWorldHint === true) return true;
    const labels = this.labelsOf?.(target) ?? [];
    return labels.some((label) => this.config.externalLabels.includes(label));
  }

  private resolve(
    kind: TargetKind | undefined,
    name: string,
    upstream: string | undefined,
    external: boolean,
  ): TargetPolicy {
    // The last matching override comes first.
    const matching = this.overrides
      .filter((o) => o.matches(kind, name, upstream))
      .map((o) => o.override)
      .reverse();
    const { config } = this;
    const hosts = [...config.links.allowedHosts, ...matching.flatMap((o) => o.allowedLinkHosts ?? [])];
    return {
      results: new DirectionPolicy([
        ...matching.flatMap((o) => (o.results ? [o.results] : [])),
        config.results,
      ]),
      arguments: new DirectionPolicy([
        ...matching.flatMap((o) => (o.arguments ? [o.arguments] : [])),
        ...(external ? [config.externalArguments] : []),
        config.arguments,
      ]),
      external,
      injection: matching.find((o) => o.injection)?.injection ?? config.injection.action,
      links: matching.find((o) => o.links)?.links ?? config.links.action,
      allowedHost: hostMatcher(hosts),
    };
  }
}

function targetKind(target: RouteTarget | undefined): TargetKind | undefined {
  const kind = target?.kind;
  return kind === "tool" || kind === "prompt" || kind === "resource" ? kind : undefined;
}

/** `docs.github.com` matches itself; `*.github.com` matches github.com and every host under it. */
export function hostMatcher(patterns: readonly string[]): (host: string) => boolean {
  const exact = new Set<string>();
  const suffixes: string[] = [];
  for (const pattern of patterns) {
    const lower = pattern.toLowerCase();
    if (lower.startsWith("*.")) suffixes.push(lower.slice(2));
    else exact.add(lower);
  }
  return (host) => {
    const lower = host.toLowerCase().replace(/\.$/, "");
    if (exact.has(lower)) return true;
    return suffixes.some((suffix) => lower === suffix || lower.endsWith(`.${suffix}`));
  };
}
