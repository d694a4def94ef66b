// Evidence for the data guard: each surface's attack and benign corpora go through the layer as a
// client's results (or an upstream's arguments) would, and the test prints detection and
// false-positive rates, then fails if a rate falls past the thresholds recorded in
// docs/data-guard.md. It also prints the dev and held-out injection sets, the quoted-attack set, the
// rates at other thresholds, and what scanning costs (a shared, noisy machine: read the MB/s as
// orders of magnitude).
import assert from "node:assert/strict";
import { describe, it, type TestContext } from "node:test";
import { dataGuardSection, type DataGuardConfig } from "../../src/config/dataGuardSchema.ts";
import { scoreInjection } from "../../src/layers/data/injection.ts";
import { dataGuardLayer, type DataFinding } from "../../src/layers/data/index.ts";
import { findExfilLinks } from "../../src/layers/data/links.ts";
import type { Layer, RequestContext, RouteTarget, Verdict } from "../../src/pipeline/types.ts";
import type { Finding } from "../../src/redaction/finding.ts";
import { scanText } from "../../src/redaction/scan.ts";
import { scanWithSecretlint } from "../../src/redaction/secretlint.ts";
import { scanSecrets } from "../../src/redaction/secrets.ts";
import { benignSetsSummary, type Rates } from "./results/summary.ts";
import { crossValidate, MODELS, resultGroups } from "../../scripts/train-models.ts";
import {
  devAttacks,
  devBenign,
  heldoutAttacks,
  heldoutBenign,
  heldoutRound,
  TRAINED_ROUNDS,
} from "./results/heldout.ts";
import { resultBenign } from "./results/benign.ts";
import { injectionAttacks, quotedAttacks } from "./results/injections.ts";
import { linkAttacks, linkBenign } from "./results/links.ts";
import { secretAttacks } from "./secrets/attacks.ts";
import { secretBenign } from "./secrets/benign.ts";
import { piiAttacks, piiBenign } from "./secrets/pii.ts";
import type { CorpusItem } from "./secrets/random.ts";

/** The thresholds of docs/data-guard.md: detection at least, false positives at most. */
const THRESHOLDS = {
  "secrets in results": { detection: 0.95, falsePositives: 0.01 },
  "secrets in arguments to external tools": { detection: 0.95, falsePositives: 0.01 },
  "personal data in results": { detection: 0.95, falsePositives: 0.02 },
  "injection in results": { detection: 0.5, falsePositives: 0.02 },
  "exfiltration links": { detection: 0.95, falsePositives: 0.01 },
} as const;

const tool: RouteTarget = { upstream: "fixture", kind: "tool", name: "fetch", publicName: "fixture__fetch" };
const externalTool: RouteTarget = {
  ...tool,
  name: "post",
  publicName: "fixture__post",
  annotations: { openWorldHint: true },
};

function context(): RequestContext {
  return {
    id: "eval",
    transport: "http",
    era: "modern",
    protocolVersion: "2026-07-28",
    clientAddress: undefined,
    principal: { id: "eval", kind: "user", roles: [], authMethod: "bearer" },
    sessionDigest: undefined,
    clientInfo: undefined,
    findings: {},
  };
}

function layerWith(config: Record<string, unknown> = {}): { layer: Layer; config: DataGuardConfig } {
  const parsed = dataGuardSection.parse(config);
  return { layer: dataGuardLayer({ config: parsed, quarantineId: () => "eval" }), config: parsed };
}

interface Outcome {
  readonly text: string;
  readonly finding: DataFinding | undefined;
  readonly verdict: Verdict<Record<string, unknown>> | undefined;
}

async function throughResult(layer: Layer, text: string): Promise<Outcome> {
  const ctx = context();
  const result = { content: [{ type: "text", text }] };
  const verdict = await layer.onResult?.({ method: "tools/call", target: tool, result }, ctx);
  const released = verdict?.kind === "pass" && verdict.rewrite ? verdict.rewrite : result;
  const content = released.content as { text: string }[];
  return { text: content[0]?.text ?? "", finding: (ctx.findings as { data?: DataFinding }).data, verdict };
}

