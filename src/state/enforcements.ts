// The responses in force: blocked addresses, revoked sessions, lowered trust and required step-up.
// Written to the state store (so that every node enforces them) and mirrored in memory, so that the
// network and identity checks on the hot path read a map instead of doing I/O.
import { isIPv4, isIPv6 } from "node:net";
import ipaddr from "ipaddr.js";
import type { Logger } from "pino";
import { canonicalRange, rangeCovers } from "../layers/network/addressList.ts";
import type { StateStore, Unsubscribe } from "./store.ts";

export type EnforcementKind = "block" | "revoke" | "trust" | "stepup";

export interface Enforcement {
  readonly kind: EnforcementKind;
  /** An address or CIDR range (block), a session digest (revoke) or a principal id (trust, stepup). */
  readonly subject: string;
  readonly until: number;
  readonly reason: string;
  /** What decided it: a detection kind, or "admin". */
  readonly source: string;
  /** For trust: how much the principal's score is lowered (summed over lowerings, at most 1). */
  readonly amount?: number;
}

interface ChangeMessage {
  readonly op: "set" | "lift";
  readonly enforcement: Enforcement;
}

const CHANNEL = "portcullis:enforcements";
const INDEX = "enf:index";

/**
 * One form per address, so that a block, a list entry or a detector's window cannot be walked
 * around by writing the same address differently: IPv4-mapped IPv6 addresses are their IPv4
 * address, and IPv6 is in its RFC 5952 form (`2001:0db8:0:0::1` is `2001:db8::1`).
 */
export function normalizeAddress(address: string): string {
  if (isIPv4(address)) return address;
  if (!isIPv6(address)) return address;
  try {
    return ipaddr.process(address).toString();
  } catch {
    return address.toLowerCase();
  }
}

/** What a block is kept under: the address in one form, or the range from its network address. */
function blockSubject(address: string): string {
  return address.includes("/") ? canonicalRange(address) : normalizeAddress(address);
}

export class Enforcements {
  private readonly mirror = new Map<string, Enforcement>();
  /** Keys of blocks on whole ranges (few), scanned when no block names the address itself. */
  private readonly rangeBlocks = new Set<string>();
  /** Set here while the store could not be written; written (and published) by the next sync. */
  private readonly unwritten = new Map<string, Enforcement>();
  private readonly listeners = new Set<(enforcement: Enforcement) => void>();
  private unsubscribe: Unsubscribe | undefined;
  private pruner: NodeJS.Timeout | undefined;
  private readonly store: StateStore;
  private readonly log: Logger;
  private readonly now: () => number;

  constructor(store: StateStore, log: Logger, now: () => number = Date.now) {
    this.store = store;
    this.log = log;
    this.now = now;
  }

  /** Loads what is in force (another node may have set it) and follows changes from then on. */
  async start(): Promise<void> {
    this.pruner = setInterval(() => this.prune(), 60_000);
    this.pruner.unref();
    this.unsubscribe = this.store.subscribe(CHANNEL, (message) => this.apply(message));
    await this.sync();
  }

  /**
   * Makes the mirror what the store holds: at start, and again when a shared store comes back after
   * an outage (changes published meanwhile were never heard, lifts included). Enforcements this node
   * set while the store was away are written first. An unreadable store leaves the mirror as it is
   * (what was enforced stays enforced) and says so.
   */
  async sync(): Promise<void> {
    try {
      for (const [key, enforcement] of this.unwritten) {
        await this.write(enforcement);
        this.unwritten.delete(key);
      }
      const held = new Map<string, Enforcement>();
      for (const member of await this.store.members(INDEX)) {
        const text = await this.store.get(`enf:${member}`);
        if (text === undefined) {
          await this.store.removeFromSet(INDEX, member);
          continue;
        }
        held.set(member, JSON.parse(text) as Enforcement);
      }
      for (const key of [...this.mirror.keys()]) if (!held.has(key)) this.forget(key);
      for (const enforcement of held.values()) this.remember(enforcement);
    } catch (err) {
      this.log.error(
        { error: err instanceof Error ? err.message : String(err), unwritten: this.unwritten.size },
        "could not sync the blocks and revocations in force with the state store; enforcing what this node knows",
      );
    }
  }

  stop(): void {
    this.unsubscribe?.();
    if (this.pruner) clearInterval(this.pruner);
  }

