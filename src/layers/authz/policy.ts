// The policy document: what a policy file (or `authorization.policies`) holds. Each policy has an
// id, an effect, a scope (principals, actions, resources; what it leaves out it applies to all), an
// optional CEL condition and, for permits, obligations. Forbid beats permit; nothing permitted is a deny.
import { z } from "zod";

const patterns = (what: string) =>
  z
    .array(z.string().min(1).max(512))
    .min(1)
    .optional()
    .describe(`${what} (\`*\` and \`?\` wildcards, case-insensitive); absent: any.`);

const names = (what: string) =>
  z.array(z.string().min(1).max(512)).min(1).optional().describe(`${what}; absent: any.`);

export const principalScope = z
  .strictObject({
    ids: names("Principal ids (the token's subject, the API key's name, the certificate's device)"),
    roles: names("Roles, any of which matches"),
    groups: names("Groups, any of which matches"),
    kinds: z
      .array(z.enum(["anonymous", "user", "agent", "service"]))
      .min(1)
      .optional()
      .describe("Kinds of principal; absent: any."),
    authMethods: z
      .array(z.enum(["none", "stdio-local", "bearer", "api-key", "mtls"]))
      .min(1)
      .optional()
      .describe("How the principal authenticated; absent: any."),
    tenants: names("Tenants"),
    issuers: names(
      "Token issuers (the iss of a JWT, the introspection endpoint's name); with several issuers, name the one an id belongs to",
    ),
  })
  .describe("Whom the policy applies to: every field given must match (any value within a field).");

export const resourceScope = z
  .strictObject({
    tools: patterns("Tool names as clients see them (e.g. everything__echo)"),
    prompts: patterns("Prompt names as clients see them"),
    resources: patterns("Resource URIs and URI templates"),
    upstreams: names("Upstreams the target belongs to"),
    labels: z
      .record(z.string().min(1), z.union([z.string(), z.array(z.string()).min(1)]))
      .optional()
      .describe("Labels the target must carry (from authorization.labels), e.g. {risk: high}."),
  })
  .describe(
    "What the policy applies to. With tools, prompts or resources given, only targets of those kinds match; upstreams and labels narrow further.",
  );

/** Seconds since the user authenticated at the issuer (auth_time), up to a day. */
export const authAgeSeconds = z.number().int().min(0).max(86_400);

const stepUp = z
  .strictObject({
    maxAuthAgeSeconds: authAgeSeconds
      .optional()
      .describe("The user must have authenticated at the issuer within this many seconds (auth_time)."),
    acr: z
      .array(z.string().min(1))
      .min(1)
      .optional()
      .describe("Authentication context classes accepted (the token's acr must be one)."),
    amr: z
      .array(z.string().min(1))
      .min(1)
      .optional()
      .describe("Authentication methods required (each must be in the token's amr), e.g. [mfa]."),
  })
  .refine((s) => s.maxAuthAgeSeconds !== undefined || s.acr !== undefined || s.amr !== undefined, {
    message: "stepUp needs maxAuthAgeSeconds, acr or amr",
  });

const approval = z
  .strictObject({
    timeoutMs: z
      .number()
      .int()
      .min(1_000)
      .max(3_600_000)
      .optional()
      .describe("How long the call waits for an approver (default authorization.approvals.timeoutMs)."),
    reason: z.string().max(500).optional().describe("Shown to the approver."),
  })
  .describe("A human approver must approve this exact call (portcullis approvals approve).");

export const obligationsSchema = z
  .strictObject({ stepUp: stepUp.optional(), approval: approval.optional() })
  .describe("What a permit requires before the call goes on.");

export const policySchema = z
  .strictObject({
    id: z
      .string()
      .regex(/^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/, "policy ids use letters, digits, '.', '_', ':' and '-'")
      .describe("Unique id: named in audit records, events and errors."),
    description: z.string().max(1000).optional(),
    effect: z.enum(["permit", "forbid"]),
    principals: principalScope.optional(),
    actions: z
      .array(z.string().min(1).max(128))
      .min(1)
      .optional()
      .describe(
        "MCP methods (tools/call, prompts/get, resources/read, tools/list, …; `tools/*`, `*`); absent: any.",
      ),
    resources: resourceScope.optional(),
    when: z
      .string()
      .min(1)
      .max(4096)
      .optional()
      .describe("A CEL condition; the policy applies only when it is true."),
    obligations: obligationsSchema.optional(),
    enabled: z.boolean().default(true),
  })
  .superRefine((policy, ctx) => {
    if (policy.effect === "forbid" && policy.obligations) {
      ctx.addIssue({ code: "custom", path: ["obligations"], message: "only a permit carries obligations" });
    }
  });

export type PolicyDocument = z.output<typeof policySchema>;
export type Obligations = z.output<typeof obligationsSchema>;

/** A policy file: a list of policies, or an object with `policies:`. */
export const policyListSchema = z.array(policySchema);
export const policyDocumentSchema = z.strictObject({
  version: z.literal(1).optional(),
  policies: z.array(policySchema),
});
