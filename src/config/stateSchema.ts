// The config of the shared security state (counters, blocks, revocations, approvals): kept in this
// process's memory, or in Redis so that every gateway node enforces the same. Wired in as `state`.
import { z } from "zod";
import { isLoopbackHost } from "./secureUrl.ts";

/** redis://[USER:PASSWORD@]HOST[:PORT][/DB] or rediss://…, without query parameters or fragment. */
export function isRedisUrl(url: string): boolean {
  try {
    const parsed = new URL(url);
    return (
      /^rediss?:$/.test(parsed.protocol) &&
      parsed.hostname !== "" &&
      parsed.search === "" &&
      parsed.hash === "" &&
      /^(\/\d{0,2})?$/.test(parsed.pathname)
    );
  } catch {
    return false;
  }
}

const timeoutMs = (fallback: number, min: number, description: string) =>
  z.number().int().min(min).max(600_000).default(fallback).describe(description);

const redisTls = z
  .strictObject({
    caFile: z
      .string()
      .min(1)
      .optional()
      .describe(
        "PEM bundle of the CAs that sign Redis's certificate, relative to the config file; default: the system's CAs.",
      ),
    certFile: z
      .string()
      .min(1)
      .optional()
      .describe("PEM client certificate, for Redis servers that require mutual TLS (with keyFile)."),
    keyFile: z.string().min(1).optional().describe("PEM private key of certFile."),
  })
  .optional()
  .describe(
    "Trust and client certificate for a rediss:// URL (TLS 1.2 or later, the server's name always checked).",
  );

const redisSettings = z
  .strictObject({
    url: z
      .string()
      .refine(
        isRedisUrl,
        "must be redis://[USER:PASSWORD@]HOST:PORT[/DB] or rediss://… without query parameters (the password via ${env:...}, percent-encoded if it has reserved characters)",
      )
      .optional()
      .describe(
        "The Redis server, e.g. rediss://portcullis:${env:REDIS_PASSWORD}@redis:6380. Required when backend is redis; plain redis:// only to a loopback host; never logged with its password.",
      ),
    keyPrefix: z
      .string()
      .min(1)
      .max(100)
      .regex(/^\S+$/, "no white space")
      .default("portcullis:")
      .describe(
        "Put before every key and channel: gateways that must share state use the same prefix, separate deployments on one Redis different ones.",
      ),
    connectTimeoutMs: timeoutMs(
      5_000,
      100,
      "How long connecting may take; at start the gateway waits at most this long for Redis.",
    ),
    commandTimeoutMs: timeoutMs(
      1_000,
      10,
      "How long one command may take before it fails (and the check that needed it applies onUnavailable).",
    ),
    tls: redisTls,
  })
  .prefault({});

export const stateSection = z
  .strictObject({
    backend: z
      .enum(["memory", "redis"])
      .default("memory")
      .describe(
        "Where shared security state lives: memory (this process; every node on its own) or redis (state.redis; one state for every gateway node). Applies at restart.",
      ),
    redis: redisSettings,
    onUnavailable: z
      .enum(["deny", "local"])
      .default("deny")
      .describe(
        "What the layers do while Redis cannot be reached: deny (fail-secure: requests that need shared state are refused with PORTCULLIS_E_STATE_UNAVAILABLE) or local (they use this node's own in-memory state until Redis is back; limits then hold per node only).",
      ),
  })
  .superRefine((state, ctx) => {
    const { url, tls } = state.redis;
    if (state.backend === "redis" && url === undefined)
      ctx.addIssue({
        code: "custom",
        path: ["redis", "url"],
        message:
          'state.backend is "redis": state.redis.url is required (e.g. rediss://portcullis:${env:REDIS_PASSWORD}@redis:6380)',
      });
    if (url === undefined || !isRedisUrl(url)) return;
    const parsed = new URL(url);
    if (parsed.protocol === "redis:" && !isLoopbackHost(parsed.hostname))
      ctx.addIssue({
        code: "custom",
        path: ["redis", "url"],
        message: `state.redis.url: the password and every block, revocation and counter travel to Redis in clear with redis://; it is accepted only for a loopback host, not ${parsed.hostname} (use rediss://)`,
      });
    if (parsed.protocol === "redis:" && tls !== undefined)
      ctx.addIssue({
        code: "custom",
        path: ["redis", "tls"],
        message: "state.redis.tls is set but state.redis.url is redis:// (plain): use rediss:// for TLS",
      });
    if (tls && (tls.certFile === undefined) !== (tls.keyFile === undefined))
      ctx.addIssue({
        code: "custom",
        path: ["redis", "tls", tls.certFile === undefined ? "certFile" : "keyFile"],
        message: "state.redis.tls.certFile and state.redis.tls.keyFile go together",
      });
  })
  .prefault({})
  .describe(
    "Shared security state: rate-limit counters, blocks, revocations, approvals. In memory on one node, or in Redis for several.",
  );

export type StateConfig = z.output<typeof stateSection>;
