// The cap on what one client session holds open at once: POSTs in flight and SSE streams (GET, or a
// POST answered as a stream) count until their response closes. Beyond the cap: 429.
import type { ServerResponse } from "node:http";
import { GatewayError } from "../../errors.ts";
import { sendError } from "../../ingress/respond.ts";

export class StreamCounter {
  private readonly open = new Map<string, number>();

  /** Counts the response against `key` until it closes; false (answered 429) when the key is at `max`. */
  admit(key: string, res: ServerResponse, max: number): boolean {
    const now = this.open.get(key) ?? 0;
    if (now >= max) {
      sendError(
        res,
        new GatewayError("PORTCULLIS_E_TOO_MANY_STREAMS", `limit ${max}`, {
          layer: "network",
          rule: "max-streams-per-session",
          retryAfterSeconds: 1,
        }),
      );
      return false;
    }
    this.open.set(key, now + 1);
    res.once("close", () => {
      const left = (this.open.get(key) ?? 1) - 1;
      if (left > 0) this.open.set(key, left);
      else this.open.delete(key);
    });
    return true;
  }

  /** What a key holds open now. */
  count(key: string): number {
    return this.open.get(key) ?? 0;
  }
}
