// Pins of tool and prompt definitions: the SHA-256 of each definition's canonical JSON (RFC 8785,
// `canonicalize`), per upstream and name, in the state store, so that every gateway node enforces the
// same pins. A definition that differs from its pin waits, hidden, as "pending" until an operator
// approves it (`portcullis tools approve`). Each node keeps what it read in memory and drops it when
// any node announces a change on the store's channel.
import { createHash, randomUUID } from "node:crypto";
import canonicalize from "canonicalize";
import type { StateStore, Unsubscribe } from "../../state/store.ts";

export type PinnedKind = "tools" | "prompts";

export interface DefinitionDigest {
  readonly hash: string;
  /** Size of the canonical JSON in bytes. */
  readonly bytes: number;
  readonly canonical: string;
}

export function digestOf(definition: unknown): DefinitionDigest {
  const canonical = canonicalize(definition) ?? "null";
  return {
    hash: createHash("sha256").update(canonical).digest("hex"),
    bytes: Buffer.byteLength(canonical),
    canonical,
  };
}

export interface PinnedVersion {
  readonly hash: string;
  /** The definition itself, when it was small enough to keep (for `tools diff`). */
  readonly definition?: Readonly<Record<string, unknown>>;
  readonly bytes: number;
  /** When it was pinned, or first seen (ms since the epoch). */
  readonly at: number;
  /** `first-use` for a pin taken automatically, the operator's name for an approval, `gateway` when seen. */
  readonly by: string;
}

export interface PinRecord {
  readonly kind: PinnedKind;
  readonly upstream: string;
  /** The upstream's own name of the tool or prompt. */
  readonly name: string;
  /** The name clients see (name-spaced), when last seen. */
  readonly publicName: string;
  readonly pinned?: PinnedVersion;
  /** A definition that differs from the pin (or a new one, with manual pinning), waiting for approval. */
  readonly pending?: PinnedVersion;
}

export type PinStatus = "pinned" | "changed" | "new";

export function statusOf(record: PinRecord): PinStatus {
  if (!record.pinned) return "new";
  return record.pending ? "changed" : "pinned";
}

/** What the guard saw: the definition and its digest. */
export interface SeenDefinition {
  readonly definition: Readonly<Record<string, unknown>>;
  readonly digest: DefinitionDigest;
  readonly publicName: string;
}

export class PinError extends Error {
  readonly code:
    "PORTCULLIS_E_PIN_NOT_FOUND" | "PORTCULLIS_E_PIN_CONFLICT" | "PORTCULLIS_E_PIN_NOTHING_PENDING";
  readonly status: number;

  constructor(code: PinError["code"], message: string) {
    super(message);
    this.name = "PinError";
    this.code = code;
    this.status = code === "PORTCULLIS_E_PIN_NOT_FOUND" ? 404 : 409;
  }
}

export interface ToolPinStoreOptions {
  /** Definitions larger than this are pinned by hash only (no diff). Default 32 KiB. */
  readonly maxStoredBytes?: number;
  /** How long a record read from the store is trusted before it is read again. Default 30 s. */
  readonly refreshMs?: number;
  readonly now?: () => number;
}

const INDEX = "catalog:pins";
const CHANNEL = "catalog:pins";
/** How long "this change was announced" is remembered, so that one change raises one event. */
const NEWS_TTL_MS = 30 * 86_400_000;
const MAX_CACHED = 100_000;
/** How long a node's claim to pin a new definition first holds (it writes the pin right after). */
const CLAIM_TTL_MS = 60_000;

interface Cached {
  readonly record: PinRecord | undefined;
  readonly readAt: number;
}

export class ToolPinStore {
  private readonly store: StateStore;
  private readonly maxStoredBytes: number;
  private readonly refreshMs: number;
  private readonly now: () => number;
  private readonly cache = new Map<string, Cached>();
  private readonly reading = new Map<string, Promise<PinRecord | undefined>>();
  private readonly firstListings = new Map<string, Promise<number>>();
  private readonly approvalListeners = new Set<
    (record: Pick<PinRecord, "kind" | "upstream" | "name">) => void
  >();
  private readonly unsubscribe: Unsubscribe;
  private generationValue = 0;
  /** Tells this store's own announcements (already applied) from other nodes'. */
  private readonly origin = randomUUID();

  constructor(store: StateStore, options: ToolPinStoreOptions = {}) {
    this.store = store;
    this.maxStoredBytes = options.maxStoredBytes ?? 32_768;
    this.refreshMs = options.refreshMs ?? 30_000;
    this.now = options.now ?? Date.now;
    this.unsubscribe = store.subscribe(CHANNEL, (message) => this.heard(message));
  }

  /** Changes whenever a pin changes on any node: evaluations made before it are stale. */
  get generation(): number {
    return this.generationValue;
  }

  /**
   * Called on every node when an operator approves a definition (anywhere): the place to tell clients
   * that their lists changed, since an approved tool comes back.
   */
  onApproval(listener: (pin: Pick<PinRecord, "kind" | "upstream" | "name">) => void): Unsubscribe {
    this.approvalListeners.add(listener);
    return () => this.approvalListeners.delete(listener);
  }

