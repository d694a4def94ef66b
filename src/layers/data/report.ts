// What the data guard found in one message, gathered while the walk runs: the kinds and rules per
// category, the actions taken, the strongest injection verdict and the exfiltration links. It turns
// into at most one event per category (never carrying a value), the summary other layers and the
// audit record read, and the deny verdict when something blocks.
import { LEARNED_RULE } from "./injection.ts";
import type { DataAction } from "../../config/dataGuardSchema.ts";
import type { SecurityEventBus, Severity } from "../../events/bus.ts";
import type { RequestContext, RouteTarget, Verdict } from "../../pipeline/types.ts";
import type { DataCategory } from "../../redaction/kinds.ts";
import { CREDENTIAL_REQUEST_RULE } from "./elicitation.ts";
import type { DataHit } from "./inspect.ts";
import type { InjectionAction, LinkAction } from "./policy.ts";
import type { ExfilLink } from "./links.ts";

/**
 * Which way the message goes: a result or an upstream's request or notification to the client, tool
 * arguments or the client's answer to an upstream's request going upstream.
 */
export type Direction = "result" | "arguments" | "server-request" | "server-answer" | "notification";

/** Where the message goes or comes from, for events and refusals. */
export interface MessageWhere {
  readonly method: string;
  readonly tool?: string;
  readonly upstream?: string;
}

/** How events and refusals name a routed message. */
export function whereOf(method: string, target: RouteTarget | undefined): MessageWhere {
  return { method, tool: target?.publicName, upstream: target?.upstream };
}

/** The message as a refusal names it. */
export const MESSAGE_NOUN: Readonly<Record<Direction, { readonly noun: string; readonly plural: boolean }>> =
  {
    result: { noun: "The result", plural: false },
    arguments: { noun: "The arguments", plural: true },
    "server-request": { noun: "The upstream's request", plural: false },
    "server-answer": { noun: "The client's answer", plural: false },
    notification: { noun: "The notification", plural: false },
  };

/** Directions that go upstream: data there is judged by the `arguments` actions. */
export const UPSTREAM_BOUND: ReadonlySet<Direction> = new Set(["arguments", "server-answer"]);

/** The data guard's summary of one direction of a message (kinds and rules only, never values). */
export interface DataSummary {
  readonly secrets: readonly string[];
  readonly pii: readonly string[];
  readonly actions: readonly DataAction[];
  readonly injection?: { readonly score: number; readonly rules: readonly string[]; readonly action: string };
  readonly exfilLinks: number;
}

/** What a message carried, per direction; proposed as `MessageFindings.data`. */
export interface DataFinding {
  readonly arguments?: DataSummary;
  readonly result?: DataSummary;
  /** An upstream's request to the client (sampling, elicitation). */
  readonly serverRequest?: DataSummary;
  /** The client's answer to it. */
  readonly serverAnswer?: DataSummary;
}

class CategoryTally {
  readonly kinds = new Map<string, number>();
  readonly rules = new Set<string>();
  readonly actions = new Set<DataAction>();

  add(hit: DataHit): void {
    this.kinds.set(hit.kind, (this.kinds.get(hit.kind) ?? 0) + 1);
    this.rules.add(hit.rule);
    this.actions.add(hit.action);
  }
}

const MAX_LISTED = 10;

export class MessageReport {
  readonly direction: Direction;
  private readonly tallies: Record<DataCategory, CategoryTally> = {
    secret: new CategoryTally(),
    pii: new CategoryTally(),
  };
  private injectionScore = 0;
  private readonly injectionRules = new Set<string>();
  private readonly linkRules = new Set<string>();
  private readonly linkHosts = new Set<string>();
  private readonly linkReasons = new Set<string>();
  private links = 0;
  /** The first blocking hit, if any: it names the deny. */
  blocked: DataHit | undefined;
  /** Injections at or above the threshold in some text. */
  injectionAboveThreshold = false;

  constructor(direction: Direction) {
    this.direction = direction;
  }

  addHits(hits: readonly DataHit[]): void {
    for (const hit of hits) {
      this.tallies[hit.category].add(hit);
      if (hit.action === "block") this.blocked ??= hit;
    }
  }

  addLinks(links: readonly ExfilLink[]): void {
    this.links += links.length;
    for (const link of links) {
      this.linkRules.add(link.rule);
      this.linkReasons.add(link.reason);
      if (this.linkHosts.size < MAX_LISTED) this.linkHosts.add(link.host);
    }
  }

  /** A text whose injection score reached the threshold. */
  addInjection(score: number, rules: readonly string[]): void {
    this.injectionScore = Math.max(this.injectionScore, score);
    for (const rule of rules) this.injectionRules.add(rule);
    this.injectionAboveThreshold = true;
  }

  get exfilLinks(): number {
    return this.links;
  }

