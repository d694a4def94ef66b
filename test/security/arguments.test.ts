// Evidence for the argument guard: the hand-written attack corpus and generated attack variants must
// be refused, and thousands of realistic benign values let through, per kind. Prints detection and
// false-positive rates, and fails below the thresholds recorded in docs/argument-guard.md.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { argumentsSection } from "../../src/config/argumentsSchema.ts";
import { argumentGuardLayer } from "../../src/layers/arguments/index.ts";
import type { RequestContext, RequestView } from "../../src/pipeline/types.ts";
import { generateCorpus, PATH_BASE, PATH_ROOTS, type CorpusKind } from "./arguments/generate.ts";
import { corpusResolver } from "./arguments/resolver.ts";

const MIN_DETECTION = 0.99;
const MAX_FALSE_POSITIVES = 0.001;

const here = new URL("./arguments/", import.meta.url);
const handAttacks = JSON.parse(readFileSync(new URL("attacks.json", here), "utf8")) as Record<
  CorpusKind,
  string[]
>;
const trickyBenign = JSON.parse(readFileSync(new URL("benign-tricky.json", here), "utf8")) as Partial<
  Record<CorpusKind, string[]>
>;

/** One tool per kind, the argument declared with that kind. */
const TOOLS: Record<CorpusKind, { tool: string; argument: string }> = {
  path: { tool: "files__read", argument: "path" },
  "path-unrooted": { tool: "scratch__read", argument: "target" },
  url: { tool: "web__fetch", argument: "location" },
  sql: { tool: "db__lookup", argument: "customer" },
  "sql-readonly": { tool: "db__query", argument: "statement" },
  command: { tool: "shell__run", argument: "line" },
  operand: { tool: "git__checkout", argument: "target" },
  text: { tool: "notes__add", argument: "body" },
};

const config = argumentsSection.parse({
  tools: [
    {
      tools: ["files__*"],
      roots: PATH_ROOTS,
      base: PATH_BASE,
      arguments: [{ argument: "path", kind: "path" }],
    },
    { tools: ["scratch__*"], arguments: [{ argument: "target", kind: "path" }] },
    { tools: ["web__*"], arguments: [{ argument: "location", kind: "url" }] },
    { tools: ["db__lookup"], arguments: [{ argument: "customer", kind: "sql" }] },
    { tools: ["db__query"], arguments: [{ argument: "statement", kind: "sql-readonly" }] },
    { tools: ["shell__*"], arguments: [{ argument: "line", kind: "command" }] },
    { tools: ["git__*"], arguments: [{ argument: "target", kind: "operand" }] },
    { tools: ["notes__*"], arguments: [{ argument: "body", kind: "text" }] },
  ],
});
const layer = argumentGuardLayer({ config, resolve: corpusResolver });

const ctx: RequestContext = {
  id: "corpus",
  transport: "http",
  era: "modern",
  protocolVersion: "2026-07-28",
  clientAddress: "198.51.100.7",
  principal: { id: "agent", kind: "agent", roles: [], authMethod: "bearer" },
  sessionDigest: undefined,
  clientInfo: undefined,
  findings: {},
};

async function refused(kind: CorpusKind, value: string): Promise<boolean> {
  const { tool, argument } = TOOLS[kind];
  const request: RequestView = {
    method: "tools/call",
    params: { name: tool, arguments: { [argument]: value } },
    target: {
      upstream: tool.split("__")[0] as string,
      kind: "tool",
      name: tool.split("__")[1],
      publicName: tool,
    },
  };
  const verdict = await layer.onRequest?.(request, ctx);
  return verdict?.kind === "deny";
}

async function failures(
  kind: CorpusKind,
  values: readonly string[],
  expectRefused: boolean,
): Promise<string[]> {
  const wrong: string[] = [];
  for (const value of values) if ((await refused(kind, value)) !== expectRefused) wrong.push(value);
  return wrong;
}

const generated = generateCorpus();
const KINDS = Object.keys(TOOLS) as CorpusKind[];
const percent = (n: number) => `${(n * 100).toFixed(2)} %`;
const show = (values: readonly string[]) => values.slice(0, 20).map((v) => JSON.stringify(v.slice(0, 120)));

describe("argument guard corpora", () => {
  const rows: string[] = [];

  for (const kind of KINDS) {
    it(`${kind}: refuses ≥ ${MIN_DETECTION * 100} % of attacks and ≤ ${MAX_FALSE_POSITIVES * 100} % of benign values`, async () => {
      const attacks = [...handAttacks[kind], ...(generated.attacks[kind] ?? [])];
      const benign = [...(trickyBenign[kind] ?? []), ...generated.benign[kind]];
      const missed = await failures(kind, attacks, true);
      const falsePositives = await failures(kind, benign, false);
      const detection = 1 - missed.length / attacks.length;
      const falseRate = falsePositives.length / benign.length;
      rows.push(
        `${kind.padEnd(14)} attacks ${String(attacks.length).padStart(5)} (hand ${String(handAttacks[kind].length).padStart(3)})  detected ${percent(detection).padStart(8)}   benign ${String(benign.length).padStart(5)}  false positives ${percent(falseRate).padStart(7)} (${falsePositives.length})`,
      );
      assert.ok(detection >= MIN_DETECTION, `${kind}: missed ${missed.length}: ${show(missed).join(", ")}`);
      assert.ok(
        falseRate <= MAX_FALSE_POSITIVES,
        `${kind}: refused ${falsePositives.length} benign: ${show(falsePositives).join(", ")}`,
      );
    });
  }

  it("prints the rates per kind", () => {
    console.log(`\nargument guard corpora\n${rows.join("\n")}`);
  });
});
