// Which IP addresses a URL argument must not reach: anything that is not global unicast (loopback,
// private, link-local, unique-local, carrier-grade NAT, reserved, multicast, …), the cloud metadata
// services, and IPv4 addresses embedded in IPv6 (mapped, compatible, 6to4, NAT64, translated).
import ipaddr from "ipaddr.js";

type Address = ipaddr.IPv4 | ipaddr.IPv6;

/** Cloud instance metadata and platform services, some of them on public addresses. */
const METADATA = new Set([
  "169.254.169.254", // AWS, GCP, Azure, DigitalOcean, Oracle, OpenStack, …
  "169.254.170.2", // AWS ECS task metadata
  "169.254.169.123", // AWS time sync
  "100.100.100.200", // Alibaba Cloud
  "192.0.0.192", // Oracle Cloud (classic)
  "168.63.129.16", // Azure WireServer (a public address reachable only from inside Azure)
  "fd00:ec2::254", // AWS IMDS over IPv6
  "fd00:ec2::23", // AWS time sync over IPv6
]);

const RANGE_NAMES: Record<string, string> = {
  linkLocal: "link-local",
  uniqueLocal: "unique-local",
  carrierGradeNat: "carrier-grade NAT",
  deprecatedSiteLocal: "site-local",
};

/** Why an address is internal (its range), or undefined for a global unicast address. */
export function internalRange(address: Address): string | undefined {
  const range = rangeOf(address);
  return range === undefined ? undefined : (RANGE_NAMES[range] ?? range);
}

function rangeOf(address: Address): string | undefined {
  if (address.kind() === "ipv6") {
    const v6 = address as ipaddr.IPv6;
    if (v6.isIPv4MappedAddress()) return rangeOf(v6.toIPv4Address());
    return internalRange6(v6);
  }
  if (METADATA.has(address.toString())) return "cloud metadata";
  const range = address.range();
  return range === "unicast" ? undefined : range;
}

function internalRange6(address: ipaddr.IPv6): string | undefined {
  if (METADATA.has(address.toString())) return "cloud metadata";
  const parts = address.parts;
  const range = address.range();
  switch (range) {
    case "unicast":
      // Global unicast is 2000::/3; the rest is unassigned, and ::/96 is IPv4-compatible (deprecated).
      return ((parts[0] ?? 0) & 0xe000) === 0x2000 ? undefined : "reserved";
    case "6to4":
      return embedded(parts[1] ?? 0, parts[2] ?? 0, "6to4");
    case "rfc6145":
      return embedded(parts[6] ?? 0, parts[7] ?? 0, "IPv4-translated");
    case "rfc6052":
      // The well-known NAT64 prefix carries the IPv4 address in its last 32 bits; local-use ones vary.
      return parts[2] === 0 ? embedded(parts[6] ?? 0, parts[7] ?? 0, "NAT64") : "NAT64 local use";
    default:
      return range;
  }
}

function embedded(high: number, low: number, via: string): string | undefined {
  const v4 = new ipaddr.IPv4([high >> 8, high & 0xff, low >> 8, low & 0xff]);
  const inner = internalRange(v4);
  return inner ? `${inner} via ${via}` : undefined;
}

/**
 * Parses an address: dotted-decimal IPv4 (WHATWG URL has already rewritten every other notation) or
 * IPv6 with or without brackets; undefined for anything else. Host names are told apart first,
 * because ipaddr.js takes tens of microseconds to reject one.
 */
export function parseAddress(text: string): Address | undefined {
  const bare = text.startsWith("[") && text.endsWith("]") ? text.slice(1, -1) : text;
  if (!/^\d{1,3}(?:\.\d{1,3}){3}$/.test(bare) && !bare.includes(":")) return undefined;
  try {
    return ipaddr.parse(bare);
  } catch {
    return undefined;
  }
}

/** A set of IP ranges (from `allowHosts` and `blockHosts`). */
export class RangeSet {
  private readonly ranges: [Address, number][];

  constructor(entries: readonly string[]) {
    this.ranges = entries.map((entry) => {
      if (entry.includes("/")) return ipaddr.parseCIDR(entry);
      const address = ipaddr.parse(entry);
      return [address, address.kind() === "ipv4" ? 32 : 128];
    });
  }

  has(address: Address): boolean {
    const plain =
      address.kind() === "ipv6" && (address as ipaddr.IPv6).isIPv4MappedAddress()
        ? (address as ipaddr.IPv6).toIPv4Address()
        : address;
    return this.ranges.some(
      ([network, bits]) => network.kind() === plain.kind() && plain.match(network, bits),
    );
  }
}
