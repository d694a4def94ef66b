// The config of the argument guard: which tool arguments are paths, URLs, SQL, command lines or free
// text (declared per tool and argument, or inferred from names and schemas), and what each detector allows.
import { z } from "zod";
import ipaddr from "ipaddr.js";

export const ARGUMENT_KINDS = ["path", "url", "sql", "sql-readonly", "command", "operand", "text"] as const;
export type ArgumentKind = (typeof ARGUMENT_KINDS)[number];

const toolPattern = z.string().min(1).max(256);

const absolutePath = z
  .string()
  .min(1)
  .max(4096)
  .refine((root) => /^(\/(?!\/)|~(\/|$)|[A-Za-z]:[\\/])/.test(root), {
    message: "an absolute path: /srv/data, ~/projects or C:\\data (network shares are always refused)",
  });

const pathList = (description: string) => z.array(absolutePath).max(256).describe(description);

/** A host name (`*.` for every subdomain) or an IP address or CIDR range. */
const hostEntry = z
  .string()
  .min(1)
  .max(253)
  .refine((entry) => isRangeOrAddress(entry) || /^(\*\.)?[a-z0-9_-]+(\.[a-z0-9_-]+)*\.?$/i.test(entry), {
    message: "a host name (`*.` allowed as the first label), an IP address or a CIDR range",
  });

function isRangeOrAddress(entry: string): boolean {
  try {
    if (entry.includes("/")) ipaddr.parseCIDR(entry);
    else ipaddr.parse(entry);
    return true;
  } catch {
    return false;
  }
}

const argumentRule = z.strictObject({
  argument: z
    .string()
    .min(1)
    .max(1024)
    .describe(
      "The argument: a top-level name (`path`), or a JSON pointer into the arguments (`/options/target`, `*` for every key or index: `/files/*/path`). A rule on an object or array covers every string inside it.",
    ),
  kind: z
    .enum(ARGUMENT_KINDS)
    .describe(
      "What the value is: `path` (a file path), `url`, `sql` (a value placed into a SQL statement), `sql-readonly` (a whole SQL statement that must only read), `command` (a command line or argv), `operand` (one positional argument of a command: a branch, a revision), `text` (free text: only hidden characters are refused).",
    ),
  action: z
    .enum(["block", "flag", "ignore"])
    .default("block")
    .describe(
      "`block` refuses the call, `flag` lets it through with an `argument_attack` event, `ignore` checks nothing (and stops inference for this argument).",
    ),
  roots: pathList(
    "For `path`: the directories the value must stay inside, instead of the tool's or the global roots.",
  ).optional(),
});

export type ArgumentRuleConfig = z.output<typeof argumentRule>;

const toolRules = z.strictObject({
  tools: z
    .array(toolPattern)
    .min(1)
    .describe("Public tool names (`*` and `?` wildcards, case-insensitive) these rules apply to."),
  infer: z
    .boolean()
    .optional()
    .describe("Infer kinds of the arguments no rule names (absent: the global `infer`)."),
  roots: pathList("Roots for this tool's path arguments, instead of the global `path.roots`.").optional(),
  base: absolutePath
    .optional()
    .describe(
      "The working directory of this tool's server for relative paths, instead of the global `path.base`.",
    ),
  arguments: z
    .array(argumentRule)
    .max(256)
    .default([])
    .describe("Declared arguments; a more specific pointer wins over a shorter one."),
});

export type ToolRulesConfig = z.output<typeof toolRules>;

