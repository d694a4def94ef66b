// Verifies an audit store, one hash chain per gateway node: the sequence has no gaps, every record
// hashes to the chain, and every checkpoint's signature is valid and matches the record it names.
// Reports each node (records, checkpoints, unsigned tail, first bad record); the store fails if any
// node fails. Records after a node's last checkpoint carry no signature yet, and are reported so.
import type { AuditReader, StoredCheckpoint, StoredKey, StoredRecord } from "./reader.ts";
import { chainHash, GENESIS_HASH } from "./record.ts";
import { keyIdOf, verifyCheckpoint } from "./signing.ts";
import { SqliteAuditReader } from "./sqliteReader.ts";

export interface ChainReport {
  readonly node: string;
  readonly ok: boolean;
  readonly records: number;
  readonly checkpoints: number;
  readonly firstBad: { readonly seq: number; readonly reason: string } | undefined;
  /** Records after the last valid checkpoint: chained, but not yet signed. */
  readonly unsignedTail: number;
}

export interface VerifyReport {
  readonly ok: boolean;
  readonly records: number;
  readonly checkpoints: number;
  /** The first bad record of the first node that fails. */
  readonly firstBad: { readonly node: string; readonly seq: number; readonly reason: string } | undefined;
  readonly unsignedTail: number;
  /** Where the public key came from: given by the verifier, or read from the store itself. */
  readonly keySource: "given" | "store";
  readonly notes: string[];
  readonly nodes: readonly ChainReport[];
}

interface TrustedKeys {
  readonly keys: ReadonlyMap<string, string>;
  readonly source: "given" | "store";
}

/** Verifies a SQLite store (synchronously: the driver is). */
export function verifyAuditStore(path: string, publicKeyPem?: string): VerifyReport {
  const reader = new SqliteAuditReader(path);
  try {
    const trusted = trustedKeys(publicKeyPem, reader.publicKeysNow());
    const chains = reader.chainsNow().map((node) => {
      const chain = new ChainVerifier(node, reader.checkpointsNow(node), trusted.keys);
      for (const row of reader.recordsNow(node)) chain.add(row);
      return chain.finish();
    });
    return summarize(chains, trusted.source);
  } finally {
    reader.closeNow();
  }
}

/** Verifies any store through its reader. */
export async function verifyAudit(reader: AuditReader, publicKeyPem?: string): Promise<VerifyReport> {
  const trusted = trustedKeys(publicKeyPem, await reader.publicKeys());
  const chains: ChainReport[] = [];
  for (const node of await reader.chains()) {
    const chain = new ChainVerifier(node, await reader.checkpoints(node), trusted.keys);
    for await (const row of reader.records(node)) chain.add(row);
    chains.push(chain.finish());
  }
  return summarize(chains, trusted.source);
}

/** The keys checkpoints must be signed with: those given (one PEM or several), else the store's own. */
function trustedKeys(given: string | undefined, stored: readonly StoredKey[]): TrustedKeys {
  const keys = new Map<string, string>();
  if (given) {
    const blocks = given.match(/-----BEGIN PUBLIC KEY-----[\s\S]*?-----END PUBLIC KEY-----/g) ?? [given];
    for (const pem of blocks) keys.set(keyIdOf(pem), pem);
    return { keys, source: "given" };
  }
  for (const key of stored) keys.set(key.keyId, key.publicKey);
  return { keys, source: "store" };
}

/** Walks one chain in sequence order; checkpoints are checked against the records they name. */
class ChainVerifier {
  private readonly node: string;
  private readonly keys: ReadonlyMap<string, string>;
  private readonly checkpoints: readonly StoredCheckpoint[];
  /** The hash of each record a checkpoint names, as found in the chain. */
  private readonly named = new Map<number, string | undefined>();
  private firstBad: ChainReport["firstBad"];
  private expectedSeq = 1;
  private prev = GENESIS_HASH;
  private records = 0;

  constructor(node: string, checkpoints: readonly StoredCheckpoint[], keys: ReadonlyMap<string, string>) {
    this.node = node;
    this.keys = keys;
    this.checkpoints = checkpoints;
    for (const cp of checkpoints) this.named.set(cp.seq, undefined);
  }

  add(row: StoredRecord): void {
    this.records++;
    if (!this.firstBad) {
      if (row.seq !== this.expectedSeq) {
        this.firstBad = {
          seq: row.seq,
          reason:
            row.seq > this.expectedSeq
              ? `records ${this.expectedSeq}..${row.seq - 1} are missing`
              : "sequence out of order",
        };
      } else if (row.prevHash !== this.prev)
        this.firstBad = {
          seq: row.seq,
          reason: "does not continue the chain (a record before it was changed, removed or inserted)",
        };
      else if (chainHash(this.prev, row.body) !== row.hash)
        this.firstBad = { seq: row.seq, reason: "content does not match its hash (the record was edited)" };
    }
    if (this.named.has(row.seq)) this.named.set(row.seq, row.hash);
    this.prev = row.hash;
    this.expectedSeq = row.seq + 1;
  }

  finish(): ChainReport {
    let firstBad = this.firstBad;
    let lastSigned = 0;
    for (const cp of this.checkpoints) {
      const key = this.keys.get(cp.keyId);
      const claim = { node: cp.node, seq: cp.seq, hash: cp.hash, time: cp.time };
      let problem: string | undefined;
      if (!key) problem = `checkpoint at ${cp.seq} is signed with an unknown key ${cp.keyId}`;
      else if (!verifyCheckpoint(key, claim, cp.signature))
        problem = `checkpoint at ${cp.seq} has an invalid signature (forged or edited)`;
      else if (this.named.get(cp.seq) === undefined)
        problem = `checkpoint at ${cp.seq} names a record that is missing (records were removed)`;
      else if (this.named.get(cp.seq) !== cp.hash)
        problem = `record ${cp.seq} differs from what its signed checkpoint says`;
      if (problem) {
        if (!firstBad || cp.seq < firstBad.seq) firstBad = { seq: cp.seq, reason: problem };
        continue;
      }
      lastSigned = Math.max(lastSigned, cp.seq);
    }
    return {
      node: this.node,
      ok: firstBad === undefined,
      records: this.records,
      checkpoints: this.checkpoints.length,
      firstBad,
      unsignedTail: Math.max(0, this.expectedSeq - 1 - lastSigned),
    };
  }
}

function summarize(chains: ChainReport[], keySource: "given" | "store"): VerifyReport {
  const notes: string[] = [];
  if (keySource === "store")
    notes.push(
      "public key read from the store itself: pass --public-key to verify against a key kept elsewhere",
    );
  for (const chain of chains) {
    if (chain.unsignedTail > 0)
      notes.push(
        `${chain.node}: ${chain.unsignedTail} record(s) after the last checkpoint are chained but not yet signed`,
      );
  }
  const failed = chains.find((c) => c.firstBad !== undefined);
  const records = chains.reduce((n, c) => n + c.records, 0);
  if (records === 0) notes.push("the store holds no records");
  return {
    ok: failed === undefined,
    records,
    checkpoints: chains.reduce((n, c) => n + c.checkpoints, 0),
    firstBad: failed?.firstBad ? { node: failed.node, ...failed.firstBad } : undefined,
    unsignedTail: chains.reduce((n, c) => n + c.unsignedTail, 0),
    keySource,
    notes,
    nodes: chains,
  };
}
