// Resolves the host names of URL arguments with a timeout and a bounded cache (answers for a TTL,
// failures for at most 5 s), sharing one lookup among concurrent calls for the same name, and with a
// cap on lookups in flight (overall and per principal): beyond it a lookup is refused, not queued.
//
// The system resolver asks DNS through c-ares (`dns.Resolver`), never `dns.lookup`: getaddrinfo runs
// on libuv's 4-thread pool, where slow names would stall file access and crypto for the whole
// gateway, and a timeout there only stops waiting. c-ares queries are cancelled on timeout.
import { readFile } from "node:fs/promises";
import { Resolver } from "node:dns/promises";
import { isIP } from "node:net";

/**
 * All addresses a name resolves to (IPv4 and IPv6). Throws when it does not resolve. The signal is
 * aborted when the caller stops waiting; a resolver should then cancel its queries.
 */
export type ResolveHost = (host: string, signal?: AbortSignal) => Promise<readonly string[]>;

const LOOPBACK = ["127.0.0.1", "::1"] as const;
const HOSTS_FILE = "/etc/hosts";
const HOSTS_REFRESH_MS = 30_000;
const HOSTS_MAX_BYTES = 1 << 20;

/** `localhost` and `*.localhost` are loopback (RFC 6761); c-ares does not answer them. */
function isLocalhost(host: string): boolean {
  const name = host.toLowerCase().replace(/\.$/, "");
  return name === "localhost" || name.endsWith(".localhost");
}

/**
 * The hosts file, as getaddrinfo (the server's own resolver) would read it first: a name the server
 * resolves from /etc/hosts (Docker `--add-host`, Kubernetes `hostAliases`) must be judged by those
 * addresses, not by what public DNS says. Re-read at most every 30 s; unreadable counts as empty.
 */
class HostsFile {
  private table = new Map<string, string[]>();
  private loadedAt = Number.NEGATIVE_INFINITY;
  private loading: Promise<void> | undefined;
  private readonly path: string;

  constructor(path: string) {
    this.path = path;
  }

  async addresses(host: string): Promise<readonly string[] | undefined> {
    if (Date.now() - this.loadedAt > HOSTS_REFRESH_MS) await (this.loading ??= this.load());
    return this.table.get(host.toLowerCase().replace(/\.$/, ""));
  }

  private async load(): Promise<void> {
    try {
      const text = await readFile(this.path, "utf8");
      this.table = parseHosts(text.slice(0, HOSTS_MAX_BYTES));
    } catch {
      this.table = new Map();
    } finally {
      this.loadedAt = Date.now();
      this.loading = undefined;
    }
  }
}

export function parseHosts(text: string): Map<string, string[]> {
  const table = new Map<string, string[]>();
  for (const raw of text.split("\n")) {
    const [address, ...names] = (raw.split("#")[0] ?? "").trim().split(/\s+/);
    if (!address || isIP(address.replace(/%.*$/, "")) === 0) continue;
    for (const name of names) {
      const key = name.toLowerCase().replace(/\.$/, "");
      const list = table.get(key) ?? [];
      if (!list.includes(address)) list.push(address);
      table.set(key, list);
    }
  }
  return table;
}

const hostsFile = new HostsFile(HOSTS_FILE);

/** A c-ares resolver: A and AAAA queries, cancelled when the signal aborts. */
export function caresResolver(
  options: { readonly timeoutMs?: number; readonly tries?: number } = {},
): ResolveHost {
  return async (host, signal) => {
    if (isLocalhost(host)) return [...LOOPBACK];
    const listed = await hostsFile.addresses(host);
    if (listed) return listed;
    // One channel per lookup: cancel() ends every query of a channel, and only this lookup's should go.
    const resolver = new Resolver({ timeout: options.timeoutMs ?? 1000, tries: options.tries ?? 2 });
    const cancel = () => resolver.cancel();
    signal?.addEventListener("abort", cancel, { once: true });
    try {
      const [v4, v6] = await Promise.allSettled([resolver.resolve4(host), resolver.resolve6(host)]);
      const addresses = [
        ...(v4.status === "fulfilled" ? v4.value : []),
        ...(v6.status === "fulfilled" ? v6.value : []),
      ];
      if (addresses.length > 0) return addresses;
      // Neither family answered: the IPv4 error says why (ENOTFOUND, ETIMEOUT, ECANCELLED, …).
      throw v4.status === "rejected"
        ? v4.reason
        : v6.status === "rejected"
          ? v6.reason
          : new Error("no addresses");
    } finally {
      signal?.removeEventListener("abort", cancel);
    }
  };
}

