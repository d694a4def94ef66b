// secretlint's recommended preset (a maintained set of provider rules) run as part of the scan: each
// rule is created once through the public rule API and run synchronously on a text, and only when
// the text holds one of the prefixes or markers its patterns start with (so a text with none costs
// nothing). secretlint's profiler, which `@secretlint/core` feeds on every lint and which otherwise
// grows without bound in a long-running process, is turned off when this module loads.
import { secretLintProfiler } from "@secretlint/profiler";
import { rules as presetRules } from "@secretlint/secretlint-rule-preset-recommend";
import type {
  SecretLintRuleContext,
  SecretLintRuleCreator,
  SecretLintRuleMessageTranslateResult,
  SecretLintRuleReportHandler,
  SecretLintSourceCode,
} from "@secretlint/types";
import { PRIORITY, type Finding } from "./finding.ts";
import { isPlaceholderSecret } from "./placeholders.ts";
import type { Triggers } from "./secrets.ts";

secretLintProfiler.setEnabled(false);

const PREFIX = "@secretlint/secretlint-rule-";

/**
 * Per rule: the kind its findings are named by, and the literals (as the project's own scan records
 * them) without which the rule's patterns cannot match. `null`: the rule never applies to a text
 * (gcp reads `.json`/`.p12` files only). A preset rule missing here runs on every text.
 */
const PRESET_RULES: Readonly<Record<string, { kind: string; triggers: readonly string[] | null }>> = {
  aws: { kind: "aws-secret-key", triggers: ["secret-word"] },
  gcp: { kind: "gcp-service-account", triggers: null },
  privatekey: { kind: "private-key", triggers: ["-----BEGIN"] },
  npm: { kind: "npm-token", triggers: ["npm_", "_authToken="] },
  // Every URL pattern of these rules needs credentials in the URL (`://user:password@`).
  basicauth: { kind: "url-password", triggers: ["url-credentials"] },
  slack: {
    kind: "slack-token",
    triggers: ["xoxb-", "xoxp-", "xoxa-", "xoxo-", "xoxr-", "xapp-", "hooks.slack.com/"],
  },
  sendgrid: { kind: "sendgrid-key", triggers: ["SG."] },
  shopify: { kind: "shopify-token", triggers: ["shpat_", "shpca_", "shppa_", "shpss_"] },
  stripe: { kind: "stripe-key", triggers: ["sk_live_", "sk_test_", "rk_live_", "rk_test_"] },
  github: {
    kind: "github-token",
    triggers: ["ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_", "url-credentials"],
  },
  gitlab: { kind: "gitlab-token", triggers: ["glpat-"] },
  grafana: { kind: "grafana-token", triggers: ["glc_", "glsa_"] },
  openai: { kind: "openai-key", triggers: ["sk-"] },
  anthropic: { kind: "anthropic-key", triggers: ["sk-ant-"] },
  groq: { kind: "groq-key", triggers: ["gsk_"] },
  huggingface: { kind: "huggingface-token", triggers: ["hf_"] },
  linear: { kind: "linear-key", triggers: ["lin_api_"] },
  notion: { kind: "notion-token", triggers: ["ntn_"] },
  "1password": { kind: "onepassword-token", triggers: ["ops_ey"] },
  "database-connection-string": { kind: "connection-string", triggers: ["url-credentials"] },
  "hashicorp-vault": { kind: "vault-token", triggers: ["hvs.", "hvb.", "hvr."] },
  vercel: { kind: "vercel-token", triggers: ["vcp_", "vci_", "vca_", "vcr_", "vck_"] },
  databricks: { kind: "databricks-token", triggers: ["dapi"] },
  docker: { kind: "docker-token", triggers: ["dckr_pat_"] },
  figma: { kind: "figma-token", triggers: ["figd_"] },
  cloudflare: { kind: "cloudflare-token", triggers: ["cfk_", "cfut_", "cfat_"] },
  tailscale: { kind: "tailscale-key", triggers: ["tskey-"] },
};

/**
 * Rules never run: `filter-comments` lets the scanned text switch detection off
 * (`secretlint-disable`), which a tool's output must never be able to do.
 */
const EXCLUDED = new Set(["filter-comments"]);

interface Report {
  readonly messageId: string;
  readonly range: readonly [number, number];
}

interface PresetRule {
  readonly id: string;
  readonly kind: string;
  readonly triggers: readonly string[] | undefined;
  readonly handler: SecretLintRuleReportHandler;
  /** What the rule reported during the current scan (emptied before and after each). */
  readonly reports: Report[];
}

