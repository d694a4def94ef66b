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
  /** Refuse tokens whose introspection names no audience at all. */
  readonly requireAudience: boolean;
}

export type Introspected =
  | { readonly active: true; readonly claims: Record<string, unknown> }
  | { readonly active: false; readonly reason: string };

const MAX_CACHED = 10_000;

export class TokenIntrospector {
  private readonly config: IntrospectionConfig;
  private readonly audience: string | undefined;
  private readonly cache = new Map<string, { answer: Introspected; until: number }>();
  private readonly inFlight = new Map<string, Promise<Introspected>>();

  constructor(config: IntrospectionConfig, audience: string | undefined) {
    this.config = config;
    this.audience = audience;
  }

  /** The endpoint's origin: the namespace of the principals it vouches for. */
  get origin(): string {
    return new URL(this.config.endpoint).origin;
  }

  /** The token's claims when the server says it is active and for this resource; throws when it cannot be asked. */
  async introspect(token: string, now = Date.now()): Promise<Introspected> {
    const key = createHash("sha256").update(token).digest("base64url");
    const cached = this.cache.get(key);
    if (cached && cached.until > now) return cached.answer;
    // Concurrent requests with one token ask once.
    let asking = this.inFlight.get(key);
    if (!asking) {
      asking = this.ask(token, now).finally(() => this.inFlight.delete(key));
      this.inFlight.set(key, asking);
    }
    const answer = await asking;
    const exp = answer.active && typeof answer.claims.exp === "number" ? answer.claims.exp * 1000 : Infinity;
    // Refusals are cached briefly too, so a flood of bad tokens does not become a flood of requests.
    const until = Math.min(now + (answer.active ? this.config.cacheSeconds : 10) * 1000, exp);
    // The oldest entries go first; a flood of bad tokens does not evict every good answer at once.
    while (this.cache.size >= MAX_CACHED) {
      const oldest = this.cache.keys().next();
      if (oldest.done) break;
      this.cache.delete(oldest.value);
    }
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
    // A refresh token the server calls active is still not an access token.
    const tokenType = claims.token_type;
    if (
      tokenType !== undefined &&
      !(typeof tokenType === "string" && /^(access_token|bearer)$/i.test(tokenType))
    )
      return { active: false, reason: "the token is not an access token" };
    if (typeof claims.nbf === "number" && claims.nbf * 1000 > now)
      return { active: false, reason: "the token is not valid yet" };
    if (typeof claims.exp === "number" && claims.exp * 1000 <= now)
      return { active: false, reason: "the token has expired" };
    const audiences = Array.isArray(claims.aud) ? claims.aud : claims.aud === undefined ? [] : [claims.aud];
    if (this.config.requireAudience && audiences.length === 0)
      return { active: false, reason: "the token names no audience" };
    if (this.audience && audiences.length > 0 && !audiences.includes(this.audience))
      return { active: false, reason: `the token's "aud" claim is not accepted` };
    if (typeof claims.sub !== "string" || claims.sub === "")
      return { active: false, reason: "the token names no subject" };
    return { active: true, claims };
  }
}
