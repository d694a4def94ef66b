// Judges a call whose target no list has judged: its upstream is hidden from lists (restarting, or
// between a reconnection and its refreshed lists). The upstream's current lists are awaited, bounded,
// and judged as any list is; concurrent calls for one target share that judgement.
import { errorCatalogue, GatewayError, type ErrorCode } from "../../errors.ts";
import type { CatalogKind, Verdict } from "../../pipeline/types.ts";
import type { CatalogGuard, CatalogReader, ItemVerdict } from "./guard.ts";

/** The rules of calls judged on demand (in the deny, the audit record and the message_denied event). */
export const ON_DEMAND_RULES = {
  /** The upstream's current definition could not be obtained: refused (fail-secure). */
  unverified: "catalog.unverified",
  /** The upstream's current lists do not have the target. */
  notListed: "catalog.not-listed",
} as const;

export type OnDemandOutcome =
  | { readonly kind: "judged"; readonly verdict: ItemVerdict }
  /** The upstream's current lists do not have it (removed or renamed since the router resolved it). */
  | { readonly kind: "absent" }
  /** Its current definition could not be obtained: why (the upstream's own error, or the wait's end). */
  | { readonly kind: "unverified"; readonly cause: GatewayError };

export interface OnDemandJudgeOptions {
  readonly guard: CatalogGuard;
  readonly catalog: () => CatalogReader;
  /** How long one call waits for the upstream's current lists (`catalogGuard.onDemandTimeoutMs`). */
  readonly timeoutMs: number;
}

/** The codes of the upstream's own refusals, passed on as they are (clients retry them as such). */
const UPSTREAM_CODES = new Set<ErrorCode>([
  "PORTCULLIS_E_UPSTREAM_UNAVAILABLE",
  "PORTCULLIS_E_CIRCUIT_OPEN",
  "PORTCULLIS_E_UPSTREAM_TIMEOUT",
  "PORTCULLIS_E_UPSTREAM_PROTOCOL",
  "PORTCULLIS_E_CANCELLED",
]);

export class OnDemandJudge {
  private readonly options: OnDemandJudgeOptions;
  /** Judgements under way, by target: a second call for the same target waits for the first one's. */
  private readonly pending = new Map<string, Promise<OnDemandOutcome>>();

  constructor(options: OnDemandJudgeOptions) {
    this.options = options;
  }

  /** Obtains the upstream's current lists, judges them, and finds the target's verdict; bounded. */
  judge(
    kind: CatalogKind,
    upstream: string,
    publicName: string,
    signal?: AbortSignal,
  ): Promise<OnDemandOutcome> {
    const key = `${kind}\u0000${upstream}\u0000${publicName}`;
    let shared = this.pending.get(key);
    if (!shared) {
      const run = this.obtain(kind, upstream, publicName);
      const forget = () => {
        if (this.pending.get(key) === run) this.pending.delete(key);
      };
      run.then(forget, forget);
      this.pending.set(key, (shared = run));
    }
    return this.within(shared, upstream, signal);
  }

  private async obtain(kind: CatalogKind, upstream: string, publicName: string): Promise<OnDemandOutcome> {
    const reader = this.options.catalog();
    try {
      if (!reader.current)
        throw new GatewayError("PORTCULLIS_E_UPSTREAM_UNAVAILABLE", `${upstream} is not listed`, {
          upstream,
        });
      await reader.current(upstream);
    } catch (err) {
      return { kind: "unverified", cause: gatewayErrorOf(err, upstream) };
    }
    // The same judgement as a list's (scan, pins, first catalogue, shadowing), kept as a list's is.
    const verdict = await this.options.guard.verdictFor(kind, upstream, publicName);
    return verdict ? { kind: "judged", verdict } : { kind: "absent" };
  }

  /** The shared judgement, or its own refusal when the wait is over or the call was cancelled. */
  private within(
    shared: Promise<OnDemandOutcome>,
    upstream: string,
    signal: AbortSignal | undefined,
  ): Promise<OnDemandOutcome> {
    const { timeoutMs } = this.options;
    return new Promise((resolve, reject) => {
      const end = (settle: () => void) => {
        clearTimeout(timer);
        signal?.removeEventListener("abort", cancelled);
        settle();
      };
      const unverified = (cause: GatewayError) => end(() => resolve({ kind: "unverified", cause }));
      const cancelled = () =>
        unverified(new GatewayError("PORTCULLIS_E_CANCELLED", "while its definition was read", { upstream }));
      const timer = setTimeout(
        () =>
          unverified(
            new GatewayError("PORTCULLIS_E_UPSTREAM_TIMEOUT", `${upstream}'s lists`, { upstream, timeoutMs }),
          ),
        timeoutMs,
      );
      if (signal?.aborted) return cancelled();
      signal?.addEventListener("abort", cancelled, { once: true });
      shared.then(
        (outcome) => end(() => resolve(outcome)),
        (err: unknown) => end(() => reject(err instanceof Error ? err : new Error(String(err)))),
      );
    });
  }
}

/** A refusal of a call whose target's current definition could not be obtained: the guard, why. */
export function unverifiedRefusal(
  upstream: string,
  publicName: string,
  cause: GatewayError,
): Extract<Verdict<never>, { kind: "deny" }> {
  return {
    kind: "deny",
    rule: ON_DEMAND_RULES.unverified,
    reason: `the catalogue guard cannot judge ${publicName} without ${upstream}'s current definition: ${whyUnread(upstream, cause)}`,
    // The upstream's own code when it is the upstream that cannot answer: clients retry it as they would.
    code: UPSTREAM_CODES.has(cause.code) ? cause.code : "PORTCULLIS_E_UPSTREAM_UNAVAILABLE",
    data: { ...cause.data, upstream, name: publicName },
  };
}

function whyUnread(upstream: string, cause: GatewayError): string {
  const state = typeof cause.data?.state === "string" ? cause.data.state : undefined;
  switch (cause.code) {
    case "PORTCULLIS_E_CIRCUIT_OPEN":
      return `${upstream}'s circuit breaker is ${state ?? "open"}`;
    case "PORTCULLIS_E_UPSTREAM_UNAVAILABLE":
      return state ? `${upstream} is ${state}` : detailOf(cause);
    case "PORTCULLIS_E_UPSTREAM_TIMEOUT":
      return typeof cause.data?.timeoutMs === "number"
        ? `${upstream}'s lists were not read within ${cause.data.timeoutMs} ms`
        : `${upstream}'s lists did not come in time`;
    case "PORTCULLIS_E_CANCELLED":
      return "the call was cancelled while it was read";
    default:
      return detailOf(cause);
  }
}

/** An error's message without the catalogue's text for its code (the refusal carries the code). */
function detailOf(err: GatewayError): string {
  const prefix = `${errorCatalogue[err.code].message}: `;
  return err.message.startsWith(prefix) ? err.message.slice(prefix.length) : err.message;
}

function gatewayErrorOf(err: unknown, upstream: string): GatewayError {
  if (err instanceof GatewayError) return err;
  const detail = err instanceof Error ? err.message : String(err);
  return new GatewayError("PORTCULLIS_E_UPSTREAM_UNAVAILABLE", `${upstream}'s lists: ${detail}`, {
    upstream,
  });
}
