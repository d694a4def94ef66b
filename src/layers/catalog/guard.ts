// Judges the merged catalogue, one kind of list at a time: each definition's poisoning score (its
// scan, less the upstream's exemptions, plus references to other upstreams), its shadowing findings
// and its pin, into one verdict per item. A judgement is kept until the catalogue or a pin changes,
// so that lists and calls read a map; the first judgement of a new catalogue may wait for the pins.
import type { Logger } from "pino";
import type { CatalogGuardConfig, PinningMode, PoisoningAction } from "../../config/catalogGuardSchema.ts";
import type { SecurityEventBus, Severity } from "../../events/bus.ts";
import type { CatalogItem, CatalogKind } from "../../pipeline/types.ts";
import { digestOf, type DefinitionDigest, type PinnedKind, type ToolPinStore } from "./pins.ts";
import { LEARNED_POISONING_RULE } from "./poisoningModel.ts";
import { CROSS_REFERENCE_WEIGHT, exemptionMatcher, PIN_RULES, SHADOW_RULES, UNREAD_RULES } from "./rules.ts";
import { DefinitionScanner, type Finding, type ScanResult } from "./scanner.ts";
import { findShadowing, type ShadowFinding } from "./shadowing.ts";

/** What the guard reads of the gateway's merged catalogue (the federation `Catalog` is one). */
export interface CatalogReader {
  items(kind: CatalogKind): readonly CatalogItem[];
  resolveTool(publicName: string): { readonly upstream: string; readonly name: string } | undefined;
  resolvePrompt(publicName: string): { readonly upstream: string; readonly name: string } | undefined;
  /** The template that serves a URI no list names, with its upstream: a read of it is judged by it. */
  resolveResourceTemplate?(
    uri: string,
  ): { readonly upstream: string; readonly uriTemplate: string } | undefined;
  /**
   * Resolves once the upstream's lists are the ones its current connection serves and are listed
   * (refreshed if need be); rejects with why they cannot be (down, breaker open, lists unreadable).
   * Absent: only what is listed now can be judged.
   */
  current?(upstream: string): Promise<void>;
  /**
   * False while the upstream's lists are being read again (after a reconnection, a change notice):
   * a verdict on its previous lists may be stale, so a call waits for the current ones. Absent: the
   * lists shown are taken as current.
   */
  settled?(upstream: string): boolean;
  /** A tool's definition as its upstream serves it now, by public name. */
  toolDefinition?(publicName: string): Readonly<Record<string, unknown>> | undefined;
}

/**
 * `changed`: differs from its pin; `unapproved`: new under manual pinning; `hide`, `block`, `flag`: the
 * poisoning or shadowing action.
 */
export type ItemAction = "pass" | "flag" | "hide" | "block" | "changed" | "unapproved";

export interface ItemVerdict {
  readonly action: ItemAction;
  /** The rule that decided (for the deny, the event and the audit record). */
  readonly rule: string | undefined;
  readonly reason: string;
  readonly upstream: string;
  readonly name: string;
  readonly publicName: string;
  /** Every poisoning and shadowing rule that counted. */
  readonly rules: readonly string[];
  readonly score: number;
  readonly hash: string;
}

/** Verdicts of one kind of list, by `upstream` and public name (see `itemKey`). */
export type Judgement = ReadonlyMap<string, ItemVerdict>;

export interface CatalogGuardOptions {
  readonly config: CatalogGuardConfig;
  /**
   * The gateway's merged catalogue as it is now (a getter: a reload replaces it). Calls are judged
   * against it, so that a target no list has shown yet is judged all the same.
   */
  readonly catalog: () => CatalogReader;
  /** The pins, shared by every node through the state store (`toolPinStoreFor(state)`). */
  readonly pins: ToolPinStore;
  readonly events?: SecurityEventBus;
  readonly logger?: Logger;
  /** A scanner of one's own (tests, benchmarks); default: the process's, whose cache outlives reloads. */
  readonly scanner?: DefinitionScanner;
  /**
   * A judgement is made again after this long even if nothing announced a change (a pin change on
   * another node whose announcement was lost). Default 30 s, as long as the pin store trusts a read.
   */
  readonly refreshMs?: number;
  readonly now?: () => number;
}

