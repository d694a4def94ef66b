// Compiles the JSON Schemas upstreams declare for their tools (inputSchema, outputSchema) into
// validators: once per distinct schema (keyed by the hash of its canonical JSON, least recently used
// out), each in an Ajv instance of its own so that no upstream's `$id` or `$anchor` reaches another's
// schema, with the dialect its `$schema` names, and never past the limits of a hostile schema.
import { createHash } from "node:crypto";
import { _, Ajv, type ErrorObject, type KeywordCxt, type Options, type ValidateFunction } from "ajv";
import { Ajv2019 } from "ajv/dist/2019.js";
import { Ajv2020 } from "ajv/dist/2020.js";
import ajvFormats from "ajv-formats";
import canonicalize from "canonicalize";
import { BudgetExceeded, spendStep, withBudget, withCompileDeadline } from "./budget.ts";
import { linearRegExpEngine } from "./patterns.ts";
import {
  closeDeclaredProperties,
  countValues,
  prepareSchema,
  STEP_KEYWORD,
  UnusableSchema,
} from "./schemaWalk.ts";

export interface SchemaLimits {
  readonly maxSchemaBytes: number;
  readonly maxSchemaDepth: number;
  readonly maxPatterns: number;
  readonly compileMs: number;
  readonly steps: number;
  readonly stepsPerValue: number;
  readonly patternCharacters: number;
}

/** One finding of a check: where in the data, and what is wrong (short; never the value itself). */
export interface SchemaIssue {
  readonly instancePath: string;
  readonly message: string;
}

export type CheckOutcome =
  | { readonly valid: true }
  | { readonly valid: false; readonly issues: readonly SchemaIssue[] }
  | { readonly valid: false; readonly budget: string }
  | { readonly valid: false; readonly failure: string };

export type CompiledSchema =
  | { readonly usable: true; check(data: unknown): CheckOutcome }
  | { readonly usable: false; readonly problem: string };

export type SchemaRole = "input" | "output";

const MAX_ISSUES = 5;
const MAX_MESSAGE = 200;
const MAX_PATH = 200;

/** The dialects an upstream may declare, as the SDK's own validator accepts them; none means 2020-12. */
const DIALECTS: Readonly<Record<string, "2020-12" | "2019-09" | "draft-07">> = {
  "https://json-schema.org/draft/2020-12/schema": "2020-12",
  "https://json-schema.org/draft/2019-09/schema": "2019-09",
  "https://json-schema.org/draft-07/schema": "draft-07",
  "https://json-schema.org/draft-06/schema": "draft-07",
};

const AJV_OPTIONS: Options = {
  // Real servers use keywords Ajv does not know (`discriminator`, `x-…`): they are annotations.
  strict: false,
  allErrors: false,
  // What the SDK's validator does: a schema is judged by whether it compiles, not by the meta-schema.
  validateSchema: false,
  meta: false,
  // `required: ["toString"]` must not be met by Object.prototype.
  ownProperties: true,
  logger: false,
  code: { regExp: linearRegExpEngine },
};

export class ToolSchemaCompiler {
  private readonly limits: SchemaLimits;
  private readonly capacity: number;
  /** Compiled schemas by role and hash of their canonical JSON, least recently used first. */
  private readonly byHash = new Map<string, CompiledSchema>();
  /** The same, by role and the schema object itself: a definition seen before costs no hashing. */
  private readonly byObject = {
    input: new WeakMap<object, CompiledSchema>(),
    output: new WeakMap<object, CompiledSchema>(),
  };
  private readonly closeInput: boolean;
  /** How many schemas were compiled (not found in a cache): tests and metrics read it. */
  compilations = 0;

  constructor(limits: SchemaLimits, options: { readonly cacheSize: number; readonly closeInput: boolean }) {
    this.limits = limits;
    this.capacity = options.cacheSize;
    this.closeInput = options.closeInput;
  }

  /** The validator of one tool's schema (role "input": its inputSchema; "output": its outputSchema). */
  compiled(schema: unknown, role: SchemaRole): CompiledSchema {
    const holder = typeof schema === "object" && schema !== null ? schema : undefined;
    const known = holder && this.byObject[role].get(holder);
    if (known) return known;
    const result = this.compileByHash(schema, role);
    if (holder) this.byObject[role].set(holder, result);
    return result;
  }

