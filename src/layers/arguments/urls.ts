// The URL detector (SSRF), syntactic half: the value is parsed as WHATWG URL does (which normalises
// decimal, octal, hex and short IPv4 forms and IDNA), and its authority again the naive way other
// parsers do; every host either reading gives must be public. Host names are then resolved by DNS.
import { internalRange, parseAddress, RangeSet } from "./addresses.ts";
import { CONTROL_CHARACTER, finding, type Finding } from "./findings.ts";

export interface UrlPolicy {
  readonly schemes: ReadonlySet<string>;
  readonly allow: HostList;
  readonly block: HostList;
}

export interface UrlVerdict {
  readonly finding?: Finding;
  /** Host names still to resolve (their addresses must be public too). */
  readonly names: readonly string[];
}

const CLEAN: UrlVerdict = Object.freeze({ names: Object.freeze([]) });

/** Names that are internal whatever DNS says (RFC 6761 and 8375, cloud and cluster names). */
const INTERNAL_NAMES = new Set([
  "localhost",
  "metadata",
  "instance-data",
  "ip6-localhost",
  "ip6-loopback",
  "broadcasthost",
  "kubernetes",
]);
const INTERNAL_SUFFIXES = [
  ".localhost",
  ".local",
  ".localdomain",
  ".internal",
  ".home.arpa",
  ".home",
  ".lan",
  ".corp",
  ".intranet",
  ".private",
  ".svc",
];

/** Host names (`*.` for subdomains) and IP ranges, as in `allowHosts` and `blockHosts`. */
export class HostList {
  private readonly names = new Set<string>();
  private readonly suffixes: string[] = [];
  private readonly ranges: RangeSet;

  constructor(entries: readonly string[]) {
    const ranges: string[] = [];
    for (const entry of entries) {
      if (parseAddress(entry) || entry.includes("/")) ranges.push(entry);
      else if (entry.startsWith("*.")) this.suffixes.push(normaliseName(entry.slice(1)));
      else this.names.add(normaliseName(entry));
    }
    this.ranges = new RangeSet(ranges);
  }

  hasName(name: string): boolean {
    return this.names.has(name) || this.suffixes.some((suffix) => name.endsWith(suffix));
  }

  hasAddress(address: NonNullable<ReturnType<typeof parseAddress>>): boolean {
    return this.ranges.has(address);
  }
}

export function urlPolicy(
  schemes: readonly string[],
  allow: readonly string[],
  block: readonly string[],
): UrlPolicy {
  return { schemes: new Set(schemes), allow: new HostList(allow), block: new HostList(block) };
}

export function checkUrl(value: string, policy: UrlPolicy): UrlVerdict {
  if (isRelativeReference(value.trim())) return CLEAN;
  const url = parseUrl(value.trim());
  if (!url) return { finding: finding("url-invalid", "not a URL"), names: [] };
  const scheme = url.protocol.slice(0, -1);
  if (!policy.schemes.has(scheme))
    return { finding: finding("url-scheme", `the ${scheme.slice(0, 16)}: scheme`), names: [] };
  const naive = naiveHost(value.trim(), url.hostname);
  if (typeof naive !== "string" && naive !== undefined) return { finding: naive, names: [] };
  const hosts = [url.hostname];
  if (naive !== undefined && naive !== url.hostname) hosts.push(naive);
  const names: string[] = [];
  for (const host of hosts) {
    const verdict = checkHost(host, policy);
    if (typeof verdict === "object") return { finding: verdict, names: [] };
    if (verdict === "name") names.push(normaliseName(host));
  }
  return names.length === 0 ? CLEAN : { names };
}

/** Checks a resolved address of a host name: a finding if it is internal and not allowed. */
export function checkResolvedAddress(address: string, policy: UrlPolicy): Finding | undefined {
  const parsed = parseAddress(address);
  if (!parsed)
    return finding("url-resolves-internal", "the host resolves to something that is not an address");
  if (policy.allow.hasAddress(parsed)) return undefined;
  if (policy.block.hasAddress(parsed))
    return finding("url-resolves-internal", "the host resolves to a blocked address");
  const range = internalRange(parsed);
  return range
    ? finding("url-resolves-internal", `the host resolves to an internal address (${range})`)
    : undefined;
}

