// The circuit breaker of one upstream, decided by the gateway alone: `failureThreshold` faults in a
// row only raise a suspicion that the gateway's own check confirms (open) or clears; once open, only
// the gateway's own probe, after `openMs`, closes it or opens it again. No client's call decides.
import { GatewayError } from "../errors.ts";
import { classifyFailure, type CallOutcome } from "./faults.ts";

export type CircuitState = "closed" | "open" | "half-open";

/**
 * Whose request runs under the breaker: a client's call (whatever it provokes, it never opens nor
 * closes the breaker by itself), or the gateway's own (the catalogue refresh, which is the probe).
 */
export type CallSource = "client" | "gateway";

export interface CircuitTransition {
  readonly upstream: string;
  readonly from: CircuitState;
  readonly to: CircuitState;
  /** Upstream faults in a row when the transition happened. */
  readonly failures: number;
}

/** How the gateway's own check of a suspicion ended (one that opened the breaker is a transition). */
export interface CheckResult {
  readonly failures: number;
  readonly outcome: CallOutcome;
}

export interface CircuitBreakerOptions {
  readonly upstream: string;
  readonly failureThreshold: number;
  readonly openMs: number;
  /**
   * The gateway's own check of the upstream, with a short timeout (a `ping`, as nobody's call):
   * resolves when the upstream answered. Run when `failureThreshold` faults in a row were seen;
   * only an upstream fault of this check opens the breaker.
   */
  readonly check: () => Promise<unknown>;
  /** A monotonic clock in milliseconds (tests pass their own). */
  readonly now?: () => number;
  readonly onTransition?: (transition: CircuitTransition) => void;
  /** A check answered (or ended without a verdict): the breaker stays closed. */
  readonly onCheckCleared?: (result: CheckResult) => void;
}

/**
 * What `admit` hands out: its outcome counts only under the state that issued it, so a slow call
 * admitted while closed cannot close (or re-open) a breaker that has moved on since.
 */
export interface Permit {
  readonly generation: number;
  readonly probe: boolean;
}

export class CircuitBreaker {
  private stateValue: CircuitState = "closed";
  private failures = 0;
  private openedAt = 0;
  private checking = false;
  private generation = 0;

  private readonly options: CircuitBreakerOptions;
  private readonly now: () => number;

  constructor(options: CircuitBreakerOptions) {
    this.options = options;
    this.now = options.now ?? (() => performance.now());
  }

  get state(): CircuitState {
    return this.stateValue;
  }

  /** How long an open breaker still refuses everything (0: the gateway may probe now, or not open). */
  get waitMs(): number {
    if (this.stateValue !== "open") return 0;
    return Math.max(0, this.openedAt + this.options.openMs - this.now());
  }

  /**
   * Lets a call through, or refuses it at once with PORTCULLIS_E_CIRCUIT_OPEN. A breaker that is not
   * closed lets through only the gateway's own probe, once its wait is over, and one at a time.
   */
  admit(source: CallSource): Permit {
    if (this.stateValue === "closed") return { generation: this.generation, probe: false };
    if (source === "client" || this.stateValue === "half-open" || this.waitMs > 0) throw this.refusal();
    this.moveTo("half-open");
    return { generation: this.generation, probe: true };
  }

  record(permit: Permit, outcome: CallOutcome): void {
    if (permit.generation !== this.generation) return;
    if (permit.probe) return this.settleProbe(outcome);
    if (outcome === "answered") this.failures = 0;
    else if (outcome === "fault" && ++this.failures >= this.options.failureThreshold) void this.confirm();
  }

  /** Runs one upstream call under the breaker and counts how it ended. */
  async run<T>(call: () => Promise<T>, source: CallSource): Promise<T> {
    const permit = this.admit(source);
    try {
      const value = await call();
      this.record(permit, "answered");
      return value;
    } catch (err) {
      this.record(permit, classifyFailure(err));
      throw err;
    }
  }

  /** Only the probe decides a half-open breaker; one without a verdict is tried again after `openMs`. */
  private settleProbe(outcome: CallOutcome): void {
    if (outcome === "answered") return this.moveTo("closed");
    if (outcome === "fault") this.failures++;
    this.moveTo("open");
  }

  /**
   * Faults of clients' calls may be provoked by those clients (a tool made to hang or to answer
   * garbage, a session process made to crash): the gateway asks the upstream itself before opening.
   */
  private async confirm(): Promise<void> {
    if (this.checking) return;
    this.checking = true;
    const generation = this.generation;
    let outcome: CallOutcome = "answered";
    try {
      await this.options.check();
    } catch (err) {
      outcome = classifyFailure(err);
    } finally {
      this.checking = false;
    }
    if (generation !== this.generation) return;
    if (outcome === "fault") return this.moveTo("open");
    this.options.onCheckCleared?.({ failures: this.failures, outcome });
    this.failures = 0;
  }

  private refusal(): GatewayError {
    const { upstream } = this.options;
    const retryAfterSeconds = Math.max(1, Math.ceil(this.waitMs / 1000));
    return new GatewayError("PORTCULLIS_E_CIRCUIT_OPEN", upstream, {
      upstream,
      state: this.stateValue,
      retryAfterSeconds,
    });
  }

  private moveTo(to: CircuitState): void {
    const from = this.stateValue;
    const failures = this.failures;
    this.stateValue = to;
    this.generation++;
    if (to === "open") this.openedAt = this.now();
    if (to === "closed") this.failures = 0;
    this.options.onTransition?.({ upstream: this.options.upstream, from, to, failures });
  }
}
