// The identity section of the config: who may call the gateway over HTTP and how they prove it —
// OAuth 2.1 bearer JWTs from named issuers (verified against their JWKS) and API keys. With
// neither configured, HTTP callers are anonymous (a loopback-only setup).
import { z } from "zod";
import { isHttpsOrLoopback, secureUrl } from "./secureUrl.ts";

/** Asymmetric algorithms only: never `none`, never an HMAC that a public key could be fed to. */
const asymmetricAlgorithm = z.enum([
  "RS256",
  "RS384",
  "RS512",
  "PS256",
  "PS384",
  "PS512",
  "ES256",
  "ES384",
  "ES512",
  "EdDSA",
  "Ed25519",
]);

const issuer = z
  .strictObject({
    issuer: z.string().min(1).describe("The token's required `iss`."),
    jwksUri: z
      .url({ protocol: /^https?$/ })
      .optional()
      .describe("Where the issuer publishes its keys (JWKS)."),
    jwksFile: z.string().optional().describe("A JWKS file instead of a URL (relative to the config file)."),
    audience: z
      .string()
      .optional()
      .describe("The required `aud`; default: identity.resource (this gateway's resource identifier)."),
    algorithms: z
      .array(asymmetricAlgorithm)
      .min(1)
      .default(["RS256", "PS256", "ES256", "EdDSA"])
      .describe("Signature algorithms accepted from this issuer."),
  })
  .refine(
    (i) => (i.jwksUri === undefined) !== (i.jwksFile === undefined),
    "give exactly one of jwksUri and jwksFile",
  )
  .refine((i) => i.jwksUri === undefined || isHttpsOrLoopback(i.jwksUri), {
    message:
      "keys are fetched over HTTPS (plain HTTP only from loopback): whoever can alter them can forge tokens",
    path: ["jwksUri"],
  });

const claimPath = (fallback: string, description: string) =>
  z
    .string()
    .regex(/^[A-Za-z0-9_:/.-]+$/)
    .default(fallback)
    .describe(`${description} (a dotted path into the token's claims).`);

export const identitySection = z
  .strictObject({
    resource: z
      .url()
      .optional()
      .describe(
        "This gateway's resource identifier (RFC 8707/9728), e.g. https://mcp.example.com/mcp: tokens must name it in `aud`. Required with jwt or introspection.",
      ),
    jwt: z
      .strictObject({
        issuers: z.array(issuer).min(1).describe("Authorization servers whose access tokens are accepted."),
        clockSkewSeconds: z
          .number()
          .int()
          .min(0)
          .max(300)
          .default(30)
          .describe("Tolerance for `exp`, `nbf` and `iat`."),
        jwksCacheMaxAgeMs: z
          .number()
          .int()
          .min(1_000)
          .default(600_000)
          .describe("Keys are fetched again after this long."),
        jwksCooldownMs: z
          .number()
          .int()
          .min(1_000)
          .default(30_000)
          .describe("A token with an unknown key id refetches the JWKS at most once per this period."),
      })
      .optional(),
    introspection: z
      .strictObject({
        endpoint: secureUrl("tokens are sent to the introspection endpoint over HTTPS").describe(
          "The authorization server's RFC 7662 introspection endpoint.",
        ),
        clientId: z.string().min(1).describe("The gateway's client id at that server."),
        clientSecret: z.string().min(1).describe("Its secret, e.g. ${env:INTROSPECTION_SECRET}."),
        cacheSeconds: z
          .number()
          .int()
          .min(0)
          .max(300)
          .default(30)
          .describe("An active answer is reused this long (never past the token's exp)."),
        requireAudience: z
          .boolean()
          .default(true)
          .describe(
            "Refuse a token whose introspection names no audience (it may be meant for any resource).",
          ),
      })
      .optional()
      .describe("Opaque (non-JWT) access tokens, checked with the authorization server (RFC 7662)."),
    apiKeys: z
      .strictObject({
        file: z
          .string()
          .default("portcullis-keys.json")
          .describe("The key store `portcullis keys` writes (hashes only), relative to the config file."),
      })
      .optional()
      .describe("API keys for service agents (`Authorization: Bearer pk_…` or `X-API-Key`)."),
    requiredScopes: z
      .array(
        z.strictObject({
          scope: z.string().min(1).describe("The OAuth scope a token must carry."),
          methods: z
            .array(z.string())
            .default(["*"])
            .describe("MCP methods it applies to (`*`: every method)."),
          tools: z
            .array(z.string())
            .optional()
            .describe("For tools/call: public tool names (`*` wildcards) it applies to; default all."),
        }),
      )
      .default([])
      .describe(
        "Scopes bearer tokens need for methods and tools; a token without one is answered 403 insufficient_scope naming it, so the client can ask for it.",
      ),
    stdioPrincipal: z
      .strictObject({
        id: z
          .string()
          .min(1)
          .optional()
          .describe("The principal of the desktop user on the stdio ingress; default local:<login name>."),
        kind: z.enum(["user", "agent", "service"]).default("user"),
        roles: z
          .array(z.string())
          .default([])
          .describe("Roles of that principal (for the authorization layer)."),
      })
      .prefault({})
      .describe("Who the local user of the stdio ingress is (the process that spawned the gateway)."),
    upstreamSigningKey: z
      .string()
      .optional()
      .describe(
        "Ed25519 private key (PEM, e.g. ${file:upstream.pem}) for the JWTs upstreams with auth.kind gateway-jwt receive; default: made once (0600) beside the config file as portcullis-upstream.key.",
      ),
    scopesSupported: z
      .array(z.string())
      .default([])
      .describe("Scopes listed in the protected resource metadata and in 401 challenges."),
    claims: z
      .strictObject({
        subject: claimPath("sub", "The principal id"),
        roles: claimPath("roles", "Roles"),
        groups: claimPath("groups", "Groups"),
        scopes: claimPath("scope", "Scopes (a space-separated string or a list)"),
        tenant: claimPath("tid", "Tenant"),
        clientId: claimPath("azp", "The OAuth client"),
      })
      .prefault({})
      .describe("Where the principal's attributes are found in a token."),
  })
  .prefault({});

export type IdentityConfig = z.output<typeof identitySection>;
