// Alerts to a webhook: security events at or above a severity are posted as JSON, signed with
// HMAC-SHA256 over timestamp and body, retried with backoff, deduplicated within a window, and
// queued in a bounded buffer that never blocks the request path (overflow is counted and logged).
import { createHash, createHmac } from "node:crypto";
import type { Logger } from "pino";
import canonicalize from "canonicalize";
import { severityRank, type Severity, type StampedEvent } from "./bus.ts";

export interface WebhookOptions {
  readonly url: string;
  readonly secret: string;
  readonly minSeverity: Severity;
  readonly dedupeWindowMs: number;
  readonly maxAttempts: number;
  readonly timeoutMs: number;
  readonly queueSize: number;
  readonly logger: Logger;
}

export class WebhookSink {
  private readonly queue: StampedEvent[] = [];
  private readonly recent = new Map<string, number>();
  private draining = false;
  private droppedCount = 0;
  private readonly options: WebhookOptions;

  constructor(options: WebhookOptions) {
    this.options = options;
  }

  /** Alerts waiting to be delivered. */
  get depth(): number {
    return this.queue.length;
  }

  /** Events lost to a full queue since start. */
  get dropped(): number {
    return this.droppedCount;
  }

  /** Called synchronously by the bus: filters and enqueues, never waits. */
  offer(event: StampedEvent): void {
    if (severityRank[event.severity] < severityRank[this.options.minSeverity]) return;
    const key = dedupeKey(event);
    const now = Date.now();
    const seen = this.recent.get(key);
    if (seen !== undefined && now - seen < this.options.dedupeWindowMs) return;
    this.recent.set(key, now);
    if (this.recent.size > 10_000) this.forgetOld(now);
    if (this.queue.length >= this.options.queueSize) {
      this.droppedCount++;
      if (this.droppedCount === 1 || this.droppedCount % 100 === 0) {
        this.options.logger.error(
          { url: this.options.url, dropped: this.droppedCount },
          "alert queue full; alerts dropped",
        );
      }
      return;
    }
    this.queue.push(event);
    if (!this.draining) void this.drain();
  }

  private async drain(): Promise<void> {
    this.draining = true;
    try {
      for (let event = this.queue.shift(); event; event = this.queue.shift()) await this.deliver(event);
    } finally {
      this.draining = false;
    }
  }

  private async deliver(event: StampedEvent): Promise<void> {
    const body = JSON.stringify(toAlert(event));
    for (let attempt = 1; attempt <= this.options.maxAttempts; attempt++) {
      const timestamp = String(Math.floor(Date.now() / 1000));
      const signature = createHmac("sha256", this.options.secret)
        .update(`${timestamp}.${body}`)
        .digest("hex");
      try {
        const res = await fetch(this.options.url, {
          method: "POST",
          headers: {
            "content-type": "application/json",
            "x-portcullis-timestamp": timestamp,
            "x-portcullis-signature": `sha256=${signature}`,
          },
          body,
          signal: AbortSignal.timeout(this.options.timeoutMs),
        });
        await res.arrayBuffer().catch(() => undefined);
        if (res.ok) return;
        if (res.status < 500 && res.status !== 429) {
          this.options.logger.error(
            { url: this.options.url, status: res.status },
            "alert refused by the webhook",
          );
          return;
        }
      } catch (err) {
        if (attempt === this.options.maxAttempts) {
          this.options.logger.error({ url: this.options.url, err }, "alert could not be delivered");
          return;
        }
      }
      if (attempt < this.options.maxAttempts) await sleep(Math.min(30_000, 250 * 2 ** (attempt - 1)));
    }
    this.options.logger.error(
      { url: this.options.url, type: event.type },
      "alert not delivered after retries",
    );
  }

  private forgetOld(now: number): void {
    for (const [key, at] of this.recent) if (now - at >= this.options.dedupeWindowMs) this.recent.delete(key);
  }
}

/** What the webhook receives: the event without the raw request context, with its principal. */
function toAlert(event: StampedEvent): Record<string, unknown> {
  return {
    type: event.type,
    severity: event.severity,
    time: event.time,
    principal: event.ctx?.principal.id,
    session: event.ctx?.sessionDigest,
    client: event.ctx?.clientAddress,
    details: event.details,
    source: "portcullis",
  };
}

function dedupeKey(event: StampedEvent): string {
  const text =
    canonicalize({ type: event.type, principal: event.ctx?.principal.id, details: event.details }) ?? "";
  return createHash("sha256").update(text).digest("base64url");
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
