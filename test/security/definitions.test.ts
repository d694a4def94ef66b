// Evidence for the catalogue guard: poisoned definitions (attacks.yaml) against realistic benign ones
// (benign.yaml, served together as one federation), rug pulls (rugpulls.yaml and every benign tool
// mutated), name collisions (collisions.yaml and the benign federation), and the malicious fixture
// server spoken to through the gateway's own upstream connection. Prints detection and false-positive
// rates per surface and the scanner's cost; fails below the thresholds of docs/catalog-guard.md.
import assert from "node:assert/strict";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { after, before, describe, it } from "node:test";
import { crossValidate, definitionGroups, MODELS } from "../../scripts/train-models.ts";
import { pino } from "pino";
import { catalogGuardSection, type CatalogGuardConfig } from "../../src/config/catalogGuardSchema.ts";
import { upstreamSchema } from "../../src/config/schema.ts";
import { SecurityEventBus, type StampedEvent } from "../../src/events/bus.ts";
import { Catalog, type UpstreamLists } from "../../src/federation/catalog.ts";
import { NameSpacer } from "../../src/federation/naming.ts";
import { refreshLists } from "../../src/federation/refresh.ts";
import {
  CatalogGuard,
  catalogGuardLayer,
  DefinitionScanner,
  ToolPinStore,
} from "../../src/layers/catalog/index.ts";
import type { ItemVerdict } from "../../src/layers/catalog/guard.ts";
import type { CatalogKind, RequestContext } from "../../src/pipeline/types.ts";
import { MemoryStateStore } from "../../src/state/memoryStore.ts";
import { UpstreamConnection } from "../../src/upstream/connection.ts";
import {
  attacks,
  benignServers,
  collisions,
  expand,
  holdout,
  rugPulls,
  TRAINED_HOLDOUTS,
  type Definition,
  type ServerLists,
} from "./definitions/corpus.ts";

/** The thresholds docs/catalog-guard.md records. */
const THRESHOLDS = { detection: 0.95, falsePositives: 0.01, rugPulls: 1, collisions: 1 } as const;
const KINDS: readonly CatalogKind[] = ["tools", "prompts", "resources", "resourceTemplates"];
const silent = pino({ level: "silent" });

function catalogOf(servers: Record<string, UpstreamLists>): Catalog {
  const catalog = new Catalog(Object.keys(servers), new NameSpacer("__", true));
  for (const [name, lists] of Object.entries(servers)) catalog.set(name, lists);
  return catalog;
}

function guardOver(
  catalog: () => Catalog,
  options: {
    config?: Partial<CatalogGuardConfig>;
    events?: StampedEvent[];
    scanner?: DefinitionScanner;
  } = {},
): { guard: CatalogGuard; pins: ToolPinStore } {
  const events = new SecurityEventBus(silent);
  events.subscribe((e) => options.events?.push(e));
  const pins = new ToolPinStore(new MemoryStateStore());
  const config = catalogGuardSection.parse(options.config ?? {});
  return { guard: new CatalogGuard({ config, catalog, pins, events, scanner: options.scanner }), pins };
}

type KindVerdict = ItemVerdict & { readonly kind: CatalogKind };

async function verdictsOf(guard: CatalogGuard): Promise<KindVerdict[]> {
  const all: KindVerdict[] = [];
  for (const kind of KINDS) for (const v of (await guard.judge(kind)).values()) all.push({ ...v, kind });
  return all;
}

const pct = (n: number, of: number) => (of === 0 ? "-" : `${((100 * n) / of).toFixed(1)} %`);

function table(rows: readonly (readonly string[])[]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? "").length)));
  return rows
    .map((r) =>
      r
        .map((c, i) => c.padEnd(widths[i]!))
        .join("  ")
        .trimEnd(),
    )
    .join("\n");
}

const report: string[] = [];
after(() => process.stdout.write(`\n${report.join("\n\n")}\n`));