  /** The deciding rule, and for the learned model the rules it read (the strongest first). */
  private injectionExplanation(rule: string): string {
    if (rule !== LEARNED_RULE) return rule;
    const read = [...this.injectionRules].filter((r) => r !== LEARNED_RULE).slice(0, 3);
    return read.length > 0 ? `${rule}, with ${read.join(", ")}` : `${rule}, from the wording alone`;
  }

  /** The strongest rule that fired, for the deny's rule id. */
  get topInjectionRule(): string {
    return [...this.injectionRules][0] ?? [...this.linkRules][0] ?? "injection";
  }

  summary(injectionAction: InjectionAction, linkAction: LinkAction): DataSummary | undefined {
    const { secret, pii } = this.tallies;
    const flagged = this.injectionAboveThreshold || this.links > 0;
    if (secret.kinds.size === 0 && pii.kinds.size === 0 && !flagged) return undefined;
    return {
      secrets: [...secret.kinds.keys()],
      pii: [...pii.kinds.keys()],
      actions: [...new Set([...secret.actions, ...pii.actions])],
      ...(flagged
        ? {
            injection: {
              score: this.injectionScore,
              rules: [...this.injectionRules],
              action: this.injectionAboveThreshold ? injectionAction : linkAction,
            },
          }
        : {}),
      exfilLinks: this.links,
    };
  }

  emit(
    events: SecurityEventBus | undefined,
    ctx: RequestContext,
    message: MessageWhere,
    extra: { external: boolean; injectionAction: InjectionAction; linkAction: LinkAction },
  ): void {
    if (!events) return;
    const upstreamBound = UPSTREAM_BOUND.has(this.direction);
    const where = {
      layer: "data",
      direction: this.direction,
      method: message.method,
      tool: message.tool,
      upstream: message.upstream,
    };
    for (const [category, type] of [
      ["secret", "secret_redacted"],
      ["pii", "pii_redacted"],
    ] as const) {
      const tally = this.tallies[category];
      if (tally.kinds.size === 0) continue;
      events.emit({
        type,
        severity: dataSeverity(category, tally.actions, upstreamBound && extra.external),
        ctx,
        details: {
          ...where,
          kinds: Object.fromEntries(tally.kinds),
          rules: [...tally.rules].slice(0, MAX_LISTED),
          actions: [...tally.actions],
          ...(upstreamBound ? { external: extra.external } : {}),
        },
      });
    }
    if (!this.injectionAboveThreshold && this.links === 0) return;
    const action = this.injectionAboveThreshold ? extra.injectionAction : "none";
    events.emit({
      type: "injection_detected",
      severity: action === "block" || extra.linkAction === "block" || this.links > 0 ? "high" : "medium",
      ctx,
      details: {
        ...where,
        score: this.injectionScore,
        rules: [...this.injectionRules].slice(0, MAX_LISTED),
        action,
        ...(this.links > 0
          ? {
              exfilLinks: {
                count: this.links,
                action: extra.linkAction,
                rules: [...this.linkRules],
                reasons: [...this.linkReasons],
                hosts: [...this.linkHosts],
              },
            }
          : {}),
      },
    });
  }

  /** The deny for a blocking finding (data first: it is the more certain of the two). */
  verdict(
    injectionAction: InjectionAction,
    linkAction: LinkAction,
  ): Verdict<Record<string, unknown>> | undefined {
    const { noun, plural } = MESSAGE_NOUN[this.direction];
    const where = `${noun} ${plural ? "carry" : "carries"}`;
    if (this.blocked) {
      const { kind, category } = this.blocked;
      return {
        kind: "deny",
        rule: `data:${kind}`,
        reason: `${where} ${category === "secret" ? "a credential" : "personal data"} (${kind}) that this gateway does not let through`,
        code: "PORTCULLIS_E_DATA_BLOCKED",
        data: {
          layer: "data",
          kinds: [...this.tallies.secret.kinds.keys(), ...this.tallies.pii.kinds.keys()],
        },
      };
    }
    const injected = this.injectionAboveThreshold && injectionAction === "block";
    if (injected || (this.links > 0 && linkAction === "block")) {
      const rule = injected ? this.topInjectionRule : ([...this.linkRules][0] ?? "exfil-link");
      return {
        kind: "deny",
        rule: `injection:${rule}`,
        reason:
          rule === CREDENTIAL_REQUEST_RULE
            ? `${noun} ${plural ? "ask" : "asks"} the user for a credential in a form (${rule})`
            : `${where} instructions aimed at the AI model (${this.injectionExplanation(rule)})`,
        code: "PORTCULLIS_E_INJECTION_BLOCKED",
        data: { layer: "data", rules: [...this.injectionRules, ...this.linkRules].slice(0, MAX_LISTED) },
      };
    }
    return undefined;
  }
}

function dataSeverity(category: DataCategory, actions: ReadonlySet<DataAction>, external: boolean): Severity {
  if (actions.has("block")) return "high";
  if (external) return "high";
  if (category === "pii") return "low";
  return actions.has("redact") || actions.has("mask") ? "medium" : "low";
}
