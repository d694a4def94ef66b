// `portcullis policy validate | test | explain`: check policy files without starting the gateway,
// run a file of test cases against them, and show how one request is decided, policy by policy.
import { processOutput, textTable, type CommandOutput } from "./output.ts";
import { readFileSync } from "node:fs";
import { dirname, isAbsolute, relative, resolve } from "node:path";
import ipaddr from "ipaddr.js";
import { z } from "zod";
import { parseYamlText, type ParsedYaml } from "../config/load.ts";
import { configSchema } from "../config/schema.ts";
import { ConfigError, type ConfigIssue } from "../errors.ts";
import { POLICY_ACTIONS, TARGETED_ACTIONS } from "../layers/authz/actions.ts";
import { policyFilesIn } from "../config/policies.ts";
import { isTimeZone } from "../layers/authz/cel.ts";
import {
  describeOrigin,
  PolicySet,
  type AuthzTarget,
  type PolicyDecision,
  type PolicyEntry,
  type PolicyTrace,
  type RequestFacts,
} from "../layers/authz/engine.ts";
import { noUsage } from "../layers/authz/input.ts";
import { combineStepUps, unmetStepUp, type StepUpRequirement } from "../layers/authz/obligations.ts";
import {
  policyDocumentSchema,
  policyListSchema,
  policySchema,
  principalScope,
} from "../layers/authz/policy.ts";
import { LabelBook, unknownTargetError } from "../layers/authz/targets.ts";
import type { Principal, RequestContext } from "../pipeline/types.ts";
import { LEGACY_VERSIONS, MODERN_VERSIONS } from "../protocol.ts";

/** The parsed command-line options the policy commands read (names as on the command line). */
export interface PolicyCommandOptions {
  readonly config?: string;
  readonly policies?: string | readonly string[];
  readonly strict?: boolean;
  readonly json?: boolean;
  readonly principal?: string;
  readonly kind?: string;
  readonly roles?: string;
  readonly groups?: string;
  readonly scopes?: string;
  readonly tenant?: string;
  readonly "auth-method"?: string;
  readonly acr?: string;
  readonly amr?: string;
  readonly "auth-age"?: string;
  readonly action?: string;
  readonly tool?: string;
  readonly prompt?: string;
  readonly resource?: string;
  readonly upstream?: string;
  readonly labels?: string;
  readonly address?: string;
  readonly time?: string;
  readonly trust?: string;
  readonly args?: string;
}

const commands = ["validate", "test", "explain"];

/** 0: valid, every case passed, explained; 1: an error in the policies or cases, or a failed case. */
export async function runPolicyCommand(
  sub: string | undefined,
  positionals: readonly string[],
  options: PolicyCommandOptions,
  output: CommandOutput = processOutput,
): Promise<number> {
  switch (sub) {
    case "validate":
      return validatePolicies(options, output);
    case "test": {
      const file = positionals[0];
      if (!file) throw new Error("name the cases: portcullis policy test CASES.yaml --config FILE");
      return testCases(file, options, output);
    }
    case "explain":
      return explainRequest(options, output);
    default:
      throw new Error(`unknown policy command "${sub ?? ""}" (${commands.join(", ")})`);
  }
}

// ---------------------------------------------------------------------------------------------
// Reading policies: every problem is collected (never the first only), each with its file and line.

interface Problem {
  readonly severity: "error" | "warning";
  /** As the user would type it (relative to the working directory when inside it). */
  readonly file: string;
  readonly line: number | undefined;
  readonly policy: string | undefined;
  readonly message: string;
}

/** What a request is evaluated with: the config's authorization section, or defaults. */
interface RequestSettings {
  readonly timeZone: string;
  readonly labels: LabelBook | undefined;
  /** Undefined with --policies: every argument a case gives is readable. */
  readonly argumentKeys: readonly string[] | undefined;
  readonly upstreamOf: (name: string) => string;
}

interface PolicySource {
  readonly entries: PolicyEntry[];
  readonly problems: Problem[];
  /** Policies found, valid or not. */
  count: number;
}

/** The config sections the policy commands read: no other section, so no secret is resolved. */
const policySettingsSchema = z.object({
  authorization: configSchema.shape.authorization,
  federation: configSchema.shape.federation,
  upstreams: z.record(z.string(), z.unknown()).optional(),
});

