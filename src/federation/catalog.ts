// The merged catalogue of every upstream's tools, prompts, resources and resource templates, with
// public (name-spaced) names and the index that routes each public name back to its upstream.
// A hidden upstream (down, with `whenDown: hide`) keeps its names and routes but is not listed.
import { UriTemplate } from "@modelcontextprotocol/client";
import { GatewayError } from "../errors.ts";
import type { CatalogItem, CatalogKind } from "../pipeline/types.ts";
import type { NameSpacer } from "./naming.ts";

export interface UpstreamLists {
  readonly tools: readonly Record<string, unknown>[];
  readonly prompts: readonly Record<string, unknown>[];
  readonly resources: readonly Record<string, unknown>[];
  readonly resourceTemplates: readonly Record<string, unknown>[];
}

export interface ResolvedName {
  readonly upstream: string;
  readonly name: string;
  /** The tool's annotations as its upstream declared them: hints, never trusted to lower risk. */
  readonly annotations?: Readonly<Record<string, unknown>>;
}

/**
 * Brings an upstream's lists up to date with what its current connection serves, and shows them:
 * resolves when they are, rejects with why they cannot be (the federation's `ChangeNotifier.current`).
 */
export type ListsFreshener = (upstream: string) => Promise<void>;

interface TemplateEntry {
  readonly upstream: string;
  readonly template: UriTemplate;
  readonly source: string;
}

export class Catalog {
  private readonly perUpstream = new Map<string, UpstreamLists>();
  private merged: Record<CatalogKind, CatalogItem[]> = emptyMerged();
  private tools = new Map<string, ResolvedName>();
  /** Each tool's definition as its upstream declared it, by public name (what validation checks against). */
  private toolDefinitions = new Map<string, Readonly<Record<string, unknown>>>();
  private prompts = new Map<string, ResolvedName>();
  private resources = new Map<string, string>();
  private templates: TemplateEntry[] = [];
  private templateSources = new Map<string, string>();
  private readonly hidden = new Set<string>();
  private versionValue = 0;

  /** Upstream names in configuration order: on a collision the first one wins. */
  private readonly order: readonly string[];
  private readonly naming: NameSpacer;
  private readonly freshen: ListsFreshener | undefined;
  private readonly rereading: ((upstream: string) => boolean) | undefined;

  /**
   * `rereading` says whether an upstream's lists are being read again (after a reconnection, a
   * change notice, a probe): until that ends, what was judged of the previous lists may be stale.
   */
  constructor(
    order: readonly string[],
    naming: NameSpacer,
    freshen?: ListsFreshener,
    rereading?: (upstream: string) => boolean,
  ) {
    this.order = order;
    this.naming = naming;
    this.freshen = freshen;
    this.rereading = rereading;
  }

  /** Whether this upstream's shown lists are the last word: shown, and not being read again. */
  settled(upstream: string): boolean {
    return this.listed(upstream) !== undefined && !(this.rereading?.(upstream) ?? false);
  }

  /** Changes whenever any list changes; part of every pagination cursor. */
  get version(): number {
    return this.versionValue;
  }

  set(upstream: string, lists: UpstreamLists): void {
    this.perUpstream.set(upstream, lists);
    this.rebuild();
  }

  remove(upstream: string): boolean {
    const had = this.perUpstream.delete(upstream);
    if (had) this.rebuild();
    return had;
  }

  lists(upstream: string): UpstreamLists | undefined {
    return this.perUpstream.get(upstream);
  }

  /** What clients are shown of an upstream: nothing while it is hidden. */
  listed(upstream: string): UpstreamLists | undefined {
    return this.hidden.has(upstream) ? undefined : this.perUpstream.get(upstream);
  }

  isHidden(upstream: string): boolean {
    return this.hidden.has(upstream);
  }

  /**
   * Resolves once this upstream's lists are the ones its current connection serves and are shown
   * (refreshed first if need be); rejects with why not. Without a freshener, only lists already
   * shown count as current.
   */
  current(upstream: string): Promise<void> {
    if (this.freshen) return this.freshen(upstream);
    if (this.listed(upstream)) return Promise.resolve();
    return Promise.reject(
      new GatewayError("PORTCULLIS_E_UPSTREAM_UNAVAILABLE", `${upstream} is not listed`, { upstream }),
    );
  }

