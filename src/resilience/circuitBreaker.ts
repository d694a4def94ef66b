// A consecutive-failure circuit breaker for one upstream: closed until `failureThreshold` upstream
// faults in a row, then open (refusing at once) for `openMs`, then half-open for one probe.
import { GatewayError } from "../errors.ts";
import { classifyFailure, type CallOutcome } from "./faults.ts";

export type CircuitState = "closed" | "open" | "half-open";

export interface CircuitTransition {
  readonly upstream: string;
  readonly from: CircuitState;
  readonly to: CircuitState;
  /** Upstream faults in a row when the transition happened. */
  readonly failures: number;
}

export interface CircuitBreakerOptions {
  readonly upstream: string;
  readonly failureThreshold: number;
  readonly openMs: number;
  /** A monotonic clock in milliseconds (tests pass their own). */
  readonly now?: () => number;
  readonly onTransition?: (transition: CircuitTransition) => void;
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
  private probing = false;
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

  /** How long an open breaker still refuses everything (0: a probe may go now, or not open). */
  get waitMs(): number {
    if (this.stateValue !== "open") return 0;
    return Math.max(0, this.openedAt + this.options.openMs - this.now());
  }

  /** Lets a call through, or refuses it at once with PORTCULLIS_E_CIRCUIT_OPEN. */
  admit(): Permit {
    if (this.stateValue === "open") {
      if (this.waitMs > 0) throw this.refusal();
      this.moveTo("half-open");
    }
    if (this.stateValue === "half-open") {
      if (this.probing) throw this.refusal();
      this.probing = true;
      return { generation: this.generation, probe: true };
    }
    return { generation: this.generation, probe: false };
  }

  record(permit: Permit, outcome: CallOutcome): void {
    if (permit.generation !== this.generation) return;
    if (outcome === "neutral") {
      if (permit.probe) this.probing = false; // the next call may probe instead
      return;
    }
    if (outcome === "answered") {
      this.failures = 0;
      if (this.stateValue !== "closed") this.moveTo("closed");
      return;
    }
    this.failures++;
    if (permit.probe || this.failures >= this.options.failureThreshold) this.moveTo("open");
  }

  /** Runs one upstream call under the breaker and counts how it ended. */
  async run<T>(call: () => Promise<T>): Promise<T> {
    const permit = this.admit();
    try {
      const value = await call();
      this.record(permit, "answered");
      return value;
    } catch (err) {
      this.record(permit, classifyFailure(err));
      throw err;
    }
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
    this.probing = false;
    if (to === "open") this.openedAt = this.now();
    if (to === "closed") this.failures = 0;
    this.options.onTransition?.({ upstream: this.options.upstream, from, to, failures });
  }
}
