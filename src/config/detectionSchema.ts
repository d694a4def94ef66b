// The config of the event-driven response: detector thresholds (`detection`) and, per detection,
// the playbook of responses (`responses`). Defaults are what a fresh install runs with.
import { z } from "zod";

const durationMs = (fallback: number, description: string) =>
  z
    .number()
    .int()
    .min(0)
    .max(30 * 86_400_000)
    .default(fallback)
    .describe(description);

const count = (fallback: number, description: string) =>
  z.number().int().min(1).max(1_000_000).default(fallback).describe(description);

const toolPatterns = (fallback: string[], description: string) =>
  z.array(z.string().min(1)).default(fallback).describe(description);

export const detectionSection = z
  .strictObject({
    enabled: z.boolean().default(true).describe("Run the detectors (off: events are still logged and sent)."),
    cooldownMs: durationMs(
      300_000,
      "The same detection about the same subject is raised at most once per this period.",
    ),
    maxSubjects: count(
      50_000,
      "Principals and addresses each detector remembers at most (oldest forgotten first).",
    ),
    bruteForce: z
      .strictObject({
        enabled: z.boolean().default(true),
        failures: count(10, "Authentication failures from one address, or for one principal, that raise it."),
        windowMs: durationMs(60_000, "Sliding window the failures are counted in."),
      })
      .prefault({})
      .describe("Brute force: repeated authentication failures."),
    credentialStuffing: z
      .strictObject({
        enabled: z.boolean().default(true),
        principals: count(5, "Distinct principals failing authentication from one address that raise it."),
        windowMs: durationMs(300_000, "Sliding window the principals are counted in."),
      })
      .prefault({})
      .describe("Credential stuffing: many identities tried from one address."),
    privilegeProbing: z
      .strictObject({
        enabled: z.boolean().default(true),
        denials: count(
          5,
          "Refused calls to high-risk tools by one principal from one address that raise it.",
        ),
        windowMs: durationMs(300_000, "Sliding window the refusals are counted in."),
        highRiskTools: toolPatterns(
          [
            "*delete*",
            "*remove*",
            "*drop*",
            "*exec*",
            "*shell*",
            "*command*",
            "*admin*",
            "*write*",
            "*deploy*",
            "*secret*",
            "*credential*",
            "*token*",
            "*password*",
            "*sudo*",
            "*kill*",
          ],
          "Tool names (public, `*` wildcards only, case-insensitive) treated as high risk, besides tools annotated destructiveHint.",
        ),
      })
      .prefault({})
      .describe(
        "Privilege probing: repeated refusals on high-risk tools (including tools that do not exist).",
      ),
    anomaly: z
      .strictObject({
        rate: z
          .strictObject({
            enabled: z.boolean().default(true),
            windowMs: durationMs(60_000, "Length of one window of the principal's call rate."),
            factor: z
              .number()
              .min(1)
              .max(1000)
              .default(5)
              .describe("Raised when a window's calls exceed the baseline times this."),
            minCalls: count(30, "…and exceed this many calls (quiet principals do not alarm on a handful)."),
            learningWindows: count(10, "Windows observed before the baseline is trusted."),
          })
          .prefault({}),
        firstUse: z
          .strictObject({
            enabled: z.boolean().default(true),
            learningMs: durationMs(
              7 * 86_400_000,
              "After a principal's first call, how long new tools are learnt silently.",
            ),
          })
          .prefault({}),
        unusualHours: z
          .strictObject({
            enabled: z.boolean().default(true),
            minHistory: count(200, "Calls of the principal observed before hours are judged."),
            maxShare: z
              .number()
              .min(0)
              .max(1)
              .default(0.01)
              .describe(
                "An hour of the day (UTC) holding less than this share of the principal's calls is unusual.",
              ),
          })
          .prefault({}),
      })
      .prefault({})
      .describe("Behaviour anomalies against each principal's own history."),
    exfiltration: z
      .strictObject({
        enabled: z.boolean().default(true),
        windowMs: durationMs(
          600_000,
          "How long after a sensitive result a call to an external sink is suspicious.",
        ),
        sensitiveTools: toolPatterns(
          ["*secret*", "*credential*", "*password*", "*token*", "*private*", "*read_file*", "*query*"],
          "Tools whose results are sensitive (besides results the data layer labels sensitive).",
        ),
        sinkTools: toolPatterns(
          [
            "*send*",
            "*post*",
            "*upload*",
            "*email*",
            "*mail*",
            "*http*",
            "*fetch*",
            "*webhook*",
            "*publish*",
          ],
          "Tools that carry data out (besides tools annotated openWorldHint: true).",
        ),
      })
      .prefault({})
      .describe("Exfiltration suspicion: a sensitive result followed by a call to an external sink."),
  })
  .prefault({});

const forMs = (fallback: number) => durationMs(fallback, "How long the response stays in force.");

const responseAction = z.discriminatedUnion("action", [
  z.strictObject({ action: z.literal("block-address"), forMs: forMs(900_000) }),
  z.strictObject({ action: z.literal("revoke-session"), forMs: forMs(3_600_000) }),
  z.strictObject({
    action: z.literal("lower-trust"),
    by: z.number().min(0).max(1).default(0.2).describe("How much the principal's trust score drops."),
    forMs: forMs(3_600_000),
  }),
  z.strictObject({ action: z.literal("step-up"), forMs: forMs(3_600_000) }),
  z.strictObject({
    action: z.literal("alert"),
    severity: z
      .enum(["low", "medium", "high", "critical"])
      .default("high")
      .describe("Severity of the alert event."),
  }),
]);

export type ResponseAction = z.output<typeof responseAction>;

const playbook = (fallback: z.input<typeof responseAction>[], description: string) =>
  z
    .array(responseAction)
    // Defaults go through the schema too, so that their own defaults (an alert's severity) apply.
    .default(() => z.array(responseAction).parse(fallback))
    .describe(description);

export const responsesSection = z
  .strictObject({
    brute_force: playbook(
      [{ action: "block-address", forMs: 900_000 }, { action: "alert" }],
      "Responses to brute force.",
    ),
    credential_stuffing: playbook(
      [{ action: "block-address", forMs: 3_600_000 }, { action: "alert" }],
      "Responses to credential stuffing.",
    ),
    privilege_probing: playbook(
      [
        { action: "lower-trust", by: 0.2, forMs: 3_600_000 },
        { action: "step-up", forMs: 3_600_000 },
        { action: "alert" },
      ],
      "Responses to privilege probing.",
    ),
    anomaly: playbook(
      [{ action: "lower-trust", by: 0.1, forMs: 3_600_000 }],
      "Responses to behaviour anomalies.",
    ),
    exfiltration_suspected: playbook(
      [
        { action: "step-up", forMs: 3_600_000 },
        { action: "lower-trust", by: 0.3, forMs: 3_600_000 },
        { action: "alert", severity: "critical" },
      ],
      "Responses to suspected exfiltration.",
    ),
  })
  .prefault({})
  .describe(
    "Playbooks: what the gateway does when a detector fires (block-address, revoke-session, lower-trust, step-up, alert).",
  );

export type DetectionConfig = z.output<typeof detectionSection>;
export type ResponsesConfig = z.output<typeof responsesSection>;
