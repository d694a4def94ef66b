// Credentials an HTTP upstream gets from the gateway, never the client's own: a short-lived JWT the
// gateway signs for the caller it forwards for (subject, roles, session; audience = that upstream),
// or an OAuth 2.1 client-credentials token of the gateway's own. Static headers stay in `headers`.
import { AsyncLocalStorage } from "node:async_hooks";
import { createHash, createPublicKey, type KeyObject } from "node:crypto";
import { exportJWK, SignJWT, type JWK } from "jose";
import { fetch as undiciFetch } from "undici";
import type { Principal } from "../pipeline/types.ts";
import type { SigningKey } from "../audit/signing.ts";

export type UpstreamAuth =
  | { readonly kind: "gateway-jwt"; readonly audience?: string; readonly ttlSeconds: number }
  | {
      readonly kind: "token-exchange";
      readonly tokenUrl: string;
      readonly clientId: string;
      readonly clientSecret: string;
      readonly audience?: string;
      readonly scope?: string;
      readonly resource?: string;
      readonly subjectIssuers: readonly string[];
      readonly withoutCallerToken: "refuse" | "gateway-token";
    }
  | {
      readonly kind: "client-credentials";
      readonly tokenUrl: string;
      readonly clientId: string;
      readonly clientSecret: string;
      readonly scope?: string;
      readonly resource?: string;
    };

export interface UpstreamCaller {
  readonly principal: Principal;
  /** The digest of the client's session, never its id. */
  readonly session: string | undefined;
  /** The caller's own bearer token, for a token exchange only (never sent to an upstream). */
  readonly bearerToken?: string;
}

type Send = (input: string | URL, init?: RequestInit) => Promise<Response>;

const callers = new AsyncLocalStorage<UpstreamCaller>();

/**
 * Runs a forwarded call knowing whom it is for, so that a signed credential names that caller. Only
 * when some upstream's credential depends on the caller: on Node 22 a running AsyncLocalStorage
 * turns on promise hooks for the whole process, a cost every other configuration need not pay.
 */
export function asCaller<T>(caller: UpstreamCaller, call: () => Promise<T>): Promise<T> {
  return callerScoped ? callers.run(caller, call) : call();
}

let callerScoped = false;

/** Whether any upstream of the running config takes a credential that names its caller. */
export function setCallerScoped(upstreams: readonly object[]): void {
  callerScoped = upstreams.some((u) => {
    const kind = (u as { auth?: { kind?: string } }).auth?.kind;
    return kind === "gateway-jwt" || kind === "token-exchange";
  });
}
/**
 * Runs work that is nobody's call (opening a connection, refreshing the shared catalogue, a
 * restart) outside any caller, so that handlers and timers it sets up never carry one along.
 */
export function asGateway<T>(work: () => T): T {
  return callerScoped ? callers.exit(work) : work();
}

/** Signs the JWTs upstreams receive; its public key is published for them at a well-known path. */
export class UpstreamTokenSigner {
  private readonly key: SigningKey;
  private readonly issuer: string;
  private readonly cache = new Map<string, { token: string; renewAt: number }>();
  private jwks: { keys: JWK[] } | undefined;

  constructor(key: SigningKey, issuer: string) {
    this.key = key;
    this.issuer = issuer;
  }

  async publicJwks(): Promise<{ keys: JWK[] }> {
    const publicKey: KeyObject = createPublicKey(this.key.publicKeyPem);
    this.jwks ??= {
      keys: [{ ...(await exportJWK(publicKey)), kid: this.key.keyId, alg: "EdDSA", use: "sig" }],
    };
    return this.jwks;
  }