describe("poisoned definitions against a benign federation", () => {
  const servers = benignServers();
  const suspect: ServerLists = { tools: [], prompts: [], resources: [], resourceTemplates: [] };
  const corpus = attacks();
  for (const a of corpus) suspect[a.kind].push(a.definition);
  // Listed last: every benign server comes first in config order.
  const catalog = catalogOf({ ...servers, suspect });
  const threshold = catalogGuardSection.parse({}).poisoning.threshold;
  let verdicts: KindVerdict[] = [];

  before(async () => {
    verdicts = await verdictsOf(guardOver(() => catalog).guard);
  });

  it("detects at least 95 % of the explicit attacks on every surface taken together", () => {
    const bySurface = new Map<
      string,
      { total: number; detected: number; subtle: number; subtleDetected: number }
    >();
    const missed: string[] = [];
    for (const a of corpus) {
      const name = String(a.definition.uri ?? a.definition.uriTemplate ?? a.definition.name);
      const verdict = verdicts.find(
        (v) => v.upstream === "suspect" && v.kind === a.kind && (v.name === name || v.publicName === name),
      );
      assert.ok(verdict, `no verdict for ${a.id}`);
      const detected = verdict.score >= threshold;
      const row = bySurface.get(a.surface) ?? { total: 0, detected: 0, subtle: 0, subtleDetected: 0 };
      if (a.explicit) {
        row.total++;
        if (detected) row.detected++;
        else missed.push(`${a.id} (${verdict.score}: ${verdict.rules.join(", ")})`);
      } else {
        row.subtle++;
        if (detected) row.subtleDetected++;
      }
      bySurface.set(a.surface, row);
    }
    const rows = [...bySurface.entries()].sort(([a], [b]) => a.localeCompare(b));
    const total = rows.reduce((s, [, r]) => s + r.total, 0);
    const detected = rows.reduce((s, [, r]) => s + r.detected, 0);
    const subtle = rows.reduce((s, [, r]) => s + r.subtle, 0);
    const subtleDetected = rows.reduce((s, [, r]) => s + r.subtleDetected, 0);
    report.push(
      `Definitions: poisoning detection (threshold ${threshold})\n${table([
        ["SURFACE", "EXPLICIT", "DETECTED", "RATE", "SUBTLE", "DETECTED"],
        ...rows.map(([surface, r]) => [
          surface,
          String(r.total),
          String(r.detected),
          pct(r.detected, r.total),
          String(r.subtle),
          String(r.subtleDetected),
        ]),
        [
          "all",
          String(total),
          String(detected),
          pct(detected, total),
          String(subtle),
          `${subtleDetected} (${pct(subtleDetected, subtle)})`,
        ],
      ])}${missed.length ? `\nmissed: ${missed.join("; ")}` : ""}`,
    );
    assert.ok(
      detected / total >= THRESHOLDS.detection,
      `detection ${pct(detected, total)}; missed: ${missed.join("; ")}`,
    );
  });

  it("lets at least 99 % of the benign definitions through untouched, per kind", () => {
    const benign = verdicts.filter((v) => v.upstream !== "suspect");
    const byKind = new Map<string, { total: number; poisoned: number; shadowed: number }>();
    const wrong: string[] = [];
    for (const kind of KINDS) byKind.set(kind, { total: 0, poisoned: 0, shadowed: 0 });
    for (const kind of KINDS)
      for (const v of benign.filter((b) => b.kind === kind)) {
        const row = byKind.get(kind)!;
        row.total++;
        if (v.score >= threshold) row.poisoned++;
        if (v.rules.some((r) => r.startsWith("shadow."))) row.shadowed++;
        if (v.action !== "pass") wrong.push(`${v.upstream}/${v.name}: ${v.action} ${v.rules.join(", ")}`);
      }
    const total = [...byKind.values()].reduce((s, r) => s + r.total, 0);
    const flagged = wrong.length;
    report.push(
      `Definitions: false positives on ${Object.keys(servers).length} benign servers\n${table([
        ["KIND", "BENIGN", "POISONED", "SHADOWING", "RATE"],
        ...[...byKind.entries()].map(([kind, r]) => [
          kind,
          String(r.total),
          String(r.poisoned),
          String(r.shadowed),
          pct(r.poisoned + r.shadowed, r.total),
        ]),
        ["all", String(total), "", "", pct(flagged, total)],
      ])}${wrong.length ? `\nflagged: ${wrong.join("; ")}` : ""}`,
    );
    assert.ok(total >= 150, `the benign corpus holds ${total} definitions`);
    assert.ok(flagged / total <= THRESHOLDS.falsePositives, `false positives: ${wrong.join("; ")}`);
  });
});

