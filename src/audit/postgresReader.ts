// Reads the PostgreSQL audit store shared by the gateway nodes: each node's chain in sequence order
// (paged along the primary key), and every node's records by time (through a server-side cursor, so
// an export of millions of rows never sits in memory).
import { Pool } from "pg";
import { describePostgres, postgresPoolConfig, type PostgresAuditSettings } from "./postgresConnection.ts";
import type { AuditReader, RecordFilter, StoredCheckpoint, StoredKey, StoredRecord } from "./reader.ts";

const PAGE = 2_000;
const RECORD_COLUMNS = "node, seq, body, prev_hash, hash";
const TIME = "(body::jsonb ->> 'time')";

interface RecordRow {
  node: string;
  seq: string;
  body: string;
  prev_hash: string;
  hash: string;
}

function toRecord(row: RecordRow): StoredRecord {
  return { node: row.node, seq: Number(row.seq), body: row.body, prevHash: row.prev_hash, hash: row.hash };
}

export class PostgresAuditReader implements AuditReader {
  readonly location: string;
  private readonly pool: Pool;

  private constructor(settings: PostgresAuditSettings) {
    this.location = describePostgres(settings.url ?? "");
    this.pool = new Pool(
      postgresPoolConfig(settings, { boundStatements: false, applicationName: "portcullis-audit-cli" }),
    );
    this.pool.on("error", () => undefined); // an idle connection lost; the next query opens another
  }

  /** Connects and checks that the store's tables exist. */
  static async open(settings: PostgresAuditSettings): Promise<PostgresAuditReader> {
    const reader = new PostgresAuditReader(settings);
    try {
      const { rows } = await reader.pool.query<{ found: string | null }>(
        "SELECT to_regclass('records')::text AS found",
      );
      if (!rows[0]?.found) throw new Error(`no audit records table in ${reader.location}`);
      return reader;
    } catch (err) {
      await reader.close();
      throw err;
    }
  }

  async chains(): Promise<string[]> {
    const { rows } = await this.pool.query<{ node: string }>(
      "SELECT node FROM records UNION SELECT node FROM checkpoints ORDER BY node",
    );
    return rows.map((r) => r.node);
  }

  async *records(chain: string): AsyncIterable<StoredRecord> {
    let after = 0;
    for (;;) {
      const { rows } = await this.pool.query<RecordRow>(
        `SELECT ${RECORD_COLUMNS} FROM records WHERE node = $1 AND seq > $2 ORDER BY seq LIMIT ${PAGE}`,
        [chain, after],
      );
      for (const row of rows) yield toRecord(row);
      if (rows.length < PAGE) return;
      after = Number(rows[rows.length - 1]!.seq);
    }
  }

  async checkpoints(chain: string): Promise<StoredCheckpoint[]> {
    const { rows } = await this.pool.query<Omit<StoredCheckpoint, "seq"> & { seq: string }>(
      `SELECT node, seq, hash, time, key_id AS "keyId", signature FROM checkpoints
       WHERE node = $1 ORDER BY seq`,
      [chain],
    );
    return rows.map((row) => ({ ...row, seq: Number(row.seq) }));
  }

  async publicKeys(): Promise<StoredKey[]> {
    const { rows } = await this.pool.query<StoredKey>(
      `SELECT key_id AS "keyId", public_key AS "publicKey" FROM signing_keys ORDER BY key_id`,
    );
    return rows;
  }

  async query(filter: RecordFilter): Promise<StoredRecord[]> {
    const where: string[] = [];
    const params: string[] = [];
    const add = (condition: (param: string) => string, value: string | undefined) => {
      if (value === undefined) return;
      params.push(value);
      where.push(condition(`$${params.length}`));
    };
    add((p) => `body::jsonb ->> 'principal' = ${p}`, filter.principal);
    add((p) => `body::jsonb ->> 'target' = ${p}`, filter.tool);
    add((p) => `body::jsonb ->> 'verdict' = ${p}`, filter.verdict);
    add((p) => `${TIME} >= ${p}`, filter.since);
    add((p) => `${TIME} < ${p}`, filter.until);
    const { rows } = await this.pool.query<RecordRow>(
      `SELECT ${RECORD_COLUMNS} FROM records ${where.length ? `WHERE ${where.join(" AND ")}` : ""}
       ORDER BY ${TIME} DESC, node DESC, seq DESC LIMIT ${filter.limit}`,
      params,
    );
    return rows.map(toRecord).reverse();
  }

  async *timeline(): AsyncIterable<StoredRecord> {
    const client = await this.pool.connect();
    let finished = false;
    try {
      await client.query("BEGIN READ ONLY");
      await client.query(
        `DECLARE timeline NO SCROLL CURSOR FOR
         SELECT ${RECORD_COLUMNS} FROM records ORDER BY ${TIME}, node, seq`,
      );
      for (;;) {
        const { rows } = await client.query<RecordRow>(`FETCH ${PAGE} FROM timeline`);
        for (const row of rows) yield toRecord(row);
        if (rows.length < PAGE) break;
      }
      await client.query("COMMIT");
      finished = true;
    } finally {
      // A failure, or a consumer that stopped early, leaves the transaction open: drop that connection.
      client.release(!finished);
    }
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}
