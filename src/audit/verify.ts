// Verifies an audit store: the sequence has no gaps, every record hashes to the chain, and every
// checkpoint's signature is valid and matches the record it names. Reports the first bad record and
// what could not be checked (records after the last checkpoint carry no signature yet).
import { existsSync } from "node:fs";
import { DatabaseSync } from "node:sqlite";
import { chainHash, GENESIS_HASH } from "./record.ts";
import { keyIdOf, verifyCheckpoint } from "./signing.ts";

export interface VerifyReport {
  readonly ok: boolean;
  readonly records: number;
  readonly checkpoints: number;
  readonly firstBad: { readonly seq: number; readonly reason: string } | undefined;
  /** Records after the last valid checkpoint: chained, but not yet signed. */
  readonly unsignedTail: number;
  /** Where the public key came from: given by the verifier, or read from the store itself. */
  readonly keySource: "given" | "store";
  readonly notes: string[];
}

interface Row {
  seq: number;
  body: string;
  prev_hash: string;
  hash: string;
}

interface CheckpointRow {
  seq: number;
  node: string;
  hash: string;
  time: string;
  key_id: string;
  signature: string;
}

export function verifyAuditStore(path: string, publicKeyPem?: string): VerifyReport {
  if (!existsSync(path)) throw new Error(`no audit store at ${path}`);
  const db = new DatabaseSync(path, { readOnly: true });
  try {
    return verifyOpen(db, publicKeyPem);
  } finally {
    db.close();
  }
}

function verifyOpen(db: DatabaseSync, givenKey: string | undefined): VerifyReport {
  const notes: string[] = [];
  const keys = new Map<string, string>();
  if (givenKey) keys.set(keyIdOf(givenKey), givenKey);
  else {
    for (const row of db.prepare("SELECT key_id, public_key FROM signing_keys").all() as {
      key_id: string;
      public_key: string;
    }[]) {
      keys.set(row.key_id, row.public_key);
    }
    notes.push(
      "public key read from the store itself: pass --public-key to verify against a key kept elsewhere",
    );
  }
  const hashes = new Map<number, string>();
  let firstBad: VerifyReport["firstBad"];
  let expectedSeq = 1;
  let prev = GENESIS_HASH;
  let records = 0;
  for (const row of db
    .prepare("SELECT seq, body, prev_hash, hash FROM records ORDER BY seq")
    .iterate() as Iterable<Row>) {
    records++;
    if (!firstBad) {
      if (row.seq !== expectedSeq) {
        firstBad = {
          seq: row.seq,
          reason:
            row.seq > expectedSeq
              ? `records ${expectedSeq}..${row.seq - 1} are missing`
              : "sequence out of order",
        };
      } else if (row.prev_hash !== prev)
        firstBad = {
          seq: row.seq,
          reason: "does not continue the chain (a record before it was changed, removed or inserted)",
        };
      else if (chainHash(prev, row.body) !== row.hash)
        firstBad = { seq: row.seq, reason: "content does not match its hash (the record was edited)" };
    }
    hashes.set(row.seq, row.hash);
    prev = row.hash;
    expectedSeq = row.seq + 1;
  }
  let checkpoints = 0;
  let lastSigned = 0;
  for (const cp of db
    .prepare("SELECT seq, node, hash, time, key_id, signature FROM checkpoints ORDER BY seq")
    .all() as unknown as CheckpointRow[]) {
    checkpoints++;
    const key = keys.get(cp.key_id);
    const claim = { node: cp.node, seq: cp.seq, hash: cp.hash, time: cp.time };
    let problem: string | undefined;
    if (!key) problem = `checkpoint at ${cp.seq} is signed with an unknown key ${cp.key_id}`;
    else if (!verifyCheckpoint(key, claim, cp.signature))
      problem = `checkpoint at ${cp.seq} has an invalid signature (forged or edited)`;
    else if (!hashes.has(cp.seq))
      problem = `checkpoint at ${cp.seq} names a record that is missing (records were removed)`;
    else if (hashes.get(cp.seq) !== cp.hash)
      problem = `record ${cp.seq} differs from what its signed checkpoint says`;
    if (problem) {
      if (!firstBad || cp.seq < firstBad.seq) firstBad = { seq: cp.seq, reason: problem };
      continue;
    }
    lastSigned = Math.max(lastSigned, cp.seq);
  }
  const maxSeq = expectedSeq - 1;
  const unsignedTail = Math.max(0, maxSeq - lastSigned);
  if (unsignedTail > 0)
    notes.push(`${unsignedTail} record(s) after the last checkpoint are chained but not yet signed`);
  if (records === 0) notes.push("the store holds no records");
  return {
    ok: firstBad === undefined,
    records,
    checkpoints,
    firstBad,
    unsignedTail,
    keySource: givenKey ? "given" : "store",
    notes,
  };
}
