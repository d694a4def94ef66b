// What bench/scanners.ts measures: each content scanner with the input it reads in the gateway
// (tool output with findings for the data guard, tool definitions for the catalogue guard, a
// documentation tool's arguments for the schema check and the argument guard), at any size.
import { argumentsSection } from "../src/config/argumentsSchema.ts";
import { validationSection } from "../src/config/validationSchema.ts";
import { argumentGuardLayer } from "../src/layers/arguments/index.ts";
import { DefinitionScanner } from "../src/layers/catalog/scanner.ts";
import type { DataSummary } from "../src/layers/data/index.ts";
import { scoreInjection } from "../src/layers/data/injection.ts";
import { findExfilLinks } from "../src/layers/data/links.ts";
import { validationLayer } from "../src/layers/validation/index.ts";
import type { Layer, RequestView, RouteTarget, Verdict } from "../src/pipeline/types.ts";
import { scanText } from "../src/redaction/scan.ts";
import { testContext } from "../test/helpers/context.ts";
import { benchTool, defaultDataGuard, mixedText } from "./lib/corpus.ts";

export interface Subject {
  readonly scanner: string;
  readonly label: string;
  /** Builds the input of one size: the scan to repeat, the bytes it reads, what it found. */
  prepare(size: number): Promise<Prepared>;
}

export interface Prepared {
  readonly bytes: number;
  readonly run: () => unknown;
  readonly outcome: string;
}

/** Tool output with a finding (credential, personal data, exfiltration link) every 2 KB or so. */
const resultText = (size: number) => mixedText(size, { findingEvery: 2048 });

const byteLength = (text: string) => Buffer.byteLength(text);
const count = (n: number, noun: string) => `${n} ${noun}${n === 1 ? "" : "s"}`;

/** A scanner of one result text: timed on `scan`, described by what one scan found. */
function textSubject<T>(
  scanner: Subject["scanner"],
  label: string,
  scan: (text: string) => T,
  describe: (found: T) => string,
): Subject {
  return {
    scanner,
    label,
    async prepare(size) {
      const text = resultText(size);
      return { bytes: byteLength(text), run: () => scan(text), outcome: describe(scan(text)) };
    },
  };
}

const DATA_SUBJECTS: readonly Subject[] = [
  textSubject("secrets-pii", "secrets and personal data (`scanText`)", scanText, (found) =>
    count(found.length, "finding"),
  ),
  textSubject("injection", "injection score (`scoreInjection`)", scoreInjection, (v) => `score ${v.score}`),
  textSubject(
    "exfil-links",
    "exfiltration links (`findExfilLinks`, no host allowed)",
    (text) => findExfilLinks(text, () => false),
    (links) => count(links.length, "link"),
  ),
  {
    scanner: "data-guard",
    label: "data guard, one result (`onResult`, defaults)",
    async prepare(size) {
      const guard = defaultDataGuard();
      const text = resultText(size);
      const result = { content: [{ type: "text", text }] };
      const view = { method: "tools/call", target: benchTool, result };
      const ctx = testContext();
      const verdict = await guard.onResult?.(view, ctx);
      return {
        bytes: byteLength(text),
        run: () => guard.onResult?.(view, testContext()),
        outcome: dataOutcome(verdict, ctx.findings.data?.result),
      };
    },
  },
];

function dataOutcome(verdict: Verdict<Record<string, unknown>> | undefined, summary?: DataSummary): string {
  const what = verdict === undefined ? "unchanged" : verdict.kind === "pass" ? "rewritten" : verdict.kind;
  if (!summary) return what;
  const kinds = summary.secrets.length + summary.pii.length;
  const injection = summary.injection
    ? `, injection ${summary.injection.score} (${summary.injection.action})`
    : "";
  return `${what}: ${count(kinds, "kind")} of data, ${count(summary.exfilLinks, "link")}${injection}`;
}

/** A tool definition of about `size` bytes: a description and documented string properties. */
function toolDefinition(size: number, seed: number): Record<string, unknown> {
  const prose = mixedText(size, { seed }).split(/\n\n/);
  const properties: Record<string, unknown> = {};
  const definition = {
    name: "publish_report",
    description: prose[0] ?? "",
    inputSchema: { type: "object", properties, required: ["field_0"] },
  };
  let bytes = byteLength(JSON.stringify(definition));
  for (let i = 1; ; i++) {
    const description = (prose[i % prose.length] ?? "").slice(0, 400);
    const property = { type: "string", description, maxLength: 10_000 };
    const added = byteLength(JSON.stringify(property)) + `"field_${i}":,`.length;
    if (bytes + added > size) break;
    properties[`field_${i}`] = property;
    bytes += added;
  }
  return definition;
}

const CATALOG_SUBJECTS: readonly Subject[] = [
  {
    scanner: "definition",
    label: "catalogue definition, first sight (`DefinitionScanner#scan`)",
    async prepare(size) {
      const definition = toolDefinition(size, 11);
      const bytes = byteLength(JSON.stringify(definition));
      // The default bound is 64 KiB (`catalogGuard.maxDefinitionBytes`); a larger definition is not
      // read at all, so the 1 MiB figure is for that bound raised.
      const scanner = new DefinitionScanner({ cacheSize: 16, maxDefinitionBytes: Math.max(65_536, bytes) });
      let hash = 0;
      return {
        bytes,
        // A new hash each time: nothing comes from the cache.
        run: () => scanner.scan(definition, `fresh-${hash++}`, bytes),
        outcome: count(scanner.scan(definition, "outcome", bytes).findings.length, "finding"),
      };
    },
  },
  {
    scanner: "definition-unchanged",
    label: "catalogue definition, unchanged (its JSON text, the cached verdict)",
    async prepare(size) {
      const definition = toolDefinition(size, 11);
      const bytes = byteLength(JSON.stringify(definition));
      const scanner = new DefinitionScanner({ maxDefinitionBytes: Math.max(65_536, bytes) });
      scanner.scan(definition, "seen", bytes);
      return {
        bytes,
        // What the guard does for a definition it has judged: its text is the key of its digest.
        run: () =>
          JSON.stringify(definition).length + scanner.scan(definition, "seen", bytes).findings.length,
        outcome: "cached",
      };
    },
  },
];