  private compileByHash(schema: unknown, role: SchemaRole): CompiledSchema {
    if (schema === undefined) return unusable("the tool declares none");
    let canonical: string | undefined;
    try {
      canonical = canonicalize(schema);
    } catch {
      return unusable("the schema cannot be serialized (too deep or not JSON)");
    }
    if (canonical === undefined) return unusable("the schema is not JSON");
    if (Buffer.byteLength(canonical) > this.limits.maxSchemaBytes)
      return unusable(`the schema is larger than ${this.limits.maxSchemaBytes} bytes`);
    const key = `${role}:${createHash("sha256").update(canonical).digest("base64url")}`;
    const cached = this.byHash.get(key);
    if (cached) {
      this.byHash.delete(key);
      this.byHash.set(key, cached);
      return cached;
    }
    const compiled = this.compile(canonical, role);
    if (this.byHash.size >= this.capacity) this.byHash.delete(this.byHash.keys().next().value as string);
    this.byHash.set(key, compiled);
    return compiled;
  }

  private compile(canonical: string, role: SchemaRole): CompiledSchema {
    this.compilations++;
    // A private copy: marking it never touches the upstream's definition.
    const schema = JSON.parse(canonical) as unknown;
    if (
      typeof schema !== "boolean" &&
      (typeof schema !== "object" || schema === null || Array.isArray(schema))
    )
      return unusable("the schema is neither an object nor a boolean");
    if (role === "input" && typeof schema !== "object")
      return unusable("an inputSchema must be an object schema");
    let validate: ValidateFunction;
    try {
      const ajv = ajvFor(schema);
      prepareSchema(schema, { maxDepth: this.limits.maxSchemaDepth, maxPatterns: this.limits.maxPatterns });
      if (role === "input" && this.closeInput) closeDeclaredProperties(schema);
      validate = withCompileDeadline(this.limits.compileMs, () => ajv.compile(schema as object));
    } catch (err) {
      return unusable(err instanceof Error ? err.message : String(err));
    }
    // `$async: true` would make every check a promise, which is truthy: never a pass.
    if ((validate as { $async?: unknown }).$async) return unusable("asynchronous schemas are not supported");
    return { usable: true, check: (data) => this.run(validate, data) };
  }

  private run(validate: ValidateFunction, data: unknown): CheckOutcome {
    const { steps, stepsPerValue, patternCharacters } = this.limits;
    const bySize = () => stepsPerValue * countValues(data, Math.ceil(1e9 / stepsPerValue));
    try {
      const valid = withBudget(steps, patternCharacters, bySize, () => validate(data));
      if (valid === true) return { valid: true };
      return { valid: false, issues: summarize(validate.errors) };
    } catch (err) {
      if (err instanceof BudgetExceeded) return { valid: false, budget: err.message };
      // A schema that recurses on the same value without end overflows the stack before the budget.
      if (err instanceof RangeError)
        return { valid: false, budget: "checking this message recurses deeper than the stack allows" };
      return { valid: false, failure: clip(err instanceof Error ? err.message : String(err), MAX_MESSAGE) };
    }
  }
}

function ajvFor(schema: unknown): Ajv {
  const declared =
    typeof schema === "object" && schema !== null ? (schema as { $schema?: unknown }).$schema : undefined;
  let dialect: string | undefined = "2020-12";
  if (typeof declared === "string")
    dialect = DIALECTS[declared.replace(/#$/, "").replace(/^http:\/\//, "https://")];
  else if (declared !== undefined) dialect = undefined;
  if (!dialect)
    throw new UnusableSchema(
      `the schema declares an unsupported dialect (${String(declared).slice(0, 100)}); 2020-12, 2019-09, draft-07 and draft-06 are`,
    );
  const ajv =
    dialect === "2020-12"
      ? new Ajv2020(AJV_OPTIONS)
      : dialect === "2019-09"
        ? new Ajv2019(AJV_OPTIONS)
        : new Ajv(AJV_OPTIONS);
  // ajv-formats is CommonJS: its default import is `module.exports`, whose `default` is the plugin.
  ajvFormats.default(ajv);
  // Generated inline (a plain call per evaluated subschema), not as a function keyword, which would
  // build a context object at every call.
  ajv.addKeyword({
    keyword: STEP_KEYWORD,
    schemaType: "boolean",
    code(cxt: KeywordCxt) {
      const spend = cxt.gen.scopeValue("func", { ref: spendStep });
      cxt.gen.code(_`${spend}()`);
    },
  });
  return ajv;
}

function unusable(problem: string): CompiledSchema {
  return { usable: false, problem: clip(problem, MAX_MESSAGE) };
}

/** Ajv's errors as a short list: where and what, never the data (a huge value is never echoed). */
function summarize(errors: readonly ErrorObject[] | null | undefined): SchemaIssue[] {
  return (errors ?? []).slice(0, MAX_ISSUES).map((error) => {
    const extra =
      error.keyword === "additionalProperties"
        ? ` (${JSON.stringify(clip(String(error.params.additionalProperty), 64))})`
        : "";
    return {
      instancePath: clip(error.instancePath || "/", MAX_PATH),
      message: clip(`${error.message ?? error.keyword}${extra}`, MAX_MESSAGE),
    };
  });
}

export function clip(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}
