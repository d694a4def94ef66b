// Runs the message stage: each layer's hook in order, stopping at the first deny or challenge.
// Fail-secure: a hook that throws is a deny with rule "internal", a security event and a log line.
import { performance } from "node:perf_hooks";
import type { Logger } from "pino";
import type { SecurityEventBus } from "../events/bus.ts";
import type {
  CatalogItem,
  CatalogView,
  Layer,
  LayerDecision,
  MessageOutcome,
  NotificationView,
  RequestContext,
  RequestView,
  ResultView,
  ServerRequestView,
  ServerResultView,
  Verdict,
} from "./types.ts";

export interface ChainRun<T> {
  /** The final verdict: pass (with the message as rewritten by the layers), or the first non-pass. */
  readonly verdict: Verdict<T>;
  readonly value: T;
  /** The layer whose verdict was not a pass. */
  readonly decidedBy: string | undefined;
  readonly decisions: LayerDecision[];
}

/** Told how long each layer's hook took, in seconds (metrics). */
export type HookTimer = (layer: string, hook: string, seconds: number) => void;

type Hook<V, T> = (
  layer: Layer,
  view: V,
  ctx: RequestContext,
) => Verdict<T> | Promise<Verdict<T> | undefined> | undefined;

export class LayerChain {
  private readonly reversed: readonly Layer[];

  readonly layers: readonly Layer[];
  private readonly events: SecurityEventBus;
  private readonly log: Logger;
  private readonly hookTimer: HookTimer | undefined;

  constructor(layers: readonly Layer[], events: SecurityEventBus, log: Logger, hookTimer?: HookTimer) {
    this.layers = layers;
    this.events = events;
    this.log = log;
    this.hookTimer = hookTimer;
    this.reversed = [...layers].reverse();
  }

  runRequest(view: RequestView, ctx: RequestContext): Promise<ChainRun<Record<string, unknown> | undefined>> {
    return this.run(
      this.layers,
      "onRequest",
      view,
      view.params,
      ctx,
      (layer, v, c) => layer.onRequest?.(v, c),
      (v, params) => ({ ...v, params }),
    );
  }

  runResult(view: ResultView, ctx: RequestContext): Promise<ChainRun<Record<string, unknown>>> {
    return this.run(
      this.reversed,
      "onResult",
      view,
      view.result,
      ctx,
      (layer, v, c) => layer.onResult?.(v, c),
      (v, result) => ({ ...v, result }),
    );
  }

  runNotification(
    view: NotificationView,
    ctx: RequestContext,
  ): Promise<ChainRun<Record<string, unknown> | undefined>> {
    const order = view.direction === "to-server" ? this.layers : this.reversed;
    return this.run(
      order,
      "onNotification",
      view,
      view.params,
      ctx,
      (layer, v, c) => layer.onNotification?.(v, c),
      (v, params) => ({ ...v, params }),
    );
  }

  runServerRequest(
    view: ServerRequestView,
    ctx: RequestContext,
  ): Promise<ChainRun<Record<string, unknown> | undefined>> {
    return this.run(
      this.reversed,
      "onServerRequest",
      view,
      view.params,
      ctx,
      (layer, v, c) => layer.onServerRequest?.(v, c),
      (v, params) => ({ ...v, params }),
    );
  }

  /** The client's answer to an upstream's request: it travels towards the upstream, in chain order. */
  runServerResult(view: ServerResultView, ctx: RequestContext): Promise<ChainRun<Record<string, unknown>>> {
    return this.run(
      this.layers,
      "onServerResult",
      view,
      view.result,
      ctx,
      (layer, v, c) => layer.onServerResult?.(v, c),
      (v, result) => ({ ...v, result }),
    );
  }

  runCatalog(view: CatalogView, ctx: RequestContext): Promise<ChainRun<readonly CatalogItem[]>> {
    return this.run(
      this.reversed,
      "onCatalog",
      view,
      view.items,
      ctx,
      (layer, v, c) => layer.onCatalog?.(v, c),
      (v, items) => ({ ...v, items }),
    );
  }

  /** Records an outcome with every layer that keeps records; the first failure is thrown. */
  async record(outcome: MessageOutcome): Promise<void> {
    for (const layer of this.layers) {
      const span = outcome.ctx.trace?.startHook(layer, "onRecord");
      try {
        await layer.onRecord?.(outcome);
      } catch (err) {
        span?.fail("record-failed");
        throw err;
      }
      span?.end(undefined);
    }
  }

  /** Reports a finished message to every layer that observes outcomes; observers cannot fail a message. */
  reportOutcome(outcome: MessageOutcome): void {
    for (const layer of this.layers) {
      if (!layer.onOutcome) continue;
      try {
        layer.onOutcome(outcome);
      } catch (err) {
        this.log.error({ err, layer: layer.name }, "layer outcome observer failed");
      }
    }
  }

  async close(): Promise<void> {
    for (const layer of this.layers) {
      try {
        await layer.close?.();
      } catch (err) {
        this.log.warn({ err, layer: layer.name }, "layer close failed");
      }
    }
  }

  private async run<V, T>(
    order: readonly Layer[],
    hookName: string,
    initialView: V,
    initialValue: T,
    ctx: RequestContext,
    call: Hook<V, T>,
    rewrite: (view: V, value: T) => V,
  ): Promise<ChainRun<T>> {
    let view = initialView;
    let value = initialValue;
    const decisions: LayerDecision[] = [];
    for (const layer of order) {
      let verdict: Verdict<T> | undefined;
      const started = this.hookTimer ? performance.now() : 0;
      const span = ctx.trace?.startHook(layer, hookName);
      try {
        verdict = await call(layer, view, ctx);
      } catch (err) {
        verdict = this.failSecure(layer, hookName, err, ctx);
      }
      this.hookTimer?.(layer.name, hookName, (performance.now() - started) / 1000);
      span?.end(verdict);
      if (verdict === undefined) continue;
      decisions.push({
        layer: layer.name,
        verdict: verdict.kind,
        rule: verdict.kind === "pass" ? undefined : verdict.rule,
      });
      if (verdict.kind !== "pass") return { verdict, value, decidedBy: layer.name, decisions };
      if (verdict.rewrite !== undefined) {
        value = verdict.rewrite;
        view = rewrite(view, value);
      }
    }
    return { verdict: { kind: "pass" }, value, decidedBy: undefined, decisions };
  }

  private failSecure<T>(layer: Layer, hook: string, err: unknown, ctx: RequestContext): Verdict<T> {
    this.log.error(
      { err, layer: layer.name, hook, correlationId: ctx.id },
      "layer failed; denying (fail-secure)",
    );
    this.events.emit({
      type: "layer_error",
      severity: "high",
      ctx,
      details: { layer: layer.name, hook, error: err instanceof Error ? err.message : String(err) },
    });
    return {
      kind: "deny",
      rule: "internal",
      reason: `layer ${layer.name} failed`,
      code: "PORTCULLIS_E_INTERNAL",
    };
  }
}
