// Connecting to the PostgreSQL audit store: pool settings from the config (timeouts, TLS), the
// tables, and a printable name of the database that never shows its password.
import { checkServerIdentity as checkServerName, type PeerCertificate } from "node:tls";
import type { Pool, PoolConfig } from "pg";
import type { GatewayConfig } from "../config/schema.ts";
import { isLoopbackHost } from "../config/secureUrl.ts";

export type PostgresAuditSettings = GatewayConfig["audit"]["postgres"];

/**
 * The tables: one hash chain per node, so the node is part of every key. Two processes writing as
 * the same node collide on the primary key instead of forking the chain.
 */
const TABLES = `
CREATE TABLE IF NOT EXISTS records (
  node text NOT NULL,
  seq bigint NOT NULL,
  body text NOT NULL,
  prev_hash text NOT NULL,
  hash text NOT NULL,
  PRIMARY KEY (node, seq)
);
CREATE TABLE IF NOT EXISTS checkpoints (
  node text NOT NULL,
  seq bigint NOT NULL,
  hash text NOT NULL,
  time text NOT NULL,
  key_id text NOT NULL,
  signature text NOT NULL,
  PRIMARY KEY (node, seq)
);
CREATE TABLE IF NOT EXISTS signing_keys (
  key_id text PRIMARY KEY,
  public_key text NOT NULL
);`;

/** An arbitrary constant: serializes schema creation between nodes that start together. */
const SCHEMA_LOCK = 0x706f7274;

/** Creates the tables if missing (under a lock: concurrent CREATE TABLE IF NOT EXISTS can collide). */
export async function ensureAuditTables(pool: Pool): Promise<void> {
  await pool.query(`BEGIN; SELECT pg_advisory_xact_lock(${SCHEMA_LOCK}); ${TABLES} COMMIT;`);
}

/** `postgres://user@host:port/database`: the URL without its password, for logs and reports. */
export function describePostgres(url: string): string {
  try {
    const parsed = new URL(url);
    parsed.password = "";
    return parsed.toString();
  } catch {
    return "postgres (unparsable URL)";
  }
}

export interface PoolPurpose {
  /** The gateway bounds every statement; an operator's audit command may read for longer. */
  readonly boundStatements: boolean;
  readonly applicationName: string;
}

export function postgresPoolConfig(settings: PostgresAuditSettings, purpose: PoolPurpose): PoolConfig {
  if (!settings.url) throw new Error("audit.postgres.url is not set");
  const url = new URL(settings.url);
  const host = url.hostname.replace(/^\[(.*)\]$/, "$1");
  const timeouts = purpose.boundStatements
    ? {
        statement_timeout: settings.statementTimeoutMs,
        // The server-side timeout cannot fire when the server is unreachable: bound the wait here too.
        query_timeout: settings.statementTimeoutMs + 1_000,
        idle_in_transaction_session_timeout: settings.statementTimeoutMs * 2,
      }
    : {};
  return {
    host,
    port: url.port ? Number(url.port) : 5432,
    user: url.username ? decodeURIComponent(url.username) : undefined,
    password: url.password ? decodeURIComponent(url.password) : undefined,
    database: url.pathname.length > 1 ? decodeURIComponent(url.pathname.slice(1)) : undefined,
    max: settings.poolSize,
    connectionTimeoutMillis: settings.connectTimeoutMs,
    idleTimeoutMillis: 30_000,
    keepAlive: true,
    application_name: purpose.applicationName,
    ssl: tlsOptions(settings, host),
    ...timeouts,
  };
}

function tlsOptions(settings: PostgresAuditSettings, host: string): PoolConfig["ssl"] {
  const { mode, ca, cert, key, servername } = settings.tls;
  if (mode === "disable" || (mode === "auto" && isLoopbackHost(host))) return false;
  const tls = { rejectUnauthorized: true, ca, cert, key };
  if (!servername) return tls;
  // The driver sets SNI to the URL's host itself; a different expected name is checked here. (Only
  // when set: an undefined checkServerIdentity would replace Node's default check.)
  return {
    ...tls,
    checkServerIdentity: (_host: string, peer: PeerCertificate) => checkServerName(servername, peer),
  };
}