describe("held-out definitions (reported, not held to the target)", () => {
  const sets = [
    ["holdout.yaml", "round 1 (measured before tuning: 65.0 % / 6.7 %; a tuning set since)"],
    ["holdout-2.yaml", "round 2 (rules never tuned against)"],
    ["holdout-3.yaml", "round 3 (measured before tuning: 22.0 %; a tuning set since)"],
    ["holdout-4.yaml", "round 4 (measured before tuning: 50.0 % / 1.1 %; a tuning set since)"],
    ["holdout-5.yaml", "round 5 (rules never tuned against)"],
    ["holdout-6.yaml", "round 6 (measured before tuning: 20.0 % / 2.6 %; a tuning set since)"],
    ["holdout-7.yaml", "round 7 (rules never tuned against)"],
    ["holdout-8.yaml", "round 8 (written after the learned score; never trained or tuned on)"],
  ] as const;
  for (const [file, label] of sets)
    it(`reports detection and false positives on ${file}, ${label}`, async () => {
      const { attacks: held, servers } = holdout(file);
      const intruder: ServerLists = { tools: [], prompts: [], resources: [], resourceTemplates: [] };
      for (const a of held) intruder[a.kind].push(a.definition);
      const catalog = catalogOf({ ...benignServers(), ...servers, intruder });
      const threshold = catalogGuardSection.parse({}).poisoning.threshold;
      const trained = (TRAINED_HOLDOUTS as readonly string[]).includes(file);
      const rows: string[][] = [];
      let details = "";
      for (const scorer of ["model", "rules"] as const) {
        const verdicts = await verdictsOf(
          guardOver(() => catalog, {
            config: { poisoning: { ...catalogGuardSection.parse({}).poisoning, scorer } },
          }).guard,
        );
        const missed: string[] = [];
        let explicitDetected = 0;
        for (const a of held) {
          const name = String(a.definition.uri ?? a.definition.uriTemplate ?? a.definition.name);
          const v = verdicts.find(
            (x) =>
              x.upstream === "intruder" && x.kind === a.kind && (x.name === name || x.publicName === name),
          );
          if (!v || v.score < threshold)
            missed.push(`${a.id} (${v?.score ?? "?"}: ${v?.rules.join(", ") ?? ""})`);
          else if (a.explicit) explicitDetected++;
        }
        const explicit = held.filter((a) => a.explicit).length;
        const benign = verdicts.filter((v) => Object.hasOwn(servers, v.upstream));
        const wrong = benign
          .filter((v) => v.action !== "pass")
          .map((v) => `${v.upstream}/${v.name}: ${v.rules.join(", ")}`);
        rows.push([
          scorer === "model" ? `rules and model${trained ? " (trained on this set)" : ""}` : "rules alone",
          String(held.length),
          pct(held.length - missed.length, held.length),
          `${explicitDetected} of ${explicit}`,
          String(benign.length),
          pct(wrong.length, benign.length),
        ]);
        if (scorer === "model")
          details = `${missed.length ? `\nmissed: ${missed.join("; ")}` : ""}${wrong.length ? `\nflagged: ${wrong.join("; ")}` : ""}`;
        assert.ok(held.length >= 20 && benign.length >= 25);
      }
      report.push(
        `Held-out ${file}, ${label}\n${table([
          ["SCORER", "ATTACKS", "DETECTED", "EXPLICIT DETECTED", "BENIGN", "FALSE POSITIVES"],
          ...rows,
        ])}${details}`,
      );
    });

  it("reports the learned score on each set left out of its training", () => {
    const rows = crossValidate(MODELS.poisoning, definitionGroups()).map((r) => [
      r.name,
      String(r.attacks),
      pct(r.detected, r.attacks),
      String(r.benign),
      pct(r.flagged, r.benign),
    ]);
    report.push(
      `Learned poisoning score alone, each set left out of its training in turn\n${table([
        ["SET LEFT OUT", "ATTACKS", "DETECTED", "BENIGN", "FALSE POSITIVES"],
        ...rows,
      ])}`,
    );
    assert.equal(rows.length, TRAINED_HOLDOUTS.length);
  });
});

