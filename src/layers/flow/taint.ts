// A session's taint: the flow labels of what it has read, kept in the state store (so every node
// sees it) as one record per label with a TTL renewed by each read that adds it. One record per
// label, never a read-modify-write of a list, so two nodes adding labels at once lose neither.
import type { StateStore } from "../../state/store.ts";

export class TaintBook {
  private readonly store: StateStore;
  private readonly ttlMs: number;

  constructor(store: StateStore, ttlMs: number) {
    this.store = store;
    this.ttlMs = ttlMs;
  }

  /** Which of `labels` the session carries (only labels some rule or policy can ask about are read). */
  async read(session: string, labels: readonly string[]): Promise<string[]> {
    const held = await Promise.all(labels.map((label) => this.store.get(keyOf(session, label))));
    return labels.filter((_, i) => held[i] !== undefined);
  }

  async add(session: string, labels: readonly string[]): Promise<void> {
    await Promise.all(labels.map((label) => this.store.set(keyOf(session, label), "1", this.ttlMs)));
  }
}

function keyOf(session: string, label: string): string {
  return `taint:${session}:${label}`;
}