async function throughArguments(
  layer: Layer,
  text: string,
): Promise<Verdict<Record<string, unknown>> | undefined> {
  const params = { name: "post", arguments: { body: text } };
  return layer.onRequest?.({ method: "tools/call", params, target: externalTool }, context());
}

/** Detected: every value that must not reach the client is gone; a false positive: `flagged` says so. */
async function rates(
  attacks: readonly CorpusItem[],
  benign: readonly CorpusItem[],
  detected: (item: CorpusItem) => Promise<boolean>,
  flagged: (item: CorpusItem) => Promise<boolean>,
): Promise<Rates & { missed: string[]; falselyFlagged: string[] }> {
  const missed: string[] = [];
  const falselyFlagged: string[] = [];
  for (const item of attacks) if (!(await detected(item))) missed.push(item.id);
  for (const item of benign) if (await flagged(item)) falselyFlagged.push(item.id);
  return {
    attacks: attacks.length,
    benign: benign.length,
    detection: (attacks.length - missed.length) / attacks.length,
    falsePositives: falselyFlagged.length / Math.max(1, benign.length),
    missed,
    falselyFlagged,
  };
}

const percent = (value: number) => `${(value * 100).toFixed(1)} %`;

function report(
  t: TestContext,
  surface: keyof typeof THRESHOLDS,
  r: Awaited<ReturnType<typeof rates>>,
): void {
  const limit = THRESHOLDS[surface];
  t.diagnostic(
    `${surface}: detected ${percent(r.detection)} of ${r.attacks} (≥ ${percent(limit.detection)}), false positives ${percent(r.falsePositives)} of ${r.benign} (≤ ${percent(limit.falsePositives)})`,
  );
  if (r.missed.length > 0)
    t.diagnostic(`  missed: ${r.missed.slice(0, 12).join(", ")}${r.missed.length > 12 ? ", …" : ""}`);
  if (r.falselyFlagged.length > 0)
    t.diagnostic(`  falsely flagged: ${r.falselyFlagged.slice(0, 12).join(", ")}`);
  assert.ok(r.detection >= limit.detection, `${surface}: detection ${percent(r.detection)}`);
  assert.ok(
    r.falsePositives <= limit.falsePositives,
    `${surface}: false positives ${percent(r.falsePositives)}`,
  );
}