/** A translator that never formats a message: the messages quote the secret, which we do not keep. */
const translate = (messageId: string): SecretLintRuleMessageTranslateResult<Record<string, never>> => ({
  message: "",
  messageId,
  data: undefined,
});

function createRule(creator: SecretLintRuleCreator<unknown>, id: string): PresetRule | undefined {
  const known = PRESET_RULES[id];
  if (known?.triggers === null) return undefined;
  const reports: Report[] = [];
  const context: SecretLintRuleContext = {
    sharedOptions: {},
    createTranslator: (() => translate) as SecretLintRuleContext["createTranslator"],
    report: (descriptor) => {
      reports.push({ messageId: descriptor.message.messageId, range: descriptor.range });
    },
    ignore: () => undefined,
  };
  return {
    id,
    kind: known?.kind ?? "secret",
    triggers: known?.triggers,
    handler: creator.create(context, {}),
    reports,
  };
}

/** The preset's scanner rules, created once. */
export const presetScanners: readonly PresetRule[] = (presetRules as SecretLintRuleCreator<unknown>[])
  .filter((creator) => creator.meta.type === "scanner")
  .map((creator) => {
    const id = creator.meta.id.startsWith(PREFIX) ? creator.meta.id.slice(PREFIX.length) : creator.meta.id;
    return EXCLUDED.has(id) ? undefined : createRule(creator, id);
  })
  .filter((rule): rule is PresetRule => rule !== undefined);

/** Preset rule ids with no gate in PRESET_RULES (they run on every text; a test lists them). */
export const ungatedPresetRules: readonly string[] = presetScanners
  .filter((rule) => rule.triggers === undefined)
  .map((rule) => rule.id);

/**
 * Runs the preset rules whose triggers the text holds (every rule when `gated` is false, to check that
 * the gates change nothing); their findings are appended to `out`.
 */
export function scanWithSecretlint(text: string, seen: Triggers, out: Finding[], gated = true): void {
  let source: SecretLintSourceCode | undefined;
  for (const rule of presetScanners) {
    if (gated && rule.triggers && !rule.triggers.some((trigger) => seen.has(trigger))) continue;
    source ??= sourceOf(text);
    rule.reports.length = 0;
    // Text rules are synchronous; a rule that answered with a promise would report too late to count.
    void rule.handler.file?.(source);
    for (const { messageId, range } of rule.reports) {
      const kind = rule.id === "slack" && /webhook/i.test(messageId) ? "slack-webhook" : rule.kind;
      out.push({
        kind,
        category: "secret",
        start: range[0],
        end: range[1],
        rule: `secretlint/${rule.id}`,
        placeholder: isPlaceholderSecret(text.slice(range[0], range[1])),
        priority: PRIORITY.secretlint,
      });
    }
    rule.reports.length = 0;
  }
}

/** A text as secretlint's rules see a file: no path (so no rule reads from disk), no extension. */
function sourceOf(content: string): SecretLintSourceCode {
  let lineStarts: number[] | undefined;
  const lines = (): number[] => {
    if (!lineStarts) {
      lineStarts = [0];
      for (let i = content.indexOf("\n"); i >= 0; i = content.indexOf("\n", i + 1)) lineStarts.push(i + 1);
    }
    return lineStarts;
  };
  const indexToPosition = (index: number) => {
    const starts = lines();
    let line = 0;
    for (let lo = 0, hi = starts.length - 1; lo <= hi;) {
      const mid = (lo + hi) >> 1;
      if ((starts[mid] ?? 0) <= index) [line, lo] = [mid, mid + 1];
      else hi = mid - 1;
    }
    return { line: line + 1, column: index - (starts[line] ?? 0) };
  };
  const positionToIndex = (position: { line: number; column: number }) =>
    (lines()[position.line - 1] ?? content.length) + position.column;
  return {
    hasBOM: false,
    content,
    filePath: undefined,
    physicalFilePath: undefined,
    contentType: "text",
    ext: "",
    getFilePath: () => undefined,
    getPhysicalFilePath: () => undefined,
    indexToPosition,
    positionToIndex,
    rangeToLocation: (range) => ({ start: indexToPosition(range[0]), end: indexToPosition(range[1]) }),
    locationToRange: (location) => [positionToIndex(location.start), positionToIndex(location.end)],
  };
}
