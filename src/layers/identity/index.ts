// The identity layer of the edge stage: every HTTP request to the MCP endpoint authenticates on its
// own (a bearer JWT or an API key), whoever sent it and whatever session it names. Failures answer
// as RFC 6750 and RFC 9728 say, so that clients can find the authorization server.
import type { IncomingMessage } from "node:http";
import type { TLSSocket } from "node:tls";
import { resolve } from "node:path";
import type { IdentityConfig } from "../../config/identitySchema.ts";
import { GatewayError } from "../../errors.ts";
import { anonymousPrincipal, type Principal } from "../../pipeline/types.ts";
import { AccessTokenVerifier, isRejection } from "./accessTokens.ts";
import { ApiKeyVerifier, looksLikeApiKey } from "./apiKeys.ts";
import { namePatterns } from "../../federation/namePattern.ts";

export type Authentication =
  | { readonly ok: true; readonly principal: Principal }
  | {
      readonly ok: false;
      readonly error: GatewayError;
      /** The WWW-Authenticate header to send with a 401. */
      readonly challenge: string | undefined;
      /** Who the credential claimed to be (unverified), for detectors that count identities tried. */
      readonly claimed: string | undefined;
      /** Whose genuine credential failed (a verified signature, or an API key id): evidence about that principal. */
      readonly principal: string | undefined;
      /** Whether this counts as a failed authentication (a wrong credential), not a missing one. */
      readonly attempted: boolean;
    };

const WELL_KNOWN = "/.well-known/oauth-protected-resource";

/** The bearer token each verified principal presented, in memory only, for RFC 8693 exchanges. */
const presentedTokens = new WeakMap<Principal, string>();

/** The bearer token `principal` was verified from (a JWT or opaque token), if any. */
export function bearerTokenOf(principal: Principal): string | undefined {
  return presentedTokens.get(principal);
}

export class Authenticator {
  private readonly tokens: AccessTokenVerifier;
  private readonly keys: ApiKeyVerifier | undefined;
  private readonly config: IdentityConfig;
  private readonly mutualTls: "off" | "optional" | "required";
  private compiledScopes:
    { scope: string; applies: (method: string, tool: string | undefined) => boolean }[] | undefined;

  constructor(config: IdentityConfig, baseDir: string, mutualTls: "off" | "optional" | "required" = "off") {
    this.config = config;
    this.mutualTls = mutualTls;
    this.tokens = new AccessTokenVerifier(config, baseDir);
    this.keys = config.apiKeys ? new ApiKeyVerifier(resolve(baseDir, config.apiKeys.file)) : undefined;
  }

  /** True when HTTP callers must authenticate (any method is configured). */
  get required(): boolean {
    return this.tokens.enabled || this.keys !== undefined || this.mutualTls !== "off";
  }

  /** The paths the protected resource metadata is served at (plain and path-suffixed, RFC 9728 §3.1). */
  metadataPaths(endpointPath: string): string[] {
    if (!this.config.resource) return [];
    const resourcePath = new URL(this.config.resource).pathname.replace(/\/$/, "");
    return [...new Set([WELL_KNOWN, `${WELL_KNOWN}${resourcePath}`, `${WELL_KNOWN}${endpointPath}`])];
  }

  /** RFC 9728 protected resource metadata. */
  metadata(): Record<string, unknown> {
    return {
      resource: this.config.resource,
      authorization_servers: this.config.jwt?.issuers.map((i) => i.issuer) ?? [],
      bearer_methods_supported: ["header"],
      ...(this.config.scopesSupported.length > 0 ? { scopes_supported: this.config.scopesSupported } : {}),
      resource_name: "Portcullis MCP gateway",
    };
  }

