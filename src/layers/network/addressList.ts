// A list of IP addresses and CIDR ranges, parsed and matched with ipaddr.js. An IPv4-mapped IPv6
// address (::ffff:192.0.2.1) is its IPv4 address on both sides, so no notation slips past a range.
import ipaddr from "ipaddr.js";

type Address = ipaddr.IPv4 | ipaddr.IPv6;

interface Range {
  readonly entry: string;
  readonly network: Address;
  readonly bits: number;
}

export class AddressList {
  private readonly ranges: Range[];

  /** `entries`: addresses or CIDR ranges, already validated by the config schema. */
  constructor(entries: readonly string[]) {
    this.ranges = entries.map(parseRange);
  }

  get size(): number {
    return this.ranges.length;
  }

  /** The first entry that covers the address, or undefined (also for text that is not an address). */
  match(address: string | undefined): string | undefined {
    if (address === undefined || this.ranges.length === 0) return undefined;
    const parsed = parseAddress(address);
    if (!parsed) return undefined;
    for (const range of this.ranges) {
      if (range.network.kind() === parsed.kind() && parsed.match(range.network, range.bits))
        return range.entry;
    }
    return undefined;
  }
}

/** The canonical text of an address or range (`::ffff:10.0.0.1` → `10.0.0.1`, `10.1.2.3/8` → `10.0.0.0/8`). */
export function canonicalRange(entry: string): string {
  const { network, bits } = parseRange(entry);
  const full = network.kind() === "ipv4" ? 32 : 128;
  return bits === full ? network.toString() : `${network.toString()}/${bits}`;
}

/** True when `entry` (address or range) covers `address`. */
export function rangeCovers(entry: string, address: string): boolean {
  return new AddressList([entry]).match(address) !== undefined;
}

/** True when two addresses or ranges share any address. */
export function rangesOverlap(a: string, b: string): boolean {
  const x = parseRange(a);
  const y = parseRange(b);
  return x.network.kind() === y.network.kind() && x.network.match(y.network, Math.min(x.bits, y.bits));
}

function parseAddress(text: string): Address | undefined {
  try {
    return ipaddr.process(text);
  } catch {
    return undefined;
  }
}

function parseRange(entry: string): Range {
  if (!entry.includes("/")) {
    const network = ipaddr.process(entry);
    return { entry, network, bits: network.kind() === "ipv4" ? 32 : 128 };
  }
  const [network, bits] = ipaddr.parseCIDR(entry);
  if (network.kind() === "ipv6" && (network as ipaddr.IPv6).isIPv4MappedAddress() && bits >= 96)
    return { entry, network: (network as ipaddr.IPv6).toIPv4Address(), bits: bits - 96 };
  const base = network.kind() === "ipv4" ? ipaddr.IPv4.networkAddressFromCIDR(entry) : networkOf6(entry);
  return { entry, network: base, bits };
}

function networkOf6(entry: string): ipaddr.IPv6 {
  return ipaddr.IPv6.networkAddressFromCIDR(entry);
}
