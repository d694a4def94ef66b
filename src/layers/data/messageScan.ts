// One message through the data guard: its report, its bounds and work budget, and its quarantine id;
// the visitors for content (what the client's model or user reads: data, links, injections) and for
// data (what goes upstream, or is not read as instructions); the injection score of the message as a
// whole; and, at the end, the events, the finding for later layers and the verdict.
import type { DataGuardConfig } from "../../config/dataGuardSchema.ts";
import type { SecurityEventBus } from "../../events/bus.ts";
import type { RequestContext, Verdict } from "../../pipeline/types.ts";
import { messageWork, ScanWorkExceeded, type ScanWork } from "./budget.ts";
import { scoreInjection } from "./injection.ts";
import { inspectText } from "./inspect.ts";
import type { DirectionPolicy, TargetPolicy } from "./policy.ts";
import { quarantine } from "./quarantine.ts";
import {
  MESSAGE_NOUN,
  MessageReport,
  type DataFinding,
  type Direction,
  type MessageWhere,
} from "./report.ts";
import { WalkBudget, type TextVisitor } from "./walk.ts";

export type LayerVerdict = Verdict<Record<string, unknown>> | undefined;

/** What every scan of one layer shares. */
export interface GuardSettings {
  readonly config: DataGuardConfig;
  readonly events?: SecurityEventBus;
  /** The quarantine marker's id (random per message by default). */
  readonly newId: () => string;
}

/** An injection verdict: the score and the rules that fired. */
interface Scored {
  readonly score: number;
  readonly rules: readonly string[];
}

export class MessageScan {
  readonly report: MessageReport;
  readonly policy: TargetPolicy;
  /** The first walk's bounds (a second walk over the message gets its own, sharing the work). */
  readonly budget: WalkBudget;
  /** The message's work budget, shared by every walk and pass over it. */
  readonly work: ScanWork;
  private readonly settings: GuardSettings;
  /** The model-facing texts, scored together too: an instruction split across blocks still counts. */
  private readonly texts: string[] = [];
  private tripped = false;
  private overWork = false;
  private id: string | undefined;

  constructor(settings: GuardSettings, direction: Direction, policy: TargetPolicy) {
    this.settings = settings;
    this.policy = policy;
    this.report = new MessageReport(direction);
    const { limits } = settings.config;
    this.work = messageWork(limits);
    this.budget = this.walkBudget();
  }

  walkBudget(): WalkBudget {
    const { limits } = this.settings.config;
    return new WalkBudget(limits.maxChars, limits.maxDepth, this.work);
  }

  /**
   * Runs a walk; past the work budget it stops and the message is refused at the end. Anything else
   * it throws is thrown on (the chain denies: fail-secure).
   */
  walk<T>(run: () => T, fallback: T): T {
    if (this.overWork) return fallback;
    try {
      return run();
    } catch (err) {
      if (!(err instanceof ScanWorkExceeded)) throw err;
      this.overWork = true;
      return fallback;
    }
  }

  /** Text the client's model or user reads: data per `results`, links, and injections quarantined as `what`. */
  content(what: string): TextVisitor {
    const { policy, report } = this;
    const threshold = this.settings.config.injection.threshold;
    return (text, place) => {
      const inspection = inspectText(text, {
        policy: policy.results,
        modelFacing: place.modelFacing,
        secretField: place.secretField,
        links: policy.links,
        allowedHost: policy.allowedHost,
        injection: policy.injection === "off" ? undefined : this.settings.config.injection.scorer,
        work: this.work,
      });
      report.addHits(inspection.hits);
      report.addLinks(inspection.links);
      if (place.modelFacing) this.texts.push(text);
      const injection = inspection.injection;
      if (!injection || policy.injection === "off" || injection.score < threshold) return inspection.text;
      report.addInjection(injection.score, injection.rules);
      this.tripped = true;
      if (policy.injection !== "quarantine") return inspection.text;
      return quarantine(inspection.text, this.quarantineId(), injection.rules, what);
    };
  }

  /** Data: found, and redacted, masked or blocked per `actions`; never read as instructions. */
  data(actions: DirectionPolicy): TextVisitor {
    return (text, place) => {
      const inspection = inspectText(text, {
        policy: actions,
        modelFacing: false,
        secretField: place.secretField,
        links: "off",
        allowedHost: this.policy.allowedHost,
        injection: undefined,
        work: this.work,
      });
      this.report.addHits(inspection.hits);
      return inspection.text;
    };
  }

