// The config of the catalogue guard (`catalogGuard`): what a poisoned definition costs it (hide, flag,
// block), how definitions are pinned (on first use, or only by an operator), what shadowing does, and
// per-upstream overrides for a server the operator trusts. Defaults are the secure ones.
import { z } from "zod";
import { RULE_IDS } from "../layers/catalog/rules.ts";

const poisoningAction = z
  .enum(["hide", "flag", "block"])
  .describe(
    "`hide`: left out of lists and called as if it did not exist (the client gets unknown tool); `flag`: listed and callable, with a tool_poisoning_detected event; `block`: left out of lists and calls refused with PORTCULLIS_E_TOOL_POISONED.",
  );

const pinningMode = z
  .enum(["auto", "manual", "off"])
  .describe(
    "`auto`: an upstream's first catalogue is pinned (trust on first use), and a name it adds later is treated as pinning.newTools says; `manual`: a new tool or prompt is hidden until an operator approves it; `off`: no pins.",
  );

const shadowAction = (fallback: "off" | "flag" | "hide", description: string) =>
  z.enum(["off", "flag", "hide"]).default(fallback).describe(description);

const exemption = z
  .string()
  .min(1)
  .max(80)
  .refine(
    (pattern) =>
      pattern.endsWith("*")
        ? RULE_IDS.some((id) => id.startsWith(pattern.slice(0, -1)))
        : RULE_IDS.includes(pattern),
    {
      message:
        "a rule id of the catalogue guard (docs/catalog-guard.md), or a family ending in * (poison.url.*)",
    },
  );

const upstreamOverride = z.strictObject({
  trusted: z
    .boolean()
    .default(false)
    .describe(
      "A trusted upstream keeps a name that collides with another upstream's, and its descriptions may name other upstreams' tools. It is still scanned for poisoning.",
    ),
  exempt: z
    .array(exemption)
    .default([])
    .describe(
      "Rule ids (or families, `poison.url.*`) that do not count for this upstream's definitions, e.g. a documentation server that links to webhook.site on purpose.",
    ),
  poisoning: poisoningAction
    .optional()
    .describe("This upstream's poisoning action, instead of poisoning.action."),
  pinning: pinningMode.optional().describe("This upstream's pinning mode, instead of pinning.mode."),
});

export const catalogGuardSection = z
  .strictObject({
    enabled: z
      .boolean()
      .default(true)
      .describe(
        "Scan, pin and compare the tools, prompts and resources upstreams list before clients see them.",
      ),
    poisoning: z
      .strictObject({
        action: poisoningAction.default("block"),
        threshold: z
          .number()
          .int()
          .min(1)
          .max(100)
          .default(10)
          .describe(
            "Score at which a definition counts as poisoned: one strong signal (an instruction tag, a secrecy demand, hidden characters) weighs 10, weaker ones 2–8 and add up.",
          ),
        scorer: z
          .enum(["model", "rules"])
          .default("model")
          .describe(
            "model: besides the rules, a linear model trained on the project's definition corpora reads each definition's names and prose with the rules' findings, and a definition it scores at its operating point weighs the threshold (rule poison.learned-model); rules: the rules alone.",
          ),
        kinds: z
          .array(z.enum(["tools", "prompts", "resources", "resourceTemplates"]))
          .default(["tools", "prompts", "resources", "resourceTemplates"])
          .describe("Which lists are scanned."),
        maxDefinitionBytes: z
          .number()
          .int()
          .min(1_024)
          .max(4_194_304)
          .default(65_536)
          .describe(
            "A definition whose canonical JSON is larger is not scanned but treated as poisoned (poison.oversized).",
          ),
      })
      .prefault({})
      .describe(
        "Instructions, secrecy demands, hidden characters, suspicious URLs and encoded blobs in definitions.",
      ),
    pinning: z
      .strictObject({
        mode: pinningMode.default("auto"),
        newTools: z
          .enum(["hide", "flag"])
          .default("hide")
          .describe(
            "With `auto` pinning, a name an upstream adds after its first catalogue (a rug pull under a new name: `search` replaced by `search_v2`): `hide` withholds it (as unknown) until `portcullis tools approve`; `flag` pins it and raises a high-severity tool_changed event (change `new`). Either raises the event.",
          ),
        firstCatalogMs: z
          .number()
          .int()
          .min(0)
          .max(3_600_000)
          .default(60_000)
          .describe(
            "How long after the gateway (any node) first listed an upstream its new names still count as its first catalogue and are pinned on first use.",
          ),
        kinds: z
          .array(z.enum(["tools", "prompts"]))
          .default(["tools", "prompts"])
          .describe("Which definitions are pinned."),
        maxStoredBytes: z
          .number()
          .int()
          .min(0)
          .max(1_048_576)
          .default(32_768)
          .describe(
            "A pinned definition up to this size is kept in the state store (for `portcullis tools diff`); a larger one only by its hash.",
          ),
      })
      .prefault({})
      .describe(
        "Rug pulls: a definition that changes after it was pinned is hidden and its calls refused with PORTCULLIS_E_TOOL_CHANGED until `portcullis tools approve`.",
      ),
    shadowing: z
      .strictObject({
        confusable: shadowAction(
          "hide",
          "Names that differ as written but read the same once case, separators, NFKC forms and look-alike letters are folded (read_file and Read-File, or a Cyrillic letter), across upstreams: what happens to all but the one that keeps the name.",
        ),
        duplicates: shadowAction(
          "flag",
          "The same name on several upstreams (name spacing already tells them apart): what happens to all but the first.",
        ),
        crossReferences: shadowAction(
          "flag",
          "A description that names another upstream's tool or the upstream itself. It also adds to the poisoning score, so that with any instruction it is poisoned.",
        ),
      })
      .prefault({})
      .describe(
        "Tools of one upstream posing as, or speaking about, another upstream's. The name is kept by a trusted upstream, then by a plain ASCII name, then by the upstream listed first.",
      ),
    onDemandTimeoutMs: z
      .number()
      .int()
      .min(100)
      .max(60_000)
      .default(5_000)
      .describe(
        "How long a call waits for its upstream's current lists to be read and judged when its target has no verdict (the upstream hidden from lists: restarting) or a verdict on lists being read again (after a reconnection or a change notice); past it the call is refused (PORTCULLIS_E_UPSTREAM_TIMEOUT, rule catalog.unverified). A call to an upstream that is down or whose breaker is open is refused at once.",
      ),
    upstreams: z
      .record(z.string().regex(/^[A-Za-z0-9_-]{1,40}$/, "an upstream name"), upstreamOverride)
      .default({})
      .describe("Overrides per upstream (by its name under `upstreams`)."),
    cacheSize: z
      .number()
      .int()
      .min(100)
      .max(1_000_000)
      .default(10_000)
      .describe(
        "Scan verdicts kept by definition hash, so that an unchanged definition is never scanned twice.",
      ),
  })
  .prefault({})
  .describe(
    "The tool catalogue guard: poisoned definitions, rug pulls (pinning) and shadowing across upstreams (docs/catalog-guard.md).",
  );

export type CatalogGuardConfig = z.output<typeof catalogGuardSection>;
export type PoisoningAction = z.output<typeof poisoningAction>;
export type PinningMode = z.output<typeof pinningMode>;
export type NewToolsAction = CatalogGuardConfig["pinning"]["newTools"];
