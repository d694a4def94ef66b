// The one schema of the Portcullis config file: types, defaults and documentation live here and
// nowhere else; `npm run schema` derives docs/config.schema.json from it for editors.
import { z } from "zod";

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

const httpUpstream = z.strictObject({
  transport: z.enum(["streamable-http", "sse"]),
  url: z.url({ protocol: /^https?$/ }).describe("Endpoint of the remote MCP server."),
  headers: z
    .record(z.string(), z.string())
    .default({})
    .describe("Headers sent to this upstream only (credentials via ${env:...} or ${file:...})."),
  tls: tlsOptions,
  ...commonUpstream,
});

export const upstreamSchema = z.discriminatedUnion("transport", [stdioUpstream, httpUpstream]);

const serverSection = z
  .strictObject({
    host: z.string().default("127.0.0.1").describe("Address the HTTP ingress listens on."),
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

const auditSection = z
  .strictObject({
    enabled: z.boolean().default(true).describe("Record every decision (not in the dev profile)."),
    path: z
      .string()
      .min(1)
      .default("portcullis-audit.sqlite")
      .describe("The SQLite audit store, relative to the config file."),
    node: z
      .string()
      .min(1)
      .optional()
      .describe("This gateway's name in the records; default: the host name."),
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
        "Ed25519 private key (PEM, e.g. ${file:audit.pem}); default: made once beside the store (0600).",
      ),
    arguments: z
      .enum(["off", "hashed", "encrypted"])
      .default("hashed")
      .describe(
        "What records keep of tool arguments: nothing, a SHA-256 of their canonical JSON, or the arguments encrypted with AES-256-GCM.",
      ),
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
  url: z
    .url({ protocol: /^https?$/ })
    .refine(
      (url) =>
        url.startsWith("https://") || /^http:\/\/(127\.\d+\.\d+\.\d+|localhost|\[::1\])(:|\/|$)/.test(url),
      "alerts leave the gateway over HTTPS (plain HTTP only to loopback)",
    )
    .describe("Where alerts are posted."),
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
        "Security profile of the layers: strict (default) runs every check, balanced trades some for speed, dev runs no layer at all (not even the decision log). Today's chain holds only the decision log, so strict and balanced are the same.",
      ),
    server: serverSection,
    federation: federationSection,
    logging: loggingSection,
    audit: auditSection,
    alerts: alertsSection,
    upstreams: z
      .record(upstreamName, upstreamSchema)
      .refine((u) => Object.keys(u).length > 0, "at least one upstream is required")
      .describe("MCP servers behind the gateway, by name."),
  })
  .superRefine((config, ctx) => {
    if (config.audit.arguments === "encrypted" && config.audit.encryptionKeys.length === 0) {
      ctx.addIssue({
        code: "custom",
        path: ["audit", "encryptionKeys"],
        message: 'audit.arguments is "encrypted": at least one key is needed',
      });
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