  /** A token for `caller` to `audience`, reused until a minute before it expires. */
  async tokenFor(caller: UpstreamCaller | undefined, audience: string, ttlSeconds: number): Promise<string> {
    const subject = caller?.principal.id ?? "portcullis-gateway";
    const cacheKey = [subject, caller?.principal.authMethod ?? "", caller?.session ?? "", audience].join(
      "\u0000",
    );
    const now = Date.now();
    const cached = this.cache.get(cacheKey);
    if (cached && cached.renewAt > now) return cached.token;
    const token = await new SignJWT({
      roles: caller?.principal.roles ?? [],
      ...(caller?.principal.tenant ? { tid: caller.principal.tenant } : {}),
      ...(caller?.session ? { sid: caller.session } : {}),
      auth_method: caller?.principal.authMethod ?? "gateway",
      // Who vouched for the subject: one issuer's `alice` is not another's.
      ...(caller?.principal.issuer ? { src_iss: caller.principal.issuer } : {}),
      ...(caller?.principal.device ? { device: caller.principal.device.id } : {}),
    })
      .setProtectedHeader({ alg: "EdDSA", kid: this.key.keyId, typ: "JWT" })
      .setIssuer(this.issuer)
      .setSubject(subject)
      .setAudience(audience)
      .setIssuedAt()
      .setExpirationTime(Math.floor(now / 1000) + ttlSeconds)
      .setJti(crypto.randomUUID())
      .sign(this.key.privateKey);
    if (this.cache.size >= 10_000) this.cache.clear();
    this.cache.set(cacheKey, { token, renewAt: now + Math.max(1, ttlSeconds - 60) * 1000 });
    return token;
  }
}

type OAuthClientConfig = Readonly<{
  tokenUrl: string;
  clientId: string;
  clientSecret: string;
  scope?: string;
  resource?: string;
  audience?: string;
}>;

/** Tokens from an authorization server's token endpoint, cached until shortly before they expire. */
class OAuthTokenClient {
  private readonly auth: OAuthClientConfig;
  private readonly cache = new Map<string, { token: string; renewAt: number }>();
  private readonly pending = new Map<string, Promise<string>>();

  constructor(auth: OAuthClientConfig) {
    this.auth = auth;
  }

  /** The gateway's own token (client credentials grant). */
  clientCredentials(): Promise<string> {
    return this.cached("client", () => this.request({ grant_type: "client_credentials" }));
  }

  /** A token for this upstream in exchange for the caller's (RFC 8693), one per caller token. */
  exchange(subjectToken: string): Promise<string> {
    const key = createHash("sha256").update(subjectToken).digest("base64url");
    return this.cached(key, () =>
      this.request({
        grant_type: "urn:ietf:params:oauth:grant-type:token-exchange",
        subject_token: subjectToken,
        subject_token_type: "urn:ietf:params:oauth:token-type:access_token",
        requested_token_type: "urn:ietf:params:oauth:token-type:access_token",
        ...(this.auth.audience ? { audience: this.auth.audience } : {}),
      }),
    );
  }

  private cached(
    key: string,
    fetchToken: () => Promise<{ token: string; lifetime: number }>,
  ): Promise<string> {
    const hit = this.cache.get(key);
    if (hit && hit.renewAt > Date.now()) return Promise.resolve(hit.token);
    let pending = this.pending.get(key);
    if (!pending) {
      pending = fetchToken()
        .then(({ token, lifetime }) => {
          if (this.cache.size >= 10_000) this.cache.clear();
          this.cache.set(key, { token, renewAt: Date.now() + Math.max(5, lifetime - 30) * 1000 });
          return token;
        })
        .finally(() => this.pending.delete(key));
      this.pending.set(key, pending);
    }
    return pending;
  }