  async read(kind: PinnedKind, upstream: string, name: string): Promise<PinRecord | undefined> {
    const member = memberOf(kind, upstream, name);
    const cached = this.cache.get(member);
    if (cached && this.now() - cached.readAt < this.refreshMs) return cached.record;
    let reading = this.reading.get(member);
    if (!reading) {
      reading = this.store
        .get(recordKey(member))
        .then((text) => {
          const record = text === undefined ? undefined : (JSON.parse(text) as PinRecord);
          this.remember(member, record);
          return record;
        })
        .finally(() => this.reading.delete(member));
      this.reading.set(member, reading);
    }
    return reading;
  }

  /**
   * Trust on first use: pins what was seen, unless a pin exists already (then that one stands). Nodes
   * that see a new definition at once race for it through a claim in the store (the first to count 1
   * writes, `claimed`): the others read what the winner pinned, no record while it is not written
   * yet. The caller compares the hash it gets back with what it saw.
   */
  async pinFirstUse(
    kind: PinnedKind,
    upstream: string,
    name: string,
    seen: SeenDefinition,
  ): Promise<{ readonly record: PinRecord | undefined; readonly claimed: boolean }> {
    const existing = await this.read(kind, upstream, name);
    if (existing?.pinned) return { record: existing, claimed: false };
    const member = memberOf(kind, upstream, name);
    const claim = await this.store.increment(`catalog:pin-claim:${member}`, 1, CLAIM_TTL_MS);
    if (claim !== 1) {
      this.cache.delete(member);
      const winner = await this.read(kind, upstream, name);
      return { record: winner?.pinned ? winner : undefined, claimed: false };
    }
    const record = await this.write({
      kind,
      upstream,
      name,
      publicName: seen.publicName,
      pinned: this.version(seen, "first-use"),
    });
    return { record, claimed: true };
  }

  /**
   * When the gateway first listed an upstream's tools (or prompts), on any node: until a grace period
   * after it, a new name is the upstream's first catalogue and pinned on first use; after it, a new
   * name waits for an operator. An upstream pinned before this was recorded counts as listed long ago.
   */
  firstListing(kind: PinnedKind, upstream: string): Promise<number> {
    const key = `${kind}:${upstream}`;
    let known = this.firstListings.get(key);
    if (!known) {
      if (this.firstListings.size >= MAX_CACHED) this.firstListings.clear();
      known = this.readFirstListing(key);
      this.firstListings.set(key, known);
      // A failed read is not kept: the next judgement tries again.
      known.catch(() => {
        if (this.firstListings.get(key) === known) this.firstListings.delete(key);
      });
    }
    return known;
  }

  private async readFirstListing(key: string): Promise<number> {
    const stored = await this.store.get(`catalog:pin-first-listing:${key}`);
    let at = stored === undefined ? Number.NaN : Number(stored);
    if (!Number.isFinite(at)) {
      const members = await this.store.members(INDEX);
      at = members.some((m) => m.startsWith(`${key}:`)) ? 0 : this.now();
      await this.store.set(`catalog:pin-first-listing:${key}`, String(at));
    }
    return at;
  }

  /**
   * Keeps a definition that differs from the pin (or has none yet) as pending. `news` is true for the
   * first node to record this very definition as pending: the one that raises the event.
   */
  async recordPending(
    kind: PinnedKind,
    upstream: string,
    name: string,
    seen: SeenDefinition,
  ): Promise<{ readonly record: PinRecord; readonly news: boolean }> {
    const existing = await this.read(kind, upstream, name);
    if (existing?.pending?.hash === seen.digest.hash) return { record: existing, news: false };
    const record = await this.write({
      kind,
      upstream,
      name,
      publicName: seen.publicName,
      ...(existing?.pinned ? { pinned: existing.pinned } : {}),
      pending: this.version(seen, "gateway"),
    });
    const member = memberOf(kind, upstream, name);
    const count = await this.store.increment(
      `catalog:pin-news:${member}:${seen.digest.hash}`,
      1,
      NEWS_TTL_MS,
    );
    return { record, news: count === 1 };
  }

  /** The upstream serves the pinned definition again: what was pending is dropped. */
  async clearPending(kind: PinnedKind, upstream: string, name: string): Promise<void> {
    const existing = await this.read(kind, upstream, name);
    if (!existing?.pending || !existing.pinned) return;
    const { pending: _dropped, ...rest } = existing;
    await this.write(rest);
  }

