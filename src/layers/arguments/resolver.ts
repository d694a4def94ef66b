// Resolves the host names of URL arguments with a timeout and a bounded cache (answers for a TTL,
// failures for at most 5 s), sharing one lookup among concurrent calls for the same name.
import { lookup } from "node:dns/promises";

/** All addresses a name resolves to (IPv4 and IPv6). Throws when it does not resolve. */
export type ResolveHost = (host: string) => Promise<readonly string[]>;

export const systemResolver: ResolveHost = async (host) =>
  (await lookup(host, { all: true, verbatim: true })).map((entry) => entry.address);

export type Resolution = { readonly addresses: readonly string[] } | { readonly error: string };

interface Entry {
  readonly answer: Promise<Resolution>;
  /** The answer once it is in (read without waiting for a promise). */
  settled?: Resolution;
  expires: number;
}

const FAILURE_TTL_MS = 5000;

export interface HostResolverOptions {
  readonly resolve?: ResolveHost;
  readonly timeoutMs: number;
  readonly ttlMs: number;
  readonly size: number;
  readonly now?: () => number;
}

export class HostResolver {
  private readonly cache = new Map<string, Entry>();
  private readonly resolve: ResolveHost;
  private readonly options: HostResolverOptions;
  private readonly now: () => number;

  constructor(options: HostResolverOptions) {
    this.options = options;
    this.resolve = options.resolve ?? systemResolver;
    this.now = options.now ?? Date.now;
  }

  /** A fresh cached answer, without waiting; undefined when a lookup is needed (or still running). */
  peek(host: string): Resolution | undefined {
    const cached = this.cache.get(host);
    return cached && cached.expires > this.now() ? cached.settled : undefined;
  }

  lookup(host: string): Promise<Resolution> {
    const at = this.now();
    const cached = this.cache.get(host);
    if (cached && cached.expires > at) return cached.answer;
    if (cached) this.cache.delete(host);
    const entry: Entry = { answer: this.ask(host), expires: Number.POSITIVE_INFINITY };
    if (this.options.size > 0) {
      if (this.cache.size >= this.options.size) {
        const oldest = this.cache.keys().next();
        if (!oldest.done) this.cache.delete(oldest.value);
      }
      this.cache.set(host, entry);
      // The clock starts when the answer is in: a slow lookup is not cached for less than its TTL.
      void entry.answer.then((answer) => {
        entry.settled = answer;
        entry.expires =
          this.now() +
          ("error" in answer ? Math.min(FAILURE_TTL_MS, this.options.ttlMs) : this.options.ttlMs);
      });
    }
    return entry.answer;
  }

  private async ask(host: string): Promise<Resolution> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<Resolution>((resolve) => {
      timer = setTimeout(() => resolve({ error: "timed out" }), this.options.timeoutMs);
      timer.unref();
    });
    const answer = this.resolve(host).then(
      (addresses): Resolution =>
        addresses.length > 0 ? { addresses: [...addresses] } : { error: "no addresses" },
      (err: unknown): Resolution => ({ error: (err as NodeJS.ErrnoException).code ?? "lookup failed" }),
    );
    try {
      return await Promise.race([answer, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }
}
