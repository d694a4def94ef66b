// The CEL environment policy conditions are compiled in: the variables a condition may read (typed,
// so that `policy validate` catches a misspelt field) and the functions policies need: CIDR
// membership (ipaddr.js), the country of an address (offline GeoIP), local time in a named zone.
import { Environment } from "@marcbachmann/cel-js";
import ipaddr from "ipaddr.js";
import { countryOf } from "../network/geo.ts";

const usageWindows = { minute: "int", hour: "int", day: "int" } as const;

/** What a condition sees; documented in docs/authorization.md. Integers are BigInt, as CEL's `int`. */
export function policyEnvironment(): Environment {
  return new Environment({ unlistedVariablesAreDyn: false, limits: { maxAstNodes: 2_000, maxDepth: 64 } })
    .registerVariable({
      name: "principal",
      schema: {
        id: "string",
        kind: "string",
        authMethod: "string",
        roles: "list<string>",
        groups: "list<string>",
        scopes: "list<string>",
        tenant: "string",
        issuer: "string",
        clientId: "string",
        acr: "string",
        amr: "list<string>",
        mfa: "bool",
        authAgeSeconds: "int",
        device: { id: "string", verified: "bool" },
      },
    })
    .registerVariable("action", "string")
    .registerVariable({
      name: "resource",
      schema: {
        kind: "string",
        name: "string",
        upstream: "string",
        labels: "map<string, string>",
        annotations: "map<string, dyn>",
      },
    })
    .registerVariable({
      name: "request",
      schema: {
        address: "string",
        country: "string",
        transport: "string",
        era: "string",
        hour: "int",
        minute: "int",
        weekday: "string",
        ratePerMinute: "int",
      },
    })
    .registerVariable("now", "google.protobuf.Timestamp")
    .registerVariable({
      name: "trust",
      schema: {
        known: "bool",
        score: "double",
        reputation: "double",
        device: "double",
        location: "double",
        behaviour: "double",
        unusual: "list<string>",
      },
    })
    .registerVariable({ name: "session", schema: { labels: "list<string>" } })
    .registerVariable({ name: "usage", schema: { tool: usageWindows, all: usageWindows } })
    .registerVariable("args", "map<string, dyn>")
    .registerFunction("inCidr(string, string): bool", (address: string, cidr: string) =>
      inCidr(address, [cidr]),
    )
    .registerFunction("inCidr(string, list<string>): bool", (address: string, cidrs: string[]) =>
      inCidr(address, cidrs),
    )
    .registerFunction("country(string): string", (address: string) => countryOf(address) ?? "")
    .registerFunction(
      "withinHours(google.protobuf.Timestamp, string, string, string): bool",
      (time: Date, from: string, to: string, zone: string) => withinHours(time, from, to, zone),
    )
    .registerFunction("hourIn(google.protobuf.Timestamp, string): int", (time: Date, zone: string) =>
      BigInt(localTime(time, zone).hour),
    )
    .registerFunction(
      "weekdayIn(google.protobuf.Timestamp, string): string",
      (time: Date, zone: string) => localTime(time, zone).weekday,
    );
}

const cidrCache = new Map<string, [ipaddr.IPv4 | ipaddr.IPv6, number]>();

/** Whether an address lies in any of the CIDR ranges (IPv4 and IPv6; IPv4-mapped IPv6 counts as IPv4). */
export function inCidr(address: string, cidrs: readonly string[]): boolean {
  if (address === "" || !ipaddr.isValid(address)) return false;
  let parsed = ipaddr.parse(address);
  if (parsed.kind() === "ipv6" && (parsed as ipaddr.IPv6).isIPv4MappedAddress())
    parsed = (parsed as ipaddr.IPv6).toIPv4Address();
  for (const cidr of cidrs) {
    const range = parsedCidr(cidr);
    if (range[0].kind() === parsed.kind() && parsed.match(range)) return true;
  }
  return false;
}

function parsedCidr(cidr: string): [ipaddr.IPv4 | ipaddr.IPv6, number] {
  let range = cidrCache.get(cidr);
  if (!range) {
    // A bare address is its own /32 or /128; a malformed range throws (the policy errs: deny).
    range = cidr.includes("/") ? ipaddr.parseCIDR(cidr) : singleAddress(cidr);
    if (cidrCache.size < 10_000) cidrCache.set(cidr, range);
  }
  return range;
}

function singleAddress(text: string): [ipaddr.IPv4 | ipaddr.IPv6, number] {
  const address = ipaddr.parse(text);
  return [address, address.kind() === "ipv4" ? 32 : 128];
}

const formatters = new Map<string, Intl.DateTimeFormat>();

type LocalTime = { hour: number; minute: number; weekday: string };

/** The last answer per zone: the local hour, minute and weekday change once a minute at most. */
const lastMinute = new Map<string, { readonly minute: number; readonly value: LocalTime }>();

/** Hour, minute and weekday of a time in an IANA zone; an unknown zone throws (the policy errs: deny). */
export function localTime(time: Date, zone: string): LocalTime {
  // Zones are offset by whole minutes, so one UTC minute is one local minute.
  const minute = Math.floor(time.getTime() / 60_000);
  const last = lastMinute.get(zone);
  if (last?.minute === minute) return last.value;
  const value = formatLocalTime(time, zone);
  if (lastMinute.size < 1_000) lastMinute.set(zone, { minute, value });
  else lastMinute.clear();
  return value;
}

function formatLocalTime(time: Date, zone: string): LocalTime {
  let format = formatters.get(zone);
  if (!format) {
    format = new Intl.DateTimeFormat("en-US", {
      timeZone: zone,
      hourCycle: "h23",
      hour: "numeric",
      minute: "numeric",
      weekday: "short",
    });
    formatters.set(zone, format);
  }
  let hour = 0;
  let minute = 0;
  let weekday = "";
  for (const part of format.formatToParts(time)) {
    if (part.type === "hour") hour = Number(part.value);
    else if (part.type === "minute") minute = Number(part.value);
    else if (part.type === "weekday") weekday = part.value;
  }
  return { hour, minute, weekday };
}

/** Whether the local time lies in [from, to); a window like 22:00–06:00 wraps past midnight. */
export function withinHours(time: Date, from: string, to: string, zone: string): boolean {
  const start = minutesOf(from);
  const end = minutesOf(to);
  const { hour, minute } = localTime(time, zone);
  const now = hour * 60 + minute;
  return start <= end ? now >= start && now < end : now >= start || now < end;
}

function minutesOf(text: string): number {
  const match = /^([01]?\d|2[0-3]):([0-5]\d)$/.exec(text);
  if (!match) throw new Error(`"${text}" is not a time of day (HH:MM)`);
  return Number(match[1]) * 60 + Number(match[2]);
}

/** Whether a zone name is one the runtime knows (checked when policies compile). */
export function isTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}
