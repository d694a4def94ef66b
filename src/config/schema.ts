// The one schema of the Portcullis config file: types, defaults and documentation live here and
// nowhere else; `npm run schema` derives docs/config.schema.json from it for editors.
import { z } from "zod";
import { authorizationSection } from "./authzSchema.ts";
import { controlSection } from "./controlSchema.ts";
import { trustSection } from "./trustSchema.ts";
import { detectionSection, responsesSection } from "./detectionSchema.ts";
import { identitySection } from "./identitySchema.ts";
import { cidrEntry, networkSection } from "./networkSchema.ts";
import { stateSection } from "./stateSchema.ts";
import { rateLimitSection } from "./rateLimitSchema.ts";
import { dataFlowSection } from "./dataFlowSchema.ts";
import { validationSection } from "./validationSchema.ts";
import { argumentsSection } from "./argumentsSchema.ts";
import { catalogGuardSection } from "./catalogGuardSchema.ts";
import { dataGuardSection } from "./dataGuardSchema.ts";
import { isLoopbackHost, secureUrl } from "./secureUrl.ts";
import { resilienceFields } from "./resilienceSchema.ts";

/** Upstream names become tool-name prefixes, so they use the 2025-11-25 tool-name alphabet. */
const upstreamName = z
  .string()
  .regex(/^[A-Za-z0-9_-]{1,40}$/, "upstream names use letters, digits, '_' and '-' (at most 40)");

const envName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, "not a valid environment variable name");

const durationMs = (fallback: number, description: string) =>
  z.number().int().min(0).max(86_400_000).default(fallback).describe(description);

const protocolPreference = z
  .enum(["auto", "2026-07-28", "2025-11-25", "2025-06-18", "2025-03-26"])
  .default("auto")
  .describe(
    "Which revision to speak to this upstream. 'auto' probes with server/discover and falls back to the 2025 initialize handshake.",
  );

const isolation = z
  .enum(["session", "shared"])
  .default("session")
  .describe(
    "'session' (default) opens one upstream session per client session, so no state of one user reaches another; 'shared' multiplexes every client over one upstream session.",
  );

const restartPolicy = z
  .strictObject({
    initialDelayMs: durationMs(500, "First delay before restarting a dead upstream."),
    maxDelayMs: durationMs(30_000, "Upper bound of the exponential restart backoff."),
  })
  .prefault({});

const commonUpstream = {
  protocol: protocolPreference,
  isolation,
  connectTimeoutMs: durationMs(15_000, "How long connecting (spawn, handshake) may take."),
  requestTimeoutMs: durationMs(30_000, "How long one forwarded request may take before it fails."),
  sessionIdleMs: durationMs(
    300_000,
    "A client session's own connection to this upstream (for stdio: its own process) closes after this long unused; the next call reopens it. 0: never.",
  ),
  restart: restartPolicy,
  enabled: z.boolean().default(true).describe("Set to false to keep the entry but not start it."),
  ...resilienceFields,
};

const stdioUpstream = z.strictObject({
  transport: z.literal("stdio"),
  command: z.string().min(1).describe("Executable to spawn (resolved on the gateway's PATH)."),
  args: z.array(z.string()).default([]).describe("Arguments passed to the command."),
  cwd: z.string().optional().describe("Working directory; defaults to the config file's directory."),
  env: z
    .record(envName, z.string())
    .default({})
    .describe("Environment of the spawned server. Nothing is inherited unless named in inheritEnv."),
  inheritEnv: z
    .array(envName)
    .default(["PATH", "HOME", "LANG", "TMPDIR", "NODE_EXTRA_CA_CERTS"])
    .describe("Names of the gateway's own environment variables that the server may see."),
  stderrLines: z
    .number()
    .int()
    .min(0)
    .max(10_000)
    .default(50)
    .describe("How many trailing stderr lines to keep for error reports."),
  ...commonUpstream,
});

const tlsOptions = z
  .strictObject({
    ca: z.string().optional().describe("PEM bundle of trusted CAs (a ${file:...} reference)."),
    cert: z.string().optional().describe("PEM client certificate for mutual TLS."),
    key: z.string().optional().describe("PEM private key for mutual TLS."),
    servername: z.string().optional().describe("SNI and certificate name to expect."),
    rejectUnauthorized: z
      .boolean()
      .default(true)
      .describe("Never set false outside a lab: it accepts any certificate."),
  })
  .optional();

