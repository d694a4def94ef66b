// The client's address as the network layer sees it: the connection's peer, or, when the peer is a
// trusted proxy (`server.trustedProxies`), the right-most entry of the configured forwarding header
// (X-Forwarded-For, or RFC 7239 Forwarded) that is not one of those proxies. Entries left of it were
// written by the client and are never believed; the other header is never read at all.
import type { IncomingMessage } from "node:http";
import { BlockList, isIP } from "node:net";
import parseForwarded from "forwarded-parse";
import { GatewayError } from "../../errors.ts";
import { normalizeAddress } from "../../state/enforcements.ts";

export class ClientAddressResolver {
  private readonly trusted = new BlockList();
  private readonly any: boolean;
  private readonly header: ForwardingHeader;

  /** `proxies`: addresses or CIDR ranges (`10.0.0.0/8`, `fd00::/8`). */
  constructor(proxies: readonly string[], header: ForwardingHeader = "x-forwarded-for") {
    this.header = header;
    for (const entry of proxies) {
      const [address = "", prefix] = entry.split("/");
      const family = isIP(address) === 6 ? "ipv6" : "ipv4";
      if (prefix === undefined) this.trusted.addAddress(address, family);
      else this.trusted.addSubnet(address, Number(prefix), family);
    }
    this.any = proxies.length > 0;
  }

  isTrustedProxy(address: string | undefined): boolean {
    if (!this.any || address === undefined) return false;
    const normal = normalizeAddress(address);
    return this.trusted.check(normal, isIP(normal) === 6 ? "ipv6" : "ipv4");
  }

  /**
   * The client's address. Behind a trusted proxy, a hop the proxies wrote that cannot be read (not an
   * address, `unknown`, obfuscated, unparsable) before the first untrusted one is refused with 400
   * PORTCULLIS_E_FORWARDING_HEADER: taking the proxy as the client would let that client pass for
   * everyone behind the proxy, which is never blocked.
   */
  resolve(req: IncomingMessage): string | undefined {
    const peer = req.socket.remoteAddress;
    if (!this.isTrustedProxy(peer)) return peer;
    const hops = this.header === "forwarded" ? forwardedHops(req) : xForwardedForHops(req);
    // Right to left: the proxies' own entries first; anything left of the client's is the client's say.
    for (let i = hops.length - 1; i >= 0; i--) {
      const hop = hops[i] ?? "";
      if (isIP(hop) === 0) throw unreadable(this.header, hop);
      if (!this.isTrustedProxy(hop)) return normalizeAddress(hop);
    }
    // No header (a health check from the proxy itself), or every hop a trusted proxy: the left-most.
    return hops[0] === undefined ? peer : normalizeAddress(hops[0]);
  }
}

function unreadable(header: ForwardingHeader, hop: string): GatewayError {
  const shown = hop.length > 64 ? `${hop.slice(0, 64)}…` : hop;
  return new GatewayError("PORTCULLIS_E_FORWARDING_HEADER", `${header}: cannot read the hop "${shown}"`, {
    layer: "network",
    rule: "forwarding-header",
  });
}

export type ForwardingHeader = "x-forwarded-for" | "forwarded";

function xForwardedForHops(req: IncomingMessage): string[] {
  return (req.headersDistinct["x-forwarded-for"] ?? [])
    .join(",")
    .split(",")
    .map((hop) => withoutPort(hop.trim()))
    .filter(Boolean);
}

/**
 * The `for=` of each RFC 7239 element, in order. Elements are parsed one by one (for= values never
 * hold a comma), so that garbage a client put in its own element cannot spoil the proxies' ones;
 * an element that does not parse, or has no for=, is a hop that cannot be read.
 */
function forwardedHops(req: IncomingMessage): string[] {
  const headers = req.headersDistinct.forwarded;
  if (!headers) return [];
  return headers
    .join(",")
    .split(",")
    .map((element) => {
      try {
        return withoutPort(parseForwarded(element.trim())[0]?.for ?? "unknown");
      } catch {
        return "unreadable";
      }
    });
}

/** Some proxies write `203.0.113.7:51234` or `[2001:db8::1]:443`; the address is what counts. */
function withoutPort(hop: string): string {
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(hop);
  if (bracketed?.[1]) return bracketed[1];
  const v4 = /^(\d+\.\d+\.\d+\.\d+):\d+$/.exec(hop);
  return v4?.[1] ?? hop;
}

const resolvers = new WeakMap<readonly string[], Map<ForwardingHeader, ClientAddressResolver>>();

/** The resolver for a config's `trustedProxies` list, built once per list (a reload brings a new one). */
export function clientAddressResolver(
  proxies: readonly string[],
  header: ForwardingHeader = "x-forwarded-for",
): ClientAddressResolver {
  let byHeader = resolvers.get(proxies);
  if (!byHeader) resolvers.set(proxies, (byHeader = new Map<ForwardingHeader, ClientAddressResolver>()));
  let resolver = byHeader.get(header);
  if (!resolver) byHeader.set(header, (resolver = new ClientAddressResolver(proxies, header)));
  return resolver;
}
