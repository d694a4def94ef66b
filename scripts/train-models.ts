// Trains the two learned scores on the corpora under test/security and writes their weights:
// injection in results (src/layers/data/injectionWeights.ts) and poisoning in definitions
// (src/layers/catalog/poisoningWeights.ts). It prints what each gives on every held-out set when
// that set is left out of its training (leave-one-set-out): the figure for wording the model has not
// seen. With --check, fails when the checked-in weights are not what training gives now.
//
// Held-out rounds not listed in TRAINED_ROUNDS / TRAINED_HOLDOUTS are never trained on: they are
// kept for a first, honest measurement.
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { format } from "prettier";
import {
  featureSlots,
  loadModel,
  modelScore,
  storeModel,
  trainLinearModel,
  wordCount,
  type LinearModel,
  type StoredModel,
  type TrainingExample,
} from "../src/content/linearModel.ts";
import { catalogGuardSection } from "../src/config/catalogGuardSchema.ts";
import { MIN_MODEL_WORDS as POISONING_MODEL_WORDS } from "../src/layers/catalog/poisoningModel.ts";
import { DefinitionScanner } from "../src/layers/catalog/scanner.ts";
import { POISONING_MODEL } from "../src/layers/catalog/poisoningWeights.ts";
import { injectionModelInput, scoreInjection } from "../src/layers/data/injection.ts";
import { MIN_MODEL_WORDS as INJECTION_MODEL_WORDS } from "../src/layers/data/injectionModel.ts";
import { INJECTION_MODEL } from "../src/layers/data/injectionWeights.ts";
import {
  attacks,
  benignServers,
  holdout,
  TRAINED_HOLDOUTS,
  type Definition,
  type ServerLists,
} from "../test/security/definitions/corpus.ts";
import { resultBenign } from "../test/security/results/benign.ts";
import {
  devAttacks,
  devBenign,
  heldoutAttacks,
  heldoutBenign,
  heldoutRound,
  TRAINED_ROUNDS,
} from "../test/security/results/heldout.ts";
import { injectionAttacks } from "../test/security/results/injections.ts";

/** A training example, with what the gateway decides from it besides the model. */
interface Example extends TrainingExample {
  /** Its words: a text too short is left to the rules. */
  readonly words: number;
  /** Whether the rules alone call it an attack. */
  readonly ruled: boolean;
}

export interface Group {
  readonly name: string;
  readonly examples: Example[];
}

interface ModelSpec {
  readonly name: string;
  /** The weights module, from the repository's root, and the constant it exports. */
  readonly file: string;
  readonly constant: string;
  readonly stored: StoredModel;
  /**
   * The raw probability at which the model calls a text an attack, chosen by leaving rounds 5 to 7
   * out: the injection score is the model's alone, so it is set stricter (0.6 when round 8 was
   * measured; 0.7 since, for the README files of the dependencies, with round 8 not looked at); the
   * poisoning score adds to the rules.
   */
  readonly operatingPoint: number;
  readonly groups: () => Group[];
  /** What the gateway decides for an example, given whether the model (trained without it) flags it. */
  readonly decide: (modelFlags: boolean, example: Example) => boolean;
}

type Read = Omit<Example, "label">;

function group<T>(name: string, attacks: readonly T[], benign: readonly T[], read: (item: T) => Read): Group {
  return {
    name,
    examples: [
      ...attacks.map((a) => ({ ...read(a), label: 1 as const })),
      ...benign.map((b) => ({ ...read(b), label: 0 as const })),
    ],
  };
}

const readResult = (item: { text: string }): Read => {
  const input = injectionModelInput(item.text);
  return {
    slots: featureSlots(input.text, input.tokens),
    words: wordCount(input.text),
    ruled: scoreInjection(item.text, [], { scorer: "rules" }).score >= 0.5,
  };
};

/**
 * The project's own documentation, frozen in a corpus file (`--refresh-docs-corpus` rewrites it):
 * real technical prose full of orders, links and talk of models, none of it an injection. Without
 * it the model flagged 8.8 % of the README files of the project's dependencies.
 */
