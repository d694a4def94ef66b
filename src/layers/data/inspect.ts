// One text through the data guard: one scan for secrets and personal data, exfiltration links and
// the injection score, then the text as the client (or the upstream) gets it: findings redacted or
// masked per the target's actions, links redacted, and forged Portcullis markers defused.
import type { DataAction } from "../../config/dataGuardSchema.ts";
import type { DataCategory } from "../../redaction/kinds.ts";
import { maskValue, redactionMarker, scanText } from "../../redaction/scan.ts";
import { secretValue } from "../../redaction/secrets.ts";
import type { ScanWork } from "./budget.ts";
import { scoreInjection, type InjectionScorer, type InjectionVerdict } from "./injection.ts";
import { findExfilLinks, type ExfilLink } from "./links.ts";
import type { DirectionPolicy, LinkAction } from "./policy.ts";

/** A finding the target's policy acts on (never its value). */
export interface DataHit {
  readonly kind: string;
  readonly category: DataCategory;
  readonly rule: string;
  readonly action: DataAction;
}

export interface TextInspection {
  readonly text: string;
  readonly hits: readonly DataHit[];
  readonly links: readonly ExfilLink[];
  readonly injection: InjectionVerdict | undefined;
}

export interface InspectOptions {
  readonly policy: DirectionPolicy;
  /** The text is shown to the model: look for injections and exfiltration links. */
  readonly modelFacing: boolean;
  /** The value of a secret-looking key (`password`, `api_key`): a secret even without a known format. */
  readonly secretField: boolean;
  readonly links: LinkAction;
  readonly allowedHost: (host: string) => boolean;
  /** Who scores the text for injections (dataGuard.injection.scorer; model-facing texts only), or none. */
  readonly injection: InjectionScorer | undefined;
  /** The message's work budget: each pass charges the characters it reads. */
  readonly work: ScanWork;
}

/** Texts shorter than this carry no instruction worth scoring. */
const MIN_INJECTION_LENGTH = 16;
const LINK_MARKER = redactionMarker("exfil-link");

interface Replacement {
  readonly start: number;
  readonly end: number;
  readonly marker: string;
}

export function inspectText(text: string, options: InspectOptions): TextInspection {
  const { policy, work } = options;
  const hits: DataHit[] = [];
  const replacements: Replacement[] = [];
  const scanning = policy.scanSecrets || policy.scanPii;
  if (scanning) work.spend(text.length);
  const findings = scanning ? scanText(text, { secrets: policy.scanSecrets, pii: policy.scanPii }) : [];
  for (const finding of findings) {
    if (finding.placeholder) continue;
    const action = policy.action(finding.kind);
    if (action === "allow") continue;
    hits.push({ kind: finding.kind, category: finding.category, rule: finding.rule, action });
    if (action === "redact" || action === "mask") {
      const value = text.slice(finding.start, finding.end);
      const marker = action === "redact" ? redactionMarker(finding.kind) : maskValue(value);
      replacements.push({ start: finding.start, end: finding.end, marker });
    }
  }
  if (options.secretField && !hits.some((hit) => hit.category === "secret") && secretValue(text)) {
    const action = policy.action("secret-field");
    if (action !== "allow") {
      hits.push({ kind: "secret-field", category: "secret", rule: "portcullis/secret-field", action });
      if (action === "redact" || action === "mask")
        replacements.push({
          start: 0,
          end: text.length,
          marker: action === "redact" ? redactionMarker("secret-field") : maskValue(text),
        });
    }
  }
  let links: ExfilLink[] = [];
  let injection: InjectionVerdict | undefined;
  if (options.modelFacing) {
    if (options.links !== "off") links = findExfilLinks(text, options.allowedHost, work);
    if (options.links === "redact")
      for (const link of links) replacements.push({ start: link.start, end: link.end, marker: LINK_MARKER });
    if (options.injection && text.length >= MIN_INJECTION_LENGTH) {
      work.spend(text.length);
      const verdict = scoreInjection(text, [...new Set(links.map((link) => link.rule))], {
        scorer: options.injection,
      });
      if (verdict.score > 0) injection = verdict;
    }
  }
  let out = applyReplacements(text, replacements);
  if (options.modelFacing) {
    work.spend(text.length);
    out = defuseMarkers(out);
  }
  return { text: out, hits, links, injection };
}

/** Replaces non-overlapping ranges; of two that overlap, the one that starts first (the longer at a tie). */
function applyReplacements(text: string, replacements: Replacement[]): string {
  if (replacements.length === 0) return text;
  replacements.sort((a, b) => a.start - b.start || b.end - a.end);
  let out = "";
  let from = 0;
  for (const { start, end, marker } of replacements) {
    if (start < from) continue;
    out += text.slice(from, start) + marker;
    from = end;
  }
  return out + text.slice(from);
}

import { prepareText } from "../catalog/text.ts";

/** An opening bracket, then markdown emphasis or spaces, then the gateway's name (read folded). */
const FORGED_MARKER = /[[【〔][\s*_~`#>]{0,8}(?=portcullis)/gi;

/**
 * Text from upstream that imitates the gateway's own markers is labelled as such. The name is looked
 * for in the text as a model reads it: full-width brackets and letters, look-alikes and invisible
 * characters folded, so `［Portcullis`, `[\u200BPortcullis` and `[Port\u00ADcullis` count too.
 */
export function defuseMarkers(text: string): string {
  if (!/[^\x20-\x7e\s]/.test(text) && !/portcullis/i.test(text)) return text;
  const { folded, after } = fold(text);
  if (!/portcullis/i.test(folded)) return text;
  let out = "";
  let from = 0;
  for (const m of folded.matchAll(FORGED_MARKER)) {
    // Just after the opening bracket in the original text.
    const at = after[m.index] ?? 0;
    if (at < from) continue;
    out += text.slice(from, at) + "(not from the gateway) ";
    from = at;
  }
  return from === 0 ? text : out + text.slice(from);
}

/** The text folded as prepareText reads it, and for each folded character the original offset after it. */
function fold(text: string): { folded: string; after: number[] } {
  if (!/[^\x20-\x7e\s]/.test(text))
    return { folded: text, after: [...Array(text.length).keys()].map((i) => i + 1) };
  let folded = "";
  const after: number[] = [];
  for (let i = 0; i < text.length;) {
    const cp = text.codePointAt(i) ?? 0;
    const len = cp > 0xffff ? 2 : 1;
    const ch = text.slice(i, i + len);
    const read = cp < 0x80 ? ch : prepareText(ch).text;
    for (let k = 0; k < read.length; k++) {
      folded += read[k];
      after.push(i + len);
    }
    i += len;
  }
  return { folded, after };
}