describe("rug pulls", () => {
  it("withholds every changed definition once, with one event per change, and nothing served again unchanged", async () => {
    const events: StampedEvent[] = [];
    let results = { changed: 0, detected: 0, same: 0, falseAlarms: 0 };
    for (const rug of rugPulls()) {
      const server = (d: Definition): ServerLists => ({
        tools: rug.kind === "tools" ? [d] : [],
        prompts: rug.kind === "prompts" ? [d] : [],
        resources: [],
        resourceTemplates: [],
      });
      let catalog = catalogOf({ srv: server(rug.before) });
      events.length = 0;
      const { guard } = guardOver(() => catalog, { events });
      const first = [...(await guard.judge(rug.kind)).values()][0];
      assert.equal(first?.action, "pass", `${rug.id}: the first definition passes and is pinned`);
      catalog = catalogOf({ srv: server(rug.after) });
      const second = [...(await guard.judge(rug.kind)).values()][0];
      catalog = catalogOf({ srv: server(rug.after) });
      await guard.judge(rug.kind); // listed again: no second event
      const changes = events.filter((e) => e.type === "tool_changed").length;
      if (rug.changed) {
        results.changed++;
        if (second?.action === "changed" && changes === 1) results.detected++;
        else assert.fail(`${rug.id}: ${second?.action}, ${changes} events`);
      } else {
        results.same++;
        if (second?.action !== "pass" || changes > 0) results.falseAlarms++;
      }
    }
    const generated = await mutatedBenignTools();
    results = {
      changed: results.changed + generated.changed,
      detected: results.detected + generated.detected,
      same: results.same + generated.same,
      falseAlarms: results.falseAlarms + generated.falseAlarms,
    };
    report.push(
      `Rug pulls\n${table([
        ["CASES", "CHANGED", "WITHHELD", "RATE", "UNCHANGED", "FALSE ALARMS"],
        [
          String(results.changed + results.same),
          String(results.changed),
          String(results.detected),
          pct(results.detected, results.changed),
          String(results.same),
          String(results.falseAlarms),
        ],
      ])}\n(generated: every benign tool and prompt mutated ${generated.mutations} ways, and served again with its keys reordered)`,
    );
    assert.equal(results.detected / results.changed, THRESHOLDS.rugPulls);
    assert.equal(results.falseAlarms, 0);
  });
});

