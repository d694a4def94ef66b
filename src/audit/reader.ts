// Reading an audit store, whichever it is: its hash chains (one per gateway node) with their
// checkpoints for the verifier, and its records across nodes for queries and exports.

export interface StoredRecord {
  readonly node: string;
  readonly seq: number;
  /** The canonical JSON of the record's body: what was hashed. */
  readonly body: string;
  readonly prevHash: string;
  readonly hash: string;
}

export interface StoredCheckpoint {
  readonly node: string;
  readonly seq: number;
  readonly hash: string;
  readonly time: string;
  readonly keyId: string;
  readonly signature: string;
}

export interface StoredKey {
  readonly keyId: string;
  readonly publicKey: string;
}

export interface RecordFilter {
  readonly principal?: string;
  /** The public name of the tool, prompt or resource. */
  readonly tool?: string;
  readonly verdict?: string;
  /** ISO time, inclusive. */
  readonly since?: string;
  /** ISO time, exclusive. */
  readonly until?: string;
  /** The newest this many matching records are returned. */
  readonly limit: number;
}

export interface AuditReader {
  /** Where the store is, fit for reports and logs (never a password). */
  readonly location: string;
  /** The chains in the store, by node name. */
  chains(): Promise<string[]>;
  /** One chain's records in sequence order. */
  records(chain: string): AsyncIterable<StoredRecord>;
  checkpoints(chain: string): Promise<StoredCheckpoint[]>;
  publicKeys(): Promise<StoredKey[]>;
  /** Matching records of every node, oldest first. */
  query(filter: RecordFilter): Promise<StoredRecord[]>;
  /** Every record of every node, ordered by time. */
  timeline(): AsyncIterable<StoredRecord>;
  close(): Promise<void>;
}
