// Credentials an HTTP upstream gets from the gateway, never the client's own: a short-lived JWT the
// gateway signs for the caller it forwards for (subject, roles, session; audience = that upstream),
// or an OAuth 2.1 client-credentials token of the gateway's own. Static headers stay in `headers`.
import { AsyncLocalStorage } from "node:async_hooks";
import { createPublicKey, type KeyObject } from "node:crypto";
import { exportJWK, SignJWT, type JWK } from "jose";
import { fetch as undiciFetch } from "undici";
import type { Principal } from "../pipeline/types.ts";
import type { SigningKey } from "../audit/signing.ts";

export type UpstreamAuth =
  | { readonly kind: "gateway-jwt"; readonly audience?: string; readonly ttlSeconds: number }
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
}

type Send = (input: string | URL, init?: RequestInit) => Promise<Response>;

const callers = new AsyncLocalStorage<UpstreamCaller>();

/** Runs a forwarded call knowing whom it is for, so that a signed credential names that caller. */
export function asCaller<T>(caller: UpstreamCaller, call: () => Promise<T>): Promise<T> {
  return callers.run(caller, call);
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

/** The gateway's own access token from an authorization server (client credentials grant), cached. */
class ClientCredentials {
  private readonly auth: Extract<UpstreamAuth, { kind: "client-credentials" }>;
  private current: { token: string; renewAt: number } | undefined;
  private pending: Promise<string> | undefined;

  constructor(auth: Extract<UpstreamAuth, { kind: "client-credentials" }>) {
    this.auth = auth;
  }

  token(): Promise<string> {
    if (this.current && this.current.renewAt > Date.now()) return Promise.resolve(this.current.token);
    this.pending ??= this.fetchToken().finally(() => (this.pending = undefined));
    return this.pending;
  }

  private async fetchToken(): Promise<string> {
    const { tokenUrl, clientId, clientSecret, scope, resource } = this.auth;
    const form = new URLSearchParams({ grant_type: "client_credentials" });
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
    const lifetime = typeof body.expires_in === "number" ? body.expires_in : 300;
    this.current = { token: body.access_token, renewAt: Date.now() + Math.max(5, lifetime - 30) * 1000 };
    return body.access_token;
  }
}

/** One token per client and audience, shared by every connection to the upstream (catalogue, sessions). */
const clientCredentials = new Map<string, ClientCredentials>();

function clientCredentialsFor(
  auth: Extract<UpstreamAuth, { kind: "client-credentials" }>,
): ClientCredentials {
  const key = [auth.tokenUrl, auth.clientId, auth.clientSecret, auth.scope ?? "", auth.resource ?? ""].join(
    "\u0000",
  );
  let entry = clientCredentials.get(key);
  if (!entry) clientCredentials.set(key, (entry = new ClientCredentials(auth)));
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

/** A fetch that puts the upstream's own credential on every request it sends. */
export function withUpstreamCredentials(
  auth: UpstreamAuth | undefined,
  upstreamUrl: string,
  send: Send,
): Send {
  if (!auth) return send;
  const credentials = auth.kind === "client-credentials" ? clientCredentialsFor(auth) : undefined;
  return async (input, init) => {
    let token: string;
    if (credentials) token = await credentials.token();
    else {
      if (!signer) throw new Error("no key to sign upstream tokens with");
      const gatewayJwt = auth as Extract<UpstreamAuth, { kind: "gateway-jwt" }>;
      token = await signer.tokenFor(
        callers.getStore(),
        gatewayJwt.audience ?? upstreamUrl,
        gatewayJwt.ttlSeconds,
      );
    }
    const headers = new Headers(init?.headers);
    headers.set("authorization", `Bearer ${token}`);
    return send(input, { ...init, headers });
  };
}