/** How the gateway authenticates to an authorization server's token endpoint. */
const oauthClient = {
  tokenUrl: secureUrl("the token endpoint is reached over HTTPS"),
  clientId: z.string().min(1).describe("The gateway's client id there."),
  clientSecret: z.string().min(1).describe("Its secret, e.g. ${env:UPSTREAM_CLIENT_SECRET}."),
  scope: z.string().optional(),
  resource: z.string().optional().describe("RFC 8707 resource indicator sent with the request."),
};

const httpUpstream = z.strictObject({
  transport: z.enum(["streamable-http", "sse"]),
  url: z.url({ protocol: /^https?$/ }).describe("Endpoint of the remote MCP server."),
  headers: z
    .record(z.string(), z.string())
    .default({})
    .describe("Headers sent to this upstream only (credentials via ${env:...} or ${file:...})."),
  tls: tlsOptions,
  auth: z
    .discriminatedUnion("kind", [
      z.strictObject({
        kind: z.literal("gateway-jwt"),
        audience: z.string().optional().describe("The token's `aud`; default: the upstream's URL."),
        ttlSeconds: z.number().int().min(60).max(3600).default(300).describe("Lifetime of each token."),
      }),
      z.strictObject({
        kind: z.literal("token-exchange"),
        ...oauthClient,
        audience: z.string().optional().describe("The `audience` asked for; default: the upstream's URL."),
        subjectIssuers: z
          .array(z.string().min(1))
          .min(1)
          .describe(
            "Issuers whose tokens may be sent to this token endpoint for exchange (never another issuer's: whoever runs the endpoint could replay them).",
          ),
        withoutCallerToken: z
          .enum(["refuse", "gateway-token"])
          .default("refuse")
          .describe(
            "A call from a caller with no exchangeable token (API key, certificate, stdio, another issuer): refused, or sent with the gateway's own token. Catalogue requests always use the gateway's own.",
          ),
      }),
      z.strictObject({
        kind: z.literal("client-credentials"),
        ...oauthClient,
      }),
    ])
    .optional()
    .describe(
      "The gateway's own credential for this upstream (the client's token never reaches it): a short-lived JWT the gateway signs for each caller (subject, roles, session digest; its public keys at /.well-known/portcullis/upstream-jwks.json), a token the authorization server issues for this upstream in exchange for the caller's (RFC 8693; the gateway's own client-credentials token where there is no caller token, e.g. the catalogue), or an OAuth client-credentials token.",
    ),
  ...commonUpstream,
});

export const upstreamSchema = z.discriminatedUnion("transport", [stdioUpstream, httpUpstream]);

const serverSection = z
  .strictObject({
    host: z
      .string()
      .default("127.0.0.1")
      .describe(
        "Address the HTTP ingress listens on. Off loopback the gateway refuses to start without an authentication method (identity.jwt, identity.apiKeys or required client certificates) and without server.tls (or server.insecureAllowPlaintext behind a TLS-terminating proxy).",
      ),
    tls: z
      .strictObject({
        certFile: z.string().min(1).describe("Server certificate chain (PEM), relative to the config file."),
        keyFile: z.string().min(1).describe("Server private key (PEM)."),
        clientCaFile: z
          .string()
          .optional()
          .describe("CA certificates (PEM) that client certificates must chain to (mutual TLS)."),
        clientCertificates: z
          .enum(["off", "optional", "required"])
          .default("off")
          .describe(
            "Mutual TLS: off; optional (a presented certificate must verify and identifies the device or service); required (the handshake fails without one).",
          ),
        minVersion: z
          .enum(["TLSv1.2", "TLSv1.3"])
          .default("TLSv1.2")
          .describe("Oldest TLS version accepted."),
      })
      .refine((tls) => tls.clientCertificates === "off" || tls.clientCaFile !== undefined, {
        message: "mutual TLS needs clientCaFile: the CA client certificates must chain to",
        path: ["clientCaFile"],
      })
      .optional()
      .describe(
        "Serve HTTPS (TLS 1.2+ with ECDHE/DHE and AEAD ciphers only), optionally with client certificates.",
      ),
    trustedProxies: z
      .array(cidrEntry)
      .default([])
      .describe(
        "Load balancers and proxies whose forwarding header (network.forwardedHeader) is believed: the client is the right-most address not listed here. Never blocked by a detector's response, nor held to the per-address connection cap.",
      ),
    insecureAllowPlaintext: z
      .boolean()
      .default(false)
      .describe("Serve plain HTTP off loopback: only behind a TLS-terminating proxy on a private link."),
    port: z.number().int().min(0).max(65_535).default(8080).describe("TCP port of the HTTP ingress."),
    path: z
      .string()
      .regex(/^\/[A-Za-z0-9/_-]*$/)
      .default("/mcp")
      .describe("Path of the MCP endpoint."),
    maxBodyBytes: z
      .number()
      .int()
      .min(1024)
      .max(256 * 1024 * 1024)
      .default(4 * 1024 * 1024)
      .describe("Largest request body accepted (413 beyond)."),
    maxJsonDepth: z.number().int().min(4).max(1000).default(64).describe("Deepest JSON nesting accepted."),
    allowedHosts: z
      .array(z.string().min(1))
      .optional()
      .describe(
        "Host header names accepted on the MCP endpoint (DNS-rebinding protection). Default: localhost names when listening on loopback, else the listen host.",
      ),
    allowedOrigins: z
      .array(z.string().min(1))
      .optional()
      .describe(
        "Origin hostnames accepted from browsers (requests without Origin are not browsers). Default: localhost names.",
      ),
    metrics: z
      .boolean()
      .default(true)
      .describe("Serve Prometheus metrics at /metrics on this listener (loopback by default)."),
    maxSessions: z
      .number()
      .int()
      .min(1)
      .max(1_000_000)
      .default(10_000)
      .describe("Most client sessions (2025 sessions plus stateless clients) held at once; beyond it, 503."),
    bodyTimeoutMs: durationMs(30_000, "A request body not fully received in this time is refused (408)."),
    sessionIdleTimeoutMs: durationMs(30 * 60_000, "A client session unused this long is closed."),
    sessionMaxLifetimeMs: durationMs(12 * 3_600_000, "A client session is closed at this age."),
    shutdownGraceMs: durationMs(10_000, "On SIGTERM, how long in-flight calls may take to finish."),
  })
  .prefault({});

