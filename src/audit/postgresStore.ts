// The PostgreSQL audit store: one database for every gateway node, one hash chain per node, signed
// checkpoints as in SQLite. Appends are written one group at a time, in order; those that arrive
// while a write is in flight form the next group (group commit). An unreachable database never stops
// the gateway: the store turns unhealthy (tool calls are refused), reconnects in the background with
// backoff, and is healthy again once a write succeeds.
import { Pool } from "pg";
import type { Logger } from "pino";
import { describePostgres, ensureAuditTables, postgresPoolConfig } from "./postgresConnection.ts";
import type { PostgresAuditSettings } from "./postgresConnection.ts";
import { canonicalBody, chainHash, GENESIS_HASH, type AuditBody } from "./record.ts";
import { signCheckpoint, type CheckpointClaim, type SigningKey } from "./signing.ts";
import type { AuditSink } from "./sink.ts";

export interface PostgresStoreOptions {
  readonly settings: PostgresAuditSettings;
  readonly node: string;
  readonly durability: "strict" | "batched";
  readonly batchMs: number;
  readonly checkpointEvery: number;
  readonly key: SigningKey;
  readonly logger: Logger;
}

interface Queued {
  readonly canonical: string;
  /** Strict durability: settles the append's promise once its group is committed or has failed. */
  readonly settle?: (err?: Error) => void;
}

interface ChainHead {
  readonly seq: number;
  readonly hash: string;
  /** The last sequence number with a checkpoint. */
  readonly signed: number;
}

/** Most records in one statement. */
const MAX_GROUP = 1_000;
const RECONNECT_FIRST_MS = 250;
const RECONNECT_MAX_MS = 5_000;

/** Records and the checkpoints that fall due among them, in one statement (so one commit). */
const INSERT_GROUP = `
WITH written AS (
  INSERT INTO records (node, seq, body, prev_hash, hash)
  SELECT $1::text, * FROM unnest($2::bigint[], $3::text[], $4::text[], $5::text[])
)
INSERT INTO checkpoints (node, seq, hash, time, key_id, signature)
SELECT $1::text, * FROM unnest($6::bigint[], $7::text[], $8::text[], $9::text[], $10::text[])`;

const INSERT_CHECKPOINT = `INSERT INTO checkpoints (node, seq, hash, time, key_id, signature)
VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (node, seq) DO NOTHING`;

const READ_HEAD = `SELECT
  (SELECT seq FROM records WHERE node = $1 ORDER BY seq DESC LIMIT 1) AS seq,
  (SELECT hash FROM records WHERE node = $1 ORDER BY seq DESC LIMIT 1) AS hash,
  (SELECT max(seq) FROM checkpoints WHERE node = $1) AS signed`;

export class PostgresAuditStore implements AuditSink {
  private readonly options: PostgresStoreOptions;
  private readonly pool: Pool;
  /** The database as logs may show it (no password). */
  private readonly where: string;
  /** This node's chain head; undefined until read from the database (at start, after a failure). */
  private head: ChainHead | undefined;
  private tablesReady = false;
  private healthyValue = false;
  private queue: Queued[] = [];
  /** The write or reconnect attempt in flight: one at a time, so the chain keeps its order. */
  private work: Promise<void> | undefined;
  private batchTimer: NodeJS.Timeout | undefined;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private reconnectDelay = RECONNECT_FIRST_MS;
  private closed = false;
  /** The longest one write may take: a connection, then the statement. */
  private readonly deadlineMs: number;
  /** The current outage has been logged (one error line per outage, not per reconnect attempt). */
  private outageLogged = false;

  /** Opens the store; an unreachable database is logged and retried in the background, not thrown. */
  static async open(options: PostgresStoreOptions): Promise<PostgresAuditStore> {
    const store = new PostgresAuditStore(options);
    await store.runExclusive(() => store.reconnect());
    return store;
  }