  /**
   * Whether a session's credential still holds: false once the token it last presented has expired
   * (with the configured skew) or its API key was revoked or expired, so its streams can be ended.
   */
  credentialHolds(principal: Principal, expiresAt: number | undefined, now = Date.now()): boolean {
    if (principal.authMethod === "api-key")
      return this.keys?.isActive(principal.clientId ?? "", now) ?? false;
    if (principal.authMethod === "mtls")
      return principal.expiresAt === undefined || now <= principal.expiresAt;
    if (principal.authMethod !== "bearer") return true;
    const skewMs = (this.config.jwt?.clockSkewSeconds ?? 0) * 1000;
    return expiresAt === undefined || now <= expiresAt + skewMs;
  }

  async authenticate(req: IncomingMessage): Promise<Authentication> {
    if (!this.required) return { ok: true, principal: anonymousPrincipal };
    if (/[?&](access_token|api_key|apikey|token)=/i.test(req.url ?? ""))
      return this.fail(
        "credentials in the URL are refused; send them in the Authorization header",
        "invalid_request",
        false,
      );
    const authorization = req.headersDistinct.authorization ?? [];
    const apiKeyHeader = req.headersDistinct["x-api-key"] ?? [];
    if (authorization.length + apiKeyHeader.length > 1)
      return this.fail("send one credential per request", "invalid_request", true);
    const device = this.deviceOf(req);
    if (device === "untrusted")
      return this.fail("the client certificate does not chain to a trusted CA", "invalid_request", true);
    const bearer = /^Bearer ([A-Za-z0-9._~+/-]+=*)$/i.exec(authorization[0] ?? "")?.[1];
    const credential = bearer ?? apiKeyHeader[0];
    if (!credential) {
      if (authorization[0] !== undefined)
        return this.fail("the Authorization header is not a bearer token", "invalid_request", true);
      // A verified certificate alone identifies a device or service.
      if (device)
        return {
          ok: true,
          principal: {
            id: `mtls:${device.id}`,
            kind: "service",
            roles: [],
            authMethod: "mtls",
            device,
            // The certificate's end is the credential's end: its sessions close then.
            expiresAt: Number.isNaN(device.notAfter) ? undefined : device.notAfter,
          },
        };
      return this.fail(undefined, undefined, false);
    }
    const withDevice = (principal: Principal): Authentication => ({
      ok: true,
      principal: device ? { ...principal, device } : principal,
    });
    try {
      if (looksLikeApiKey(credential)) {
        if (!this.keys) return this.fail("API keys are not accepted here", "invalid_token", true);
        const checked = this.keys.verify(credential);
        if ("rejected" in checked)
          return this.fail(checked.rejected, "invalid_token", true, {
            claimed: checked.keyId && `key-id:${checked.keyId}`,
            principal: checked.owner,
          });
        return withDevice(checked);
      }
      if (!this.tokens.enabled)
        return this.fail("bearer tokens are not accepted here", "invalid_token", true);
      const verified = await this.tokens.verify(credential);
      if (isRejection(verified))
        return this.fail(verified.description, "invalid_token", true, {
          claimed: verified.claimedSubject,
          principal: verified.signed ? verified.claimedSubject : undefined,
        });
      const authenticated = withDevice(verified);
      if (authenticated.ok) presentedTokens.set(authenticated.principal, credential);
      return authenticated;
    } catch {
      // Fail-secure: a key store that cannot be read, an issuer that cannot be reached.
      return {
        ok: false,
        error: new GatewayError("PORTCULLIS_E_IDENTITY_UNAVAILABLE", undefined, {
          layer: "identity",
          rule: "verifier-error",
        }),
        challenge: undefined,
        claimed: undefined,
        principal: undefined,
        attempted: false,
      };
    }
  }