  /**
   * Takes an upstream's items out of the lists, or puts them back. Its names keep routing to it, so
   * a client that calls one anyway gets the upstream's own error (unavailable), not "unknown tool".
   */
  setHidden(upstream: string, hidden: boolean): void {
    if (this.hidden.has(upstream) === hidden) return;
    if (hidden) this.hidden.add(upstream);
    else this.hidden.delete(upstream);
    this.rebuild();
  }

  items(kind: CatalogKind): readonly CatalogItem[] {
    return this.merged[kind];
  }

  resolveTool(publicName: string): ResolvedName | undefined {
    return this.tools.get(publicName);
  }

  /** The tool's definition exactly as its upstream listed it (its own name, its schemas). */
  toolDefinition(publicName: string): Readonly<Record<string, unknown>> | undefined {
    return this.toolDefinitions.get(publicName);
  }

  resolvePrompt(publicName: string): ResolvedName | undefined {
    return this.prompts.get(publicName);
  }

  /** The upstream that serves a resource URI: a listed resource, else the first matching template. */
  resolveResource(uri: string): string | undefined {
    const listed = this.resources.get(uri);
    if (listed) return listed;
    for (const entry of this.templates) if (entry.template.match(uri)) return entry.upstream;
    return undefined;
  }

  /** The template that serves a URI no list names (the first that matches), with its upstream. */
  resolveResourceTemplate(
    uri: string,
  ): { readonly upstream: string; readonly uriTemplate: string } | undefined {
    if (this.resources.has(uri)) return undefined;
    const entry = this.templates.find((t) => t.template.match(uri));
    return entry && { upstream: entry.upstream, uriTemplate: entry.source };
  }

  /** The upstream that owns a resource template (by its URI template text), for completion. */
  resolveTemplate(uriTemplate: string): string | undefined {
    return this.templateSources.get(uriTemplate);
  }

  private rebuild(): void {
    const merged = emptyMerged();
    const tools = new Map<string, ResolvedName>();
    const toolDefinitions = new Map<string, Readonly<Record<string, unknown>>>();
    const prompts = new Map<string, ResolvedName>();
    const resources = new Map<string, string>();
    const templates: TemplateEntry[] = [];
    const templateSources = new Map<string, string>();
    for (const upstream of this.order) {
      const lists = this.perUpstream.get(upstream);
      if (!lists) continue;
      // Hidden or not, an upstream's names are given out alike: hiding one never renames another's.
      const shown = this.hidden.has(upstream) ? emptyMerged() : merged;
      for (const tool of lists.tools) {
        const name = String(tool.name);
        const publicName = this.naming.publicName(upstream, name, tools);
        const annotations = tool.annotations as Record<string, unknown> | undefined;
        tools.set(publicName, annotations ? { upstream, name, annotations } : { upstream, name });
        toolDefinitions.set(publicName, tool);
        shown.tools.push({ upstream, publicName, definition: { ...tool, name: publicName } });
      }
      for (const prompt of lists.prompts) {
        const name = String(prompt.name);
        const publicName = this.naming.publicName(upstream, name, prompts);
        prompts.set(publicName, { upstream, name });
        shown.prompts.push({ upstream, publicName, definition: { ...prompt, name: publicName } });
      }
      for (const resource of lists.resources) {
        const uri = String(resource.uri);
        if (resources.has(uri)) continue; // the first upstream in config order owns a URI
        resources.set(uri, upstream);
        shown.resources.push({ upstream, publicName: uri, definition: resource });
      }
      for (const template of lists.resourceTemplates) {
        const source = String(template.uriTemplate);
        if (templateSources.has(source)) continue;
        templateSources.set(source, upstream);
        try {
          templates.push({ upstream, template: new UriTemplate(source), source });
        } catch {
          continue; // an unparseable template cannot be routed; it is not listed either
        }
        shown.resourceTemplates.push({ upstream, publicName: source, definition: template });
      }
    }
    this.merged = merged;
    this.tools = tools;
    this.toolDefinitions = toolDefinitions;
    this.prompts = prompts;
    this.resources = resources;
    this.templates = templates;
    this.templateSources = templateSources;
    this.versionValue++;
  }
}

function emptyMerged(): Record<CatalogKind, CatalogItem[]> {
  return { tools: [], prompts: [], resources: [], resourceTemplates: [] };
}