  private async request(grant: Record<string, string>): Promise<{ token: string; lifetime: number }> {
    const { tokenUrl, clientId, clientSecret, scope, resource } = this.auth;
    const form = new URLSearchParams(grant);
    if (scope) form.set("scope", scope);
    if (resource) form.set("resource", resource);
    const basic = Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(clientSecret)}`).toString(
      "base64",
    );
    const res = await undiciFetch(tokenUrl, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", authorization: `Basic ${basic}` },
      body: form.toString(),
      signal: AbortSignal.timeout(10_000),
    });
    const body = (await res.json().catch(() => ({}))) as { access_token?: unknown; expires_in?: unknown };
    if (!res.ok || typeof body.access_token !== "string")
      throw new Error(`the token endpoint answered ${res.status} without an access token`);
    return {
      token: body.access_token,
      lifetime: typeof body.expires_in === "number" ? body.expires_in : 300,
    };
  }
}

/** One token client per configuration, shared by every connection to the upstream (catalogue, sessions). */
const tokenClients = new Map<string, OAuthTokenClient>();

function tokenClientFor(auth: OAuthClientConfig): OAuthTokenClient {
  const { tokenUrl, clientId, clientSecret, scope, resource, audience } = auth;
  const key = [tokenUrl, clientId, clientSecret, scope, resource, audience].join("\u0000");
  let entry = tokenClients.get(key);
  if (!entry) tokenClients.set(key, (entry = new OAuthTokenClient(auth)));
  return entry;
}

let signer: UpstreamTokenSigner | undefined;

/** Set once at start by the runtime when any upstream uses gateway-signed tokens. */
export function setUpstreamTokenSigner(value: UpstreamTokenSigner | undefined): void {
  signer = value;
}

export function upstreamTokenSigner(): UpstreamTokenSigner | undefined {
  return signer;
}

/**
 * A request that could not be given its credential, or whose credential the upstream refused (HTTP
 * 401/403) for the caller it ran for: that caller's business, never a sign of the upstream's health.
 */
export class UpstreamCredentialError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "UpstreamCredentialError";
  }
}

/** A fetch that puts the upstream's own credential on every request it sends. */
export function withUpstreamCredentials(
  auth: UpstreamAuth | undefined,
  upstreamUrl: string,
  send: Send,
): Send {
  if (!auth) return send;
  const tokenFor = credentialSource(auth, upstreamUrl);
  return async (input, init) => {
    const caller = callers.getStore();
    let token: string;
    try {
      token = await tokenFor(caller);
    } catch (err) {
      throw new UpstreamCredentialError(err instanceof Error ? err.message : String(err), { cause: err });
    }
    const headers = new Headers(init?.headers);
    headers.set("authorization", `Bearer ${token}`);
    const response = await send(input, { ...init, headers });
    // The gateway's own requests keep the SDK's handling of an auth wall (its connect-time probe
    // tells them apart); a caller's are told apart here, whichever transport sent them.
    if (caller && (response.status === 401 || response.status === 403)) {
      await response.body?.cancel().catch(() => undefined);
      throw new UpstreamCredentialError(
        `the upstream refused the caller's credential (HTTP ${response.status})`,
      );
    }
    return response;
  };
}

function credentialSource(
  auth: UpstreamAuth,
  upstreamUrl: string,
): (caller: UpstreamCaller | undefined) => Promise<string> {
  switch (auth.kind) {
    case "client-credentials": {
      const client = tokenClientFor(auth);
      return () => client.clientCredentials();
    }
    case "token-exchange": {
      const client = tokenClientFor({ ...auth, audience: auth.audience ?? upstreamUrl });
      return (caller) => {
        // The catalogue and other background work are the gateway's own business.
        if (!caller) return client.clientCredentials();
        const issuer = caller.principal.issuer;
        if (caller.bearerToken && issuer !== undefined && auth.subjectIssuers.includes(issuer))
          return client.exchange(caller.bearerToken);
        if (auth.withoutCallerToken === "gateway-token") return client.clientCredentials();
        throw new Error(
          "this upstream takes a token exchanged for the caller's, and the caller has none from an accepted issuer",
        );
      };
    }
    case "gateway-jwt":
      return (caller) => {
        if (!signer) throw new Error("no key to sign upstream tokens with");
        return signer.tokenFor(caller, auth.audience ?? upstreamUrl, auth.ttlSeconds);
      };
  }
}