interface Entry {
  readonly item: CatalogItem;
  readonly name: string;
  readonly definition: Readonly<Record<string, unknown>>;
  readonly digest: DefinitionDigest;
  readonly scan: ScanResult;
}

interface Cached {
  readonly items: readonly CatalogItem[];
  readonly generation: number;
  readonly at: number;
  readonly judgement: Promise<Judgement>;
}

const NO_SCAN: ScanResult = { findings: [], text: "" };
const MAX_REPORTED = 50_000;
const MAX_EVENT_FINDINGS = 8;

export function itemKey(upstream: string, publicName: string): string {
  return `${upstream}\u0000${publicName}`;
}

export class CatalogGuard {
  private readonly options: CatalogGuardOptions;
  private readonly config: CatalogGuardConfig;
  readonly scanner: DefinitionScanner;
  private readonly cached = new Map<CatalogKind, Cached>();
  /** Digests by definition object: the catalogue keeps its objects until it is rebuilt. */
  private readonly digests = new WeakMap<object, DefinitionDigest>();
  /**
   * Digests by JSON text, for a rebuilt catalogue whose definitions did not change (JSON.stringify is
   * native and several times cheaper than canonical JSON and SHA-256). Bounded like the scan cache.
   */
  private readonly digestsByText = new Map<string, DefinitionDigest>();
  /** Events already raised by this node (one per finding and definition, not one per list). */
  private readonly reported = new Set<string>();

  constructor(options: CatalogGuardOptions) {
    this.options = options;
    this.config = options.config;
    this.scanner =
      options.scanner ?? scannerFor(options.config.cacheSize, options.config.poisoning.maxDefinitionBytes);
  }

  /** The verdicts on the current list of a kind; the same promise while nothing changed. */
  judge(kind: CatalogKind): Promise<Judgement> {
    const items = this.options.catalog().items(kind);
    const generation = this.options.pins.generation;
    const now = (this.options.now ?? Date.now)();
    const cached = this.cached.get(kind);
    if (
      cached &&
      cached.items === items &&
      cached.generation === generation &&
      now - cached.at < (this.options.refreshMs ?? 30_000)
    )
      return cached.judgement;
    const judgement = this.judgeItems(kind, items);
    this.cached.set(kind, { items, generation, at: now, judgement });
    // A failed judgement (the state store unreachable) is not kept: the next list or call tries again.
    judgement.catch(() => {
      if (this.cached.get(kind)?.judgement === judgement) this.cached.delete(kind);
    });
    return judgement;
  }

  /**
   * The verdict on a call's target in the current judgement, if a list judged it: a tool or prompt by
   * its public name; a resource by its URI, by a template written so, or by the template that serves
   * the URI (a completion's ref looks at templates first).
   */
  async verdictFor(
    kind: CatalogKind,
    upstream: string,
    publicName: string,
  ): Promise<ItemVerdict | undefined> {
    const key = itemKey(upstream, publicName);
    if (kind === "tools" || kind === "prompts") return (await this.judge(kind)).get(key);
    const other = kind === "resources" ? "resourceTemplates" : "resources";
    const found = (await this.judge(kind)).get(key) ?? (await this.judge(other)).get(key);
    if (found) return found;
    const serving = this.options.catalog().resolveResourceTemplate?.(publicName);
    if (serving?.upstream !== upstream) return undefined;
    return (await this.judge("resourceTemplates")).get(itemKey(upstream, serving.uriTemplate));
  }

  private async judgeItems(kind: CatalogKind, items: readonly CatalogItem[]): Promise<Judgement> {
    const reader = this.options.catalog();
    const scanned = this.config.poisoning.kinds.includes(kind);
    const entries = items.map((item) => this.entryOf(kind, item, reader, scanned));
    const shadows = findShadowing(
      entries.map((e) => ({
        upstream: e.item.upstream,
        name: e.name,
        text: e.scan.text,
        trusted: this.overrideOf(e.item.upstream)?.trusted ?? false,
      })),
      { names: namesOf(reader), collisions: kind === "tools" || kind === "prompts" },
    );
    const verdicts = await Promise.all(entries.map((e, i) => this.verdictOf(kind, e, shadows.get(i) ?? [])));
    return new Map(verdicts.map((v) => [itemKey(v.upstream, v.publicName), v]));
  }