/** A documentation tool whose arguments carry most of a call's bytes in sections of text. */
const DOCS_TOOL = {
  name: "publish_document",
  description: "Publish a document to the team's knowledge base.",
  inputSchema: {
    type: "object",
    properties: {
      path: { type: "string", minLength: 1, maxLength: 4096 },
      source: { type: "string", format: "uri" },
      branch: { type: "string", pattern: "^[A-Za-z0-9._/-]{1,200}$" },
      title: { type: "string", maxLength: 500 },
      tags: { type: "array", maxItems: 100, items: { type: "string", pattern: "^[a-z0-9-]{1,40}$" } },
      sections: {
        type: "array",
        items: {
          type: "object",
          properties: {
            heading: { type: "string", maxLength: 500 },
            level: { type: "integer", minimum: 1, maximum: 6 },
            text: { type: "string", maxLength: 100_000 },
          },
          required: ["heading", "text"],
          additionalProperties: false,
        },
      },
      draft: { type: "boolean" },
    },
    required: ["path", "title", "sections"],
    additionalProperties: false,
  },
} as const;

const docsTarget: RouteTarget = {
  upstream: "docs",
  kind: "tool",
  name: DOCS_TOOL.name,
  publicName: `docs__${DOCS_TOOL.name}`,
  definition: DOCS_TOOL,
};

/**
 * Arguments of about `size` bytes (their JSON): a path, a URL, a branch, and sections of clean text
 * of up to 2 KB each (so that 1 MiB stays within the guard's default of 10,000 values per call).
 */
function documentArguments(size: number): Record<string, unknown> {
  const paragraphs: string[] = [];
  for (const paragraph of mixedText(size, { seed: 23 }).split("\n\n")) {
    const last = paragraphs.length - 1;
    if (last >= 0 && paragraphs[last]!.length + paragraph.length < 2048)
      paragraphs[last] += `\n\n${paragraph}`;
    else paragraphs.push(paragraph.slice(0, 2048));
  }
  const sections: { heading: string; level: number; text: string }[] = [];
  const args = {
    path: "reports/2024/q3-platform-review.md",
    source: "https://docs.acme-corp.com/drafts/q3-platform-review",
    branch: "release/2024.09",
    title: "Q3 platform review",
    tags: ["platform", "quarterly", "review"],
    sections,
    draft: false,
  };
  let bytes = byteLength(JSON.stringify(args));
  for (let i = 0; ; i++) {
    const section = {
      heading: `Section ${i + 1}`,
      level: 2,
      text: paragraphs[i % paragraphs.length] ?? "",
    };
    const added = byteLength(JSON.stringify(section)) + 1;
    if (bytes + added > size) {
      // A small call still carries one section: the first, cut to what is left.
      if (sections.length === 0)
        sections.push({ ...section, text: section.text.slice(0, size - bytes - 48) });
      break;
    }
    sections.push(section);
    bytes += added;
  }
  return args;
}

function callOf(args: Record<string, unknown>): RequestView {
  return {
    method: "tools/call",
    params: { name: docsTarget.publicName, arguments: args },
    target: docsTarget,
  };
}

function verdictOutcome(verdict: Verdict<unknown> | undefined): string {
  if (verdict === undefined) return "pass";
  return verdict.kind === "deny" ? `deny (${verdict.rule})` : verdict.kind;
}

const ARGUMENT_SUBJECTS: readonly Subject[] = [
  {
    scanner: "tool-schema",
    label: "tool arguments against the inputSchema (validation `onRequest`)",
    async prepare(size) {
      const layer: Layer = validationLayer({ config: validationSection.parse({}), stage: "tools" });
      const args = documentArguments(size);
      const call = callOf(args);
      return {
        bytes: byteLength(JSON.stringify(args)),
        run: () => layer.onRequest?.(call, testContext()),
        outcome: verdictOutcome(await layer.onRequest?.(call, testContext())),
      };
    },
  },
  {
    scanner: "argument-guard",
    label: "argument guard (`onRequest`, the text declared `text`)",
    async prepare(size) {
      const config = argumentsSection.parse({
        tools: [
          {
            tools: [docsTarget.publicName],
            arguments: [
              { argument: "title", kind: "text" },
              { argument: "/sections/*/text", kind: "text" },
            ],
          },
        ],
      });
      // A public address for every host, so that a URL costs its check and a cached answer.
      const layer = argumentGuardLayer({
        config,
        definitionOf: (target) => target.definition,
        resolve: async () => ["93.184.216.34"],
      });
      const args = documentArguments(size);
      const call = callOf(args);
      return {
        bytes: byteLength(JSON.stringify(args)),
        run: () => layer.onRequest?.(call, testContext()),
        outcome: verdictOutcome(await layer.onRequest?.(call, testContext())),
      };
    },
  },
];

export const SCANNER_SUBJECTS: readonly Subject[] = [
  ...DATA_SUBJECTS,
  ...CATALOG_SUBJECTS,
  ...ARGUMENT_SUBJECTS,
];
