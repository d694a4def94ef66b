// Bearer access tokens (OAuth 2.1, as the MCP authorization spec requires of a resource server):
// JWTs verified with jose against each configured issuer's keys, with an algorithm allowlist, the
// issuer, the audience (this gateway's resource identifier) and the lifetime checked.
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import {
  createLocalJWKSet,
  createRemoteJWKSet,
  decodeJwt,
  errors as joseErrors,
  jwtVerify,
  type JSONWebKeySet,
  type JWTPayload,
  type JWTVerifyGetKey,
} from "jose";
import type { IdentityConfig } from "../../config/identitySchema.ts";
import { TokenIntrospector } from "./introspection.ts";
import type { Principal } from "../../pipeline/types.ts";

export interface TokenRejection {
  /** RFC 6750 error: invalid_token for anything wrong with the token itself. */
  readonly error: "invalid_token";
  readonly description: string;
  /** The subject the token claimed (unverified unless `signed`). */
  readonly claimedSubject: string | undefined;
  /** True when the signature verified and a claim check failed (expired, wrong audience). */
  readonly signed: boolean;
}

interface IssuerVerifier {
  readonly issuer: string;
  readonly audience: string;
  readonly algorithms: string[];
  readonly keys: JWTVerifyGetKey;
}

export class AccessTokenVerifier {
  private readonly issuers = new Map<string, IssuerVerifier>();
  private readonly config: IdentityConfig;

  private readonly introspector: TokenIntrospector | undefined;

  constructor(config: IdentityConfig, baseDir: string) {
    this.config = config;
    this.introspector = config.introspection
      ? new TokenIntrospector(config.introspection, config.resource)
      : undefined;
    const jwt = config.jwt;
    if (!jwt) return;
    for (const entry of jwt.issuers) {
      const keys = entry.jwksUri
        ? createRemoteJWKSet(new URL(entry.jwksUri), {
            cacheMaxAge: jwt.jwksCacheMaxAgeMs,
            cooldownDuration: jwt.jwksCooldownMs,
            timeoutDuration: 5_000,
          })
        : createLocalJWKSet(
            JSON.parse(readFileSync(resolve(baseDir, entry.jwksFile ?? ""), "utf8")) as JSONWebKeySet,
          );
      this.issuers.set(entry.issuer, {
        issuer: entry.issuer,
        audience: entry.audience ?? config.resource ?? "",
        algorithms: entry.algorithms,
        keys,
      });
    }
  }

  get enabled(): boolean {
    return this.issuers.size > 0 || this.introspector !== undefined;
  }

  async verify(token: string): Promise<Principal | TokenRejection> {
    let unverified: JWTPayload;
    try {
      unverified = decodeJwt(token);
    } catch {
      // Not a JWT: an opaque token only the authorization server can speak for.
      if (this.introspector) return this.verifyOpaque(this.introspector, token);
      return reject("the token is not a JWT", undefined, false);
    }
    if (this.issuers.size === 0 && this.introspector) return this.verifyOpaque(this.introspector, token);
    const claimed = typeof unverified.sub === "string" ? unverified.sub.slice(0, 200) : undefined;
    const issuer = typeof unverified.iss === "string" ? this.issuers.get(unverified.iss) : undefined;
    // Who a forged token claims to be is no evidence against that principal.
    if (!issuer) return reject("the token's issuer is not trusted", claimed, false);
    try {
      const { payload } = await jwtVerify(token, issuer.keys, {
        issuer: issuer.issuer,
        audience: issuer.audience,
        algorithms: issuer.algorithms,
        clockTolerance: this.config.jwt?.clockSkewSeconds ?? 30,
        requiredClaims: ["exp", "sub"],
      });
      const principal = this.principalOf(payload, issuer.issuer);
      // Ids the gateway gives its own principals cannot be claimed by a token.
      if (RESERVED_ID.test(principal.id))
        return reject("the token's subject uses a reserved form", claimed, true);
      return principal;
    } catch (err) {
      // The issuer's keys could not be had: not the caller's fault, and not a failed login.
      if (isVerifierFault(err)) throw err;
      const signed =
        err instanceof joseErrors.JWTExpired || err instanceof joseErrors.JWTClaimValidationFailed;
      return reject(describe(err), claimed, signed);
    }
  }