/** The default `federation.separator`: with --policies, the upstream is the name's prefix before it. */
const DEFAULT_SEPARATOR = configSchema.shape.federation.parse(undefined).separator;

/** The policies (and, with --config, the settings requests are evaluated with); undefined settings: invalid. */
function loadPolicySource(
  options: PolicyCommandOptions,
  casesFile?: string,
): PolicySource & { settings: RequestSettings | undefined } {
  const paths = typeof options.policies === "string" ? [options.policies] : [...(options.policies ?? [])];
  if (options.config && paths.length > 0) throw new Error("give --config FILE or --policies PATH, not both");
  if (!options.config && paths.length === 0)
    throw new Error("--config FILE (or --policies FILE_OR_DIR) is required");
  const source: PolicySource = { entries: [], problems: [], count: 0 };
  if (options.config) {
    const settings = readConfig(resolve(options.config), source);
    return { ...source, settings };
  }
  // A cases file kept among the policies it tests is not one of them.
  const skip = casesFile === undefined ? undefined : resolve(casesFile);
  for (const path of paths)
    for (const file of policyFilesAt(resolve(path), source.problems))
      if (file !== skip) readPolicyFile(file, source);
  const settings: RequestSettings = {
    timeZone: "UTC",
    labels: undefined,
    argumentKeys: undefined,
    upstreamOf: (name) => (name.includes(DEFAULT_SEPARATOR) ? (name.split(DEFAULT_SEPARATOR)[0] ?? "") : ""),
  };
  return { ...source, settings };
}

/** The config's inline policies and policy files, and its authorization settings. */
function readConfig(file: string, source: PolicySource): RequestSettings | undefined {
  const yaml = readYaml(file, source.problems);
  if (!yaml) return undefined;
  const { data, lineOf } = yaml.parsed;
  const inline = listAt(data, ["authorization", "policies"]);
  const prefix = ["authorization", "policies"];
  const settings = strictParse(yaml.text, file, policySettingsSchema, inline, prefix.join("."), source);
  source.entries.push(...validEntries(inline, file, lineOf, prefix));
  source.count += inline.length;
  const authorization = settings?.authorization;
  const policyFiles =
    authorization?.policyFiles ?? listAt(data, ["authorization", "policyFiles"]).filter(isString);
  for (const name of policyFiles)
    for (const path of policyFilesAt(resolve(dirname(file), name), source.problems, shown(file)))
      readPolicyFile(path, source);
  if (!settings || !authorization) return undefined;
  if (!isTimeZone(authorization.timeZone)) {
    source.problems.push(
      problem(file, lineOf(["authorization", "timeZone"]), undefined, {
        message: `authorization.timeZone: "${authorization.timeZone}" is not an IANA time zone (every condition would fail)`,
      }),
    );
  }
  for (const entry of source.entries) source.problems.push(...unexposedArguments(entry, authorization));
  const upstreams = Object.keys(settings.upstreams ?? {});
  const separator = settings.federation.separator;
  return {
    timeZone: authorization.timeZone,
    labels: new LabelBook(authorization.labels),
    argumentKeys: authorization.argumentKeys,
    upstreamOf: (name) =>
      upstreams.find((u) => name.startsWith(`${u}${separator}`)) ??
      (upstreams.length === 1 ? (upstreams[0] ?? "") : ""),
  };
}

/** Reads one policy file; the policies in it that are valid on their own are still compiled. */
function readPolicyFile(file: string, source: PolicySource): void {
  const yaml = readYaml(file, source.problems);
  if (!yaml) return;
  const { data, lineOf } = yaml.parsed;
  const listed = Array.isArray(data);
  if (!listed && !isObject(data)) {
    source.problems.push(
      problem(file, 1, undefined, {
        message: "a policy file is a list of policies (or an object with `policies:`)",
      }),
    );
    return;
  }
  const list = listed ? (data as unknown[]) : listAt(data, ["policies"]);
  if (list.length > 0 && list.every((item) => isObject(item) && "expect" in item && !("effect" in item))) {
    source.problems.push(
      problem(file, 1, undefined, {
        message:
          "a file of policy test cases, not policies: keep it out of policy folders (the gateway refuses it)",
      }),
    );
    return;
  }
  const prefix = listed ? [] : ["policies"];
  strictParse(
    yaml.text,
    file,
    listed ? policyListSchema : policyDocumentSchema,
    list,
    prefix.join("."),
    source,
  );
  source.entries.push(...validEntries(list, file, lineOf, prefix));
  source.count += list.length;
}

