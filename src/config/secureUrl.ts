// URLs the gateway sends secrets or trusts answers from: HTTPS, or plain HTTP only to loopback
// (a local sidecar, a test server), since anyone on the path could read or forge what travels.
import { z } from "zod";

export function isHttpsOrLoopback(url: string): boolean {
  return url.startsWith("https://") || /^http:\/\/(127\.\d+\.\d+\.\d+|localhost|\[::1\])(:|\/|$)/.test(url);
}

/** An http(s) URL that must be HTTPS unless it is on loopback; `why` says what would be at stake. */
export function secureUrl(why: string) {
  return z.url({ protocol: /^https?$/ }).refine(isHttpsOrLoopback, `${why} (plain HTTP only on loopback)`);
}