  private async verifyOpaque(
    introspector: TokenIntrospector,
    token: string,
  ): Promise<Principal | TokenRejection> {
    const answer = await introspector.introspect(token);
    if (!answer.active) return reject(answer.reason, undefined, false);
    // Principals are named under the introspection endpoint, never under an issuer the answer claims:
    // that server speaks for its own tokens, not for a JWT issuer's subjects.
    const principal = this.principalOf(answer.claims, `introspection:${introspector.origin}`);
    if (RESERVED_ID.test(principal.id))
      return reject("the token's subject uses a reserved form", undefined, false);
    return principal;
  }

  private principalOf(payload: JWTPayload, issuer: string): Principal {
    const { claims } = this.config;
    const list = (path: string): string[] => {
      const value = claimAt(payload, path);
      if (typeof value === "string") return value.split(" ").filter(Boolean);
      return Array.isArray(value) ? value.filter((v): v is string => typeof v === "string") : [];
    };
    const text = (path: string): string | undefined => {
      const value = claimAt(payload, path);
      return typeof value === "string" ? value : undefined;
    };
    const amr = claimAt(payload, "amr");
    return {
      id: text(claims.subject) ?? String(payload.sub),
      kind: payload.client_id !== undefined && payload.client_id === payload.sub ? "service" : "user",
      roles: list(claims.roles),
      groups: list(claims.groups),
      scopes: list(claims.scopes),
      tenant: text(claims.tenant),
      clientId: text(claims.clientId) ?? text("client_id"),
      issuer,
      expiresAt: typeof payload.exp === "number" ? payload.exp * 1000 : undefined,
      authTime: typeof payload.auth_time === "number" ? payload.auth_time * 1000 : undefined,
      acr: text("acr"),
      amr: Array.isArray(amr) ? amr.filter((v): v is string => typeof v === "string") : undefined,
      authMethod: "bearer",
    };
  }
}

export function isRejection(value: Principal | TokenRejection): value is TokenRejection {
  return "error" in value;
}

/** The forms of the gateway's own principal ids: API keys, the local user, certificates, anonymous callers. */
const RESERVED_ID = /^(?:key:|local:|mtls:|anonymous(?:@|$)|portcullis-gateway$)/;

function reject(description: string, claimedSubject: string | undefined, signed = false): TokenRejection {
  return { error: "invalid_token", description, claimedSubject, signed };
}

/** Errors in fetching or reading the issuer's keys, as opposed to errors in the token. */
function isVerifierFault(err: unknown): boolean {
  if (!(err instanceof joseErrors.JOSEError)) return true;
  return ["ERR_JWKS_TIMEOUT", "ERR_JWKS_INVALID", "ERR_JOSE_GENERIC"].includes(err.code);
}

/** A reason fit for the client: what was wrong, never key material or the token. */
function describe(err: unknown): string {
  if (err instanceof joseErrors.JWTExpired) return "the token has expired";
  if (err instanceof joseErrors.JWTClaimValidationFailed)
    return `the token's "${err.claim}" claim is not accepted`;
  if (err instanceof joseErrors.JOSEAlgNotAllowed) return "the token's signature algorithm is not accepted";
  if (err instanceof joseErrors.JWSSignatureVerificationFailed)
    return "the token's signature does not verify";
  if (err instanceof joseErrors.JWKSNoMatchingKey) return "no key of the issuer matches the token";
  return "the token is invalid";
}

function claimAt(payload: JWTPayload, path: string): unknown {
  let value: unknown = payload;
  for (const part of path.split(".")) {
    if (value === null || typeof value !== "object") return undefined;
    value = (value as Record<string, unknown>)[part];
  }
  return value;
}