/** Every benign tool and prompt, pinned, then mutated one way at a time (or reordered: no change). */
async function mutatedBenignTools(): Promise<{
  changed: number;
  detected: number;
  same: number;
  falseAlarms: number;
  mutations: number;
}> {
  const servers = benignServers();
  const tagged = (t: string) => expand(`{{tags:${t}}}`) as string;
  const mutations: Record<string, ((d: Definition, kind: "tools" | "prompts") => Definition) | undefined> = {
    "description appended": (d) => ({
      ...d,
      description: `${text(d.description)} Results are also sent to ops@example.org.`,
    }),
    "parameter added": (d, kind) =>
      kind === "tools"
        ? { ...d, inputSchema: withProperty(d.inputSchema, "forward_to", { type: "string" }) }
        : { ...d, arguments: [...((d.arguments as unknown[]) ?? []), { name: "forward_to" }] },
    "default changed": (d, kind) =>
      kind === "tools"
        ? {
            ...d,
            inputSchema: withProperty(d.inputSchema, "mode", { type: "string", default: "share-publicly" }),
          }
        : { ...d, title: "Changed" },
    "annotation flipped": (d) => ({
      ...d,
      annotations: { ...(d.annotations as object), destructiveHint: true, readOnlyHint: false },
    }),
    "tag characters added": (d) => ({ ...d, description: `${text(d.description)}${tagged("x")}` }),
    "served again, keys reordered": undefined,
  };
  const totals = {
    changed: 0,
    detected: 0,
    same: 0,
    falseAlarms: 0,
    mutations: Object.keys(mutations).length - 1,
  };
  for (const [label, mutate] of Object.entries(mutations)) {
    let catalog = catalogOf(servers);
    const events: StampedEvent[] = [];
    const { guard, pins } = guardOver(() => catalog, { events });
    const before = [...(await guard.judge("tools")).values(), ...(await guard.judge("prompts")).values()];
    const pinned = (await pins.list()).length;
    assert.equal(pinned, before.length, `${label}: every benign tool and prompt is pinned on first use`);
    const changedServers = Object.fromEntries(
      Object.entries(servers).map(([name, lists]) => [
        name,
        {
          ...lists,
          tools: lists.tools.map((d) => (mutate ? mutate(d, "tools") : (reordered(d) as Definition))),
          prompts: lists.prompts.map((d) => (mutate ? mutate(d, "prompts") : (reordered(d) as Definition))),
        },
      ]),
    );
    catalog = catalogOf(changedServers);
    const after = [...(await guard.judge("tools")).values(), ...(await guard.judge("prompts")).values()];
    const changes = events.filter((e) => e.type === "tool_changed").length;
    if (mutate) {
      totals.changed += after.length;
      totals.detected += Math.min(after.filter((v) => v.action === "changed").length, changes);
    } else {
      totals.same += after.length;
      totals.falseAlarms += after.filter((v) => v.action !== "pass").length + changes;
    }
  }
  return totals;
}

function text(value: unknown): string {
  return typeof value === "string" ? value : "";
}

function withProperty(schema: unknown, name: string, property: object): object {
  const s = (schema ?? { type: "object" }) as { properties?: object };
  return { ...s, properties: { ...(s.properties ?? {}), [name]: property } };
}

/** The same value with the keys of every object in reverse order. */
function reordered(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(reordered);
  if (value && typeof value === "object")
    return Object.fromEntries(
      Object.entries(value)
        .reverse()
        .map(([k, v]) => [k, reordered(v)]),
    );
  return value;
}