  private constructor(options: PostgresStoreOptions) {
    this.options = options;
    this.where = describePostgres(options.settings.url ?? "");
    this.deadlineMs = options.settings.connectTimeoutMs + options.settings.statementTimeoutMs + 1_000;
    this.pool = new Pool(
      postgresPoolConfig(options.settings, {
        boundStatements: true,
        applicationName: `portcullis-audit ${options.node}`.slice(0, 63),
      }),
    );
    // An idle connection that dies (server restart, pg_terminate_backend) must not take the process
    // down; the pool drops it and the next write opens another.
    this.pool.on("error", (err) =>
      options.logger.warn({ err, node: options.node, store: this.where }, "audit store connection lost"),
    );
  }

  get healthy(): boolean {
    return this.healthyValue;
  }

  append(body: AuditBody): void | Promise<void> {
    if (this.closed) throw new Error("the audit store is closed");
    if (!this.healthyValue)
      throw new Error(`the audit store (PostgreSQL at ${this.where}) cannot be written; reconnecting`);
    const canonical = canonicalBody(body);
    if (this.options.durability === "batched") {
      this.queue.push({ canonical });
      if (this.queue.length >= MAX_GROUP) this.kick();
      else this.batchTimer ??= setTimeout(() => this.kick(), this.options.batchMs);
      return;
    }
    return new Promise<void>((resolve, reject) => {
      // A record queued behind a slow write must not hold its answer longer than one write may take;
      // it stays queued (and may still be written), but the answer is withheld now.
      const timer = setTimeout(
        () => reject(new Error(`the audit record was not committed within ${this.deadlineMs} ms`)),
        this.deadlineMs,
      );
      this.queue.push({
        canonical,
        settle: (err) => {
          clearTimeout(timer);
          if (err) reject(err);
          else resolve();
        },
      });
      this.kick();
    });
  }

  async flush(): Promise<void> {
    this.kick();
    while (this.work) await this.work;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    await this.flush();
    await this.runExclusive(() => this.signHead());
    await Promise.race([
      this.pool.end(),
      new Promise((resolve) => setTimeout(resolve, this.options.settings.connectTimeoutMs).unref()),
    ]);
  }

  /** Starts writing what is queued, unless a write is already in flight (it picks the rest up). */
  private kick(): void {
    if (this.batchTimer) clearTimeout(this.batchTimer);
    this.batchTimer = undefined;
    if (this.work || this.queue.length === 0) return;
    void this.runExclusive(() => this.drain());
  }

  private runExclusive(task: () => Promise<void>): Promise<void> {
    const previous = this.work ?? Promise.resolve();
    const run = previous
      .then(task)
      .catch((err: unknown) => this.options.logger.error({ err }, "audit store task failed (bug)"))
      .finally(() => {
        if (this.work !== run) return;
        this.work = undefined;
        // Records queued after the last group was taken (a batched timer will take its own).
        if (this.queue.length > 0 && !this.batchTimer) this.kick();
      });
    this.work = run;
    return run;
  }

  private async drain(): Promise<void> {
    while (this.queue.length > 0) {
      if (!this.healthyValue) {
        const err = new Error(`the audit store (PostgreSQL at ${this.where}) cannot be written`);
        const dropped = this.queue.splice(0);
        for (const queued of dropped) queued.settle?.(err);
        const lost = dropped.filter((queued) => !queued.settle).length;
        if (lost > 0)
          this.options.logger.error({ node: this.options.node, lost }, "batched audit records lost");
        return;
      }
      await this.writeGroup(this.queue.splice(0, MAX_GROUP));
    }
  }

  /** Chains and writes one group of records (and any checkpoint that falls due) in one commit. */
  private async writeGroup(group: Queued[]): Promise<void> {
    const { node, checkpointEvery, key } = this.options;
    try {
      const head = this.head ?? (await this.readHead());
      let { seq, hash, signed } = head;
      const records = {
        seqs: [] as number[],
        bodies: [] as string[],
        prevs: [] as string[],
        hashes: [] as string[],
      };
      const claims: CheckpointClaim[] = [];
      for (const { canonical } of group) {
        const next = chainHash(hash, canonical);
        seq++;
        records.seqs.push(seq);
        records.bodies.push(canonical);
        records.prevs.push(hash);
        records.hashes.push(next);
        hash = next;
        if (seq % checkpointEvery === 0) claims.push({ node, seq, hash, time: new Date().toISOString() });
      }
      await this.pool.query(INSERT_GROUP, [
        node,
        records.seqs,
        records.bodies,
        records.prevs,
        records.hashes,
        claims.map((c) => c.seq),
        claims.map((c) => c.hash),
        claims.map((c) => c.time),
        claims.map(() => key.keyId),
        claims.map((c) => signCheckpoint(key, c)),
      ]);
      if (claims.length > 0) signed = seq;
      this.head = { seq, hash, signed };
      this.writable();
      for (const queued of group) queued.settle?.();
    } catch (err) {
      // Whatever happened to that write, the next one starts from the head the database holds.
      this.head = undefined;
      this.unwritable(err, group.length);
      const failure = new Error(`the audit record could not be written: ${messageOf(err)}`);
      for (const queued of group) queued.settle?.(failure);
    }
  }

