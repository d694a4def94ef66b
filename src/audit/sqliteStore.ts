// The embedded audit store: SQLite (Node's built-in driver) in WAL mode, one hash chain per gateway
// node, a signed checkpoint every N records. `strict` commits each record before its answer is
// released; `batched` commits groups within a few milliseconds.
import { DatabaseSync, type StatementSync } from "node:sqlite";
import type { Logger } from "pino";
import { canonicalBody, chainHash, GENESIS_HASH, type AuditBody } from "./record.ts";
import type { AuditSink } from "./sink.ts";
import { signCheckpoint, type SigningKey } from "./signing.ts";

export interface SqliteStoreOptions {
  readonly path: string;
  readonly node: string;
  readonly durability: "strict" | "batched";
  readonly batchMs: number;
  /** Also survive an operating-system crash or power loss (fsync on every commit). */
  readonly fsync: boolean;
  /** The most disk the store may take; writes beyond it fail as on a full disk. */
  readonly maxSizeMb?: number;
  readonly checkpointEvery: number;
  readonly key: SigningKey;
  readonly logger: Logger;
}

export const AUDIT_SCHEMA = `
CREATE TABLE IF NOT EXISTS records (
  seq INTEGER PRIMARY KEY,
  node TEXT NOT NULL,
  body TEXT NOT NULL,
  prev_hash TEXT NOT NULL,
  hash TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS checkpoints (
  seq INTEGER PRIMARY KEY,
  node TEXT NOT NULL,
  hash TEXT NOT NULL,
  time TEXT NOT NULL,
  key_id TEXT NOT NULL,
  signature TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS signing_keys (
  key_id TEXT PRIMARY KEY,
  public_key TEXT NOT NULL
);`;

export class SqliteAuditStore implements AuditSink {
  private readonly db: DatabaseSync;
  private readonly insertRecord: StatementSync;
  private readonly insertCheckpoint: StatementSync;
  private readonly options: SqliteStoreOptions;
  private seq: number;
  private head: string;
  private pending: AuditBody[] = [];
  private timer: NodeJS.Timeout | undefined;
  private healthyValue = true;

  constructor(options: SqliteStoreOptions) {
    this.options = options;
    this.db = new DatabaseSync(options.path);
    this.db.exec(`PRAGMA journal_mode = WAL; PRAGMA synchronous = ${options.fsync ? "FULL" : "NORMAL"};`);
    // The driver is synchronous: a store locked by someone else must fail fast (and refuse tool
    // calls), not hold the event loop.
    this.db.exec("PRAGMA busy_timeout = 250;");
    if (options.maxSizeMb !== undefined) {
      const { page_size: pageSize } = this.db.prepare("PRAGMA page_size").get() as { page_size: number };
      const pages = Math.max(1, Math.floor((options.maxSizeMb * 1024 * 1024) / pageSize));
      this.db.exec(`PRAGMA max_page_count = ${pages};`);
    }
    this.db.exec(AUDIT_SCHEMA);
    this.db
      .prepare("INSERT OR IGNORE INTO signing_keys (key_id, public_key) VALUES (?, ?)")
      .run(options.key.keyId, options.key.publicKeyPem);
    const last = this.db.prepare("SELECT seq, hash FROM records ORDER BY seq DESC LIMIT 1").get() as
      { seq: number; hash: string } | undefined;
    this.seq = last?.seq ?? 0;
    this.head = last?.hash ?? GENESIS_HASH;
    this.insertRecord = this.db.prepare(
      "INSERT INTO records (seq, node, body, prev_hash, hash) VALUES (?, ?, ?, ?, ?)",
    );
    this.insertCheckpoint = this.db.prepare(
      "INSERT INTO checkpoints (seq, node, hash, time, key_id, signature) VALUES (?, ?, ?, ?, ?, ?)",
    );
  }

  get healthy(): boolean {
    return this.healthyValue;
  }

  append(body: AuditBody): void {
    if (this.options.durability === "strict") {
      this.write([body]);
      return;
    }
    this.pending.push(body);
    this.timer ??= setTimeout(() => this.flush(), this.options.batchMs);
  }

  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const batch = this.pending;
    this.pending = [];
    if (batch.length === 0) return;
    try {
      this.write(batch);
    } catch {
      // Already logged and marked unhealthy; the records of a failed batch are lost, which is why
      // the gateway stops allowing tool calls until a write succeeds again.
    }
  }

  close(): void {
    this.flush();
    this.checkpoint();
    this.db.close();
  }

  /** Writes records (and any checkpoint that falls due) in one transaction. */
  private write(bodies: AuditBody[]): void {
    const { seq: startSeq, head: startHead } = this;
    try {
      this.db.exec("BEGIN IMMEDIATE");
      for (const body of bodies) {
        const canonical = canonicalBody(body);
        const hash = chainHash(this.head, canonical);
        this.insertRecord.run(this.seq + 1, this.options.node, canonical, this.head, hash);
        this.seq++;
        this.head = hash;
        if (this.seq % this.options.checkpointEvery === 0) this.writeCheckpoint();
      }
      this.db.exec("COMMIT");
      this.healthyValue = true;
    } catch (err) {
      try {
        this.db.exec("ROLLBACK");
      } catch {
        // no transaction to roll back
      }
      this.seq = startSeq;
      this.head = startHead;
      if (this.healthyValue)
        this.options.logger.error(
          { err, full: isFull(err) },
          isFull(err)
            ? "audit store is full (disk full or audit.maxSizeMb reached); tool calls are refused"
            : "audit store write failed; tool calls are refused",
        );
      this.healthyValue = false;
      throw err;
    }
  }

  /** Signs the current head now (at shutdown, so the tail of the chain is covered too). */
  private checkpoint(): void {
    if (this.seq === 0) return;
    const exists = this.db.prepare("SELECT 1 FROM checkpoints WHERE seq = ?").get(this.seq);
    if (exists) return;
    try {
      this.writeCheckpoint();
    } catch (err) {
      this.options.logger.warn({ err }, "could not write the closing audit checkpoint");
    }
  }

  private writeCheckpoint(): void {
    const claim = { node: this.options.node, seq: this.seq, hash: this.head, time: new Date().toISOString() };
    const signature = signCheckpoint(this.options.key, claim);
    this.insertCheckpoint.run(
      claim.seq,
      claim.node,
      claim.hash,
      claim.time,
      this.options.key.keyId,
      signature,
    );
  }
}

/** SQLITE_FULL: the disk, or the store's size limit, has no room for the write. */
function isFull(err: unknown): boolean {
  const { errcode, message } = (err ?? {}) as { errcode?: number; message?: string };
  return errcode === 13 || /database or disk is full/i.test(message ?? "");
}