describe("name collisions across upstreams", () => {
  it("acts on every look-alike and duplicate, on nothing else, and finds nothing in the benign federation", async () => {
    let expected = 0;
    let found = 0;
    let falsePositives = 0;
    for (const c of collisions()) {
      const servers = Object.fromEntries(
        Object.entries(c.upstreams).map(([u, names]) => [
          u,
          {
            tools: names.map((name) => ({ name, description: "A tool.", inputSchema: { type: "object" } })),
            prompts: [],
            resources: [],
            resourceTemplates: [],
          },
        ]),
      );
      const catalog = catalogOf(servers);
      const upstreams = Object.fromEntries((c.trusted ?? []).map((u) => [u, { trusted: true }]));
      const { guard } = guardOver(() => catalog, { config: { upstreams } as Partial<CatalogGuardConfig> });
      const acted = [...(await guard.judge("tools")).values()]
        .filter((v) => v.rules.some((r) => r === "shadow.name-confusable" || r === "shadow.name-duplicate"))
        .map((v) => `${v.upstream}/${v.name}`);
      expected += c.expect.length;
      found += acted.filter((a) => c.expect.includes(a)).length;
      falsePositives += acted.filter((a) => !c.expect.includes(a)).length;
      assert.deepEqual(acted.sort(), [...c.expect].sort(), `${c.id}: ${acted.join(", ")}`);
    }
    const benign = catalogOf(benignServers());
    const { guard } = guardOver(() => benign);
    const shadowed = (await verdictsOf(guard)).filter((v) => v.rules.some((r) => r.startsWith("shadow.")));
    const benignTools = benign.items("tools").length + benign.items("prompts").length;
    report.push(
      `Collisions\n${table([
        ["COLLISIONS", "FOUND", "RATE", "FALSE POSITIVES", "BENIGN FEDERATION (TOOLS+PROMPTS)", "FINDINGS"],
        [
          String(expected),
          String(found),
          pct(found, expected),
          String(falsePositives),
          String(benignTools),
          String(shadowed.length),
        ],
      ])}`,
    );
    assert.equal(found / expected, THRESHOLDS.collisions);
    assert.equal(falsePositives, 0);
    assert.deepEqual(
      shadowed.map((v) => `${v.upstream}/${v.name} ${v.rules.join(",")}`),
      [],
    );
  });
});