function readYaml(
  file: string,
  problems: Problem[],
): { text: string; parsed: ParsedYaml<unknown> } | undefined {
  try {
    const text = readFileSync(file, "utf8");
    return { text, parsed: parseYamlText(text, file, z.unknown()) };
  } catch (err) {
    if (err instanceof ConfigError) problems.push(...err.issues.map((i) => issueProblem(i, [], undefined)));
    else problems.push(problem(file, undefined, undefined, { message: `cannot read (${errorText(err)})` }));
    return undefined;
  }
}

/** Validates against the schema only to report its issues with their lines (and policy ids). */
function strictParse<S extends z.ZodType>(
  text: string,
  file: string,
  schema: S,
  list: readonly unknown[],
  listPath: string,
  source: PolicySource,
): z.output<S> | undefined {
  try {
    return parseYamlText(text, file, schema).data;
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    source.problems.push(...err.issues.map((issue) => issueProblem(issue, list, listPath)));
    return undefined;
  }
}

function validEntries(
  list: readonly unknown[],
  file: string,
  lineOf: ParsedYaml<unknown>["lineOf"],
  prefix: readonly string[],
): PolicyEntry[] {
  return list.flatMap((raw, i) => {
    const parsed = policySchema.safeParse(raw);
    return parsed.success
      ? [{ policy: parsed.data, origin: { file: shown(file), line: lineOf([...prefix, i]) } }]
      : [];
  });
}

/** A schema issue, named by the policy (or case) it is in when the path leads into the list. */
function issueProblem(issue: ConfigIssue, list: readonly unknown[], listPath: string | undefined): Problem {
  const rest =
    listPath === undefined
      ? undefined
      : listPath === ""
        ? issue.path
        : issue.path.startsWith(`${listPath}.`)
          ? issue.path.slice(listPath.length + 1)
          : undefined;
  const item = rest === undefined ? null : /^(\d+)(?:\.(.*))?$/.exec(rest);
  if (!item)
    return problem(issue.file, issue.line, undefined, {
      message: issue.path ? `${issue.path}: ${issue.message}` : issue.message,
    });
  const index = Number(item[1]);
  const raw = list[index];
  const name =
    isObject(raw) && typeof raw.id === "string"
      ? raw.id
      : isObject(raw) && typeof raw.name === "string"
        ? raw.name
        : `#${index + 1}`;
  return problem(issue.file, issue.line, name, {
    message: item[2] ? `${item[2]}: ${issue.message}` : issue.message,
  });
}

/** The YAML files of a folder (sorted), as the gateway reads `authorization.policyFiles`. */
function policyFilesAt(path: string, problems: Problem[], from?: string): string[] {
  try {
    return policyFilesIn(path);
  } catch (err) {
    problems.push(
      problem(from ?? path, undefined, undefined, {
        message: `cannot read ${shown(path)} (${errorText(err)})`,
      }),
    );
    return [];
  }
}

/** Conditions that read an argument the config never exposes: `args.<key>` is then always absent. */
function unexposedArguments(
  entry: PolicyEntry,
  authorization: { argumentKeys: readonly string[] },
): Problem[] {
  const when = entry.policy.when ?? "";
  const keys = new Set<string>();
  for (const match of when.matchAll(
    /\bargs\s*\.\s*([A-Za-z_]\w*)|\bargs\s*\[\s*["']([^"']+)["']\s*\]|["']([^"']+)["']\s+in\s+args\b/g,
  ))
    keys.add(match[1] ?? match[2] ?? match[3] ?? "");
  return [...keys]
    .filter((key) => key !== "" && !authorization.argumentKeys.includes(key))
    .map((key) =>
      problem(entry.origin?.file ?? "(policies)", entry.origin?.line, entry.policy.id, {
        severity: "warning",
        message: `reads args.${key}, which authorization.argumentKeys does not expose (it is never set)`,
      }),
    );
}

function compileSource(source: PolicySource): { set: PolicySet; problems: Problem[] } {
  const { set, problems } = PolicySet.compile(source.entries);
  const zones = source.entries.flatMap(unknownZones);
  return {
    set,
    problems: [
      ...source.problems,
      ...zones,
      ...problems.map((p) =>
        problem(p.origin?.file ?? "(policies)", p.origin?.line, p.policy, {
          severity: p.severity,
          message: p.message,
        }),
      ),
    ].sort(byPlace),
  };
}