const DOCS_CORPUS = join(import.meta.dirname, "../test/security/results/benign-docs.json");

function docsCorpus(): { text: string }[] {
  const doc = JSON.parse(readFileSync(DOCS_CORPUS, "utf8")) as { benign: string[] };
  return doc.benign.map((text) => ({ text }));
}

/** Chunks of docs/*.md (about 1,500 characters, at paragraph breaks) of 20 words or more that no rule flags. */
function refreshDocsCorpus(): number {
  const docs = join(import.meta.dirname, "../docs");
  const chunks: string[] = [];
  for (const file of readdirSync(docs)
    .filter((f) => f.endsWith(".md"))
    .sort()) {
    let current = "";
    for (const paragraph of readFileSync(join(docs, file), "utf8").split(/\n\s*\n/)) {
      if (current && current.length + paragraph.length > 1500) {
        chunks.push(current);
        current = "";
      }
      current += (current ? "\n\n" : "") + paragraph;
    }
    if (current) chunks.push(current);
  }
  const benign = chunks.filter(
    (c) => wordCount(c) >= INJECTION_MODEL_WORDS && scoreInjection(c, [], { scorer: "rules" }).score < 0.5,
  );
  const about =
    "Chunks of Portcullis's own docs/*.md, benign training text for the learned injection score (scripts/train-models.ts --refresh-docs-corpus).";
  writeFileSync(DOCS_CORPUS, `${JSON.stringify({ about, benign }, null, 2)}\n`);
  return benign.length;
}

/** The result corpora, one group per set (a held-out round is one group). */
export function resultGroups(): Group[] {
  return [
    group("main", injectionAttacks(), resultBenign(), readResult),
    group("project docs", [], docsCorpus(), readResult),
    group("dev", devAttacks(), devBenign(), readResult),
    group("held-out", heldoutAttacks(), heldoutBenign(), readResult),
    ...TRAINED_ROUNDS.map((round) => {
      const { attacks, benign } = heldoutRound(round);
      return group(`round ${round}`, attacks, benign, readResult);
    }),
  ];
}

const everyDefinition = (servers: Record<string, ServerLists>): Definition[] =>
  Object.values(servers).flatMap((l) => [...l.tools, ...l.prompts, ...l.resources, ...l.resourceTemplates]);

/** The definition corpora, one group per set. */
export function definitionGroups(): Group[] {
  const scanner = new DefinitionScanner();
  const read = (definition: Definition): Read => {
    const { result, input } = scanner.readForTraining(definition);
    // The rules' score as the scanner gives it (the guard may add a cross-reference or exempt rules).
    const score = result.findings.reduce((sum, f) => sum + f.weight, 0);
    return {
      slots: featureSlots(input.text, input.tokens),
      words: input.words,
      ruled: score >= POISONING_THRESHOLD,
    };
  };
  return [
    group(
      "main",
      attacks().map((a) => a.definition),
      everyDefinition(benignServers()),
      read,
    ),
    ...TRAINED_HOLDOUTS.map((file) => {
      const { attacks: held, servers } = holdout(file);
      return group(
        file,
        held.map((a) => a.definition),
        everyDefinition(servers),
        read,
      );
    }),
  ];
}

const POISONING_THRESHOLD = catalogGuardSection.parse({}).poisoning.threshold;

export const MODELS = {
  injection: {
    name: "injection in results",
    file: "src/layers/data/injectionWeights.ts",
    constant: "INJECTION_MODEL",
    stored: INJECTION_MODEL,
    operatingPoint: 0.7,
    groups: resultGroups,
    // The model decides, or the rules for a text too short for it.
    decide: (model, e) => (e.words < INJECTION_MODEL_WORDS ? e.ruled : model),
  },
  poisoning: {
    name: "poisoning in definitions",
    file: "src/layers/catalog/poisoningWeights.ts",
    constant: "POISONING_MODEL",
    stored: POISONING_MODEL,
    operatingPoint: 0.5,
    groups: definitionGroups,
    // The rules, or the model beside them for a definition long enough for it.
    decide: (model, e) => e.ruled || (e.words >= POISONING_MODEL_WORDS && model),
  },
} as const satisfies Record<string, ModelSpec>;

