// Where audit records go: the interface every audit store implements (SQLite embedded, PostgreSQL
// for clusters). The audit layer appends; the gateway reads `healthy` to refuse tool calls.
import type { AuditBody } from "./record.ts";

export interface AuditSink {
  /**
   * Adds a record. In strict durability it is committed when this returns or its promise resolves;
   * a failure throws or rejects, and the answer the record belongs to is withheld.
   */
  append(body: AuditBody): void | Promise<void>;
  /** True while records can be written; false after a failed write, until one succeeds again. */
  readonly healthy: boolean;
  /** Commits what is waiting (batched durability). */
  flush(): void | Promise<void>;
  /** Commits what is waiting, signs the head of the chain, and releases the store. */
  close(): void | Promise<void>;
}