/** Time zones named in a condition that the runtime does not know: the condition would always err. */
function unknownZones(entry: PolicyEntry): Problem[] {
  const zones = [
    ...(entry.policy.when ?? "").matchAll(/\b(?:withinHours|hourIn|weekdayIn)\s*\(([^()]*)\)/g),
  ].flatMap((call) => {
    const literal = /["']([^"']*)["']\s*$/.exec(call[1] ?? "");
    return literal?.[1] === undefined ? [] : [literal[1]];
  });
  return zones
    .filter((zone) => !isTimeZone(zone))
    .map((zone) =>
      problem(entry.origin?.file ?? "(policies)", entry.origin?.line, entry.policy.id, {
        message: `when: "${zone}" is not an IANA time zone (the condition would always fail: deny)`,
      }),
    );
}

function problem(
  file: string,
  line: number | undefined,
  policy: string | undefined,
  what: { message: string; severity?: Problem["severity"] },
): Problem {
  const shownFile = isAbsolute(file) ? shown(file) : file;
  return { severity: what.severity ?? "error", file: shownFile, line, policy, message: what.message };
}

/** File by file, line by line: as an editor walks them. */
function byPlace(a: Problem, b: Problem): number {
  if (a.file !== b.file) return a.file < b.file ? -1 : 1;
  return (a.line ?? 0) - (b.line ?? 0);
}

function formatProblem(p: Problem): string {
  const where = p.line === undefined ? p.file : `${p.file}:${p.line}`;
  const subject = p.policy === undefined ? "" : `policy ${p.policy}: `;
  return `${where}: ${subject}${p.severity === "warning" ? "warning: " : ""}${p.message}\n`;
}

// ---------------------------------------------------------------------------------------------
// validate

function validatePolicies(options: PolicyCommandOptions, output: CommandOutput): number {
  const source = loadPolicySource(options);
  const { problems } = compileSource(source);
  for (const p of problems) output.out(formatProblem(p));
  const errors = problems.filter((p) => p.severity === "error").length;
  const warnings = problems.length - errors;
  output.out(`${source.count} policies, ${errors} errors, ${warnings} warnings\n`);
  return errors > 0 || (options.strict === true && warnings > 0) ? 1 : 0;
}

// ---------------------------------------------------------------------------------------------
// The requests cases and `explain` describe.

const principalKinds = principalScope.shape.kinds.unwrap().element;
const authMethods = principalScope.shape.authMethods.unwrap().element;
const names = z.array(z.string().min(1));
const unit = z.number().min(0).max(1);
const count = z.number().int().min(0);
const usageWindows = z.strictObject({
  minute: count.optional(),
  hour: count.optional(),
  day: count.optional(),
});

const principalSpec = z.strictObject({
  id: z.string().min(1),
  kind: principalKinds.default("user"),
  roles: names.default([]),
  groups: names.optional(),
  scopes: names.optional(),
  tenant: z.string().optional(),
  issuer: z.string().optional(),
  clientId: z.string().optional(),
  authMethod: authMethods.default("bearer"),
  acr: z.string().optional(),
  amr: names.optional(),
  authAgeSeconds: count
    .optional()
    .describe("Seconds since the user authenticated at the issuer (auth_time)."),
  device: z.string().min(1).optional().describe("The device a verified client certificate names."),
});

const trustSpec = z.preprocess(
  (value) => (typeof value === "number" ? { score: value } : value),
  z.strictObject({
    score: unit,
    reputation: unit.optional(),
    device: unit.optional(),
    location: unit.optional(),
    behaviour: unit.optional(),
    unusual: names.optional(),
  }),
);

