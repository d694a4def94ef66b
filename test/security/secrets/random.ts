// A seeded random source for the corpora: every run generates the same secrets, numbers and texts,
// so rates are comparable between runs and a failure can be reproduced by its item id.

export class Random {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  /** mulberry32 */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)] as T;
  }

  from(alphabet: string, length: number): string {
    let out = "";
    for (let i = 0; i < length; i++) out += alphabet[Math.floor(this.next() * alphabet.length)];
    return out;
  }

  alnum(length: number): string {
    return this.from(ALNUM, length);
  }

  hex(length: number): string {
    return this.from("0123456789abcdef", length);
  }

  digits(length: number): string {
    return this.from("0123456789", length);
  }

  upper(length: number): string {
    return this.from("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", length);
  }

  base64(bytes: number): string {
    return Buffer.from(Array.from({ length: bytes }, () => this.int(0, 255))).toString("base64");
  }

  base64url(length: number): string {
    return this.from(`${ALNUM}_-`, length);
  }

  uuid(): string {
    const h = this.hex(32);
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-${"89ab"[this.int(0, 3)]}${h.slice(17, 20)}-${h.slice(20)}`;
  }

  word(): string {
    return this.pick(WORDS);
  }

  words(count: number): string {
    return Array.from({ length: count }, () => this.word()).join(" ");
  }
}

export const ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

export const WORDS = [
  "deploy",
  "service",
  "cluster",
  "customer",
  "invoice",
  "release",
  "pipeline",
  "staging",
  "billing",
  "report",
  "migration",
  "backup",
  "gateway",
  "dashboard",
  "incident",
  "metrics",
  "upload",
  "schedule",
  "account",
  "review",
  "feature",
  "payment",
  "webhook",
  "search",
  "index",
  "storage",
  "network",
  "session",
  "profile",
  "catalog",
  "order",
  "shipment",
  "ticket",
  "cache",
  "worker",
  "queue",
  "config",
  "module",
  "library",
  "request",
];

export interface CorpusItem {
  readonly id: string;
  readonly text: string;
  /** The values that must not reach the client (attack items); empty for benign ones. */
  readonly secrets: readonly string[];
}