  /** Called for every enforcement that comes into force, on whichever node set it. */
  onEnforced(listener: (enforcement: Enforcement) => void): Unsubscribe {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Blocks an address or a CIDR range (`203.0.113.0/24`). */
  blockAddress(address: string, forMs: number, reason: string, source: string): Promise<Enforcement> {
    return this.put({ kind: "block", subject: blockSubject(address), forMs, reason, source });
  }

  revokeSession(digest: string, forMs: number, reason: string, source: string): Promise<Enforcement> {
    return this.put({ kind: "revoke", subject: digest, forMs, reason, source });
  }

  requireStepUp(principal: string, forMs: number, reason: string, source: string): Promise<Enforcement> {
    return this.put({ kind: "stepup", subject: principal, forMs, reason, source });
  }

  /** Lowers a principal's trust by `by` for `forMs`; lowerings add up (to at most 1). */
  async lowerTrust(
    principal: string,
    by: number,
    forMs: number,
    reason: string,
    source: string,
  ): Promise<Enforcement> {
    // Counted in thousandths, so that concurrent lowerings on several nodes add up atomically.
    // The shared sum may have expired before a lowering still in force here: never shrink it.
    const inForce = this.active(`trust:${principal}`)?.amount ?? 0;
    const total = await this.store
      .increment(`enf:trust:${principal}:sum`, Math.round(by * 1000), forMs)
      .catch(() => Math.round((inForce + by) * 1000)); // the store is away: this node's sum
    return this.put({
      kind: "trust",
      subject: principal,
      forMs,
      reason,
      source,
      amount: Math.min(1, Math.max(total / 1000, inForce + by)),
    });
  }

  /** Ends an enforcement early (an operator's decision), here at once and on every node. */
  async lift(kind: EnforcementKind, subject: string): Promise<boolean> {
    const canonical = kind === "block" ? blockSubject(subject) : subject;
    const key = `${kind}:${canonical}`;
    const current = this.active(key);
    this.forget(key);
    this.unwritten.delete(key);
    await this.store.delete(`enf:${key}`);
    if (kind === "trust") await this.store.delete(`enf:${key}:sum`);
    await this.store.removeFromSet(INDEX, key);
    const enforcement = current ?? { kind, subject: canonical, until: 0, reason: "lifted", source: "admin" };
    await this.store.publish(CHANNEL, JSON.stringify({ op: "lift", enforcement } satisfies ChangeMessage));
    return current !== undefined;
  }

  /** The block in force on an address: on the address itself, else on a range that covers it. */
  addressBlock(address: string | undefined): Enforcement | undefined {
    if (address === undefined) return undefined;
    const exact = this.active(`block:${normalizeAddress(address)}`);
    if (exact || this.rangeBlocks.size === 0) return exact;
    for (const key of this.rangeBlocks) {
      const block = this.active(key);
      if (block && rangeCovers(block.subject, address)) return block;
    }
    return undefined;
  }

  sessionRevoked(digest: string | undefined): Enforcement | undefined {
    return digest === undefined ? undefined : this.active(`revoke:${digest}`);
  }

  stepUpRequired(principal: string): Enforcement | undefined {
    return this.active(`stepup:${principal}`);
  }

  /** How much a principal's trust is lowered now (0 when it is not). */
  trustPenalty(principal: string): number {
    return this.active(`trust:${principal}`)?.amount ?? 0;
  }

  /** Every enforcement in force, for operators. */
  list(): Enforcement[] {
    return [...this.mirror.keys()].flatMap((key) => this.active(key) ?? []);
  }

  private async put(request: {
    kind: EnforcementKind;
    subject: string;
    forMs: number;
    reason: string;
    source: string;
    amount?: number;
  }): Promise<Enforcement> {
    const { forMs, ...rest } = request;
    const key = `${request.kind}:${request.subject}`;
    const existing = this.active(key);
    // A repeated response never shortens what is already in force.
    const until = Math.max(this.now() + forMs, existing?.until ?? 0);
    const enforcement: Enforcement = { ...rest, until };
    // Enforced here first: a block must hold on the node that set it even when the store is away.
    this.enforce(enforcement);
    try {
      await this.write(enforcement);
    } catch (err) {
      this.unwritten.set(key, enforcement);
      this.log.error(
        { kind: enforcement.kind, error: err instanceof Error ? err.message : String(err) },
        "enforced on this node only: the state store cannot be written; other nodes learn of it when it is back",
      );
    }
    return enforcement;
  }

  private async write(enforcement: Enforcement): Promise<void> {
    const key = `${enforcement.kind}:${enforcement.subject}`;
    const ttl = enforcement.until - this.now();
    if (ttl <= 0) return;
    await this.store.set(`enf:${key}`, JSON.stringify(enforcement), ttl);
    await this.store.addToSet(INDEX, key);
    await this.store.publish(CHANNEL, JSON.stringify({ op: "set", enforcement } satisfies ChangeMessage));
  }

  private apply(text: string): void {
    let message: ChangeMessage;
    try {
      message = JSON.parse(text) as ChangeMessage;
    } catch {
      this.log.warn("ignored a malformed enforcement message");
      return;
    }
    const { enforcement } = message;
    if (message.op === "lift") {
      this.forget(`${enforcement.kind}:${enforcement.subject}`);
      return;
    }
    this.enforce(enforcement);
  }

  /** Mirrors an enforcement and tells the listeners, once: our own change comes back as an echo. */
  private enforce(enforcement: Enforcement): void {
    const known = this.mirror.get(`${enforcement.kind}:${enforcement.subject}`);
    if (known && known.until === enforcement.until && known.amount === enforcement.amount) return;
    this.remember(enforcement);
    for (const listener of this.listeners) {
      try {
        listener(enforcement);
      } catch (err) {
        this.log.error({ err }, "enforcement listener failed");
      }
    }
  }

  private remember(enforcement: Enforcement): void {
    const key = `${enforcement.kind}:${enforcement.subject}`;
    this.mirror.set(key, enforcement);
    if (enforcement.kind === "block" && enforcement.subject.includes("/")) this.rangeBlocks.add(key);
  }

  private forget(key: string): void {
    this.mirror.delete(key);
    this.rangeBlocks.delete(key);
  }

  private active(key: string): Enforcement | undefined {
    const enforcement = this.mirror.get(key);
    if (!enforcement) return undefined;
    if (enforcement.until <= this.now()) {
      this.forget(key);
      void this.store.removeFromSet(INDEX, key).catch(() => undefined);
      return undefined;
    }
    return enforcement;
  }

  /** Drops what has expired from the mirror and the shared index (a flood of blocks must not pile up). */
  prune(): void {
    for (const key of [...this.mirror.keys()]) this.active(key);
  }
}