const requestSpec = z.strictObject({
  principal: principalSpec,
  action: z.enum(POLICY_ACTIONS),
  resource: z
    .strictObject({
      kind: z.enum(["tool", "prompt", "resource", "upstream"]),
      name: z.string().min(1),
      upstream: z.string().optional(),
      labels: z.record(z.string(), z.string()).optional(),
      annotations: z.record(z.string(), z.unknown()).optional(),
    })
    .optional(),
  context: z
    .strictObject({
      address: z
        .string()
        .refine((a) => ipaddr.isValid(a), "not an IP address")
        .optional(),
      time: z.iso
        .datetime({ offset: true, message: "not an ISO 8601 time with a zone (2026-11-18T10:30:00Z)" })
        .optional(),
      trust: trustSpec.optional(),
      arguments: z.record(z.string(), z.unknown()).optional(),
      usage: z.strictObject({ tool: usageWindows.optional(), all: usageWindows.optional() }).optional(),
      ratePerMinute: z.number().int().min(1).optional(),
      transport: z.enum(["http", "stdio"]).default("http"),
      era: z.enum(["legacy", "modern"]).default("modern"),
    })
    .prefault({}),
});

const caseSpec = requestSpec.extend({
  name: z.string().min(1),
  expect: z.enum(["permit", "deny"]),
  policies: z
    .array(z.string())
    .optional()
    .describe("The policies expected to decide ([] for a default deny)."),
  obligations: z.array(z.enum(["stepUp", "approval"])).optional(),
  stepUp: z
    .enum(["met", "unmet"])
    .optional()
    .describe("Whether the principal's authentication meets the step-up."),
});

type RequestSpec = z.output<typeof requestSpec>;
type CaseSpec = z.output<typeof caseSpec>;

interface Evaluated {
  readonly facts: RequestFacts;
  readonly decision: PolicyDecision;
  /** Undefined without a step-up obligation; `met`, or why the principal's login does not meet it. */
  readonly stepUp: string | undefined;
}

/** The facts the layer would gather for this request (the CEL input is built by the engine). */
function factsOf(spec: RequestSpec, settings: RequestSettings): RequestFacts {
  const { context } = spec;
  const now = context.time === undefined ? Date.now() : Date.parse(context.time);
  const p = spec.principal;
  const principal: Principal = {
    id: p.id,
    kind: p.kind,
    roles: p.roles,
    authMethod: p.authMethod,
    groups: p.groups,
    scopes: p.scopes,
    tenant: p.tenant,
    issuer: p.issuer,
    clientId: p.clientId,
    acr: p.acr,
    amr: p.amr,
    authTime: p.authAgeSeconds === undefined ? undefined : now - p.authAgeSeconds * 1000,
    device: p.device === undefined ? undefined : { id: p.device, fingerprint: p.device },
  };
  const trust = context.trust;
  const ctx: RequestContext = {
    id: "policy-cli",
    transport: context.transport,
    era: context.era,
    protocolVersion: context.era === "modern" ? MODERN_VERSIONS[0] : LEGACY_VERSIONS[0],
    clientAddress: context.address,
    principal,
    sessionDigest: undefined,
    clientInfo: undefined,
    findings: trust
      ? {
          trust: {
            // Factors not given equal the score: their weighted sum is then the score itself.
            score: trust.score,
            factors: {
              reputation: trust.reputation ?? trust.score,
              device: trust.device ?? trust.score,
              location: trust.location ?? trust.score,
              behaviour: trust.behaviour ?? trust.score,
            },
            unusual: trust.unusual ?? [],
            penalty: 0,
          },
        }
      : {},
  };
  const target = targetOf(spec, settings);
  // As the layer: arguments and usage counts exist for a tool call only.
  const call = spec.action === "tools/call" && target !== undefined;
  const args = spec.action === "tools/call" ? context.arguments : undefined;
  return {
    ctx,
    action: spec.action,
    target,
    now,
    timeZone: settings.timeZone,
    ratePerMinute: context.ratePerMinute ?? 1,
    usage: call
      ? {
          tool: { ...noUsage.tool, ...context.usage?.tool },
          all: { ...noUsage.all, ...context.usage?.all },
        }
      : noUsage,
    arguments: args,
    argumentKeys: settings.argumentKeys ?? Object.keys(args ?? {}),
  };
}

function targetOf(spec: RequestSpec, settings: RequestSettings): AuthzTarget | undefined {
  const r = spec.resource;
  if (!r) return undefined;
  const upstream = r.upstream ?? (r.kind === "upstream" ? r.name : settings.upstreamOf(r.name));
  const labels =
    r.labels ?? (r.kind === "upstream" ? {} : (settings.labels?.labelsOf(r.kind, r.name, upstream) ?? {}));
  return { kind: r.kind, name: r.name, upstream, labels, annotations: r.annotations };
}

