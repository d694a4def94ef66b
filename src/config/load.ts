// Loads a YAML config file: resolves ${env:NAME} and ${file:PATH} references, validates against
// the schema, and reports every problem with its file, line, column and key path.
import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { isMap, isScalar, LineCounter, parseDocument, visit, type Document, type Node } from "yaml";
import type { z } from "zod";
import { ConfigError, type ConfigIssue } from "../errors.ts";
import { loadPolicies, type LoadedPolicies } from "./policies.ts";
import { configSchema, type GatewayConfig } from "./schema.ts";

export interface LoadedConfig {
  readonly file: string;
  readonly dir: string;
  readonly config: GatewayConfig;
  /** The authorization policies, compiled (inline and from policy files). */
  readonly policies: LoadedPolicies;
}

const secretRef = /\$\{(env|file):([^}]+)\}/g;

export function loadConfigFile(file: string, env: NodeJS.ProcessEnv = process.env): LoadedConfig {
  const path = resolve(file);
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    throw new ConfigError([issueAt(path, undefined, "", `cannot read config file (${errorText(err)})`)]);
  }
  const parsed = parseYamlText(text, path, configSchema, env);
  const dir = dirname(path);
  const policies = loadPolicies(parsed.data.authorization, path, dir, parsed.lineOf);
  return { file: path, dir, config: parsed.data, policies };
}

export function parseConfigText(
  text: string,
  file: string,
  env: NodeJS.ProcessEnv = process.env,
): GatewayConfig {
  return parseYamlText(text, file, configSchema, env).data;
}

export interface ParsedYaml<T> {
  readonly data: T;
  /** The line (1-based) of the node at a key path, for messages about what the schema accepted. */
  readonly lineOf: (path: readonly (string | number)[]) => number | undefined;
}

/**
 * Parses YAML and validates it against a schema, reporting every problem with its file, line,
 * column and key path. With `env`, ${env:NAME} and ${file:PATH} references are resolved first.
 */
export function parseYamlText<S extends z.ZodType>(
  text: string,
  file: string,
  schema: S,
  env?: NodeJS.ProcessEnv,
): ParsedYaml<z.output<S>> {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const issues: ConfigIssue[] = doc.errors.map((e) => {
    const pos = lines.linePos(e.pos[0]);
    return { file, line: pos.line, column: pos.col, path: "", message: e.message.split("\n")[0] ?? e.code };
  });
  if (issues.length > 0) throw new ConfigError(issues);

  if (env) issues.push(...resolveSecretReferences(doc, file, lines, env));
  const raw: unknown = doc.toJS({ maxAliasCount: 100 });
  const parsed = schema.safeParse(raw ?? {});
  if (!parsed.success) issues.push(...parsed.error.issues.flatMap((i) => locateIssue(i, doc, file, lines)));
  if (issues.length > 0 || !parsed.success) throw new ConfigError(issues);
  const lineOf = (path: readonly (string | number)[]) => {
    const node = path.length === 0 ? doc.contents : doc.getIn(path, true);
    return node && typeof node === "object" && "range" in node && (node as Node).range
      ? lines.linePos((node as Node).range![0]).line
      : undefined;
  };
  return { data: parsed.data, lineOf };
}

/** Replaces secret references in string scalars, in place; unresolved ones become issues. */
function resolveSecretReferences(
  doc: Document,
  file: string,
  lines: LineCounter,
  env: NodeJS.ProcessEnv,
): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  const baseDir = dirname(file);
  visit(doc, {
    Scalar(_key, node, path) {
      if (typeof node.value !== "string" || !node.value.includes("${")) return;
      const keyPath = pathOfVisit(path, node);
      node.value = node.value.replace(secretRef, (_m, kind: string, ref: string) => {
        if (kind === "env") {
          const value = env[ref];
          if (value !== undefined) return value;
          issues.push(at(node, `environment variable ${ref} is not set`));
          return "";
        }
        try {
          return readFileSync(resolve(baseDir, ref), "utf8").trimEnd();
        } catch (err) {
          issues.push(at(node, `cannot read secret file ${ref} (${errorText(err)})`));
          return "";
        }
      });
      function at(n: Node, message: string): ConfigIssue {
        const pos = n.range ? lines.linePos(n.range[0]) : undefined;
        return { file, line: pos?.line, column: pos?.col, path: keyPath, message };
      }
    },
  });
  return issues;
}

function pathOfVisit(path: readonly unknown[], leaf: unknown): string {
  const keys: string[] = [];
  const chain = [...path, leaf];
  for (let i = 0; i < chain.length - 1; i++) {
    const parent = chain[i];
    const child = chain[i + 1];
    if (isMap(parent)) {
      continue;
    }
    if (parent && typeof parent === "object" && "key" in parent && "value" in parent) {
      const pair = parent;
      if (pair.value === child && isScalar(pair.key)) keys.push(String(pair.key.value));
    } else if (parent && typeof parent === "object" && "items" in parent) {
      const items = (parent as { items: unknown[] }).items;
      const index = items.indexOf(child);
      if (index >= 0 && !isMap(parent)) keys.push(String(index));
    }
  }
  return keys.join(".");
}

function locateIssue(
  issue: z.core.$ZodIssue,
  doc: Document,
  file: string,
  lines: LineCounter,
): ConfigIssue[] {
  const path = issue.path.map(String);
  if (issue.code === "unrecognized_keys") {
    return issue.keys.map((key) => {
      const keyNode = findKeyNode(doc, path, key);
      const pos = keyNode?.range ? lines.linePos(keyNode.range[0]) : undefined;
      return {
        file,
        line: pos?.line,
        column: pos?.col,
        path: [...path, key].join("."),
        message: `unknown key "${key}"`,
      };
    });
  }
  // A missing key has no node of its own: point at the nearest ancestor that exists.
  let node: Node | undefined;
  for (let depth = path.length; depth >= 0 && !node; depth--) {
    const found = depth === 0 ? doc.contents : doc.getIn(path.slice(0, depth), true);
    if (found && typeof found === "object" && "range" in found) node = found as Node;
  }
  const pos = node?.range ? lines.linePos(node.range[0]) : undefined;
  return [{ file, line: pos?.line, column: pos?.col, path: path.join("."), message: issue.message }];
}

function findKeyNode(doc: Document, parentPath: string[], key: string): Node | undefined {
  const parent = parentPath.length === 0 ? doc.contents : doc.getIn(parentPath, true);
  if (!isMap(parent)) return undefined;
  for (const pair of parent.items) {
    if (isScalar(pair.key) && String(pair.key.value) === key) return pair.key;
  }
  return undefined;
}

function issueAt(file: string, line: number | undefined, path: string, message: string): ConfigIssue {
  return { file, line, column: undefined, path, message };
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
