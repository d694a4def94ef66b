// The config of the rate limits: token buckets (rate and burst) per principal and per client
// address (checked at the edge), per principal and tool and per upstream (in the message stage),
// overrides per role and per tool, quotas per period, and what happens when the shared store
// (Redis) cannot be reached. Defaults are the design's (§5).
import { z } from "zod";

const bucketSchema = z.strictObject({
  rate: z
    .number()
    .min(0.001)
    .max(1_000_000)
    .describe(
      "Tokens added per second: the sustained rate in requests per second (fractions allowed: 0.5 is one request every 2 s).",
    ),
  burst: z
    .number()
    .int()
    .min(1)
    .max(10_000_000)
    .describe("Size of the bucket: how many requests may pass at once after a quiet spell."),
});

export type BucketConfig = z.output<typeof bucketSchema>;

/** A bucket that is on by default, or `false` to turn that kind of limit off. */
const optionalBucket = (fallback: BucketConfig | false, description: string) =>
  z
    .union([bucketSchema, z.literal(false)])
    .default(fallback)
    .describe(`${description} \`false\` turns it off.`);

const quotaSchema = z.strictObject({
  id: z
    .string()
    .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, "letters, digits, '.', '_' and '-', at most 64")
    .describe("Names the quota in refusals (`quota:<id>`), events and logs."),
  tools: z
    .array(z.string().min(1).max(256))
    .min(1)
    .optional()
    .describe(
      "Public tool names (`*` and `?` wildcards, case-insensitive) it counts; absent: every tool call.",
    ),
  per: z
    .enum(["minute", "hour", "day"])
    .describe("The period: calendar minutes, hours or days in UTC; the count starts again at each boundary."),
  limit: z.number().int().min(1).max(1_000_000_000).describe("Tool calls allowed per period."),
  scope: z
    .enum(["principal", "principal-tool"])
    .default("principal")
    .describe(
      "`principal`: one count per principal for all the tools it names; `principal-tool`: one count per principal and tool.",
    ),
});

export type QuotaConfig = z.output<typeof quotaSchema>;

export const rateLimitSection = z
  .strictObject({
    enabled: z
      .boolean()
      .default(true)
      .describe("Limit request rates and quotas. Off only behind another limiter you trust."),
    perPrincipal: bucketSchema
      .default({ rate: 100, burst: 200 })
      .describe(
        "Every request of one principal (anonymous callers: per client address), except ping; a batch counts each message. Checked at the edge, before any session is created and before trust and authorization, so refused requests count too. The design's default: 100/s, burst 200.",
      ),
    perPrincipalTool: optionalBucket(
      { rate: 20, burst: 40 },
      "Tool calls of one principal to one tool, so that one tool cannot use up a principal's whole budget.",
    ),
    perAddress: optionalBucket(
      { rate: 200, burst: 400 },
      "Every request and client notification from one client address (IPv6: per /64), whoever sends it, checked at the edge with perPrincipal; above the per-principal default because one address (a NAT, a proxy) may carry several principals.",
    ),
    perUpstream: optionalBucket(
      false,
      "Requests of all principals together to one upstream, to protect the MCP servers behind the gateway.",
    ),
    roles: z
      .record(z.string().min(1).max(128), bucketSchema)
      .default({})
      .describe(
        "Per-principal limits for principals holding a role, instead of perPrincipal. With several matching roles the most generous (highest rate, then highest burst) applies.",
      ),
    tools: z
      .record(z.string().min(1).max(256), bucketSchema)
      .default({})
      .describe(
        "Per-principal-and-tool limits for public tool names (`*` and `?` wildcards, case-insensitive), instead of perPrincipalTool. An exact name wins over patterns, then the most specific pattern (most characters besides wildcards).",
      ),
    quotas: z
      .array(quotaSchema)
      .default([])
      .refine((quotas) => new Set(quotas.map((q) => q.id)).size === quotas.length, {
        message: "quota ids must be unique",
      })
      .describe(
        "Tool calls per calendar period (minute, hour, day in UTC), per principal or principal and tool.",
      ),
    onStoreUnavailable: z
      .enum(["deny", "local"])
      .optional()
      .describe(
        "When the shared store (Redis) cannot be reached: `deny` refuses every limited request (fail-secure); `local` limits on each node alone (each node then allows the full limit) until the store is back. Absent: `state.onUnavailable` (deny by default).",
      ),
    storeTimeoutMs: z
      .number()
      .int()
      .min(10)
      .max(10_000)
      .default(200)
      .describe(
        "How long a check waits for the shared store before counting it unreachable; shorter than state.redis.commandTimeoutMs, because every request waits for it.",
      ),
  })
  .prefault({})
  .describe(
    "Rate limits and quotas: token buckets per principal, tool, address and upstream (docs/rate-limits.md).",
  );

export type RateLimitConfig = z.output<typeof rateLimitSection>;