function evaluate(set: PolicySet, spec: RequestSpec, settings: RequestSettings): Evaluated {
  const facts = factsOf(spec, settings);
  const decision = set.decide(set.queryFor(facts));
  return { facts, decision, stepUp: stepUpState(decision, facts) };
}

function stepUpState(decision: PolicyDecision, facts: RequestFacts): string | undefined {
  const need = combineStepUps(
    decision.obligations.flatMap((o) => (o.obligations.stepUp ? [o.obligations.stepUp] : [])),
  );
  if (!need) return undefined;
  const { principal } = facts.ctx;
  // As the layer: only an OAuth token can be renewed with a stronger login; others are refused.
  if (principal.authMethod !== "bearer") return `${principal.authMethod} credentials cannot step up (denied)`;
  return unmetStepUp(principal, need, facts.now) ?? "met";
}

const obligationKinds = (decision: PolicyDecision) => [
  ...new Set(decision.obligations.flatMap((o) => Object.keys(o.obligations))),
];

// ---------------------------------------------------------------------------------------------
// test

function testCases(file: string, options: PolicyCommandOptions, output: CommandOutput): number {
  const source = loadPolicySource(options, file);
  const compiled = compileSource(source);
  const errors = compiled.problems.filter((p) => p.severity === "error");
  for (const p of errors) output.err(formatProblem(p));
  const cases = readCases(resolve(file), output);
  if (errors.length > 0 || !source.settings) {
    output.err("the policies do not compile: no case was run\n");
    return 1;
  }
  if (!cases) return 1;
  let failed = 0;
  for (const spec of cases) {
    const mismatches = mismatchesOf(spec, evaluate(compiled.set, spec, source.settings));
    if (mismatches.length === 0) output.out(`ok   ${spec.name}\n`);
    else {
      failed++;
      output.out(`FAIL ${spec.name}: ${mismatches.join("; ")}\n`);
    }
  }
  output.out(`${cases.length} cases, ${cases.length - failed} passed, ${failed} failed\n`);
  return failed > 0 ? 1 : 0;
}

function readCases(file: string, output: CommandOutput): CaseSpec[] | undefined {
  const problems: Problem[] = [];
  const yaml = readYaml(file, problems);
  if (yaml) {
    const list = Array.isArray(yaml.parsed.data) ? (yaml.parsed.data as unknown[]) : [];
    try {
      return parseYamlText(yaml.text, file, z.array(caseSpec)).data;
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      for (const issue of err.issues) {
        const p = issueProblem(issue, list, "");
        problems.push(
          p.policy === undefined ? p : { ...p, policy: undefined, message: `case ${p.policy}: ${p.message}` },
        );
      }
    }
  }
  for (const p of problems) output.err(formatProblem(p));
  output.err(`${shown(file)}: not a valid list of cases: no case was run\n`);
  return undefined;
}

function mismatchesOf(spec: CaseSpec, result: Evaluated): string[] {
  const { decision } = result;
  const mismatches: string[] = [];
  if (decision.effect !== spec.expect)
    mismatches.push(`expected ${spec.expect}, got ${decision.effect} (${decision.rule})`);
  if (spec.policies && !sameSet(spec.policies, decision.policies))
    mismatches.push(`expected policies [${spec.policies.join(", ")}], got [${decision.policies.join(", ")}]`);
  const obligations = obligationKinds(decision);
  if (spec.obligations && !sameSet(spec.obligations, obligations))
    mismatches.push(`expected obligations [${spec.obligations.join(", ")}], got [${obligations.join(", ")}]`);
  if (spec.stepUp) {
    const state = result.stepUp === undefined ? "no step-up" : result.stepUp === "met" ? "met" : "unmet";
    if (state !== spec.stepUp)
      mismatches.push(
        `expected the step-up ${spec.stepUp}, got ${state}${state === "unmet" ? ` (${result.stepUp})` : ""}`,
      );
  }
  return mismatches;
}

function sameSet(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x) => b.includes(x)) && b.every((x) => a.includes(x));
}

// ---------------------------------------------------------------------------------------------
// explain