  private entryOf(kind: CatalogKind, item: CatalogItem, reader: CatalogReader, scanned: boolean): Entry {
    const name = ownName(kind, item, reader);
    // The upstream's own definition: the public name depends on the gateway's naming, not the server.
    const definition =
      kind === "tools" || kind === "prompts" ? { ...item.definition, name } : item.definition;
    let digest = this.digests.get(item.definition);
    if (!digest) this.digests.set(item.definition, (digest = this.digestByText(definition)));
    const scan = scanned ? this.scanner.scan(definition, digest.hash, digest.bytes) : NO_SCAN;
    return { item, name, definition, digest, scan };
  }

  private digestByText(definition: Readonly<Record<string, unknown>>): DefinitionDigest {
    const text = JSON.stringify(definition);
    let digest = this.digestsByText.get(text);
    if (!digest) {
      digest = digestOf(definition);
      if (this.digestsByText.size >= this.config.cacheSize) this.digestsByText.clear();
      this.digestsByText.set(text, digest);
    }
    return digest;
  }

  private async verdictOf(
    kind: CatalogKind,
    entry: Entry,
    shadows: readonly ShadowFinding[],
  ): Promise<ItemVerdict> {
    const { upstream, publicName } = entry.item;
    const override = this.overrideOf(upstream);
    const exempt = exemptionMatcher(override?.exempt ?? []);
    const threshold = this.config.poisoning.threshold;
    // What the scanner could not read (too large, too many texts, too deep) weighs the threshold, and
    // so does the learned model's finding (unless the rules alone are to decide).
    const rulesOnly = this.config.poisoning.scorer === "rules";
    const findings = entry.scan.findings
      .filter((f) => !exempt(f.rule) && !(rulesOnly && f.rule === LEARNED_POISONING_RULE))
      .map((f) =>
        (UNREAD_RULES.has(f.rule) || f.rule === LEARNED_POISONING_RULE) && f.weight < threshold
          ? { ...f, weight: threshold }
          : f,
      );
    const shadowing = shadows.filter((f) => !exempt(f.rule) && this.shadowAction(f.rule) !== "off");
    // Naming another upstream's tool counts towards poisoning, unless the rule is exempt or off.
    const references = shadowing.some((f) => f.rule === SHADOW_RULES.crossReference);
    const score = findings.reduce((sum, f) => sum + f.weight, 0) + (references ? CROSS_REFERENCE_WEIGHT : 0);
    const poisoned = score >= threshold;
    const poisonAction: PoisoningAction = override?.poisoning ?? this.config.poisoning.action;
    const shadowAction = strongest(shadowing.map((f) => this.shadowAction(f.rule)));
    const base = {
      upstream,
      name: entry.name,
      publicName,
      rules: [...new Set([...findings.map((f) => f.rule), ...shadowing.map((f) => f.rule)])],
      score,
      hash: entry.digest.hash,
    };
    if (poisoned) this.reportPoisoning(kind, entry, findings, score, poisonAction);
    if (shadowing.length > 0) this.reportShadowing(kind, entry, shadowing);
    const refused = (poisoned && poisonAction !== "flag") || shadowAction === "hide";
    const pin = await this.checkPin(kind, entry, refused, override?.pinning ?? this.config.pinning.mode);
    if (pin) return { ...base, ...pin };
    if (poisoned && poisonAction !== "flag")
      return {
        ...base,
        action: poisonAction,
        rule: heaviest(findings),
        reason: `the definition of ${publicName} carries ${describe(findings)}`,
      };
    const hiddenBy = shadowing.find((f) => this.shadowAction(f.rule) === "hide");
    if (hiddenBy)
      return {
        ...base,
        action: "hide",
        rule: hiddenBy.rule,
        reason: `${publicName} shadows ${hiddenBy.other.upstream}/${hiddenBy.other.name ?? ""}`,
      };
    if (poisoned || shadowing.length > 0)
      return {
        ...base,
        action: "flag",
        rule: poisoned ? heaviest(findings) : shadowing[0]?.rule,
        reason: `${publicName} is flagged`,
      };
    return { ...base, action: "pass", rule: undefined, reason: "" };
  }