  /**
   * The device a verified client certificate names (its first SAN URI, e.g. a SPIFFE id, else its
   * subject CN), "untrusted" for a certificate that does not verify, undefined for none.
   */
  private deviceOf(req: IncomingMessage): Principal["device"] | "untrusted" | undefined {
    const socket = req.socket as TLSSocket;
    if (this.mutualTls === "off" || !socket.encrypted) return undefined;
    const cert = socket.getPeerCertificate();
    if (!cert || Object.keys(cert).length === 0) return undefined;
    if (!socket.authorized) return "untrusted";
    const uri = /(?:^|,\s*)URI:([^,]+)/.exec(cert.subjectaltname ?? "")?.[1];
    const cn = typeof cert.subject?.CN === "string" ? cert.subject.CN : undefined;
    const id = uri ?? (cn ? `cn:${cn}` : `sha256:${cert.fingerprint256}`);
    return { id, fingerprint: cert.fingerprint256, notAfter: Date.parse(cert.valid_to) };
  }

  /**
   * The scopes a bearer token lacks for a message (method, and tool name for tools/call): a 403
   * with `insufficient_scope` naming them, or undefined when nothing is missing. Credentials other
   * than OAuth tokens carry no scopes; roles decide for them (authorization layer).
   */
  missingScopes(principal: Principal, method: string, tool: string | undefined): Authentication | undefined {
    if (principal.authMethod !== "bearer" || this.config.requiredScopes.length === 0) return undefined;
    const held = new Set(principal.scopes ?? []);
    const missing = this.scopeRules
      .filter((rule) => rule.applies(method, tool) && !held.has(rule.scope))
      .map((rule) => rule.scope);
    if (missing.length === 0) return undefined;
    const needed = [...new Set(missing)].join(" ");
    const metadata = this.metadataUrl();
    return {
      ok: false,
      error: new GatewayError("PORTCULLIS_E_INSUFFICIENT_SCOPE", needed, {
        layer: "identity",
        rule: "required-scope",
        scope: needed,
      }),
      challenge: [
        `Bearer realm="portcullis"`,
        `error="insufficient_scope"`,
        `scope="${needed}"`,
        ...(metadata ? [`resource_metadata="${metadata}"`] : []),
        `error_description="this request needs the scope ${needed}"`,
      ].join(", "),
      claimed: undefined,
      principal: principal.id,
      attempted: false,
    };
  }

  private get scopeRules(): {
    scope: string;
    applies: (method: string, tool: string | undefined) => boolean;
  }[] {
    this.compiledScopes ??= this.config.requiredScopes.map((rule) => {
      const tools = rule.tools ? namePatterns(rule.tools) : undefined;
      return {
        scope: rule.scope,
        applies: (method: string, tool: string | undefined) =>
          (rule.methods.includes("*") || rule.methods.includes(method)) &&
          (tools === undefined || (method === "tools/call" && tool !== undefined && tools(tool))),
      };
    });
    return this.compiledScopes;
  }

  /** A 401 with the challenge RFC 6750 and RFC 9728 describe. */
  private fail(
    description: string | undefined,
    error: "invalid_request" | "invalid_token" | undefined,
    attempted: boolean,
    who: { claimed?: string; principal?: string } = {},
  ): Authentication {
    const parts = [`Bearer realm="portcullis"`];
    const metadata = this.metadataUrl();
    if (metadata) parts.push(`resource_metadata="${metadata}"`);
    if (this.config.scopesSupported.length > 0)
      parts.push(`scope="${this.config.scopesSupported.join(" ")}"`);
    if (error) parts.push(`error="${error}"`);
    if (description) parts.push(`error_description="${description.replace(/["\\]/g, "")}"`);
    const rule = error ?? "credential-missing";
    return {
      ok: false,
      error: new GatewayError("PORTCULLIS_E_UNAUTHENTICATED", description, { layer: "identity", rule }),
      challenge: parts.join(", "),
      claimed: who.claimed,
      principal: who.principal,
      attempted,
    };
  }

  private metadataUrl(): string | undefined {
    if (!this.config.resource) return undefined;
    const url = new URL(this.config.resource);
    return `${url.origin}${WELL_KNOWN}${url.pathname.replace(/\/$/, "")}`;
  }
}