function explainRequest(options: PolicyCommandOptions, output: CommandOutput): number {
  const spec = requestFromOptions(options);
  const source = loadPolicySource(options);
  const compiled = compileSource(source);
  const errors = compiled.problems.filter((p) => p.severity === "error");
  if (errors.length > 0 || !source.settings) {
    for (const p of errors) output.err(formatProblem(p));
    output.err("the policies do not compile: nothing to explain\n");
    return 1;
  }
  const { set } = compiled;
  const facts = factsOf(spec, source.settings);
  const { decision, candidates } = set.explain(set.queryFor(facts));
  const stepUp = stepUpState(decision, facts);
  const hidden = hiddenTarget(set, facts, decision);
  if (options.json) {
    output.out(
      `${JSON.stringify({ request: describeRequest(facts), decision, stepUp, hidden, policies: set.size, candidates })}\n`,
    );
    return 0;
  }
  output.out(explanationText(facts, decision, stepUp, hidden, candidates, set.size));
  return 0;
}

interface Hidden {
  readonly hidden: boolean;
  readonly listAction: string;
  readonly listRule: string;
  readonly error?: string;
}

function hiddenTarget(set: PolicySet, facts: RequestFacts, decision: PolicyDecision): Hidden | undefined {
  const { target } = facts;
  if (decision.effect !== "deny" || !target || !TARGETED_ACTIONS.has(facts.action)) return undefined;
  const { listAction, decision: list } = set.visibility({ ...facts, target });
  if (list.effect === "permit") return { hidden: false, listAction, listRule: list.rule };
  const error = unknownTargetError(target);
  return { hidden: true, listAction, listRule: list.rule, error: `${error.code}: ${error.detail}` };
}

/** The request the command-line options describe, checked with the same schema as a case. */
function requestFromOptions(options: PolicyCommandOptions): RequestSpec {
  if (!options.principal) throw new Error("policy explain needs --principal ID");
  if (!options.action) throw new Error("policy explain needs --action METHOD (tools/call, prompts/get, …)");
  const given = (["tool", "prompt", "resource"] as const).filter((k) => options[k] !== undefined);
  if (given.length > 1) throw new Error("give one of --tool, --prompt and --resource");
  const kind = given[0];
  const resource =
    kind !== undefined
      ? { kind, name: options[kind], upstream: options.upstream, labels: keyValues(options.labels) }
      : options.upstream !== undefined
        ? { kind: "upstream", name: options.upstream, labels: keyValues(options.labels) }
        : undefined;
  const raw = {
    principal: {
      id: options.principal,
      kind: options.kind,
      roles: list(options.roles),
      groups: list(options.groups),
      scopes: list(options.scopes),
      tenant: options.tenant,
      authMethod: options["auth-method"],
      acr: options.acr,
      amr: list(options.amr),
      authAgeSeconds: options["auth-age"] === undefined ? undefined : Number(options["auth-age"]),
    },
    action: options.action,
    resource,
    context: {
      address: options.address,
      time: options.time,
      trust: options.trust === undefined ? undefined : Number(options.trust),
      arguments: options.args === undefined ? undefined : parseJson(options.args),
    },
  };
  const parsed = requestSpec.safeParse(raw);
  if (parsed.success) return parsed.data;
  throw new Error(parsed.error.issues.map((i) => `${optionOf(i.path)}: ${i.message}`).join("\n"));
}

const optionNames: Record<string, string> = {
  "principal.id": "--principal",
  "principal.authMethod": "--auth-method",
  "principal.authAgeSeconds": "--auth-age",
  "resource.name": "--tool/--prompt/--resource",
  "resource.labels": "--labels",
  "context.arguments": "--args",
};

function optionOf(path: readonly PropertyKey[]): string {
  const key = path.slice(0, 2).map(String).join(".");
  return optionNames[key] ?? `--${String(path[1] ?? path[0] ?? "")}`;
}

