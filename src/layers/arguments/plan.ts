// Which detector checks which argument of a tool: the declared rules (most specific pointer first),
// then, for what no rule names, kinds inferred from the argument's name, its schema's `format`, and
// for the `query`/`sql` argument of a SQL database tool, read-only enforcement. Compiled once per tool.
import type { ArgumentGuardConfig, ArgumentKind, ToolRulesConfig } from "../../config/argumentsSchema.ts";
import { namePatterns } from "../../federation/namePattern.ts";
import { pathPolicy, type PathPolicy } from "./paths.ts";

export type Action = "block" | "flag";

export interface Assignment {
  readonly kind: ArgumentKind;
  readonly action: Action;
  readonly inferred: boolean;
  readonly paths: PathPolicy;
}

interface CompiledRule {
  readonly pattern: readonly string[];
  readonly wildcards: number;
  readonly order: number;
  readonly assignment: Assignment | "ignore";
}

interface CompiledEntry {
  readonly matches: (name: string) => boolean;
  readonly entry: ToolRulesConfig;
}

/** The compiled config: builds (and the layer caches) one plan per tool definition. */
export class ArgumentPlanner {
  private readonly config: ArgumentGuardConfig;
  private readonly entries: readonly CompiledEntry[];
  private readonly globalPaths: PathPolicy;

  constructor(config: ArgumentGuardConfig) {
    this.config = config;
    this.globalPaths = pathPolicy(config.path.roots, config.path.sensitive, config.path.base);
    this.entries = config.tools.map((entry) => ({ matches: namePatterns(entry.tools), entry }));
  }

  /** The plan for a tool by its public name, with its definition when the catalogue has it. */
  plan(publicName: string, definition: Readonly<Record<string, unknown>> | undefined): ToolPlan {
    const entries = this.entries.filter((e) => e.matches(publicName)).map((e) => e.entry);
    const infer = entries.find((e) => e.infer !== undefined)?.infer ?? this.config.infer;
    const toolRoots = entries.find((e) => e.roots !== undefined)?.roots;
    const toolBase = entries.find((e) => e.base !== undefined)?.base;
    const base = toolBase ?? this.config.path.base;
    const paths =
      toolRoots || toolBase
        ? pathPolicy(toolRoots ?? this.config.path.roots, this.config.path.sensitive, base)
        : this.globalPaths;
    const rules: CompiledRule[] = [];
    for (const entry of entries)
      for (const rule of entry.arguments) {
        const pattern = pointerOf(rule.argument);
        rules.push({
          pattern,
          wildcards: pattern.filter((s) => s === "*").length,
          order: rules.length,
          assignment:
            rule.action === "ignore"
              ? "ignore"
              : {
                  kind: rule.kind,
                  action: rule.action,
                  inferred: false,
                  paths: rule.roots ? pathPolicy(rule.roots, this.config.path.sensitive, base) : paths,
                },
        });
      }
    // The longest pointer wins, then the one with fewer wildcards, then the first declared.
    rules.sort(
      (a, b) => b.pattern.length - a.pattern.length || a.wildcards - b.wildcards || a.order - b.order,
    );
    const inference = infer
      ? new Inference(publicName, definition, this.config.inferredAction, paths)
      : undefined;
    return new ToolPlan(rules, inference);
  }
}

export class ToolPlan {
  private readonly rules: readonly CompiledRule[];
  private readonly inference: Inference | undefined;

  constructor(rules: readonly CompiledRule[], inference: Inference | undefined) {
    this.rules = rules;
    this.inference = inference;
  }

  /** What checks the string at `path` (segments; array indexes as text), named by `key`. */
  assign(path: readonly string[], key: string | undefined): Assignment | undefined {
    for (const rule of this.rules) {
      if (covers(rule.pattern, path)) return rule.assignment === "ignore" ? undefined : rule.assignment;
    }
    return this.inference?.assign(path, key);
  }
}

/** A rule's pointer covers a path when it is a prefix of it (`*` matching any one segment). */
function covers(pattern: readonly string[], path: readonly string[]): boolean {
  if (pattern.length > path.length) return false;
  for (let i = 0; i < pattern.length; i++) {
    const segment = pattern[i];
    if (segment !== "*" && segment !== path[i]) return false;
  }
  return true;
}

/** `path` → ["path"]; `/options/target` → ["options", "target"] (with `~1` and `~0` unescaped). */
export function pointerOf(argument: string): string[] {
  if (!argument.startsWith("/")) return [argument];
  return argument
    .slice(1)
    .split("/")
    .map((segment) => segment.replace(/~1/g, "/").replace(/~0/g, "~"));
}

const SQL_ENGINES =
  /\b(?:sql|postgres(?:ql)?|psql|mysql|mariadb|sqlite3?|mssql|t-?sql|bigquery|snowflake|redshift|clickhouse|duckdb|cockroach(?:db)?|tidb|trino|presto|athena|sparksql|relational)\b/i;
const WRITING_TOOL_WORDS = new Set([
  "write",
  "insert",
  "update",
  "delete",
  "upsert",
  "execute",
  "exec",
  "modify",
  "mutate",
  "create",
  "drop",
  "alter",
  "migrate",
  "migration",
  "ddl",
  "dml",
  "admin",
]);

