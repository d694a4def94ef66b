// The config of the data guard (`dataGuard`): what happens to secrets and personal data in results
// going to the client and in tool arguments going upstream (per data type, with overrides per tool,
// prompt, resource or upstream), prompt-injection handling in results, exfiltration links, and the
// bounds of one scan. Defaults redact credentials in results and mask cards and IBANs.
import { z } from "zod";
import { DATA_TYPES } from "../redaction/kinds.ts";

const dataAction = z
  .enum(["allow", "flag", "redact", "mask", "block"])
  .describe(
    "allow: leave it; flag: leave it and raise an event; redact: replace it with [REDACTED:<kind>]; mask: keep the last 4 letters and digits; block: refuse the whole message (PORTCULLIS_E_DATA_BLOCKED).",
  );

export type DataAction = z.output<typeof dataAction>;

const actions = (fallback: Partial<Record<(typeof DATA_TYPES)[number], DataAction>>, description: string) =>
  z
    .partialRecord(z.enum(DATA_TYPES), dataAction)
    .default(fallback)
    .describe(
      `${description} Keys are data types: \`secret\` (every credential), \`pii\`, \`national-id\`, or one kind (\`github-token\`, \`email\`, \`card-number\`, \`us-ssn\`, …); the most specific key wins.`,
    );

export type DataActions = Partial<Record<(typeof DATA_TYPES)[number], DataAction>>;

const injectionAction = z
  .enum(["off", "flag", "quarantine", "block"])
  .describe(
    "off: do not look; flag: an injection_detected event only; quarantine: wrap the text in a visible marker that tells the model it is data; block: withhold the result (PORTCULLIS_E_INJECTION_BLOCKED).",
  );

const linkAction = z
  .enum(["off", "flag", "redact", "block"])
  .describe(
    "off: do not look; flag: an event only; redact: replace the link's URL with [REDACTED:exfil-link]; block: withhold the result.",
  );

const hostPattern = z
  .string()
  .regex(/^(?:\*\.)?[a-z0-9]([a-z0-9-]{0,62}\.)*[a-z0-9-]{1,63}$/i, "a host name, or *. and a domain")
  .describe("A host (`docs.github.com`) or every host under a domain (`*.github.com`).");

const override = z.strictObject({
  tools: z.array(z.string().min(1)).optional().describe("Public tool names (`*` and `?` wildcards)."),
  prompts: z.array(z.string().min(1)).optional().describe("Public prompt names (wildcards)."),
  resources: z.array(z.string().min(1)).optional().describe("Resource URIs (wildcards, case-sensitive)."),
  upstreams: z
    .array(z.string().min(1))
    .optional()
    .describe("Every tool, prompt and resource of these upstreams."),
  results: z
    .partialRecord(z.enum(DATA_TYPES), dataAction)
    .optional()
    .describe("Actions on results of the matching targets (over `results`)."),
  arguments: z
    .partialRecord(z.enum(DATA_TYPES), dataAction)
    .optional()
    .describe("Actions on arguments sent to the matching tools (over `arguments` and `externalArguments`)."),
  injection: injectionAction.optional(),
  links: linkAction.optional(),
  allowedLinkHosts: z
    .array(hostPattern)
    .optional()
    .describe("Link hosts allowed in these targets' results, besides `links.allowedHosts`."),
});

export type DataGuardOverride = z.output<typeof override>;

export const dataGuardSection = z
  .strictObject({
    enabled: z
      .boolean()
      .default(true)
      .describe(
        "Scan results, resources, prompts and tool arguments, upstreams' requests to the client (sampling, elicitation) and notifications, and the client's answers, for secrets, personal data and injections.",
      ),
    results: actions(
      { secret: "redact", "national-id": "redact", "card-number": "mask", iban: "mask" },
      "What happens to each data type found in tool results, resource contents, prompt messages, upstreams' requests to the client and notifications going to the client (unlisted: allow).",
    ),
    arguments: actions(
      { secret: "flag" },
      "What happens to each data type found in tool-call arguments, and in the client's answers to upstreams' requests (sampling, elicitation, roots), going upstream (unlisted: allow).",
    ),
    externalArguments: actions(
      { secret: "block", "card-number": "block", "national-id": "block", iban: "block" },
      "Arguments going to a tool that sends data outside (a label in `externalLabels`, or openWorldHint), and answers going to an upstream that carries such a label as a whole: these actions come before `arguments`.",
    ),
    externalLabels: z
      .array(z.string().min(1))
      .default(["external-sink"])
      .describe("Flow labels that make a tool external (see dataFlow.labels)."),
    injection: z
      .strictObject({
        action: injectionAction.default("quarantine"),
        threshold: z
          .number()
          .min(0.05)
          .max(1)
          .default(0.5)
          .describe(
            "Score (0 to 1) at and above which a text counts as an injection. With the model scorer, 0.5 is the model's operating point; lower is more sensitive.",
          ),
        scorer: z
          .enum(["model", "rules"])
          .default("model")
          .describe(
            "model: a linear model trained on the project's corpora weighs the text's wording with the rules' findings (rules that do not read wording, such as invisible characters, keep their own weight); rules: the noisy-OR of the rules' weights alone.",
          ),
      })
      .prefault({})
      .describe("Prompt-injection detection in results (rules and scoring; see docs/data-guard.md)."),
    links: z
      .strictObject({
        action: linkAction.default("redact"),
        allowedHosts: z
          .array(hostPattern)
          .default([])
          .describe("Hosts whose links and images are never treated as exfiltration."),
      })
      .prefault({})
      .describe(
        "Exfiltration links in results: markdown images and links, reference definitions and HTML elements whose URL carries data to a host not allowed.",
      ),
    overrides: z
      .array(override)
      .default([])
      .describe(
        "Per tool, prompt, resource or upstream: actions that come before the defaults above; later entries come before earlier ones.",
      ),
    limits: z
      .strictObject({
        maxDepth: z
          .number()
          .int()
          .min(4)
          .max(256)
          .default(32)
          .describe("Nesting depth of a result or arguments that is scanned."),
        maxChars: z
          .number()
          .int()
          .min(1024)
          .max(64 * 1_048_576)
          .default(4 * 1_048_576)
          .describe("Characters of text scanned per message (about 30 to 80 ms of CPU at the default)."),
        maxWork: z
          .number()
          .int()
          .min(65_536)
          .max(1_073_741_824)
          .optional()
          .describe(
            "Work one message may cost the data guard, in characters read: every pass over every string (secrets and personal data, links, injection scoring, the whole-message injection score) counts, as does each JSON value and key walked, and each link target judged counts 1024. Past it the message is refused (PORTCULLIS_E_DATA_BLOCKED, rule data:too-much-work) whatever `oversize` says. Default: 8 × maxChars.",
          ),
        oversize: z
          .enum(["block", "allow"])
          .default("block")
          .describe(
            "A message deeper or longer than the limits: block (PORTCULLIS_E_DATA_BLOCKED, rule data:too-large) or let it through unscanned with an event. A message over `maxWork` is always refused.",
          ),
      })
      .prefault({})
      .describe("Bounds of one scan: what is not scanned cannot be let through silently."),
  })
  .prefault({})
  .describe(
    "The data guard: secrets, personal data and prompt injections in messages; see docs/data-guard.md.",
  );

export type DataGuardConfig = z.output<typeof dataGuardSection>;