  /**
   * Compares a tool or prompt with its pin: a first sight is pinned (auto) or waits (manual); a
   * changed definition waits for an operator. A definition refused for poisoning or shadowing is
   * never pinned on first use: it was not approved.
   */
  private async checkPin(
    kind: CatalogKind,
    entry: Entry,
    refused: boolean,
    mode: PinningMode,
  ): Promise<Pick<ItemVerdict, "action" | "rule" | "reason"> | undefined> {
    if (kind !== "tools" && kind !== "prompts") return undefined;
    if (mode === "off" || !(this.config.pinning.kinds as readonly string[]).includes(kind)) return undefined;
    const pins = this.options.pins;
    const { upstream, publicName } = entry.item;
    const seen = { definition: entry.definition, digest: entry.digest, publicName };
    const record = await pins.read(kind, upstream, entry.name);
    const pinned = record?.pinned;
    if (pinned?.hash === entry.digest.hash) {
      if (record?.pending) await pins.clearPending(kind, upstream, entry.name);
      return undefined;
    }
    // With auto pinning, a name is pinned on first use only as part of the upstream's first catalogue;
    // one added later is a rug pull under a new name until an operator says otherwise (newTools).
    const later = !pinned && mode === "auto" && !refused && !(await this.inFirstCatalogue(kind, upstream));
    const hideNew = later && this.config.pinning.newTools === "hide";
    if (pinned || mode === "manual" || hideNew) {
      const { news } = await pins.recordPending(kind, upstream, entry.name, seen);
      if (news) this.reportChange(kind, entry, pinned?.hash, later);
      return pinned ? changedVerdict(publicName) : unapprovedVerdict(publicName);
    }
    if (refused) return undefined;
    const first = await pins.pinFirstUse(kind, upstream, entry.name, seen);
    const won = first.record?.pinned;
    // Another node pinned it first: what it pinned stands, and this one is judged against it.
    if (won?.hash !== entry.digest.hash) {
      if (!won) return unapprovedVerdict(publicName);
      const { news } = await pins.recordPending(kind, upstream, entry.name, seen);
      if (news) this.reportChange(kind, entry, won.hash, false);
      return changedVerdict(publicName);
    }
    if (later && first.claimed) this.reportChange(kind, entry, undefined, true, "flag");
    return undefined;
  }

  /** Whether the upstream's list is still its first catalogue (see pinning.firstCatalogMs). */
  private async inFirstCatalogue(kind: PinnedKind, upstream: string): Promise<boolean> {
    const first = await this.options.pins.firstListing(kind, upstream);
    return (this.options.now ?? Date.now)() - first < this.config.pinning.firstCatalogMs;
  }

  private shadowAction(rule: string): "off" | "flag" | "hide" {
    const { shadowing } = this.config;
    if (rule === SHADOW_RULES.confusable) return shadowing.confusable;
    if (rule === SHADOW_RULES.duplicate) return shadowing.duplicates;
    return shadowing.crossReferences;
  }

  private overrideOf(upstream: string): CatalogGuardConfig["upstreams"][string] | undefined {
    return Object.hasOwn(this.config.upstreams, upstream) ? this.config.upstreams[upstream] : undefined;
  }

  private reportPoisoning(
    kind: CatalogKind,
    entry: Entry,
    findings: readonly Finding[],
    score: number,
    action: PoisoningAction,
  ): void {
    const rule = heaviest(findings);
    this.emitOnce("tool_poisoning_detected", action === "flag" ? "medium" : "high", entry, rule, {
      kind,
      action,
      score,
      rules: findings.map((f) => f.rule),
      findings: findings
        .slice(0, MAX_EVENT_FINDINGS)
        .map((f) => ({ rule: f.rule, where: f.where, excerpt: f.excerpt })),
    });
  }

  private reportShadowing(kind: CatalogKind, entry: Entry, findings: readonly ShadowFinding[]): void {
    for (const f of findings) {
      const action = this.shadowAction(f.rule);
      this.emitOnce("tool_shadowing", action === "hide" ? "high" : "medium", entry, f.rule, {
        kind,
        action,
        other: f.other,
        excerpt: f.excerpt,
      });
    }
  }