const NAME_KINDS = new Map<string, ArgumentKind>([
  ...["path", "paths", "filepath", "filepaths", "file", "files", "filename", "filenames"].map(
    (w) => [w, "path"] as const,
  ),
  ...["dir", "dirs", "directory", "directories", "folder", "folders", "cwd", "workdir"].map(
    (w) => [w, "path"] as const,
  ),
  ...["source", "destination", "dest"].map((w) => [w, "path"] as const),
  ...["url", "urls", "uri", "uris", "href", "endpoint", "endpoints", "webhook"].map(
    (w) => [w, "url"] as const,
  ),
  ...["command", "commands", "cmd", "cmdline", "commandline", "args", "argv"].map(
    (w) => [w, "command"] as const,
  ),
  ...["branch", "revision", "rev", "ref", "refspec", "commit", "sha", "treeish"].map(
    (w) => [w, "operand"] as const,
  ),
]);

const NAME_CACHE_LIMIT = 10_000;

/** Kinds inferred for one tool: by schema `format`, by argument name, SQL statements of SQL tools. */
class Inference {
  private readonly action: Action;
  private readonly paths: PathPolicy;
  private readonly urlPointers: readonly (readonly string[])[];
  /** Whether a `query`/`statement` argument is a whole SQL statement (a SQL tool) … */
  private readonly sqlTool: boolean;
  /** … and whether the tool may write (then nothing is inferred for it: declare it). */
  private readonly writes: boolean;
  private readonly byName = new Map<string, ArgumentKind | null>();

  constructor(
    toolName: string,
    definition: Readonly<Record<string, unknown>> | undefined,
    action: Action,
    paths: PathPolicy,
  ) {
    this.action = action;
    this.paths = paths;
    const name = typeof definition?.name === "string" ? definition.name : toolName;
    const description =
      typeof definition?.description === "string" ? definition.description.slice(0, 4000) : "";
    const annotations = (definition?.annotations ?? {}) as Record<string, unknown>;
    this.sqlTool = SQL_ENGINES.test(`${words(name).join(" ")} ${description}`);
    this.writes =
      annotations.readOnlyHint !== true &&
      (annotations.readOnlyHint === false ||
        annotations.destructiveHint === true ||
        words(name).some((w) => WRITING_TOOL_WORDS.has(w)));
    this.urlPointers = uriPointers(definition?.inputSchema);
  }

  assign(path: readonly string[], key: string | undefined): Assignment | undefined {
    const kind = this.urlPointers.some((p) => p.length === path.length && covers(p, path))
      ? "url"
      : key === undefined
        ? undefined
        : this.kindOfName(key);
    return kind ? { kind, action: this.action, inferred: true, paths: this.paths } : undefined;
  }

  private kindOfName(key: string): ArgumentKind | undefined {
    const cached = this.byName.get(key);
    if (cached !== undefined) return cached ?? undefined;
    const kind = this.inferName(key);
    if (this.byName.size < NAME_CACHE_LIMIT) this.byName.set(key, kind ?? null);
    return kind;
  }

  private inferName(key: string): ArgumentKind | undefined {
    const tokens = words(key);
    if (tokens.length === 0) return undefined;
    const statement =
      tokens.includes("sql") ||
      (this.sqlTool && ["query", "statement", "stmt", "queries"].includes(tokens.at(-1) ?? ""));
    if (statement) return this.writes ? undefined : "sql-readonly";
    // `file_name`, `branch_name`: the word before `name` says what it is.
    const last = tokens.at(-1) === "name" && tokens.length > 1 ? tokens.at(-2) : tokens.at(-1);
    return NAME_KINDS.get(last ?? "") ?? NAME_KINDS.get(tokens.join(""));
  }
}

/** `filePath` → [file, path]; `repo_url` → [repo, url]; `HTTPEndpoint` → [http, endpoint]. */
function words(name: string): string[] {
  return name
    .slice(0, 128)
    .replace(/([a-z0-9])([A-Z])/g, "$1 $2")
    .replace(/([A-Z]+)([A-Z][a-z])/g, "$1 $2")
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter((w) => w !== "");
}

const URI_FORMATS = new Set(["uri", "url", "iri"]);
const SCHEMA_DEPTH = 12;

/** Pointers (with `*` for items and additional properties) of schema properties with a URI format. */
function uriPointers(schema: unknown): string[][] {
  const found: string[][] = [];
  const root = schema;
  const walk = (node: unknown, path: string[], depth: number): void => {
    if (!node || typeof node !== "object" || depth > SCHEMA_DEPTH || found.length > 256) return;
    const s = node as Record<string, unknown>;
    if (typeof s.$ref === "string") walk(localRef(root, s.$ref), path, depth + 1);
    if (typeof s.format === "string" && URI_FORMATS.has(s.format)) found.push(path);
    if (s.properties && typeof s.properties === "object")
      for (const [key, sub] of Object.entries(s.properties as Record<string, unknown>))
        walk(sub, [...path, key], depth + 1);
    for (const key of ["items", "additionalProperties"]) {
      const sub = s[key];
      if (Array.isArray(sub)) for (const item of sub) walk(item, [...path, "*"], depth + 1);
      else walk(sub, [...path, "*"], depth + 1);
    }
    if (Array.isArray(s.prefixItems)) for (const item of s.prefixItems) walk(item, [...path, "*"], depth + 1);
    for (const key of ["anyOf", "oneOf", "allOf"]) {
      const list = s[key];
      if (Array.isArray(list)) for (const sub of list) walk(sub, path, depth + 1);
    }
  };
  walk(schema, [], 0);
  return found;
}

function localRef(root: unknown, ref: string): unknown {
  const match = /^#\/(\$defs|definitions)\/([^/]+)$/.exec(ref);
  if (!match || !root || typeof root !== "object") return undefined;
  const defs = (root as Record<string, unknown>)[match[1] as string];
  return defs && typeof defs === "object" ? (defs as Record<string, unknown>)[match[2] as string] : undefined;
}
