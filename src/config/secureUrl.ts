// Where the gateway may speak in clear: loopback only. URLs it sends secrets to or trusts answers
// from must be HTTPS, or plain HTTP to loopback (a local sidecar, a test server), since anyone on
// the path could read or forge what travels.
import { isIP } from "node:net";
import { z } from "zod";

/** A loopback host name or address (`localhost`, 127.0.0.0/8, `::1`, with or without brackets). */
export function isLoopbackHost(host: string): boolean {
  const bare = host.startsWith("[") && host.endsWith("]") ? host.slice(1, -1) : host;
  return (
    bare.toLowerCase() === "localhost" || bare === "::1" || (isIP(bare) === 4 && bare.startsWith("127."))
  );
}

export function isHttpsOrLoopback(url: string): boolean {
  try {
    const parsed = new URL(url);
    return parsed.protocol === "https:" || (parsed.protocol === "http:" && isLoopbackHost(parsed.hostname));
  } catch {
    return false;
  }
}

/** An http(s) URL that must be HTTPS unless it is on loopback; `why` says what would be at stake. */
export function secureUrl(why: string) {
  return z.url({ protocol: /^https?$/ }).refine(isHttpsOrLoopback, `${why} (plain HTTP only on loopback)`);
}