function explanationText(
  facts: RequestFacts,
  decision: PolicyDecision,
  stepUp: string | undefined,
  hidden: Hidden | undefined,
  candidates: readonly PolicyTrace[],
  size: number,
): string {
  const lines: [string, string][] = [
    ["request", describeRequest(facts).summary],
    ["decision", `${decision.effect} (${decision.rule}): ${decision.reason}`],
    ["policies", decision.policies.join(", ") || "none"],
    ["obligations", obligationsText(decision, stepUp)],
  ];
  if (hidden)
    lines.push([
      "hidden",
      hidden.hidden
        ? `yes: ${hidden.listAction} is denied too (${hidden.listRule}), so the client is told ${hidden.error}, as for a target that does not exist`
        : `no: ${hidden.listAction} permits it (${hidden.listRule}), so the client is told PORTCULLIS_E_AUTHZ_DENIED`,
    ]);
  lines.push([
    "candidates",
    `${candidates.length} of ${size} policies, selected by the index for ${facts.action}${facts.target ? ` and ${facts.target.name}` : ""}`,
  ]);
  const rows = candidates.map((c) => [
    c.effect,
    c.id,
    c.origin ? describeOrigin(c.origin) : "",
    c.scopeMatched ? "scope matched" : `scope not matched (${c.unmatched})`,
    `condition ${c.condition}`,
    decision.policies.includes(c.id) ? "← decided" : "",
  ]);
  return lines.map(([k, v]) => `${`${k}:`.padEnd(13)}${v}\n`).join("") + textTable(rows, "  ");
}

function obligationsText(decision: PolicyDecision, stepUp: string | undefined): string {
  if (decision.obligations.length === 0) return "none";
  return decision.obligations
    .flatMap(({ policy, obligations }) => [
      ...(obligations.stepUp
        ? [
            `step-up (${policy}: ${stepUpText(obligations.stepUp)}): ${stepUp === "met" ? "met" : `not met, ${stepUp}`}`,
          ]
        : []),
      ...(obligations.approval
        ? [
            `human approval (${policy}${obligations.approval.reason ? `: ${obligations.approval.reason}` : ""})`,
          ]
        : []),
    ])
    .join("; ");
}

function stepUpText(need: StepUpRequirement): string {
  return [
    need.maxAuthAgeSeconds === undefined ? "" : `login within ${need.maxAuthAgeSeconds} s`,
    need.acr ? `acr ${need.acr.join(" or ")}` : "",
    need.amr ? `amr ${need.amr.join(" and ")}` : "",
  ]
    .filter(Boolean)
    .join(", ");
}

function describeRequest(facts: RequestFacts): {
  summary: string;
  principal: Principal;
  action: string;
  target: AuthzTarget | undefined;
} {
  const p = facts.ctx.principal;
  const who = [
    p.kind,
    p.authMethod,
    p.roles.length > 0 ? `roles ${p.roles.join(",")}` : "",
    p.groups?.length ? `groups ${p.groups.join(",")}` : "",
  ]
    .filter(Boolean)
    .join(", ");
  const t = facts.target;
  const labels = t ? Object.entries(t.labels).map(([k, v]) => `${k}=${v}`) : [];
  const what = t
    ? ` ${t.kind} ${t.name} (upstream ${t.upstream || "unknown"}${labels.length ? `, labels ${labels.join(",")}` : ""})`
    : "";
  const at = new Date(facts.now).toISOString();
  const from = facts.ctx.clientAddress ? ` from ${facts.ctx.clientAddress}` : "";
  return {
    summary: `${p.id} (${who}) ${facts.action}${what}${from} at ${at}`,
    principal: p,
    action: facts.action,
    target: t,
  };
}

// ---------------------------------------------------------------------------------------------

function list(text: string | undefined): string[] | undefined {
  return text === undefined
    ? undefined
    : text
        .split(",")
        .map((s) => s.trim())
        .filter(Boolean);
}

function keyValues(text: string | undefined): Record<string, string> | undefined {
  if (text === undefined) return undefined;
  const pairs = list(text)?.map((pair) => {
    const [key, ...value] = pair.split("=");
    if (!key || value.length === 0)
      throw new Error(`--labels ${text}: give key=value pairs (risk=high,data=pii)`);
    return [key, value.join("=")] as const;
  });
  return Object.fromEntries(pairs ?? []);
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new Error(`--args: not JSON (${errorText(err)})`, { cause: err });
  }
}

function listAt(data: unknown, path: readonly string[]): unknown[] {
  let node = data;
  for (const key of path) node = isObject(node) ? node[key] : undefined;
  return Array.isArray(node) ? (node as unknown[]) : [];
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function isString(value: unknown): value is string {
  return typeof value === "string";
}

/** A path as the user would type it: relative to the working directory when inside it. */
function shown(file: string): string {
  const rel = relative(process.cwd(), file);
  return rel === "" || rel.startsWith("..") || isAbsolute(rel) ? file : rel;
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