/**
 * A reference the server resolves against its own base (`/api/users`, `?page=2`, `users/list`): it
 * cannot name another host. Not `//host`, `/\\host`, nor `localhost/…`, `10.0.0.1/…` or `0x7f000001/…`.
 */
function isRelativeReference(text: string): boolean {
  if (/^[\\/]{2}/.test(text)) return false;
  if (text === "" || /^[/?#.]/.test(text)) return true;
  if (/^[a-z][a-z0-9+.-]*:/i.test(text)) return false;
  const first = /^[^/?#\\]*/.exec(text)?.[0] ?? "";
  return (
    !/[.:@[]/.test(first) && !/^(?:0x[0-9a-f]+|\d+)$/i.test(first) && !isInternalName(first.toLowerCase())
  );
}

function parseUrl(text: string): URL | undefined {
  // `host:port/path` without a scheme would read as scheme `host:`; a URL without a scheme as nothing.
  const schemeless = !/^[a-z][a-z0-9+.-]*:\/\//i.test(text) && /^[^:/?#]+:\d{1,5}(?:[/?#]|$)/.test(text);
  if (!schemeless) {
    try {
      return new URL(text);
    } catch {
      // fall through: maybe a URL without its scheme
    }
  }
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(text)) return undefined;
  try {
    return new URL(`http://${text.replace(/^[\\/]+/, "")}`);
  } catch {
    return undefined;
  }
}

/**
 * The host as a parser that knows neither backslashes nor WHATWG's cleaning would read it (the
 * authority up to the first `/`, `?` or `#`, after the last `@`), when that differs; or a finding when
 * the authority is ambiguous (backslashes, whitespace, controls, several `@`).
 */
function naiveHost(text: string, parsed: string): string | Finding | undefined {
  const match = /^[a-z][a-z0-9+.-]*:[\\/]{2}([^/?#]*)/i.exec(text);
  if (!match) return undefined;
  const authority = match[1] ?? "";
  if (/[\\\s]/.test(authority) || CONTROL_CHARACTER.test(authority) || /@.*@/.test(authority))
    return finding("url-ambiguous", "an authority that URL parsers read differently");
  const host = authority.slice(authority.lastIndexOf("@") + 1).replace(/:\d*$/, "");
  // The common case: both read the same plain host (parsing it again would cost a microsecond).
  if (host.toLowerCase() === parsed) return parsed;
  try {
    return new URL(`http://${host}/`).hostname;
  } catch {
    return finding("url-ambiguous", "an authority that URL parsers read differently");
  }
}

/** A finding, "name" when the host is a name to resolve, or undefined for a public address. */
function checkHost(host: string, policy: UrlPolicy): Finding | "name" | undefined {
  const address = parseAddress(host);
  if (address) {
    if (policy.allow.hasAddress(address)) return undefined;
    if (policy.block.hasAddress(address)) return finding("url-internal-address", "a blocked address");
    const range = internalRange(address);
    return range ? finding("url-internal-address", `an internal address (${range})`) : undefined;
  }
  const name = normaliseName(host);
  if (name === "") return finding("url-invalid", "a URL without a host");
  if (policy.allow.hasName(name)) return undefined;
  if (policy.block.hasName(name)) return finding("url-internal-host", "a blocked host");
  if (isInternalName(name)) return finding("url-internal-host", "an internal host name");
  if (!name.includes(".")) return finding("url-internal-host", "a single-label (internal) host name");
  return "name";
}

function isInternalName(name: string): boolean {
  return INTERNAL_NAMES.has(name) || INTERNAL_SUFFIXES.some((suffix) => name.endsWith(suffix));
}

function normaliseName(host: string): string {
  return host.toLowerCase().replace(/\.+$/, "");
}
