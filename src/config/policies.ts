// Loads the authorization policies a config names: inline ones and policy files or folders,
// compiles them, and turns every error into a config issue with its file, line and key, so that a
// policy set that fails validation is refused as a whole (at start, and on reload: the running set stays).
import { readdirSync, readFileSync, statSync } from "node:fs";
import { extname, join, resolve } from "node:path";
import { ConfigError, type ConfigIssue } from "../errors.ts";
import { PolicySet, type PolicyEntry, type PolicyProblem } from "../layers/authz/engine.ts";
import { policyDocumentSchema, policyListSchema } from "../layers/authz/policy.ts";
import type { AuthorizationConfig } from "./authzSchema.ts";
import { parseYamlText, type ParsedYaml } from "./load.ts";

export interface LoadedPolicies {
  readonly set: PolicySet;
  /** Shadowed or disabled policies: reported, not refused. */
  readonly warnings: readonly PolicyProblem[];
  /** Files and folders to watch for changes. */
  readonly watched: readonly string[];
}

/** Compiles the config's policies; throws a ConfigError naming every bad policy. */
export function loadPolicies(
  authorization: AuthorizationConfig,
  configFile: string,
  baseDir: string,
  lineOf: ParsedYaml<unknown>["lineOf"],
): LoadedPolicies {
  const entries: PolicyEntry[] = authorization.policies.map((policy, i) => ({
    policy,
    origin: { file: configFile, line: lineOf(["authorization", "policies", i]) },
  }));
  const issues: ConfigIssue[] = [];
  const watched: string[] = [];
  for (const name of authorization.policyFiles) {
    const path = resolve(baseDir, name);
    watched.push(path);
    for (const file of policyFilesAt(path, configFile, issues)) {
      try {
        entries.push(...readPolicyFile(file));
      } catch (err) {
        if (!(err instanceof ConfigError)) throw err;
        issues.push(...err.issues);
      }
    }
  }
  if (issues.length > 0) throw new ConfigError(issues);
  return { ...compilePolicies(entries), watched };
}

/** Compiles entries; problems that are errors become config issues (thrown together). */
export function compilePolicies(entries: readonly PolicyEntry[]): Omit<LoadedPolicies, "watched"> {
  const { set, problems } = PolicySet.compile(entries);
  const errors = problems.filter((p) => p.severity === "error");
  if (errors.length > 0) {
    throw new ConfigError(
      errors.map((p) => ({
        file: p.origin?.file ?? "(policies)",
        line: p.origin?.line,
        column: undefined,
        path: p.policy ? `policy ${p.policy}` : "",
        message: p.message,
      })),
    );
  }
  return { set, warnings: problems.filter((p) => p.severity === "warning") };
}

/** The policies of one file, each with the line it starts on. */
export function readPolicyFile(file: string): PolicyEntry[] {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    throw new ConfigError([
      {
        file,
        line: undefined,
        column: undefined,
        path: "",
        message: `cannot read policy file (${String(err)})`,
      },
    ]);
  }
  // A list, or an object with `policies:`: validated against that shape alone, so that an error is
  // reported at its own line and key rather than as "no shape matched" at line 1.
  const listed = /^\s*-/m.test(text.replace(/^\s*#.*$/gm, "")) && !/^policies\s*:/m.test(text);
  const parsed = parseYamlText(text, file, listed ? policyListSchema : policyDocumentSchema);
  const list = Array.isArray(parsed.data) ? parsed.data : parsed.data.policies;
  const prefix = Array.isArray(parsed.data) ? [] : ["policies"];
  return list.map((policy, i) => ({ policy, origin: { file, line: parsed.lineOf([...prefix, i]) } }));
}

/** The policy files a `policyFiles` entry names: the file, or a folder's *.yaml and *.yml, sorted. */
export function policyFilesIn(path: string): string[] {
  if (!statSync(path).isDirectory()) return [path];
  return readdirSync(path)
    .filter((name) => [".yaml", ".yml"].includes(extname(name)))
    .sort()
    .map((name) => join(path, name));
}

function policyFilesAt(path: string, configFile: string, issues: ConfigIssue[]): string[] {
  try {
    return policyFilesIn(path);
  } catch (err) {
    issues.push({
      file: configFile,
      line: undefined,
      column: undefined,
      path: "authorization.policyFiles",
      message: `cannot read ${path} (${err instanceof Error ? err.message : String(err)})`,
    });
    return [];
  }
}