export const systemResolver: ResolveHost = caresResolver();

/** A refused lookup: `busy` when the concurrency cap refused it (always refused, whatever onFailure says). */
export type Resolution =
  { readonly addresses: readonly string[] } | { readonly error: string; readonly busy?: boolean };

interface Entry {
  readonly answer: Promise<Resolution>;
  /** The answer once it is in (read without waiting for a promise). */
  settled?: Resolution;
  expires: number;
}

const FAILURE_TTL_MS = 5000;
const BUSY: Resolution = Object.freeze({ error: "too many lookups in flight", busy: true });

export interface HostResolverOptions {
  readonly resolve?: ResolveHost;
  readonly timeoutMs: number;
  readonly ttlMs: number;
  readonly size: number;
  /** Lookups in flight at once, overall (default 16) and per principal (default 4). */
  readonly maxConcurrent?: number;
  readonly maxConcurrentPerPrincipal?: number;
  readonly now?: () => number;
}

export class HostResolver {
  private readonly cache = new Map<string, Entry>();
  /** Lookups in flight by name (shared by every caller, cached or not). */
  private readonly inFlight = new Map<string, Promise<Resolution>>();
  private readonly perPrincipal = new Map<string, number>();
  private readonly resolve: ResolveHost;
  private readonly options: HostResolverOptions;
  private readonly now: () => number;

  constructor(options: HostResolverOptions) {
    this.options = options;
    this.resolve = options.resolve ?? caresResolver({ timeoutMs: options.timeoutMs });
    this.now = options.now ?? Date.now;
  }

  /** A fresh cached answer, without waiting; undefined when a lookup is needed (or still running). */
  peek(host: string): Resolution | undefined {
    const cached = this.cache.get(host);
    return cached && cached.expires > this.now() ? cached.settled : undefined;
  }

  /** Lookups in flight (for tests and metrics). */
  get pending(): number {
    return this.inFlight.size;
  }

  /** `principal` counts the lookup against that caller's share of the cap. */
  lookup(host: string, principal = ""): Promise<Resolution> {
    const at = this.now();
    const cached = this.cache.get(host);
    if (cached && cached.expires > at) return cached.answer;
    if (cached) this.cache.delete(host);
    const running = this.inFlight.get(host);
    if (running) return running;
    // A new lookup: refused (not queued) beyond the caps, so a flood of fresh names cannot pile up.
    const mine = this.perPrincipal.get(principal) ?? 0;
    if (
      this.inFlight.size >= (this.options.maxConcurrent ?? 16) ||
      mine >= (this.options.maxConcurrentPerPrincipal ?? 4)
    )
      return Promise.resolve(BUSY);
    this.perPrincipal.set(principal, mine + 1);
    const answer = this.ask(host).finally(() => {
      this.inFlight.delete(host);
      const left = (this.perPrincipal.get(principal) ?? 1) - 1;
      if (left > 0) this.perPrincipal.set(principal, left);
      else this.perPrincipal.delete(principal);
    });
    this.inFlight.set(host, answer);
    const entry: Entry = { answer, expires: Number.POSITIVE_INFINITY };
    if (this.options.size > 0) {
      if (this.cache.size >= this.options.size) {
        const oldest = this.cache.keys().next();
        if (!oldest.done) this.cache.delete(oldest.value);
      }
      this.cache.set(host, entry);
      // The clock starts when the answer is in: a slow lookup is not cached for less than its TTL.
      void entry.answer.then((result) => {
        entry.settled = result;
        entry.expires =
          this.now() +
          ("error" in result ? Math.min(FAILURE_TTL_MS, this.options.ttlMs) : this.options.ttlMs);
      });
    }
    return entry.answer;
  }

  private async ask(host: string): Promise<Resolution> {
    const abort = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<Resolution>((resolve) => {
      timer = setTimeout(() => {
        // Stop the queries too, not just the waiting.
        abort.abort();
        resolve({ error: "timed out" });
      }, this.options.timeoutMs);
      timer.unref();
    });
    const answer = this.resolve(host, abort.signal).then(
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
