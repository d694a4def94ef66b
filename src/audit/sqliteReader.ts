// Reads a SQLite audit store (read-only). A SQLite file holds one chain, written by one gateway; it
// is named after the node(s) in its records (more than one if the node was renamed between runs).
import { existsSync } from "node:fs";
import { DatabaseSync, type SQLInputValue } from "node:sqlite";
import type { AuditReader, RecordFilter, StoredCheckpoint, StoredKey, StoredRecord } from "./reader.ts";

const RECORD_COLUMNS = "node, seq, body, prev_hash AS prevHash, hash";
const TIME = "json_extract(body, '$.time')";

export class SqliteAuditReader implements AuditReader {
  readonly location: string;
  private readonly db: DatabaseSync;

  constructor(path: string) {
    if (!existsSync(path)) throw new Error(`no audit store at ${path}`);
    this.location = path;
    this.db = new DatabaseSync(path, { readOnly: true });
  }

  chainsNow(): string[] {
    const nodes = this.db.prepare("SELECT node FROM records UNION SELECT node FROM checkpoints").all() as {
      node: string;
    }[];
    return nodes.length === 0 ? [] : [nodes.map((n) => n.node).join("+")];
  }

  /** The file's one chain, whatever name it is asked by. */
  recordsNow(_chain: string): Iterable<StoredRecord> {
    return this.db
      .prepare(`SELECT ${RECORD_COLUMNS} FROM records ORDER BY seq`)
      .iterate() as Iterable<StoredRecord>;
  }

  checkpointsNow(_chain: string): StoredCheckpoint[] {
    return this.db
      .prepare("SELECT node, seq, hash, time, key_id AS keyId, signature FROM checkpoints ORDER BY seq")
      .all() as unknown as StoredCheckpoint[];
  }

  publicKeysNow(): StoredKey[] {
    return this.db
      .prepare("SELECT key_id AS keyId, public_key AS publicKey FROM signing_keys")
      .all() as unknown as StoredKey[];
  }

  closeNow(): void {
    this.db.close();
  }

  async chains(): Promise<string[]> {
    return this.chainsNow();
  }

  async *records(chain: string): AsyncIterable<StoredRecord> {
    yield* this.recordsNow(chain);
  }

  async checkpoints(chain: string): Promise<StoredCheckpoint[]> {
    return this.checkpointsNow(chain);
  }

  async publicKeys(): Promise<StoredKey[]> {
    return this.publicKeysNow();
  }

  async query(filter: RecordFilter): Promise<StoredRecord[]> {
    const where: string[] = [];
    const params: SQLInputValue[] = [];
    const match = (field: string, value: string | undefined) => {
      if (value === undefined) return;
      where.push(`json_extract(body, '$.${field}') = ?`);
      params.push(value);
    };
    match("principal", filter.principal);
    match("target", filter.tool);
    match("verdict", filter.verdict);
    if (filter.since !== undefined) {
      where.push(`${TIME} >= ?`);
      params.push(filter.since);
    }
    if (filter.until !== undefined) {
      where.push(`${TIME} < ?`);
      params.push(filter.until);
    }
    const sql = `SELECT ${RECORD_COLUMNS} FROM records ${where.length ? `WHERE ${where.join(" AND ")}` : ""}
      ORDER BY ${TIME} DESC, node DESC, seq DESC LIMIT ${filter.limit}`;
    return (this.db.prepare(sql).all(...params) as unknown as StoredRecord[]).reverse();
  }

  async *timeline(): AsyncIterable<StoredRecord> {
    yield* this.db
      .prepare(`SELECT ${RECORD_COLUMNS} FROM records ORDER BY ${TIME}, node, seq`)
      .iterate() as Iterable<StoredRecord>;
  }

  async close(): Promise<void> {
    this.closeNow();
  }
}