  /**
   * The model-facing texts scored together, with `extra` (a verdict found elsewhere in the message)
   * added; when no text reached the threshold alone and the whole does, every model-facing text is
   * quarantined (`rewalk` walks the message again).
   */
  scoreWhole<T>(
    rewritten: T,
    rewalk: (value: T, visit: TextVisitor, budget: WalkBudget) => T,
    what: string,
    extra?: Scored,
  ): T {
    const { policy, report } = this;
    if (policy.injection === "off" || this.budget.overflow || this.overWork) return rewritten;
    return this.walk(() => {
      let verdict: Scored = extra ?? { score: 0, rules: [] };
      if (!this.tripped && this.texts.length > 1) {
        const joined = this.texts.join("\n");
        this.work.spend(joined.length);
        verdict = combine(
          scoreInjection(joined, [], { scorer: this.settings.config.injection.scorer }),
          verdict,
        );
      }
      if (verdict.score < this.settings.config.injection.threshold) return rewritten;
      report.addInjection(verdict.score, verdict.rules);
      const wrapAll = !this.tripped && policy.injection === "quarantine";
      this.tripped = true;
      if (!wrapAll) return rewritten;
      const id = this.quarantineId();
      const wrap: TextVisitor = (text, place) =>
        place.modelFacing ? quarantine(text, id, verdict.rules, what) : text;
      return rewalk(rewritten, wrap, this.walkBudget());
    }, rewritten);
  }

  /**
   * The end of the scan: events, the finding for later layers and the audit record, and the verdict
   * (a deny when something blocks or the message was not read whole; otherwise undefined).
   */
  conclude(ctx: RequestContext, where: MessageWhere): LayerVerdict {
    const { report, policy } = this;
    if (this.overWork) return this.unscanned("work", ctx, where);
    const extra = { external: policy.external, injectionAction: policy.injection, linkAction: policy.links };
    report.emit(this.settings.events, ctx, where, extra);
    const summary = report.summary(policy.injection, policy.links);
    const key = FINDING_KEY[report.direction];
    if (summary && key) ctx.findings.data = { ...ctx.findings.data, [key]: summary };
    if (this.budget.overflow) return this.unscanned(this.budget.overflow, ctx, where);
    return report.verdict(policy.injection, policy.links);
  }

  private quarantineId(): string {
    return (this.id ??= this.settings.newId());
  }

  /**
   * A message the guard did not read whole: too large or deep (blocked unless `limits.oversize`
   * allows it unscanned), or too much work (always blocked). One event either way.
   */
  private unscanned(
    limit: "depth" | "size" | "work",
    ctx: RequestContext,
    where: MessageWhere,
  ): LayerVerdict {
    const { config, events } = this.settings;
    const { direction } = this.report;
    const work = limit === "work";
    const block = work || config.limits.oversize === "block";
    const rule = work ? "data:too-much-work" : "data:too-large";
    const bound =
      limit === "work"
        ? `maxWork ${this.work.max}`
        : limit === "depth"
          ? `maxDepth ${config.limits.maxDepth}`
          : `maxChars ${config.limits.maxChars}`;
    events?.emit({
      type: "secret_redacted",
      severity: block ? "medium" : "high",
      ctx,
      details: {
        layer: "data",
        direction,
        ...where,
        rules: [rule],
        actions: [block ? "block" : "unscanned"],
        limit: bound,
      },
    });
    if (!block) return undefined;
    const { noun, plural } = MESSAGE_NOUN[direction];
    const reason = work
      ? `${noun} ${plural ? "cost" : "costs"} more to scan than the data guard allows (dataGuard.limits.maxWork)`
      : `${noun} ${limit === "depth" ? (plural ? "nest" : "nests") + " deeper" : (plural ? "are" : "is") + " longer"} than the data guard scans (dataGuard.limits)`;
    return {
      kind: "deny",
      rule,
      reason,
      code: "PORTCULLIS_E_DATA_BLOCKED",
      data: { layer: "data", limit, bound },
    };
  }
}

/** Where each direction's summary goes in `ctx.findings.data` (notifications have no record). */
const FINDING_KEY: Readonly<Record<Direction, keyof DataFinding | undefined>> = {
  result: "result",
  arguments: "arguments",
  "server-request": "serverRequest",
  "server-answer": "serverAnswer",
  notification: undefined,
};

/** Two verdicts as one: the noisy-OR of their scores, their rules together. */
function combine(a: Scored, b: Scored): Scored {
  if (b.score === 0) return a;
  if (a.score === 0) return b;
  const score = Math.round((1 - (1 - a.score) * (1 - b.score)) * 1000) / 1000;
  return { score, rules: [...new Set([...b.rules, ...a.rules])] };
}