const federationSection = z
  .strictObject({
    separator: z
      .string()
      .regex(/^[A-Za-z0-9_.-]{1,3}$/, "separator uses at most three of: letters, digits, '_', '-', '.'")
      .default("__")
      .describe("Joins upstream name and tool/prompt name: everything__echo."),
    prefixSingleUpstream: z
      .boolean()
      .default(true)
      .describe("Prefix names even when only one upstream is configured (stable names when you add more)."),
    pageSize: z.number().int().min(1).max(10_000).default(200).describe("Items per page of merged lists."),
  })
  .prefault({});

const loggingSection = z
  .strictObject({
    level: z
      .enum(["trace", "debug", "info", "warn", "error", "fatal", "silent"])
      .default("info")
      .describe("Lowest level written to the JSON log on stderr; applied again on reload."),
    decisions: z.boolean().default(true).describe("Log one JSON line per message decision."),
  })
  .prefault({});

const tracingSection = z
  .strictObject({
    enabled: z
      .boolean()
      .default(false)
      .describe(
        "Export OpenTelemetry traces: a span per client message, a child per layer hook and per upstream call. Off (default): nothing is set up and messages create no span. Tracing settings apply at restart.",
      ),
    endpoint: z
      .url({ protocol: /^https?$/ })
      .default("http://127.0.0.1:4318/v1/traces")
      .describe(
        "The collector's OTLP/HTTP traces endpoint (spans are sent as JSON). Plain HTTP only to a loopback address, unless allowPlaintext.",
      ),
    allowPlaintext: z
      .boolean()
      .default(false)
      .describe(
        "Accept a plain-HTTP endpoint off loopback. Spans name principals, tools and client addresses: only for a network you trust (a collector sidecar on a private link).",
      ),
    headers: z
      .record(z.string(), z.string())
      .default({})
      .describe("Headers sent with every export, e.g. a collector API key via ${env:...} or ${file:...}."),
    tls: tlsOptions.describe("Trust and client certificate for an https endpoint (TLS 1.2 or later)."),
    serviceName: z.string().min(1).max(256).default("portcullis").describe("The spans' service.name."),
    sampleRatio: z
      .number()
      .min(0)
      .max(1)
      .default(1)
      .describe(
        "Share of new traces recorded (parent-based: a message whose parent context is sampled, or not, follows that decision).",
      ),
    incomingContext: z
      .enum(["parent", "link", "ignore"])
      .default("parent")
      .describe(
        "What a client's W3C trace context (params._meta, else the HTTP traceparent header) becomes: the parent of the gateway's span (the client decides sampling); only a link from a trace the gateway starts and samples itself; or nothing.",
      ),
    batch: z
      .strictObject({
        maxQueueSize: z
          .number()
          .int()
          .min(1)
          .max(1_000_000)
          .default(2048)
          .describe("Spans waiting for export at most; beyond it new spans are dropped (never waited for)."),
        maxExportBatchSize: z
          .number()
          .int()
          .min(1)
          .max(100_000)
          .default(512)
          .describe("Spans per export request (at most maxQueueSize)."),
        scheduledDelayMs: durationMs(2_000, "Longest wait before queued spans are exported."),
        exportTimeoutMs: z
          .number()
          .int()
          .min(100)
          .max(600_000)
          .default(10_000)
          .describe("How long one export (and the flush at shutdown) may take."),
      })
      .prefault({}),
  })
  .superRefine((tracing, ctx) => {
    const url = new URL(tracing.endpoint);
    if (url.protocol === "http:" && !isLoopbackHost(url.hostname) && !tracing.allowPlaintext) {
      ctx.addIssue({
        code: "custom",
        path: ["endpoint"],
        message: `spans leave the gateway over HTTPS: plain HTTP is accepted only to loopback, not ${url.hostname} (or set tracing.allowPlaintext)`,
      });
    }
    if (tracing.batch.maxExportBatchSize > tracing.batch.maxQueueSize) {
      ctx.addIssue({
        code: "custom",
        path: ["batch", "maxExportBatchSize"],
        message: "must not exceed tracing.batch.maxQueueSize",
      });
    }
  })
  .prefault({});