const dnsSection = z
  .strictObject({
    enabled: z
      .boolean()
      .default(true)
      .describe(
        "Resolve host names and refuse a URL if any address is internal. Off: only literal addresses and known names are checked.",
      ),
    timeoutMs: z
      .number()
      .int()
      .min(10)
      .max(30_000)
      .default(1000)
      .describe("How long a lookup may take before it counts as failed."),
    cacheTtlMs: z
      .number()
      .int()
      .min(0)
      .max(3_600_000)
      .default(60_000)
      .describe("How long a lookup's answer is reused (failures: at most 5 s)."),
    cacheSize: z
      .number()
      .int()
      .min(0)
      .max(1_000_000)
      .default(10_000)
      .describe("Host names kept in the cache; the oldest is dropped first."),
    maxConcurrent: z
      .number()
      .int()
      .min(1)
      .max(1024)
      .default(16)
      .describe(
        "Lookups in flight at once; a URL needing another is refused (fail-secure, whatever onFailure says).",
      ),
    maxConcurrentPerPrincipal: z
      .number()
      .int()
      .min(1)
      .max(1024)
      .default(4)
      .describe("Lookups in flight at once for one principal; beyond it that principal's URL is refused."),
    onFailure: z
      .enum(["refuse", "allow"])
      .default("refuse")
      .describe(
        "A name that does not resolve (or not in time): `refuse` applies the rule's action (fail-secure), `allow` lets it through.",
      ),
  })
  .prefault({})
  .describe("DNS resolution of URL hosts.");

export const argumentsSection = z
  .strictObject({
    enabled: z
      .boolean()
      .default(true)
      .describe("Check tool arguments for path traversal, SSRF, SQL and command injection."),
    infer: z
      .boolean()
      .default(true)
      .describe(
        "Infer the kind of arguments no rule names, from their names (path, file, url, command, branch, …), their schema's `format: uri`, and SQL `query`/`sql` arguments of database tools.",
      ),
    inferredAction: z
      .enum(["block", "flag"])
      .default("block")
      .describe("What an inferred rule does when its detector fires."),
    maxDepth: z
      .number()
      .int()
      .min(1)
      .max(256)
      .default(32)
      .describe("Nesting depth of arguments walked; deeper arguments are refused (nothing goes unchecked)."),
    maxStrings: z
      .number()
      .int()
      .min(1)
      .max(1_000_000)
      .default(10_000)
      .describe("Strings and containers walked per call; a call with more is refused."),
    path: z
      .strictObject({
        roots: pathList(
          "Directories every path argument must stay inside (after decoding and normalisation). Empty: no containment, only traversal and sensitive files are refused.",
        ).default([]),
        base: absolutePath
          .optional()
          .describe(
            "The directory relative path arguments are resolved from (the servers' working directory). With roots and no base, relative paths are refused; without either, they are also read from `/` for system files.",
          ),
        sensitive: z
          .boolean()
          .default(true)
          .describe(
            "Refuse well-known secret and system files (~/.ssh, .aws/credentials, .env, /etc/shadow, /proc, …) even inside the roots.",
          ),
      })
      .prefault({})
      .describe("Path arguments."),
    url: z
      .strictObject({
        schemes: z
          .array(z.string().regex(/^[a-z][a-z0-9+.-]*$/, "a lower-case URL scheme without the colon"))
          .min(1)
          .default(["http", "https"])
          .describe("URL schemes allowed; others (file, gopher, dict, ftp, …) are refused."),
        allowHosts: z
          .array(hostEntry)
          .max(1024)
          .default([])
          .describe(
            "Internal hosts that URL arguments may name anyway: host names (`*.corp.example`), addresses or CIDR ranges.",
          ),
        blockHosts: z
          .array(hostEntry)
          .max(1024)
          .default([])
          .describe(
            "More hosts to refuse, besides loopback, private, link-local, unique-local and cloud metadata ones.",
          ),
        dns: dnsSection,
      })
      .prefault({})
      .describe("URL arguments (SSRF)."),
    tools: z
      .array(toolRules)
      .max(1024)
      .default([])
      .describe(
        "Rules per tool. Every entry whose patterns match applies; for one string the rule with the most specific pointer wins (then the first declared).",
      ),
  })
  .prefault({})
  .describe(
    "Argument guard: threat detectors per tool argument (path, URL, SQL, command, text) (docs/argument-guard.md).",
  );

export type ArgumentGuardConfig = z.output<typeof argumentsSection>;