  private async readHead(): Promise<ChainHead> {
    const { rows } = await this.pool.query<{
      seq: string | null;
      hash: string | null;
      signed: string | null;
    }>(READ_HEAD, [this.options.node]);
    const row = rows[0];
    return {
      seq: Number(row?.seq ?? 0),
      hash: row?.hash ?? GENESIS_HASH,
      signed: Number(row?.signed ?? 0),
    };
  }

  /** Makes sure the tables and this key exist and reads the head: a write that proves the store works. */
  private async reconnect(): Promise<void> {
    this.reconnectTimer = undefined;
    if (this.closed) return;
    try {
      if (!this.tablesReady) await ensureAuditTables(this.pool);
      this.tablesReady = true;
      const { key } = this.options;
      await this.pool.query(
        "INSERT INTO signing_keys (key_id, public_key) VALUES ($1, $2) ON CONFLICT (key_id) DO NOTHING",
        [key.keyId, key.publicKeyPem],
      );
      this.head = await this.readHead();
      this.writable();
    } catch (err) {
      this.unwritable(err, 0);
    }
  }

  private writable(): void {
    this.reconnectDelay = RECONNECT_FIRST_MS;
    this.outageLogged = false;
    if (this.healthyValue) return;
    this.healthyValue = true;
    const { node, logger } = this.options;
    logger.info({ node, store: this.where, seq: this.head?.seq }, "audit store (PostgreSQL) writable");
  }

  private unwritable(err: unknown, lostRecords: number): void {
    const { node, logger } = this.options;
    this.healthyValue = false;
    if (isUniqueViolation(err)) {
      logger.error(
        { err, node, store: this.where },
        `another process writes the audit chain of node "${node}" (do two gateways share audit.node?): the write was refused so the chain cannot fork; tool calls are refused until a write succeeds`,
      );
    } else if (!this.outageLogged || lostRecords > 0) {
      logger.error(
        { err: messageOf(err), node, store: this.where, lostRecords },
        "audit store (PostgreSQL) cannot be written: tool calls are refused; reconnecting in the background",
      );
    } else {
      logger.debug({ err: messageOf(err), node }, "audit store (PostgreSQL) still unreachable");
    }
    this.outageLogged = true;
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    if (this.closed || this.reconnectTimer) return;
    const delay = this.reconnectDelay * (0.8 + Math.random() * 0.4);
    this.reconnectDelay = Math.min(RECONNECT_MAX_MS, this.reconnectDelay * 2);
    this.reconnectTimer = setTimeout(() => void this.runExclusive(() => this.reconnect()), delay);
    this.reconnectTimer.unref();
  }

  /** At shutdown: signs the chain's head (as this process last wrote or read it), so the tail is covered too. */
  private async signHead(): Promise<void> {
    const head = this.head;
    if (!this.healthyValue || !head || head.seq <= head.signed) return;
    const claim = { node: this.options.node, seq: head.seq, hash: head.hash, time: new Date().toISOString() };
    try {
      await this.pool.query(INSERT_CHECKPOINT, [
        claim.node,
        claim.seq,
        claim.hash,
        claim.time,
        this.options.key.keyId,
        signCheckpoint(this.options.key, claim),
      ]);
    } catch (err) {
      this.options.logger.warn({ err, node: claim.node }, "could not write the closing audit checkpoint");
    }
  }
}

function isUniqueViolation(err: unknown): boolean {
  return typeof err === "object" && err !== null && "code" in err && err.code === "23505";
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