function isPostgresUrl(url: string): boolean {
  try {
    const parsed = new URL(url);
    return /^postgres(ql)?:$/.test(parsed.protocol) && parsed.hostname !== "" && parsed.search === "";
  } catch {
    return false;
  }
}

const connectTimeout = (fallback: number, description: string) =>
  z.number().int().min(100).max(600_000).default(fallback).describe(description);

const postgresAudit = z
  .strictObject({
    url: z
      .string()
      .refine(
        isPostgresUrl,
        "must be postgres://USER:PASSWORD@HOST:PORT/DATABASE without query parameters (TLS is set in audit.postgres.tls; the password via ${env:...} or ${file:...})",
      )
      .optional()
      .describe(
        "The database, e.g. postgres://portcullis:${env:PGPASSWORD}@db:5432/portcullis (a database of its own: the store creates tables records, checkpoints and signing_keys). Required when store is postgres; never logged with its password.",
      ),
    poolSize: z
      .number()
      .int()
      .min(1)
      .max(100)
      .default(4)
      .describe("Most connections one gateway (or one audit command) opens; writes use one at a time."),
    connectTimeoutMs: connectTimeout(
      5_000,
      "How long opening a connection (or waiting for a free one) may take.",
    ),
    statementTimeoutMs: connectTimeout(
      5_000,
      "How long one write may take, on the server and on the wire; a record not committed by then withholds its answer.",
    ),
    tls: z
      .strictObject({
        mode: z
          .enum(["auto", "disable", "verify-full"])
          .default("auto")
          .describe(
            "auto: plain to a loopback host, verify-full otherwise; verify-full: TLS with the server's certificate and name checked; disable: plain (loopback hosts only).",
          ),
        ca: z
          .string()
          .optional()
          .describe("PEM bundle of CAs that sign the server's certificate (${file:...})."),
        cert: z.string().optional().describe("PEM client certificate, for certificate authentication."),
        key: z.string().optional().describe("PEM private key of the client certificate."),
        servername: z.string().optional().describe("Certificate name to expect; default: the URL's host."),
      })
      .prefault({}),
  })
  .prefault({});