export function train(spec: ModelSpec, groups: readonly Group[]): LinearModel {
  return { ...trainLinearModel(groups.flatMap((g) => g.examples)), operatingPoint: spec.operatingPoint };
}

export interface HeldOutFigures {
  readonly name: string;
  readonly attacks: number;
  readonly detected: number;
  readonly benign: number;
  readonly flagged: number;
}

/**
 * Each set but the main corpora left out in turn: the model trained on the others, and the set
 * judged as the gateway judges it (the model with the rules, per `decide`).
 */
export function crossValidate(spec: ModelSpec, groups: readonly Group[]): HeldOutFigures[] {
  return (
    groups
      // The main corpora and sets without attacks are never left out.
      .filter((left) => left.name !== "main" && left.examples.some((e) => e.label === 1))
      .map((left) => {
        const model = train(
          spec,
          groups.filter((g) => g !== left),
        );
        const flagged = (e: Example) => spec.decide(modelScore(model, e.slots) >= 0.5, e);
        const attacks = left.examples.filter((e) => e.label === 1);
        const benign = left.examples.filter((e) => e.label === 0);
        return {
          name: left.name,
          attacks: attacks.length,
          detected: attacks.filter(flagged).length,
          benign: benign.length,
          flagged: benign.filter(flagged).length,
        };
      })
  );
}

/** The largest difference between two models' weights (training is deterministic; float32 storage rounds). */
export function weightDistance(a: LinearModel, b: LinearModel): number {
  let worst = Math.abs(a.bias - b.bias);
  for (let i = 0; i < a.weights.length; i++)
    worst = Math.max(worst, Math.abs((a.weights[i] ?? 0) - (b.weights[i] ?? 0)));
  return worst;
}

async function weightsModule(spec: ModelSpec, model: LinearModel): Promise<string> {
  const source = `// Generated by \`npm run train:models\` (scripts/train-models.ts) from the corpora under
// test/security: do not edit. The weights of the learned score of ${spec.name}.
import type { StoredModel } from "../../content/linearModel.ts";

export const ${spec.constant}: StoredModel = ${JSON.stringify(storeModel(model))};
`;
  return format(source, { parser: "typescript", printWidth: 110 });
}

const percent = (n: number, d: number) => `${((100 * n) / d).toFixed(1)} %`;

if (process.argv[1] === fileURLToPath(import.meta.url) && process.argv.includes("--refresh-docs-corpus")) {
  console.log(`wrote test/security/results/benign-docs.json (${refreshDocsCorpus()} chunks)`);
} else if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const check = process.argv.includes("--check");
  let stale = false;
  for (const spec of Object.values(MODELS)) {
    const groups = spec.groups();
    const model = train(spec, groups);
    if (check) {
      const distance = weightDistance(model, loadModel(spec.stored));
      if (distance > 1e-4) {
        console.error(
          `${spec.file} is out of date (weights differ by ${distance}): run npm run train:models`,
        );
        stale = true;
      }
      continue;
    }
    if (!process.argv.includes("--no-cross-validation")) {
      console.log(
        `${spec.name}, each set left out of the model's training in turn (judged as the gateway judges):`,
      );
      console.log("set left out | attacks | detected | benign | false positives");
      for (const r of crossValidate(spec, groups))
        console.log(
          `${r.name} | ${r.attacks} | ${percent(r.detected, r.attacks)} | ${r.benign} | ${percent(r.flagged, r.benign)}`,
        );
    }
    writeFileSync(join(import.meta.dirname, "..", spec.file), await weightsModule(spec, model));
    console.log(`wrote ${spec.file} (${groups.flatMap((g) => g.examples).length} examples)\n`);
  }
  if (stale) process.exit(1);
}