describe("data guard evidence", () => {
  it("redacts the credentials of every provider in results, and leaves look-alikes alone", async (t) => {
    const { layer } = layerWith();
    const r = await rates(
      secretAttacks(),
      secretBenign(),
      async (item) => {
        const { text } = await throughResult(layer, item.text);
        return item.secrets.every((secret) => !text.includes(secret));
      },
      async (item) => ((await throughResult(layer, item.text)).finding?.result?.secrets.length ?? 0) > 0,
    );
    report(t, "secrets in results", r);
  });

  it("refuses arguments that would carry a credential to an external tool", async (t) => {
    const { layer } = layerWith();
    const blocked = async (item: CorpusItem) => {
      const verdict = await throughArguments(layer, item.text);
      return verdict?.kind === "deny" && verdict.code === "PORTCULLIS_E_DATA_BLOCKED";
    };
    report(
      t,
      "secrets in arguments to external tools",
      await rates(secretAttacks(), secretBenign(), blocked, blocked),
    );
  });

  it("redacts personal data (checksums hold) and leaves numbers that only look like it", async (t) => {
    const { layer } = layerWith({ results: { secret: "redact", pii: "redact" } });
    const r = await rates(
      piiAttacks(),
      piiBenign(),
      async (item) => {
        const { text } = await throughResult(layer, item.text);
        return item.secrets.every((value) => !text.includes(value));
      },
      async (item) => ((await throughResult(layer, item.text)).finding?.result?.pii.length ?? 0) > 0,
    );
    report(t, "personal data in results", r);
  });

  it("finds instructions aimed at the model in results, and not in ordinary results", async (t) => {
    const { layer } = layerWith({ injection: { action: "flag" } });
    const flagged = async (item: CorpusItem) =>
      (await throughResult(layer, item.text)).finding?.result?.injection !== undefined;
    const rulesLayer = layerWith({ injection: { action: "flag", scorer: "rules" } }).layer;
    const rulesOnly = async (item: CorpusItem) =>
      (await throughResult(rulesLayer, item.text)).finding?.result?.injection !== undefined;
    report(t, "injection in results", await rates(injectionAttacks(), resultBenign(), flagged, flagged));
    for (const [name, attacks, benign] of [
      ["dev set (used to generalise the rules)", devAttacks(), devBenign()],
      ["held-out set (measured at 0 %, then used to tune)", heldoutAttacks(), heldoutBenign()],
      [
        "round 3 (measured at 20.0 % / 3.3 %, then used to tune)",
        heldoutRound(3).attacks,
        heldoutRound(3).benign,
      ],
      [
        "round 4 (measured at 45.0 % / 4.0 %, then used to tune)",
        heldoutRound(4).attacks,
        heldoutRound(4).benign,
      ],
      ["round 5 (never used for tuning)", heldoutRound(5).attacks, heldoutRound(5).benign],
      [
        "round 6 (measured at 33.8 % / 13.3 %, then used to tune)",
        heldoutRound(6).attacks,
        heldoutRound(6).benign,
      ],
      ["round 7 (rules never tuned on)", heldoutRound(7).attacks, heldoutRound(7).benign],
      [
        "round 8 (written after the learned score; never trained or tuned on)",
        heldoutRound(8).attacks,
        heldoutRound(8).benign,
      ],
    ] as const) {
      const r = await rates(attacks, benign, flagged, flagged);
      const rules = await rates(attacks, benign, rulesOnly, rulesOnly);
      t.diagnostic(
        `  ${name}: detected ${percent(r.detection)} of ${r.attacks}, false positives ${percent(r.falsePositives)} of ${r.benign}; rules alone ${percent(rules.detection)} at ${percent(rules.falsePositives)}`,
      );
    }
    // The model is trained on the sets above but round 8: its figures there are in-sample. What it
    // gives on wording it has not seen is round 8, and each other set left out of its training in turn.
    const rounds = new Map<string, readonly [CorpusItem[], CorpusItem[]]>([
      ["dev", [devAttacks(), devBenign()]],
      ["held-out", [heldoutAttacks(), heldoutBenign()]],
      ...TRAINED_ROUNDS.map(
        (n) => [`round ${n}`, [heldoutRound(n).attacks, heldoutRound(n).benign]] as const,
      ),
    ]);
    for (const row of crossValidate(MODELS.injection, resultGroups())) {
      const [attacks, benign] = rounds.get(row.name) ?? [[], []];
      const rules = await rates(attacks, benign, rulesOnly, rulesOnly);
      t.diagnostic(
        `  ${row.name} left out of training: model ${percent(row.detected / row.attacks)} of ${row.attacks} at ${percent(row.flagged / row.benign)} of ${row.benign}; rules alone ${percent(rules.detection)} at ${percent(rules.falsePositives)}`,
      );
    }
    const quoted = quotedAttacks();
    let quarantined = 0;
    for (const item of quoted) if (await flagged(item)) quarantined++;
    t.diagnostic(
      `  security writing quoting attacks verbatim: ${quarantined} of ${quoted.length} flagged (by decision: quarantine is harmless there)`,
    );
    for (const threshold of [0.3, 0.4, 0.5, 0.6, 0.75]) t.diagnostic(`  ${benignSetsSummary(threshold)}`);
  });

  it("redacts exfiltration links and images, and leaves ordinary links and badges", async (t) => {
    const { layer } = layerWith();
    const r = await rates(
      linkAttacks(),
      linkBenign(),
      async (item) => {
        const { text } = await throughResult(layer, item.text);
        return item.secrets.every((data) => !text.includes(data));
      },
      async (item) => ((await throughResult(layer, item.text)).finding?.result?.exfilLinks ?? 0) > 0,
    );
    report(t, "exfiltration links", r);
  });

  it("gives the same findings and scores with and without its literal gates, on every corpus", (t) => {
    const everything = [
      ...secretAttacks(),
      ...secretBenign(),
      ...piiAttacks(),
      ...piiBenign(),
      ...injectionAttacks(),
      ...quotedAttacks(),
      ...resultBenign(),
      ...devAttacks(),
      ...devBenign(),
      ...heldoutAttacks(),
      ...heldoutBenign(),
      ...linkAttacks(),
      ...linkBenign(),
    ];
    const secretlint = (text: string, gated: boolean) => {
      const seen = new Set<string>();
      scanSecrets(text, [], seen);
      const found: Finding[] = [];
      scanWithSecretlint(text, seen, found, gated);
      return found.map((f) => `${f.rule}@${f.start}-${f.end}`).sort();
    };
    for (const item of everything) {
      assert.deepEqual(secretlint(item.text, true), secretlint(item.text, false), item.id);
      assert.deepEqual(scoreInjection(item.text), scoreInjection(item.text, [], { ungated: true }), item.id);
    }
    t.diagnostic(
      `${everything.length} texts: the gates of secretlint's rules and of the injection rules changed nothing`,
    );
  });

  it("costs little per result and scans at tens of MB/s (shared machine: orders of magnitude only)", async (t) => {
    const { layer } = layerWith();
    // CPU time, not wall time: the machine is shared, and other processes' load would count too.
    const cpuMs = (run: () => void, rounds: number) => {
      run();
      const before = process.cpuUsage();
      for (let i = 0; i < rounds; i++) run();
      const used = process.cpuUsage(before);
      return (used.user + used.system) / 1000 / rounds;
    };
    const prose = resultBenign()
      .filter((item) => /sentence|document|hard/.test(item.id))
      .map((item) => item.text)
      .join("\n\n");
    const document = prose.repeat(Math.ceil(100_000 / prose.length)).slice(0, 100_000);
    const mb = Buffer.byteLength(document) / 1e6;
    const scanMs = cpuMs(() => scanText(document), 20);
    const injectionMs = cpuMs(() => scoreInjection(document), 20);
    const linksMs = cpuMs(() => findExfilLinks(document, () => false), 20);
    const items = [...secretBenign(), ...resultBenign(), ...linkBenign(), ...piiBenign()].map(
      (item) => item.text,
    );
    const itemsMb = items.reduce((sum, text) => sum + Buffer.byteLength(text), 0) / 1e6;
    const itemsMs = cpuMs(() => items.forEach((text) => scanText(text)), 5);
    const typical = JSON.stringify({ items: items.slice(0, 12) }).slice(0, 2048);
    const ctx = context();
    const result = { content: [{ type: "text", text: typical }] };
    const layerUs =
      cpuMs(() => void layer.onResult?.({ method: "tools/call", target: tool, result }, ctx), 2000) * 1000;
    const rate = (ms: number, size: number) => `${(size / (ms / 1000)).toFixed(0)} MB/s`;
    t.diagnostic(
      `secrets and personal data, a 100 KB document: ${rate(scanMs, mb)} (${scanMs.toFixed(1)} ms)`,
    );
    t.diagnostic(
      `secrets and personal data, ${items.length} results one by one: ${rate(itemsMs, itemsMb)} (${((itemsMs * 1000) / items.length).toFixed(1)} µs each, ${Math.round((itemsMb * 1e6) / items.length)} bytes on average)`,
    );
    t.diagnostic(
      `injection rules, a 100 KB document: ${rate(injectionMs, mb)} (${injectionMs.toFixed(1)} ms); exfiltration links: ${rate(linksMs, mb)}`,
    );
    t.diagnostic(`whole layer on a typical 2 KB text result: ${layerUs.toFixed(0)} µs of CPU`);
    // Only a catastrophic regression fails here: the machine is shared.
    assert.ok(layerUs < 5000, `a 2 KB result took ${layerUs.toFixed(0)} µs`);
  });
});