const auditSection = z
  .strictObject({
    enabled: z.boolean().default(true).describe("Record every decision (not in the dev profile)."),
    store: z
      .enum(["sqlite", "postgres"])
      .default("sqlite")
      .describe(
        "Where records are kept: sqlite (a file of this gateway, audit.path) or postgres (one database for every gateway node, audit.postgres; one hash chain per node). Applies at restart.",
      ),
    path: z
      .string()
      .min(1)
      .default("portcullis-audit.sqlite")
      .describe("The SQLite audit store (store: sqlite), relative to the config file."),
    postgres: postgresAudit,
    node: z
      .string()
      .min(1)
      .optional()
      .describe(
        "This gateway's name in the records and its hash chain; default: the host name. Two running gateways must never share one (with PostgreSQL their writes fail).",
      ),
    durability: z
      .enum(["strict", "batched"])
      .default("strict")
      .describe(
        "strict: a record is committed before its answer is released; batched: group commit within batchMs.",
      ),
    batchMs: z.number().int().min(1).max(1000).default(5).describe("Longest wait before a batched commit."),
    fsync: z
      .boolean()
      .default(false)
      .describe("Also survive an OS crash or power loss (fsync every commit; costs throughput)."),
    maxSizeMb: z
      .number()
      .positive()
      .optional()
      .describe(
        "SQLite: the most disk the store may use. When it is reached (or the disk is full) writes fail and tool calls are refused until space is made.",
      ),
    checkpointEvery: z
      .number()
      .int()
      .min(1)
      .max(1_000_000)
      .default(100)
      .describe("Sign the chain's head every this many records (and at shutdown)."),
    signingKey: z
      .string()
      .optional()
      .describe(
        "Ed25519 private key (PEM, e.g. ${file:audit.pem}); default: made once (0600) beside the SQLite store, or beside the config file as portcullis-audit.postgres.key for PostgreSQL.",
      ),
    arguments: z
      .enum(["off", "hashed", "redacted", "encrypted"])
      .default("hashed")
      .describe(
        "What records keep of tool arguments: nothing, a SHA-256 of their canonical JSON, the arguments with secrets and personal data replaced by markers, or the arguments encrypted with AES-256-GCM.",
      ),
    results: z
      .enum(["off", "hashed", "redacted", "encrypted"])
      .default("hashed")
      .describe("What records keep of tool results, in the same modes as `arguments`."),
    encryptionKeys: z
      .array(
        z.strictObject({
          id: z.string().regex(/^[A-Za-z0-9_.-]{1,40}$/, "key ids use letters, digits, '_', '.', '-'"),
          key: z
            .string()
            .refine((k) => Buffer.from(k, "base64").length === 32, "must be 32 bytes, base64-encoded")
            .describe("e.g. ${env:AUDIT_KEY_2026}"),
        }),
      )
      .default([])
      .describe(
        "Keys for encrypted arguments: the first encrypts, all decrypt (rotate by adding a new first key).",
      ),
    failOpen: z
      .boolean()
      .default(false)
      .describe(
        "Allow tool calls while the store cannot be written. Off: such calls are refused (fail-secure).",
      ),
  })
  .prefault({});

const severity = z.enum(["info", "low", "medium", "high", "critical"]);

const webhookAlert = z.strictObject({
  url: secureUrl("alerts leave the gateway over HTTPS").describe("Where alerts are posted."),
  secret: z
    .string()
    .min(16, "use a secret of at least 16 characters")
    .describe("HMAC-SHA256 key for the X-Portcullis-Signature header, e.g. ${env:ALERT_WEBHOOK_SECRET}."),
  minSeverity: severity.default("medium").describe("Lowest severity that is sent."),
  dedupeWindowMs: durationMs(60_000, "The same event (type, principal, details) is sent once per window."),
  maxAttempts: z
    .number()
    .int()
    .min(1)
    .max(10)
    .default(5)
    .describe("Deliveries tried, with backoff, before giving up."),
  timeoutMs: durationMs(5_000, "How long one delivery may take."),
  queueSize: z
    .number()
    .int()
    .min(1)
    .max(1_000_000)
    .default(1_000)
    .describe("Alerts waiting at most; beyond it they are dropped, counted and logged."),
});

const alertsSection = z
  .strictObject({
    webhooks: z
      .array(webhookAlert)
      .default([])
      .describe("Webhooks that receive security events (applied at start)."),
  })
  .prefault({});

