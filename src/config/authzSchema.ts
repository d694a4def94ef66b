// The config of the authorization layer: the policies (inline and in files), the labels targets
// carry, the arguments conditions may read, the time zone of local-time fields, and what
// "additional verification" means when the trust evaluator asks for it.
import { z } from "zod";
import { isTimeZone } from "../layers/authz/cel.ts";
import { authAgeSeconds, policySchema } from "../layers/authz/policy.ts";
import { approvalsSection } from "./controlSchema.ts";

const labelRule = z.strictObject({
  tools: z.array(z.string().min(1)).optional().describe("Tool names (wildcards) that carry the labels."),
  prompts: z.array(z.string().min(1)).optional(),
  resources: z.array(z.string().min(1)).optional().describe("Resource URIs or templates (wildcards)."),
  upstreams: z.array(z.string().min(1)).optional().describe("Every target of these upstreams."),
  labels: z
    .record(z.string().regex(/^[A-Za-z][A-Za-z0-9_]{0,63}$/), z.string().max(128))
    .describe("e.g. {risk: high, data: pii}; later rules add to and override earlier ones."),
});

export const authorizationSection = z
  .strictObject({
    enabled: z
      .boolean()
      .default(true)
      .describe(
        "Decide every MCP method by policy (default deny). Off only for testing: then every method is allowed.",
      ),
    policies: z.array(policySchema).default([]).describe("Policies written in this file."),
    policyFiles: z
      .array(z.string().min(1))
      .default([])
      .describe(
        "Policy files (YAML lists of policies) or folders of them (every *.yaml and *.yml), relative to this file; watched for changes.",
      ),
    timeZone: z
      .string()
      .refine(isTimeZone, "not an IANA time zone this runtime knows (e.g. UTC, Europe/Berlin)")
      .default("UTC")
      .describe("IANA time zone of request.hour, request.minute and request.weekday in conditions."),
    argumentKeys: z
      .array(z.string().min(1).max(128))
      .default([])
      .describe(
        "Top-level tool-call arguments that conditions may read as args.<key>, whole (never cut short); others are never exposed.",
      ),
    labels: z
      .array(labelRule)
      .default([])
      .describe(
        "Labels on tools, prompts and resources (risk, data class) for policy scopes and conditions.",
      ),
    stepUp: z
      .strictObject({
        maxAuthAgeSeconds: authAgeSeconds
          .default(300)
          .describe(
            "A step-up the trust evaluator or a detector asks for: the user must have authenticated within this many seconds.",
          ),
      })
      .prefault({}),
    approvals: approvalsSection,
    verification: z
      .enum(["step-up", "approval", "deny"])
      .default("step-up")
      .describe(
        "What the trust evaluator's additional verification means for a principal with an OAuth token: a fresh authentication (step-up), a human approval, or a deny. Principals that cannot step up (API keys, certificates, local users) get an approval instead of a step-up.",
      ),
  })
  .prefault({})
  .describe("Authorization: policies over every MCP method, default deny (docs/authorization.md).");

export type AuthorizationConfig = z.output<typeof authorizationSection>;