  /**
   * Pins what is pending, only if `hash` (the full SHA-256 `tools diff` showed) is what is pending: an
   * operator approves what they reviewed, not what arrived since.
   */
  async approve(
    kind: PinnedKind,
    upstream: string,
    name: string,
    decision: { readonly by: string; readonly hash: string },
  ): Promise<{ readonly record: PinRecord; readonly previous: PinnedVersion | undefined }> {
    const member = memberOf(kind, upstream, name);
    this.cache.delete(member);
    const existing = await this.read(kind, upstream, name);
    if (!existing) throw new PinError("PORTCULLIS_E_PIN_NOT_FOUND", `no pin for ${upstream}/${name}`);
    const pending = existing.pending;
    if (!pending)
      throw new PinError(
        "PORTCULLIS_E_PIN_NOTHING_PENDING",
        `${upstream}/${name} has no changed definition waiting for approval`,
      );
    if (pending.hash !== decision.hash.toLowerCase())
      throw new PinError(
        "PORTCULLIS_E_PIN_CONFLICT",
        `the definition waiting is ${pending.hash.slice(0, 12)}, not ${decision.hash}: review it again (tools diff)`,
      );
    const record = await this.write(
      {
        kind,
        upstream,
        name,
        publicName: existing.publicName,
        pinned: { ...pending, at: this.now(), by: decision.by },
      },
      "approved",
    );
    return { record, previous: existing.pinned };
  }

  /** Every pin this store holds (all nodes'). */
  async list(): Promise<PinRecord[]> {
    const members = await this.store.members(INDEX);
    const records = await Promise.all(
      members.map(async (member) => {
        const text = await this.store.get(recordKey(member));
        return text === undefined ? undefined : (JSON.parse(text) as PinRecord);
      }),
    );
    return records
      .filter((r): r is PinRecord => r !== undefined)
      .sort((a, b) => a.upstream.localeCompare(b.upstream) || a.name.localeCompare(b.name));
  }

  /** The records an operator means by `upstream/name` or by a public name, optionally of one kind. */
  async find(reference: string, kind?: PinnedKind): Promise<PinRecord[]> {
    const kinds: PinnedKind[] = kind ? [kind] : ["tools", "prompts"];
    const slash = reference.indexOf("/");
    if (slash > 0) {
      const upstream = reference.slice(0, slash);
      const name = reference.slice(slash + 1);
      const direct = await Promise.all(
        kinds.map((k) => this.store.get(recordKey(memberOf(k, upstream, name)))),
      );
      const found = direct.filter((t): t is string => t !== undefined).map((t) => JSON.parse(t) as PinRecord);
      if (found.length > 0) return found;
    }
    return (await this.list()).filter((r) => kinds.includes(r.kind) && r.publicName === reference);
  }

  close(): void {
    this.unsubscribe();
    this.approvalListeners.clear();
  }

  private version(seen: SeenDefinition, by: string): PinnedVersion {
    const small = seen.digest.bytes <= this.maxStoredBytes;
    return {
      hash: seen.digest.hash,
      ...(small ? { definition: seen.definition } : {}),
      bytes: seen.digest.bytes,
      at: this.now(),
      by,
    };
  }

  /** Writes a record and tells every node (this one included) to read it again. */
  private async write(record: PinRecord, reason: "seen" | "approved" = "seen"): Promise<PinRecord> {
    const member = memberOf(record.kind, record.upstream, record.name);
    await this.store.set(recordKey(member), JSON.stringify(record));
    await this.store.addToSet(INDEX, member);
    this.remember(member, record);
    this.generationValue++;
    const { kind, upstream, name } = record;
    await this.store.publish(CHANNEL, JSON.stringify({ origin: this.origin, reason, kind, upstream, name }));
    return record;
  }

  private remember(member: string, record: PinRecord | undefined): void {
    if (this.cache.size >= MAX_CACHED && !this.cache.has(member)) this.cache.clear();
    this.cache.set(member, { record, readAt: this.now() });
  }

  /** A change announced by a node (this one or another): read the record again before using it. */
  private heard(message: string): void {
    let news: { origin?: unknown; reason?: unknown; kind?: unknown; upstream?: unknown; name?: unknown };
    try {
      news = JSON.parse(message) as typeof news;
    } catch {
      return;
    }
    const { kind, upstream, name } = news;
    if ((kind !== "tools" && kind !== "prompts") || typeof upstream !== "string" || typeof name !== "string")
      return;
    if (news.origin !== this.origin) {
      this.cache.delete(memberOf(kind, upstream, name));
      this.generationValue++;
    }
    if (news.reason !== "approved") return;
    for (const listener of this.approvalListeners) {
      try {
        listener({ kind, upstream, name });
      } catch {
        // A listener's failure is its own; the approval stands.
      }
    }
  }
}

function memberOf(kind: PinnedKind, upstream: string, name: string): string {
  return `${kind}:${upstream}:${name}`;
}

function recordKey(member: string): string {
  return `catalog:pin:${member}`;
}

/** One pin store per state store: the layer (rebuilt on every reload) and the control routes share it. */
const stores = new WeakMap<StateStore, ToolPinStore>();

export function toolPinStoreFor(state: StateStore, options?: ToolPinStoreOptions): ToolPinStore {
  let pins = stores.get(state);
  if (!pins) stores.set(state, (pins = new ToolPinStore(state, options)));
  return pins;
}