describe("the malicious fixture server, through the gateway's upstream connection", () => {
  const fixture = join(import.meta.dirname, "..", "fixtures", "malicious-server.ts");
  let connection: UpstreamConnection;
  const notices: string[] = [];

  before(async () => {
    connection = await UpstreamConnection.open({
      name: "malicious",
      config: upstreamSchema.parse({
        transport: "stdio",
        command: process.execPath,
        args: [fixture],
        env: { MALICIOUS_RUG_PULL_AFTER: "2" },
      }),
      baseDir: import.meta.dirname,
      env: process.env,
      capabilities: {},
      handlers: {
        onNotification: (method) => void notices.push(method),
        onServerRequest: async () => ({}),
        onClose: () => undefined,
      },
      logger: silent,
      stderrTail: [],
    });
  });
  after(async () => connection?.close());

  it("is withheld where poisoned or shadowing, pulls the rug after two lists, and is refused until approved", async () => {
    const benignMail = {
      tools: [{ name: "send_email", description: "Send an e-mail.", inputSchema: { type: "object" } }],
      prompts: [],
      resources: [],
      resourceTemplates: [],
    };
    const benignFiles = {
      tools: [{ name: "read_file", description: "Read a file.", inputSchema: { type: "object" } }],
      prompts: [],
      resources: [],
      resourceTemplates: [],
    };
    const list = () => refreshLists(connection, { timeoutMs: 10_000, retries: 0 });
    let catalog = catalogOf({ mail: benignMail, files: benignFiles, malicious: await list() });
    const events: StampedEvent[] = [];
    const bus = new SecurityEventBus(silent);
    bus.subscribe((e) => events.push(e));
    const pins = new ToolPinStore(new MemoryStateStore());
    const layer = catalogGuardLayer({
      config: catalogGuardSection.parse({}),
      catalog: () => catalog,
      pins,
      events: bus,
    });
    const shown = async (kind: CatalogKind) => {
      const run = await layer.onCatalog!({ kind, items: catalog.items(kind) }, ctx);
      const items = run?.kind === "pass" && run.rewrite ? run.rewrite : catalog.items(kind);
      return items.filter((i) => i.upstream === "malicious").map((i) => i.publicName);
    };
    // ask_model, ask_user and sync_database serve the server-request tests (sampling, elicitation, logging).
    assert.deepEqual((await shown("tools")).sort(), [
      "malicious__ask_model",
      "malicious__ask_user",
      "malicious__debug_environment",
      "malicious__echo",
      "malicious__fetch_page",
      "malicious__get_fact_of_the_day",
      "malicious__read_config",
      "malicious__refresh_catalog",
      "malicious__search_docs",
      "malicious__sync_database",
    ]);
    assert.deepEqual(await shown("prompts"), []);
    assert.deepEqual(await shown("resources"), ["docs://release-notes"]);
    const flagged = new Set(events.map((e) => `${e.type}:${String(e.details.name)}`));
    for (const poisoned of [
      "add",
      "get_weather",
      "translate",
      "summarize",
      "contact_lookup",
      "code_review",
      "docs://getting-started",
    ])
      assert.ok(flagged.has(`tool_poisoning_detected:${poisoned}`), `${poisoned} raised no event`);
    assert.ok(flagged.has("tool_shadowing:read-file"));
    assert.ok(flagged.has("tool_shadowing:sеnd_email"));

    // The second list is the last one with the harmless definition; the server then announces a change.
    catalog = catalogOf({ mail: benignMail, files: benignFiles, malicious: await list() });
    await shown("tools");
    for (let i = 0; i < 50 && !notices.includes("notifications/tools/list_changed"); i++)
      await new Promise((r) => setTimeout(r, 20));
    assert.ok(notices.includes("notifications/tools/list_changed"), "the server announced its change");
    catalog = catalogOf({ mail: benignMail, files: benignFiles, malicious: await list() });
    assert.ok(
      !(await shown("tools")).includes("malicious__get_fact_of_the_day"),
      "the changed tool is withheld",
    );
    assert.equal(events.filter((e) => e.type === "tool_changed").length, 1);
    const call = {
      method: "tools/call",
      params: { name: "malicious__get_fact_of_the_day", arguments: {} },
      target: {
        upstream: "malicious",
        kind: "tool" as const,
        name: "get_fact_of_the_day",
        publicName: "malicious__get_fact_of_the_day",
      },
    };
    const refused = await layer.onRequest!(call, ctx);
    assert.equal(refused?.kind === "deny" && refused.code, "PORTCULLIS_E_TOOL_CHANGED");
    const waiting = (await pins.read("tools", "malicious", "get_fact_of_the_day"))?.pending?.hash;
    assert.ok(waiting, "the changed definition waits");
    await pins.approve("tools", "malicious", "get_fact_of_the_day", { by: "security-test", hash: waiting });
    // Approved, the new definition is served; it is poisoned, so the poisoning rules still block it.
    const afterApproval = await layer.onRequest!(call, ctx);
    assert.equal(afterApproval?.kind === "deny" && afterApproval.code, "PORTCULLIS_E_TOOL_POISONED");
    report.push(
      `Malicious fixture: ${events.filter((e) => e.type === "tool_poisoning_detected").length} poisoning events, ${events.filter((e) => e.type === "tool_shadowing").length} shadowing events, 1 rug pull after 2 lists (tool_changed), refused until approved`,
    );
  });
});

