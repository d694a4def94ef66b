// `portcullis audit …`: verify the trail (exit 1 when anything is wrong), query it, export it as
// JSON lines or OCSF API-activity events for a SIEM, and print the public key to verify with.
import { existsSync, readFileSync } from "node:fs";
import { resolve } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { loadConfigFile } from "../config/load.ts";
import { verifyAuditStore } from "../audit/verify.ts";
import { ArgumentsCipher, type EncryptedArguments } from "../audit/argumentsCipher.ts";

export interface AuditCommandOptions {
  readonly config?: string;
  readonly db?: string;
  readonly publicKey?: string;
  readonly principal?: string;
  readonly tool?: string;
  readonly verdict?: string;
  readonly since?: string;
  readonly until?: string;
  readonly limit?: string;
  readonly json?: boolean;
  readonly decrypt?: boolean;
  readonly format?: string;
}

export function runAuditCommand(sub: string | undefined, options: AuditCommandOptions): number {
  const path = storePath(options);
  switch (sub) {
    case "verify":
      return verify(path, options.publicKey);
    case "query":
      return query(path, options);
    case "export":
      return exportRecords(path, options.format ?? "jsonl");
    case "public-key":
      return publicKey(path);
    default:
      throw new Error(`unknown audit command "${sub ?? ""}" (verify, query, export, public-key)`);
  }
}

function storePath(options: AuditCommandOptions): string {
  if (options.db) return resolve(options.db);
  if (!options.config) throw new Error("--config FILE or --db PATH is required");
  const loaded = loadConfigFile(options.config);
  return resolve(loaded.dir, loaded.config.audit.path);
}

/** The cipher for `--decrypt`: keys come from the config, never from the store. */
function cipherFor(options: AuditCommandOptions): ArgumentsCipher | undefined {
  if (!options.decrypt) return undefined;
  if (!options.config) throw new Error("--decrypt needs --config FILE (the keys live in the config)");
  const { encryptionKeys } = loadConfigFile(options.config).config.audit;
  if (encryptionKeys.length === 0) throw new Error("the config names no audit.encryptionKeys");
  return new ArgumentsCipher(encryptionKeys);
}

function readable(
  body: Record<string, unknown>,
  cipher: ArgumentsCipher | undefined,
): Record<string, unknown> {
  const args = body.arguments as EncryptedArguments | undefined;
  if (!cipher || args?.mode !== "encrypted") return body;
  try {
    return {
      ...body,
      arguments: { mode: "decrypted", value: cipher.decrypt(args, String(body.correlationId)) },
    };
  } catch (err) {
    return { ...body, arguments: { ...args, error: err instanceof Error ? err.message : String(err) } };
  }
}

function verify(path: string, publicKeyFile: string | undefined): number {
  const key = publicKeyFile ? readFileSync(publicKeyFile, "utf8") : undefined;
  let report;
  try {
    report = verifyAuditStore(path, key);
  } catch (err) {
    process.stderr.write(
      `audit verify: cannot read ${path}: ${err instanceof Error ? err.message : String(err)}\n`,
    );
    return 2;
  }
  const out = process.stdout;
  out.write(`${path}: ${report.records} record(s), ${report.checkpoints} signed checkpoint(s)\n`);
  for (const note of report.notes) out.write(`note: ${note}\n`);
  if (report.firstBad) {
    out.write(`FAILED at record ${report.firstBad.seq}: ${report.firstBad.reason}\n`);
    return 1;
  }
  out.write("OK: the chain is intact and every checkpoint verifies\n");
  return 0;
}

interface Row {
  seq: number;
  hash: string;
  prev_hash: string;
  body: string;
}

function openReadOnly(path: string): DatabaseSync {
  if (!existsSync(path)) throw new Error(`no audit store at ${path}`);
  return new DatabaseSync(path, { readOnly: true });
}