export const configSchema = z
  .strictObject({
    version: z.literal(1).describe("Config format version."),
    profile: z
      .enum(["strict", "balanced", "dev"])
      .default("strict")
      .describe(
        "Security profile of the layers: strict (default) runs every check, balanced trades some for speed, dev runs no layer at all (not even the decision log). Today strict and balanced run the same layers (audit, decision log); metrics, tracing (when on), the identity check at the edge and the detectors run under every profile.",
      ),
    server: serverSection,
    network: networkSection,
    state: stateSection,
    federation: federationSection,
    logging: loggingSection,
    tracing: tracingSection,
    audit: auditSection,
    alerts: alertsSection,
    identity: identitySection,
    trust: trustSection,
    authorization: authorizationSection,
    rateLimits: rateLimitSection,
    dataFlow: dataFlowSection,
    validation: validationSection,
    argumentGuard: argumentsSection,
    catalogGuard: catalogGuardSection,
    dataGuard: dataGuardSection,
    detection: detectionSection,
    responses: responsesSection,
    control: controlSection,
    upstreams: z
      .record(upstreamName, upstreamSchema)
      .refine((u) => Object.keys(u).length > 0, "at least one upstream is required")
      .describe("MCP servers behind the gateway, by name."),
  })
  .superRefine((config, ctx) => {
    for (const problem of exposureProblems(config.server.host, config))
      ctx.addIssue({ code: "custom", path: problem.path, message: problem.message });
    if ((config.identity.jwt || config.identity.introspection) && config.identity.resource === undefined) {
      ctx.addIssue({
        code: "custom",
        path: ["identity", "resource"],
        message:
          "identity.jwt and identity.introspection need identity.resource: the audience tokens must be issued for",
      });
    }
    const { store, postgres } = config.audit;
    if (store === "postgres" && postgres.url === undefined) {
      ctx.addIssue({
        code: "custom",
        path: ["audit", "postgres", "url"],
        message:
          'audit.store is "postgres": audit.postgres.url is required (e.g. postgres://portcullis:${env:PGPASSWORD}@db:5432/portcullis)',
      });
    }
    if (postgres.url && isPostgresUrl(postgres.url) && postgres.tls.mode === "disable") {
      const host = new URL(postgres.url).hostname;
      if (!isLoopbackHost(host))
        ctx.addIssue({
          code: "custom",
          path: ["audit", "postgres", "tls", "mode"],
          message: `audit records leave the gateway over TLS: "disable" is accepted only for a loopback host, not ${host}`,
        });
    }
    for (const [name, upstream] of Object.entries(config.upstreams)) {
      if (
        "auth" in upstream &&
        upstream.auth &&
        Object.keys(upstream.headers).some((h) => h.toLowerCase() === "authorization")
      )
        ctx.addIssue({
          code: "custom",
          path: ["upstreams", name, "headers"],
          message: "give the upstream's credential in auth or in an Authorization header, not both",
        });
    }
    for (const field of ["arguments", "results"] as const) {
      if (config.audit[field] === "encrypted" && config.audit.encryptionKeys.length === 0) {
        ctx.addIssue({
          code: "custom",
          path: ["audit", "encryptionKeys"],
          message: `audit.${field} is "encrypted": at least one key is needed`,
        });
      }
    }
    // The separator must identify the upstream in a public name: `a` + `__` + `b__c` and
    // `a__b` + `__` + `c` would otherwise both be `a__b__c`.
    for (const name of Object.keys(config.upstreams)) {
      if (name.includes(config.federation.separator)) {
        ctx.addIssue({
          code: "custom",
          path: ["upstreams", name],
          message: `upstream name "${name}" contains the name separator "${config.federation.separator}"`,
        });
      }
    }
  })
  .describe("Portcullis gateway configuration");

export type GatewayConfig = z.output<typeof configSchema>;
export type UpstreamConfig = z.output<typeof upstreamSchema>;
export type StdioUpstreamConfig = z.output<typeof stdioUpstream>;
export type HttpUpstreamConfig = z.output<typeof httpUpstream>;

/**
 * Why serving on `host` would be unsafe: unauthenticated or plaintext service off loopback. Checked
 * when the file is read and again when `--host` overrides it.
 */
export function exposureProblems(
  host: string,
  config: {
    server: { insecureAllowPlaintext: boolean; tls?: { clientCertificates: string } };
    identity: { jwt?: unknown; apiKeys?: unknown };
  },
): { path: string[]; message: string }[] {
  if (isLoopbackHost(host)) return [];
  const problems: { path: string[]; message: string }[] = [];
  const mutualTls = config.server.tls !== undefined && config.server.tls.clientCertificates !== "off";
  if (!config.identity.jwt && !config.identity.apiKeys && !mutualTls)
    problems.push({
      path: ["server", "host"],
      message: `listening on ${host} (off loopback) needs authentication: configure identity.jwt, identity.apiKeys or mutual TLS`,
    });
  if (!config.server.tls && !config.server.insecureAllowPlaintext)
    problems.push({
      path: ["server", "insecureAllowPlaintext"],
      message: `listening on ${host} (off loopback) serves plain HTTP: configure server.tls, or put a TLS-terminating proxy in front and set server.insecureAllowPlaintext`,
    });
  return problems;
}
