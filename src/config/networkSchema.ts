// The config of the network layer (`network`): static allow and deny lists, which forwarding header
// trusted proxies write, connection caps, slow-client timeouts and the shape limits of a request.
import ipaddr from "ipaddr.js";
import { z } from "zod";

/** An IPv4 or IPv6 address or CIDR range, checked with ipaddr.js (never by hand). */
export const cidrEntry = z
  .string()
  .refine(isAddressOrRange, "an IP address or CIDR range, e.g. 10.0.0.0/8 or 2001:db8::/32");

/** Strict forms only: four-part decimal IPv4 or IPv6, with an optional prefix length in range. */
export function isAddressOrRange(entry: string): boolean {
  const [address = "", prefix, extra] = entry.split("/");
  if (extra !== undefined) return false;
  if (!ipaddr.IPv4.isValidFourPartDecimal(address) && !ipaddr.IPv6.isValid(address)) return false;
  if (prefix === undefined) return true;
  try {
    ipaddr.parseCIDR(entry);
    return /^\d{1,3}$/.test(prefix);
  } catch {
    return false;
  }
}

const count = (fallback: number, min: number, max: number, description: string) =>
  z.number().int().min(min).max(max).default(fallback).describe(description);

export const networkSection = z
  .strictObject({
    allow: z
      .array(cidrEntry)
      .default([])
      .describe(
        "Client addresses or CIDR ranges that may connect; empty (the default) allows every address the deny list does not name. Checked before the body is read or any credential parsed (403 PORTCULLIS_E_ADDRESS_DENIED).",
      ),
    deny: z
      .array(cidrEntry)
      .default([])
      .describe("Client addresses or CIDR ranges refused; a deny beats an allow."),
    forwardedHeader: z
      .enum(["x-forwarded-for", "forwarded"])
      .default("x-forwarded-for")
      .describe(
        "Which header the trusted proxies (server.trustedProxies) write the client's address into: X-Forwarded-For, or RFC 7239 Forwarded (for=). Only that one is read, and only from a trusted proxy: a proxy that passes the other one through unchanged cannot be used to spoof an address.",
      ),
    maxConnections: count(
      10_000,
      1,
      1_000_000,
      "Most TCP connections the HTTP listener holds at once; beyond it new connections are closed at once.",
    ),
    maxConnectionsPerAddress: count(
      64,
      1,
      100_000,
      "Most TCP connections one peer address holds at once; beyond it its new connections are closed before TLS or HTTP is spoken. Trusted proxies are exempt (they carry many clients).",
    ),
    headersTimeoutMs: count(
      10_000,
      1_000,
      120_000,
      "A client that has not sent its whole request head in this time is cut off (408), against slow-header (slowloris) clients.",
    ),
    maxStringLength: count(
      1_048_576,
      1_024,
      256 * 1024 * 1024,
      "Longest string (in characters, escapes counted as written) accepted anywhere in a request body (400 PORTCULLIS_E_STRING_TOO_LONG).",
    ),
    maxStreamsPerSession: count(
      32,
      1,
      10_000,
      "Most requests and streams (SSE GET streams, subscriptions/listen) one client has open at once: per session for 2025-era clients, per principal (anonymous callers: per address, IPv6 per /64) for all of its 2026-07-28 clients together (429 PORTCULLIS_E_TOO_MANY_STREAMS).",
    ),
    maxSessionsPerPrincipal: count(
      64,
      1,
      1_000_000,
      "Most client sessions (2025 sessions and 2026-07-28 client state together) one principal holds at once; anonymous callers are counted per address (IPv6 per /64). Beyond it a new session is refused (503 PORTCULLIS_E_TOO_MANY_SESSIONS, rule max-sessions-per-principal), so that one principal cannot fill server.maxSessions for everyone.",
    ),
  })
  .prefault({})
  .describe(
    "The network layer: who may connect, how many connections, how slow, how big. Dynamic blocks (detector responses, `portcullis block add`) are enforced here too.",
  );

export type NetworkConfig = z.output<typeof networkSection>;
