// Bounded retries, for idempotent list requests only: a tools/call or a resources/read may have
// had an effect before it failed, so it is never sent twice by the gateway.
import { setTimeout as sleep } from "node:timers/promises";
import { classifyFailure } from "./faults.ts";

/** The upstream requests that the gateway may repeat: reading a list changes nothing. */
export const IDEMPOTENT_LIST_METHODS: ReadonlySet<string> = new Set([
  "tools/list",
  "prompts/list",
  "resources/list",
  "resources/templates/list",
]);

/** The first retry waits this long; each further one twice as long. */
export const LIST_RETRY_DELAY_MS = 100;

export interface RetryOptions {
  /** At most this many further attempts, after upstream faults only. */
  readonly retries: number;
  readonly delayMs?: number;
  readonly onRetry?: (err: unknown, attempt: number) => void;
}

/**
 * Sends `method` through `attempt`, again after an upstream fault (timeout, lost connection,
 * garbage) when the method is an idempotent list; a JSON-RPC error the upstream answered, a
 * cancellation or any other method fails at once.
 */
export async function withListRetries<T>(
  method: string,
  attempt: () => Promise<T>,
  options: RetryOptions,
): Promise<T> {
  const retries = IDEMPOTENT_LIST_METHODS.has(method) ? options.retries : 0;
  const delayMs = options.delayMs ?? LIST_RETRY_DELAY_MS;
  for (let n = 0; ; n++) {
    try {
      return await attempt();
    } catch (err) {
      if (n >= retries || classifyFailure(err) !== "fault") throw err;
      options.onRetry?.(err, n + 1);
      if (delayMs > 0) await sleep(delayMs * 2 ** n);
    }
  }
}