function query(path: string, options: AuditCommandOptions): number {
  const where: string[] = [];
  const params: string[] = [];
  const match = (field: string, value: string | undefined) => {
    if (value === undefined) return;
    where.push(`json_extract(body, '$.${field}') = ?`);
    params.push(value);
  };
  match("principal", options.principal);
  match("target", options.tool);
  match("verdict", options.verdict);
  if (options.since) {
    where.push("json_extract(body, '$.time') >= ?");
    params.push(new Date(options.since).toISOString());
  }
  if (options.until) {
    where.push("json_extract(body, '$.time') < ?");
    params.push(new Date(options.until).toISOString());
  }
  const limit = Math.min(100_000, Math.max(1, Number(options.limit ?? 100) || 100));
  const sql = `SELECT seq, hash, prev_hash, body FROM records ${where.length ? `WHERE ${where.join(" AND ")}` : ""} ORDER BY seq DESC LIMIT ${limit}`;
  const cipher = cipherFor(options);
  const db = openReadOnly(path);
  try {
    const rows = (db.prepare(sql).all(...params) as unknown as Row[]).reverse();
    for (const row of rows) {
      const body = readable(JSON.parse(row.body) as Record<string, unknown>, cipher);
      if (options.json) process.stdout.write(`${JSON.stringify({ seq: row.seq, ...body })}\n`);
      else process.stdout.write(`${tableLine(row.seq, body)}\n`);
    }
  } finally {
    db.close();
  }
  return 0;
}

function tableLine(seq: number, body: Record<string, unknown>): string {
  const decided = body.decidedBy as { layer?: string; rule?: string } | undefined;
  const cells = [
    String(seq).padStart(6),
    String(body.time),
    String(body.principal).padEnd(16),
    String(body.method).padEnd(16),
    (typeof body.target === "string" ? body.target : "-").padEnd(28),
    String(body.verdict).padEnd(9),
    decided ? `${decided.layer}/${decided.rule}` : "",
  ];
  return cells.join("  ");
}

function exportRecords(path: string, format: string): number {
  if (format !== "jsonl" && format !== "ocsf")
    throw new Error(`unknown export format "${format}" (jsonl, ocsf)`);
  const db = openReadOnly(path);
  try {
    for (const row of db
      .prepare("SELECT seq, hash, prev_hash, body FROM records ORDER BY seq")
      .iterate() as Iterable<Row>) {
      const body = JSON.parse(row.body) as Record<string, unknown>;
      const line =
        format === "jsonl"
          ? { seq: row.seq, hash: row.hash, prevHash: row.prev_hash, ...body }
          : toOcsf(row, body);
      process.stdout.write(`${JSON.stringify(line)}\n`);
    }
  } finally {
    db.close();
  }
  return 0;
}

/** An OCSF "API Activity" (class 6003) event for one record. */
function toOcsf(row: Row, body: Record<string, unknown>): Record<string, unknown> {
  const allowed = body.verdict === "allow";
  return {
    class_uid: 6003,
    class_name: "API Activity",
    category_uid: 6,
    category_name: "Application Activity",
    activity_id: 99,
    activity_name: String(body.method),
    type_uid: 600399,
    time: Date.parse(String(body.time)),
    severity_id: allowed ? 1 : 3,
    status_id: allowed ? 1 : 2,
    status: allowed ? "Success" : "Failure",
    status_code: body.errorCode,
    disposition: allowed ? "Allowed" : "Blocked",
    actor: { user: { uid: body.principal }, session: { uid: body.session } },
    api: { operation: body.method, service: { name: body.upstream }, request: { uid: body.correlationId } },
    resources: body.target ? [{ name: body.target, type: "mcp-target" }] : [],
    src_endpoint: { ip: body.client },
    duration: body.latencyMs,
    metadata: {
      product: { name: "Portcullis", vendor_name: "Portcullis" },
      version: "1.3.0",
      uid: row.hash,
      sequence: row.seq,
      original_time: body.time,
    },
    unmapped: { decidedBy: body.decidedBy, layers: body.layers, node: body.node, arguments: body.arguments },
  };
}

function publicKey(path: string): number {
  const db = openReadOnly(path);
  try {
    for (const row of db.prepare("SELECT key_id, public_key FROM signing_keys").all() as {
      key_id: string;
      public_key: string;
    }[]) {
      process.stdout.write(`# key ${row.key_id}\n${row.public_key}`);
    }
  } finally {
    db.close();
  }
  return 0;
}
