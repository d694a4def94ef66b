// Opaque access tokens, checked with the authorization server (RFC 7662 token introspection): the
// gateway authenticates to the introspection endpoint as a client, accepts only an `active` token
// issued for this resource, and caches answers briefly (keyed by a hash, never the token itself).
import { createHash } from "node:crypto";
import { fetch as undiciFetch } from "undici";

export interface IntrospectionConfig {
  readonly endpoint: string;
  readonly clientId: string;
  readonly clientSecret: string;
  readonly cacheSeconds: number;
}

export type Introspected =
  | { readonly active: true; readonly claims: Record<string, unknown> }
  | { readonly active: false; readonly reason: string };

const MAX_CACHED = 10_000;

export class TokenIntrospector {
  private readonly config: IntrospectionConfig;
  private readonly audience: string | undefined;
  private readonly cache = new Map<string, { answer: Introspected; until: number }>();

  constructor(config: IntrospectionConfig, audience: string | undefined) {
    this.config = config;
    this.audience = audience;
  }

  /** The token's claims when the server says it is active and for this resource; throws when it cannot be asked. */
  async introspect(token: string, now = Date.now()): Promise<Introspected> {
    const key = createHash("sha256").update(token).digest("base64url");
    const cached = this.cache.get(key);
    if (cached && cached.until > now) return cached.answer;
    const answer = await this.ask(token, now);
    const exp = answer.active && typeof answer.claims.exp === "number" ? answer.claims.exp * 1000 : Infinity;
    // Refusals are cached briefly too, so a flood of bad tokens does not become a flood of requests.
    const until = Math.min(now + (answer.active ? this.config.cacheSeconds : 10) * 1000, exp);
    if (this.cache.size >= MAX_CACHED) this.cache.clear();
    this.cache.set(key, { answer, until });
    return answer;
  }

  private async ask(token: string, now: number): Promise<Introspected> {
    const basic = Buffer.from(
      `${encodeURIComponent(this.config.clientId)}:${encodeURIComponent(this.config.clientSecret)}`,
    ).toString("base64");
    const res = await undiciFetch(this.config.endpoint, {
      method: "POST",
      headers: {
        "content-type": "application/x-www-form-urlencoded",
        accept: "application/json",
        authorization: `Basic ${basic}`,
      },
      body: new URLSearchParams({ token, token_type_hint: "access_token" }).toString(),
      signal: AbortSignal.timeout(5_000),
    });
    if (!res.ok) throw new Error(`the introspection endpoint answered ${res.status}`);
    const claims = (await res.json()) as Record<string, unknown>;
    if (claims.active !== true) return { active: false, reason: "the token is not active" };
    if (typeof claims.exp === "number" && claims.exp * 1000 <= now)
      return { active: false, reason: "the token has expired" };
    const audiences = Array.isArray(claims.aud) ? claims.aud : claims.aud === undefined ? [] : [claims.aud];
    if (this.audience && audiences.length > 0 && !audiences.includes(this.audience))
      return { active: false, reason: `the token's "aud" claim is not accepted` };
    if (typeof claims.sub !== "string" || claims.sub === "")
      return { active: false, reason: "the token names no subject" };
    return { active: true, claims };
  }
}
