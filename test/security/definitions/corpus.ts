// Loads the definition corpora: benign.yaml (servers and their lists), attacks.yaml (poisoned
// definitions, with the load-time encodings the file describes), rugpulls.yaml and collisions.yaml.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "yaml";
import type { CatalogKind } from "../../../src/pipeline/types.ts";

const here = import.meta.dirname;

export type Definition = Record<string, unknown>;

export interface ServerLists {
  readonly tools: Definition[];
  readonly prompts: Definition[];
  readonly resources: Definition[];
  readonly resourceTemplates: Definition[];
}

export interface Attack {
  readonly id: string;
  readonly technique: string;
  readonly surface: string;
  readonly explicit: boolean;
  readonly kind: CatalogKind;
  readonly definition: Definition;
}

export interface RugPull {
  readonly id: string;
  readonly kind: "tools" | "prompts";
  readonly before: Definition;
  readonly after: Definition;
  /** false: the same definition served again (reordered keys, re-encoded): must not count as a change. */
  readonly changed: boolean;
}

export interface CollisionCase {
  readonly id: string;
  readonly technique: string;
  /** upstream → tool names. */
  readonly upstreams: Record<string, string[]>;
  /** The names expected to be acted on ("upstream/name"); empty for a benign case. */
  readonly expect: string[];
  /** Upstreams marked trusted in the config. */
  readonly trusted?: string[];
}

export function benignServers(): Record<string, ServerLists> {
  const doc = parse(readFileSync(join(here, "benign.yaml"), "utf8")) as {
    servers: Record<string, Partial<ServerLists>>;
  };
  return Object.fromEntries(Object.entries(doc.servers).map(([name, lists]) => [name, listsOf(lists)]));
}

export function attacks(): Attack[] {
  const doc = parse(readFileSync(join(here, "attacks.yaml"), "utf8")) as { attacks: Attack[] };
  return doc.attacks.map((a) => ({ ...a, definition: expand(a.definition) as Definition }));
}

export function rugPulls(): RugPull[] {
  const doc = parse(readFileSync(join(here, "rugpulls.yaml"), "utf8")) as { rugpulls: RugPull[] };
  return doc.rugpulls.map((r) => ({
    ...r,
    before: expand(r.before) as Definition,
    after: expand(r.after) as Definition,
  }));
}

/** A held-out set (holdout.yaml, holdout-2.yaml): attacks and benign servers written after the rules. */
/**
 * The held-out rounds the learned poisoning score is trained on (scripts/train-models.ts). A new
 * round stays out of this list until it has been measured once, untouched.
 */
export const TRAINED_HOLDOUTS = [
  "holdout.yaml",
  "holdout-2.yaml",
  "holdout-3.yaml",
  "holdout-4.yaml",
  "holdout-5.yaml",
  "holdout-6.yaml",
  "holdout-7.yaml",
] as const;

export function holdout(file: string): { attacks: Attack[]; servers: Record<string, ServerLists> } {
  const doc = parse(readFileSync(join(here, file), "utf8")) as {
    attacks: Attack[];
    benign: Record<string, Partial<ServerLists>>;
  };
  return {
    attacks: doc.attacks.map((a) => ({
      ...a,
      // A set may mark its attacks explicit or subtle ("style"); earlier sets count all as explicit.
      explicit: (a as Attack & { style?: string }).style !== "subtle",
      technique: a.surface,
      definition: expand(a.definition, false) as Definition,
    })),
    servers: Object.fromEntries(Object.entries(doc.benign).map(([name, lists]) => [name, listsOf(lists)])),
  };
}

function listsOf(lists: Partial<ServerLists>): ServerLists {
  return {
    tools: lists.tools ?? [],
    prompts: lists.prompts ?? [],
    resources: lists.resources ?? [],
    resourceTemplates: lists.resourceTemplates ?? [],
  };
}

export function collisions(): CollisionCase[] {
  const doc = parse(readFileSync(join(here, "collisions.yaml"), "utf8")) as { collisions: CollisionCase[] };
  return doc.collisions.map((c) => ({
    ...c,
    upstreams: Object.fromEntries(
      Object.entries(c.upstreams).map(([u, names]) => [u, names.map((n) => expand(n) as string)]),
    ),
    expect: (c.expect ?? []).map((e) => expand(e) as string),
  }));
}

/** Applies the load-time encodings ({{tags:…}}, {{b64:…}}, …) to every string of a value. */
export function expand(value: unknown, strict = true): unknown {
  if (typeof value === "string")
    return value.replace(/\{\{(\w+):([^}]*)\}\}/g, (whole, kind: string, arg: string) =>
      // A held-out set may hold a template of its own ("{{file:~/.aws/credentials}}"): kept as written.
      strict || Object.hasOwn(ENCODINGS, kind) ? encode(kind, arg) : whole,
    );
  if (Array.isArray(value)) return value.map((v) => expand(v, strict));
  if (value && typeof value === "object")
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, expand(v, strict)]));
  return value;
}

const ENCODINGS = { tags: 1, zw: 1, rlo: 1, b64: 1, pct: 1, cyr: 1, ws: 1, nl: 1 } as const;

const CYRILLIC: Record<string, string> = { a: "а", e: "е", o: "о", p: "р", c: "с", x: "х", i: "і" };

function encode(kind: string, arg: string): string {
  switch (kind) {
    case "tags":
      return [...arg].map((ch) => String.fromCodePoint(0xe0000 + ch.charCodeAt(0))).join("");
    case "zw":
      return [...arg].map((ch) => (/\p{L}/u.test(ch) ? `${ch}\u200b` : ch)).join("");
    case "rlo":
      return `\u202e${arg}\u202c`;
    case "b64":
      return Buffer.from(arg, "utf8").toString("base64");
    case "pct":
      return [...Buffer.from(arg, "utf8")]
        .map((b) => `%${b.toString(16).padStart(2, "0").toUpperCase()}`)
        .join("");
    case "cyr":
      return [...arg].map((ch) => CYRILLIC[ch] ?? ch).join("");
    case "ws":
      return " ".repeat(Number(arg));
    case "nl":
      return "\n".repeat(Number(arg));
    default:
      throw new Error(`unknown corpus encoding {{${kind}:…}}`);
  }
}
