// `portcullis audit …`: verify the trail (exit 1 when anything is wrong), query it, export it as
// JSON lines or OCSF API-activity events for a SIEM, and print the public key to verify with.
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { loadConfigFile } from "../config/load.ts";
import { verifyAudit } from "../audit/verify.ts";
import { ArgumentsCipher, type EncryptedArguments } from "../audit/argumentsCipher.ts";
import { RESULT_AAD_SUFFIX } from "../layers/audit/index.ts";
import type { AuditReader, StoredRecord } from "../audit/reader.ts";
import { SqliteAuditReader } from "../audit/sqliteReader.ts";
import { PostgresAuditReader } from "../audit/postgresReader.ts";
import type { PostgresAuditSettings } from "../audit/postgresConnection.ts";
import { configSchema } from "../config/schema.ts";

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

const commands = ["verify", "query", "export", "public-key"];

export async function runAuditCommand(
  sub: string | undefined,
  options: AuditCommandOptions,
): Promise<number> {
  if (sub === undefined || !commands.includes(sub))
    throw new Error(`unknown audit command "${sub ?? ""}" (verify, query, export, public-key)`);
  if (sub === "export" && !["jsonl", "ocsf"].includes(options.format ?? "jsonl"))
    throw new Error(`unknown export format "${options.format}" (jsonl, ocsf)`);
  const cipher = sub === "query" ? cipherFor(options) : undefined;
  const store = storeOf(options);
  let reader: AuditReader;
  try {
    reader =
      store.kind === "sqlite"
        ? new SqliteAuditReader(store.path)
        : await PostgresAuditReader.open(store.settings);
  } catch (err) {
    process.stderr.write(`audit ${sub}: cannot read the audit store: ${messageOf(err)}\n`);
    return 2;
  }
  try {
    switch (sub) {
      case "verify":
        return await verify(reader, options.publicKey);
      case "query":
        return await query(reader, options, cipher);
      case "export":
        return await exportRecords(reader, options.format ?? "jsonl");
      default:
        return await publicKey(reader);
    }
  } finally {
    await reader.close();
  }
}

type StoreLocation =
  | { readonly kind: "sqlite"; readonly path: string }
  | { readonly kind: "postgres"; readonly settings: PostgresAuditSettings };

/** The store named by --db (a SQLite path or a postgres:// URL) or by the config's audit section. */
function storeOf(options: AuditCommandOptions): StoreLocation {
  if (options.db) {
    if (!/^postgres(ql)?:\/\//.test(options.db)) return { kind: "sqlite", path: resolve(options.db) };
    const defaults = configSchema.shape.audit.parse({}).postgres;
    return { kind: "postgres", settings: { ...defaults, url: options.db } };
  }
  if (!options.config) throw new Error("--config FILE or --db PATH is required");
  const loaded = loadConfigFile(options.config);
  const { audit } = loaded.config;
  if (audit.store === "postgres") return { kind: "postgres", settings: audit.postgres };
  return { kind: "sqlite", path: resolve(loaded.dir, audit.path) };
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
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
  if (!cipher) return body;
  const id = String(body.correlationId);
  const open = (sealed: unknown, aad: string): unknown => {
    const value = sealed as EncryptedArguments | undefined;
    if (value?.mode !== "encrypted") return sealed;
    try {
      return { mode: "decrypted", value: cipher.decrypt(value, aad) };
    } catch (err) {
      return { ...value, error: err instanceof Error ? err.message : String(err) };
    }
  };
  return {
    ...body,
    arguments: open(body.arguments, id),
    ...(body.result === undefined ? {} : { result: open(body.result, id + RESULT_AAD_SUFFIX) }),
  };
}

async function verify(reader: AuditReader, publicKeyFile: string | undefined): Promise<number> {
  const key = publicKeyFile ? readFileSync(publicKeyFile, "utf8") : undefined;
  let report;
  try {
    report = await verifyAudit(reader, key);
  } catch (err) {
    process.stderr.write(`audit verify: cannot read ${reader.location}: ${messageOf(err)}\n`);
    return 2;
  }
  const out = process.stdout;
  out.write(
    `${reader.location}: ${report.records} record(s), ${report.checkpoints} signed checkpoint(s), ${report.nodes.length} node(s)\n`,
  );
  for (const chain of report.nodes) {
    const verdict = chain.firstBad
      ? `FAILED at record ${chain.firstBad.seq}: ${chain.firstBad.reason}`
      : "OK";
    out.write(
      `  node ${chain.node}: ${chain.records} record(s), ${chain.checkpoints} checkpoint(s), ${chain.unsignedTail} unsigned: ${verdict}\n`,
    );
  }
  for (const note of report.notes) out.write(`note: ${note}\n`);
  if (report.firstBad) {
    const { node, seq, reason } = report.firstBad;
    out.write(`FAILED at record ${seq} of node ${node}: ${reason}\n`);
    return 1;
  }
  out.write("OK: the chain is intact and every checkpoint verifies\n");
  return 0;
}

async function query(
  reader: AuditReader,
  options: AuditCommandOptions,
  cipher: ArgumentsCipher | undefined,
): Promise<number> {
  const time = (text: string | undefined) => (text === undefined ? undefined : new Date(text).toISOString());
  const rows = await reader.query({
    principal: options.principal,
    tool: options.tool,
    verdict: options.verdict,
    since: time(options.since),
    until: time(options.until),
    limit: Math.min(100_000, Math.max(1, Number(options.limit ?? 100) || 100)),
  });
  for (const row of rows) {
    const body = readable(JSON.parse(row.body) as Record<string, unknown>, cipher);
    if (options.json) process.stdout.write(`${JSON.stringify({ seq: row.seq, ...body })}\n`);
    else process.stdout.write(`${tableLine(row, body)}\n`);
  }
  return 0;
}

function tableLine(row: StoredRecord, body: Record<string, unknown>): string {
  const decided = body.decidedBy as { layer?: string; rule?: string } | undefined;
  const cells = [
    `${row.node}:${row.seq}`.padStart(12),
    String(body.time),
    String(body.principal).padEnd(16),
    String(body.method).padEnd(16),
    (typeof body.target === "string" ? body.target : "-").padEnd(28),
    String(body.verdict).padEnd(9),
    decided ? `${decided.layer}/${decided.rule}` : "",
  ];
  return cells.join("  ");
}

async function exportRecords(reader: AuditReader, format: string): Promise<number> {
  for await (const row of reader.timeline()) {
    const body = JSON.parse(row.body) as Record<string, unknown>;
    const line =
      format === "jsonl"
        ? { seq: row.seq, hash: row.hash, prevHash: row.prevHash, ...body }
        : toOcsf(row, body);
    if (!process.stdout.write(`${JSON.stringify(line)}\n`))
      await new Promise((resolve) => process.stdout.once("drain", resolve));
  }
  return 0;
}

/** An OCSF "API Activity" (class 6003) event for one record. */
function toOcsf(row: StoredRecord, body: Record<string, unknown>): Record<string, unknown> {
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

async function publicKey(reader: AuditReader): Promise<number> {
  for (const key of await reader.publicKeys()) process.stdout.write(`# key ${key.keyId}\n${key.publicKey}`);
  return 0;
}