  /**
   * A changed definition (high), a new one under manual pinning (low), or a name an upstream added
   * after its first catalogue (`late`: high, withheld or, with newTools `flag`, pinned).
   */
  private reportChange(
    kind: CatalogKind,
    entry: Entry,
    previous: string | undefined,
    late = false,
    action: "hide" | "flag" = "hide",
  ): void {
    this.options.events?.emit({
      type: "tool_changed",
      severity: previous || late ? "high" : "low",
      details: {
        rule: previous ? PIN_RULES.changed : PIN_RULES.unapproved,
        change: previous ? "changed" : "new",
        ...(late ? { afterFirstCatalogue: true, action } : {}),
        kind,
        upstream: entry.item.upstream,
        name: entry.name,
        publicName: entry.item.publicName,
        pinned: previous,
        seen: entry.digest.hash,
      },
    });
    this.options.logger?.warn(
      { upstream: entry.item.upstream, name: entry.name, pinned: previous, seen: entry.digest.hash },
      previous
        ? "a pinned definition changed; withheld until approved"
        : late && action === "flag"
          ? "an upstream added a tool after its first catalogue; pinned and flagged"
          : "a new definition awaits approval",
    );
  }

  private emitOnce(
    type: "tool_poisoning_detected" | "tool_shadowing",
    severity: Severity,
    entry: Entry,
    rule: string | undefined,
    details: Record<string, unknown>,
  ): void {
    const key = `${type}\u0000${entry.item.upstream}\u0000${entry.item.publicName}\u0000${entry.digest.hash}\u0000${rule}`;
    if (this.reported.has(key)) return;
    if (this.reported.size >= MAX_REPORTED) this.reported.clear();
    this.reported.add(key);
    this.options.events?.emit({
      type,
      severity,
      details: {
        rule,
        upstream: entry.item.upstream,
        name: entry.name,
        publicName: entry.item.publicName,
        hash: entry.digest.hash,
        ...details,
      },
    });
  }
}

/** The upstream's own name of an item (tools and prompts are name-spaced; resources keep their URI). */
function ownName(kind: CatalogKind, item: CatalogItem, reader: CatalogReader): string {
  if (kind === "tools") return reader.resolveTool(item.publicName)?.name ?? item.publicName;
  if (kind === "prompts") return reader.resolvePrompt(item.publicName)?.name ?? item.publicName;
  return item.publicName;
}

/** Every tool and prompt name of every upstream, for references from any text. */
function namesOf(reader: CatalogReader): { upstream: string; name: string }[] {
  return (["tools", "prompts"] as const).flatMap((kind) =>
    reader.items(kind).map((item) => ({ upstream: item.upstream, name: ownName(kind, item, reader) })),
  );
}

function strongest(actions: readonly ("off" | "flag" | "hide")[]): "off" | "flag" | "hide" {
  if (actions.includes("hide")) return "hide";
  return actions.includes("flag") ? "flag" : "off";
}

function heaviest(findings: readonly Finding[]): string | undefined {
  let best: Finding | undefined;
  for (const f of findings) if (!best || f.weight > best.weight) best = f;
  return best?.rule;
}

function describe(findings: readonly Finding[]): string {
  const rules = [...findings].sort((a, b) => b.weight - a.weight).map((f) => f.rule);
  return rules.length > 3 ? `${rules.slice(0, 3).join(", ")} and ${rules.length - 3} more` : rules.join(", ");
}

/** One scanner per bound and cache size: its verdicts (by definition hash) outlive config reloads. */
const scanners = new Map<string, DefinitionScanner>();

export function scannerFor(cacheSize: number, maxDefinitionBytes: number): DefinitionScanner {
  const key = `${cacheSize}:${maxDefinitionBytes}`;
  let scanner = scanners.get(key);
  if (!scanner) scanners.set(key, (scanner = new DefinitionScanner({ cacheSize, maxDefinitionBytes })));
  return scanner;
}

function changedVerdict(publicName: string): Pick<ItemVerdict, "action" | "rule" | "reason"> {
  return {
    action: "changed",
    rule: PIN_RULES.changed,
    reason: `the definition of ${publicName} changed since it was approved; it is withheld until an operator reviews it`,
  };
}

function unapprovedVerdict(publicName: string): Pick<ItemVerdict, "action" | "rule" | "reason"> {
  return {
    action: "unapproved",
    rule: PIN_RULES.unapproved,
    reason: `${publicName} awaits an operator's approval`,
  };
}
