// The periodic health check of an upstream's shared connection: a `ping` every interval; enough
// upstream faults in a row report it unhealthy (the supervisor then takes it down and restarts it).
import { classifyFailure, type CallOutcome } from "./faults.ts";

export interface HealthCheckPolicy {
  readonly enabled: boolean;
  readonly intervalMs: number;
  readonly timeoutMs: number;
  readonly unhealthyAfter: number;
}

export interface HealthCheckHooks {
  /** One check: resolves when the upstream answered, rejects with why it did not. */
  readonly ping: (timeoutMs: number) => Promise<unknown>;
  /** `unhealthyAfter` checks failed in a row; the monitor has stopped. */
  readonly onUnhealthy: (failures: number, lastError: unknown) => void;
  /** A check passed (the upstream answered, even with a JSON-RPC error). */
  readonly onHealthy?: () => void;
}

export class HealthMonitor {
  private timer: NodeJS.Timeout | undefined;
  private failures = 0;
  private running = false;

  private readonly policy: HealthCheckPolicy;
  private readonly hooks: HealthCheckHooks;

  constructor(policy: HealthCheckPolicy, hooks: HealthCheckHooks) {
    this.policy = policy;
    this.hooks = hooks;
  }

  /** Upstream faults in a row so far. */
  get failing(): number {
    return this.failures;
  }

  start(): void {
    if (!this.policy.enabled || this.running) return;
    this.running = true;
    this.failures = 0;
    this.schedule();
  }

  stop(): void {
    this.running = false;
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  private schedule(): void {
    // One check at a time: the next is armed only once the previous one has ended.
    this.timer = setTimeout(() => void this.check(), this.policy.intervalMs);
    this.timer.unref();
  }

  private async check(): Promise<void> {
    let outcome: CallOutcome = "answered";
    let error: unknown;
    try {
      await this.hooks.ping(this.policy.timeoutMs);
    } catch (err) {
      outcome = classifyFailure(err);
      error = err;
    }
    if (!this.running) return;
    if (outcome === "fault" && ++this.failures >= this.policy.unhealthyAfter) {
      this.stop();
      this.hooks.onUnhealthy(this.failures, error);
      return;
    }
    this.schedule();
    if (outcome === "answered") {
      this.failures = 0;
      this.hooks.onHealthy?.();
    }
  }
}