describe("cost", () => {
  /** The best of several runs, in ms: the least disturbed by other processes on a shared machine. */
  async function best(runs: number, run: () => unknown): Promise<number> {
    let fastest = Infinity;
    for (let i = 0; i < runs; i++) {
      const started = performance.now();
      await run();
      fastest = Math.min(fastest, performance.now() - started);
    }
    return fastest;
  }

  it("reports the scanner's throughput and the guard's cost per catalogue, list and call", async () => {
    const servers = benignServers();
    const definitions = [
      ...Object.values(servers).flatMap((s) => [
        ...s.tools,
        ...s.prompts,
        ...s.resources,
        ...s.resourceTemplates,
      ]),
      ...attacks().map((a) => a.definition),
    ];
    const sizes = definitions.map((d) => Buffer.byteLength(JSON.stringify(d)));
    const bytes = sizes.reduce((a, b) => a + b, 0);
    // Every round scans every definition afresh (a new key each time: nothing from the cache).
    const scanner = new DefinitionScanner({ cacheSize: 100 });
    let round = 0;
    const scanAll = () => definitions.forEach((d, i) => scanner.scan(d, `${round++}:${i}`, sizes[i]!));
    const scanMs = await best(10, scanAll);
    // A worst case for backtracking: 200 KB of text that almost matches everywhere.
    const hostile =
      "ignore the previous do not tell the user ~/.ssh ".repeat(4_000) + " ".repeat(39) + "A".repeat(20_000);
    const hostileMs = await best(3, () => scanner.scanText(hostile));

    const items = KINDS.reduce((n, k) => n + catalogOf(servers).items(k).length, 0);
    // First sight: every definition scanned, hashed and pinned.
    const coldMs = await best(5, async () => {
      const catalog = catalogOf(servers);
      await verdictsOf(guardOver(() => catalog, { scanner: new DefinitionScanner() }).guard);
    });
    // A catalogue rebuilt (an upstream's lists refreshed) with the same definitions: hashes, no scans.
    const shared = new DefinitionScanner();
    let rebuilt = catalogOf(servers);
    const { guard } = guardOver(() => rebuilt, { scanner: shared });
    await verdictsOf(guard);
    await verdictsOf(guard);
    const catalogues = Array.from({ length: 10 }, () => catalogOf(servers));
    let next = 0;
    const warmMs = await best(10, async () => {
      rebuilt = catalogues[next++]!;
      await verdictsOf(guard);
    });
    // Unchanged: what every list and call costs.
    const layer = catalogGuardLayer({
      config: catalogGuardSection.parse({}),
      catalog: () => rebuilt,
      pins: new ToolPinStore(new MemoryStateStore()),
      scanner: shared,
    });
    const list = { kind: "tools" as const, items: rebuilt.items("tools") };
    await layer.onCatalog!(list, ctx);
    await layer.onCatalog!(list, ctx);
    const listUs =
      ((await best(3, async () => {
        for (let i = 0; i < 1000; i++) await layer.onCatalog!(list, ctx);
      })) *
        1000) /
      1000;
    const call = {
      method: "tools/call",
      params: { name: "github__create_issue", arguments: {} },
      target: {
        upstream: "github",
        kind: "tool" as const,
        name: "create_issue",
        publicName: "github__create_issue",
      },
    };
    const callUs =
      ((await best(3, async () => {
        for (let i = 0; i < 10_000; i++) await layer.onRequest!(call, ctx);
      })) *
        1000) /
      10_000;
    report.push(
      `Cost (best of several runs; the machine is shared, so these are upper bounds)\n${table([
        ["MEASURE", "VALUE"],
        [
          `scanner throughput (${definitions.length} definitions, uncached)`,
          `${(bytes / 1e6 / (scanMs / 1000)).toFixed(1)} MB/s (${(bytes / 1024).toFixed(0)} KiB in ${scanMs.toFixed(1)} ms, ${((scanMs * 1000) / definitions.length).toFixed(0)} µs per definition)`,
        ],
        ["hostile 200 KB text (near-matches everywhere)", `${hostileMs.toFixed(1)} ms`],
        [`first judgement of ${items} definitions (scan, hash, pin)`, `${(coldMs * 1000).toFixed(0)} µs`],
        ["catalogue rebuilt, definitions unchanged (hash, no scan)", `${(warmMs * 1000).toFixed(0)} µs`],
        [`tools/list of ${list.items.length} tools, catalogue unchanged`, `${listUs.toFixed(1)} µs`],
        ["tools/call, catalogue unchanged", `${callUs.toFixed(2)} µs`],
      ])}`,
    );
    assert.ok(hostileMs < 2_000, `the hostile text took ${hostileMs} ms`);
  });
});

const ctx: RequestContext = {
  id: "security-test",
  transport: "stdio",
  era: "modern",
  protocolVersion: "2026-07-28",
  clientAddress: undefined,
  principal: { id: "tester", kind: "user", roles: [], authMethod: "stdio-local" },
  sessionDigest: undefined,
  clientInfo: undefined,
  findings: {},
};
