// The embedded state store: one process's memory. Expired entries are dropped when read and swept
// once a minute, so that a flood of distinct keys cannot grow the map without bound for long.
import type { StateStore, Unsubscribe } from "./store.ts";

interface Entry {
  value: string;
  expiresAt: number;
}

export class MemoryStateStore implements StateStore {
  private readonly records = new Map<string, Entry>();
  private readonly sets = new Map<string, Set<string>>();
  private readonly channels = new Map<string, Set<(message: string) => void>>();
  private readonly sweeper: NodeJS.Timeout;
  private readonly now: () => number;

  constructor(now: () => number = Date.now) {
    this.now = now;
    this.sweeper = setInterval(() => this.sweep(), 60_000);
    this.sweeper.unref();
  }

  async increment(key: string, by: number, ttlMs: number): Promise<number> {
    const entry = this.live(key);
    if (!entry) {
      this.records.set(key, { value: String(by), expiresAt: this.now() + ttlMs });
      return by;
    }
    const next = Number(entry.value) + by;
    entry.value = String(next);
    return next;
  }

  async get(key: string): Promise<string | undefined> {
    return this.live(key)?.value;
  }

  async set(key: string, value: string, ttlMs?: number): Promise<void> {
    this.records.set(key, { value, expiresAt: ttlMs === undefined ? Infinity : this.now() + ttlMs });
  }

  async delete(key: string): Promise<void> {
    this.records.delete(key);
    this.sets.delete(key);
  }

  async addToSet(key: string, member: string): Promise<number> {
    let set = this.sets.get(key);
    if (!set) this.sets.set(key, (set = new Set()));
    set.add(member);
    return set.size;
  }

  async removeFromSet(key: string, member: string): Promise<void> {
    const set = this.sets.get(key);
    set?.delete(member);
    if (set?.size === 0) this.sets.delete(key);
  }

  async members(key: string): Promise<string[]> {
    return [...(this.sets.get(key) ?? [])];
  }

  async publish(channel: string, message: string): Promise<void> {
    for (const listener of this.channels.get(channel) ?? []) listener(message);
  }

  subscribe(channel: string, onMessage: (message: string) => void): Unsubscribe {
    let listeners = this.channels.get(channel);
    if (!listeners) this.channels.set(channel, (listeners = new Set()));
    listeners.add(onMessage);
    return () => listeners.delete(onMessage);
  }

  async close(): Promise<void> {
    clearInterval(this.sweeper);
    this.channels.clear();
  }

  private live(key: string): Entry | undefined {
    const entry = this.records.get(key);
    if (entry && entry.expiresAt <= this.now()) {
      this.records.delete(key);
      return undefined;
    }
    return entry;
  }

  private sweep(): void {
    const now = this.now();
    for (const [key, entry] of this.records) if (entry.expiresAt <= now) this.records.delete(key);
  }
}
