// Walks the subschemas of a JSON Schema (and only them: an object inside `enum`, `const` or
// `default` is data): bounds their depth and regular expressions, and marks each one with the step
// keyword that charges the work budget every time the compiled schema evaluates it.

/** The keyword every subschema gets; its validator spends one step (budget.ts). */
export const STEP_KEYWORD = "x-portcullis-step";

const ONE_SUBSCHEMA = [
  "additionalProperties",
  "additionalItems",
  "items",
  "contains",
  "propertyNames",
  "not",
  "if",
  "then",
  "else",
  "unevaluatedProperties",
  "unevaluatedItems",
  "contentSchema",
] as const;
const SUBSCHEMA_LISTS = ["allOf", "anyOf", "oneOf", "prefixItems", "items"] as const;
const SUBSCHEMA_MAPS = [
  "properties",
  "patternProperties",
  "$defs",
  "definitions",
  "dependentSchemas",
  "dependencies",
] as const;

/** Keywords at a root that say something about keys `properties` does not list. */
const SPEAKS_OF_OTHER_KEYS = [
  "additionalProperties",
  "patternProperties",
  "unevaluatedProperties",
  "allOf",
  "anyOf",
  "oneOf",
  "not",
  "if",
  "then",
  "else",
  "$ref",
  "$dynamicRef",
  "$recursiveRef",
  "dependentSchemas",
  "dependencies",
] as const;

export interface WalkLimits {
  readonly maxDepth: number;
  readonly maxPatterns: number;
}

/** A schema the gateway will not compile: it says why. */
export class UnusableSchema extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UnusableSchema";
  }
}

/**
 * Marks every object a compiled schema may evaluate (a private copy: it is changed in place) and
 * checks the limits. Besides the subschemas of known keywords, that is every object under an unknown
 * keyword (a `$ref` may point there, and Ajv follows it), so that no evaluation escapes the budget:
 * only data (`enum`, `const`, `default`, `examples`) stays unmarked, and a `$ref` into data makes the
 * schema unusable.
 */
export function prepareSchema(schema: unknown, limits: WalkLimits): void {
  let patterns = 0;
  const marked = new WeakSet<object>();
  const pointers: string[] = [];
  const visit = (node: unknown, depth: number): void => {
    if (typeof node === "boolean") return;
    if (!isObject(node)) throw new UnusableSchema("a subschema is neither an object nor a boolean");
    if (depth > limits.maxDepth)
      throw new UnusableSchema(`subschemas are nested deeper than ${limits.maxDepth} levels`);
    node[STEP_KEYWORD] = true;
    marked.add(node);
    if (typeof node.pattern === "string") patterns++;
    if (isObject(node.patternProperties)) patterns += Object.keys(node.patternProperties).length;
    if (patterns > limits.maxPatterns)
      throw new UnusableSchema(`the schema holds more than ${limits.maxPatterns} regular expressions`);
    for (const key of REFERENCE_KEYWORDS) {
      const ref = node[key];
      if (typeof ref === "string") pointers.push(localPointer(ref));
    }
    for (const [key, value] of Object.entries(node)) {
      if (DATA_KEYWORDS.has(key) || key === STEP_KEYWORD) continue;
      if (ONE.has(key) && !Array.isArray(value)) visit(value, depth + 1);
      else if (LISTS.has(key) && Array.isArray(value)) for (const item of value) visit(item, depth + 1);
      else if (MAPS.has(key) && isObject(value)) {
        for (const sub of Object.values(value)) {
          // draft-07 `dependencies` maps a key to a schema or to a list of key names.
          if (key === "dependencies" && Array.isArray(sub)) continue;
          visit(sub, depth + 1);
        }
      } else if (!ONE.has(key) && !LISTS.has(key) && !MAPS.has(key)) {
        // An unknown keyword: its objects are annotations, unless a `$ref` makes them schemas.
        if (isObject(value)) visit(value, depth + 1);
        else if (Array.isArray(value)) for (const item of value) if (isObject(item)) visit(item, depth + 1);
      }
    }
  };
  visit(schema, 1);
  for (const pointer of pointers) {
    if (pointer === "") continue;
    const target = resolvePointer(schema, pointer);
    if (typeof target !== "boolean" && !(isObject(target) && marked.has(target)))
      throw new UnusableSchema(`a $ref points at #${pointer.slice(0, 100)}, which is not a subschema`);
  }
}

const ONE = new Set<string>(ONE_SUBSCHEMA);
const LISTS = new Set<string>(SUBSCHEMA_LISTS);
const MAPS = new Set<string>(SUBSCHEMA_MAPS);
/** Keywords whose values are data, never schemas. */
const DATA_KEYWORDS = new Set(["enum", "const", "default", "examples"]);
const REFERENCE_KEYWORDS = ["$ref", "$dynamicRef", "$recursiveRef"] as const;

/**
 * The JSON Pointer of a reference within this schema ("" for the root or for an anchor or `$id`,
 * which only name marked objects). A pointer after a URI is refused: this check could not follow it.
 */
function localPointer(ref: string): string {
  const hash = ref.indexOf("#");
  const fragment = hash < 0 ? "" : ref.slice(hash + 1);
  if (!fragment.startsWith("/")) return "";
  if (hash > 0)
    throw new UnusableSchema(`references by URI and JSON Pointer (${ref.slice(0, 100)}) are not supported`);
  return fragment;
}

function resolvePointer(root: unknown, pointer: string): unknown {
  let node = root;
  for (const raw of pointer.slice(1).split("/")) {
    let segment: string;
    try {
      segment = decodeURIComponent(raw).replaceAll("~1", "/").replaceAll("~0", "~");
    } catch {
      return undefined;
    }
    if (Array.isArray(node)) node = node[Number(segment)];
    else if (isObject(node) && Object.hasOwn(node, segment)) node = node[segment];
    else return undefined;
  }
  return node;
}

/**
 * For `undeclaredArguments: deny`: a root that lists `properties` and says nothing about other keys
 * is made to refuse them. Any other root keeps its own rules (they are the upstream's contract).
 */
export function closeDeclaredProperties(schema: unknown): void {
  if (!isObject(schema) || !isObject(schema.properties)) return;
  if (SPEAKS_OF_OTHER_KEYS.some((key) => key in schema)) return;
  schema.additionalProperties = false;
}

/** How many values (objects, arrays, scalars) a JSON value holds, counted up to `limit`. */
export function countValues(value: unknown, limit: number): number {
  let count = 0;
  const stack: unknown[] = [value];
  while (stack.length > 0 && count < limit) {
    const next = stack.pop();
    count++;
    if (Array.isArray(next)) for (const item of next) stack.push(item);
    else if (isObject(next)) for (const key in next) stack.push(next[key]);
  }
  return count;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
