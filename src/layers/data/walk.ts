// A bounded walk over a result or an argument object that hands every string to the inspector and
// rebuilds only what changed. It knows the MCP shapes it meets: binary image and audio data and
// non-text blobs are skipped, text blobs are decoded, scanned and re-encoded, protocol fields (types,
// MIME types, roles, URIs, `_meta`) are scanned for secrets but not read as instructions, and values
// under secret-looking keys are secrets whatever they look like.
import { SECRET_KEY } from "../../redaction/redact.ts";

export interface TextPlace {
  /** Shown to the model: inspected for injections and exfiltration links. */
  readonly modelFacing: boolean;
  /** The value of a key such as `password` or `api_key`. */
  readonly secretField: boolean;
}

export type TextVisitor = (text: string, place: TextPlace) => string;

/** What one message may cost; `overflow` says why the walk stopped scanning. */
export class WalkBudget {
  readonly maxChars: number;
  readonly maxDepth: number;
  chars = 0;
  overflow: "depth" | "size" | undefined;

  constructor(maxChars: number, maxDepth: number) {
    this.maxChars = maxChars;
    this.maxDepth = maxDepth;
  }
}

/** Enumerations of the protocol: never scanned. */
const ENUM_KEYS = new Set(["type", "mimeType", "role"]);
/** Protocol fields that are not content: scanned for data, not read as instructions. */
const PROTOCOL_KEYS = new Set([
  "uri",
  "name",
  "title",
  "_meta",
  "annotations",
  "nextCursor",
  "progressToken",
]);
/** Keys whose values are opaque handles for the client, not secrets (`nextPageToken`, `csrf_token`). */
const HANDLE_KEY = /page|cursor|continuation|next|csrf|xsrf|sync|etag/i;
const TEXT_MIME =
  /^text\/|[/+](?:json|xml|yaml|x-yaml|csv|javascript|ecmascript|x-sh|x-python|markdown|html|sql|toml)\b/i;

const CONTENT: TextPlace = { modelFacing: true, secretField: false };
const PROTOCOL: TextPlace = { modelFacing: false, secretField: false };

interface WalkState {
  readonly visit: TextVisitor;
  readonly budget: WalkBudget;
}

/** A result: content blocks, structured content, resource contents, prompt messages. */
export function rewriteResult(
  result: Record<string, unknown>,
  visit: TextVisitor,
  budget: WalkBudget,
): Record<string, unknown> {
  return walk(result, { visit, budget }, 0, false, CONTENT) as Record<string, unknown>;
}

/** Tool arguments: every string is data for the upstream, none is read as instructions to a model. */
export function rewriteArguments(args: unknown, visit: TextVisitor, budget: WalkBudget): unknown {
  return walk(args, { visit, budget }, 0, true, PROTOCOL);
}

function walk(value: unknown, state: WalkState, depth: number, free: boolean, place: TextPlace): unknown {
  if (typeof value === "string") return visitString(value, state, place);
  if (value === null || typeof value !== "object") return value;
  if (depth >= state.budget.maxDepth) {
    state.budget.overflow ??= "depth";
    return value;
  }
  if (Array.isArray(value)) {
    const items = value as readonly unknown[];
    let copy: unknown[] | undefined;
    items.forEach((item, i) => {
      const next = walk(item, state, depth + 1, free, place);
      if (next !== item) (copy ??= [...items])[i] = next;
    });
    return copy ?? value;
  }
  return walkObject(value as Record<string, unknown>, state, depth, free, place);
}

function walkObject(
  object: Record<string, unknown>,
  state: WalkState,
  depth: number,
  free: boolean,
  place: TextPlace,
): Record<string, unknown> {
  const binary = !free && (object.type === "image" || object.type === "audio");
  let copy: Record<string, unknown> | undefined;
  for (const [key, item] of Object.entries(object)) {
    let next: unknown;
    if (!free && (ENUM_KEYS.has(key) || (binary && key === "data"))) continue;
    if (!free && key === "blob" && typeof item === "string") {
      next = visitBlob(item, object.mimeType, state);
    } else if (!free && key === "structuredContent") {
      next = walk(item, state, depth + 1, true, CONTENT);
    } else if (typeof item === "string" && SECRET_KEY.test(key) && !HANDLE_KEY.test(key)) {
      next = visitString(item, state, { modelFacing: place.modelFacing, secretField: true });
    } else {
      next = walk(item, state, depth + 1, free, !free && PROTOCOL_KEYS.has(key) ? PROTOCOL : place);
    }
    if (next !== item) {
      // Defined, not assigned, so that a `__proto__` key stays data.
      copy ??= { ...object };
      Object.defineProperty(copy, key, { value: next, enumerable: true, writable: true, configurable: true });
    }
  }
  return copy ?? object;
}

function visitString(text: string, state: WalkState, place: TextPlace): string {
  const { budget } = state;
  if (budget.overflow) return text;
  budget.chars += text.length;
  if (budget.chars > budget.maxChars) {
    budget.overflow = "size";
    return text;
  }
  return state.visit(text, place);
}

/** A text blob is decoded, scanned as content and encoded again if it changed; other blobs are opaque. */
function visitBlob(blob: string, mimeType: unknown, state: WalkState): string {
  const declared = typeof mimeType === "string" && TEXT_MIME.test(mimeType);
  // A blob without a text MIME type is still read when it decodes to text (valid UTF-8, no controls).
  const text = declared ? Buffer.from(blob, "base64").toString("utf8") : asText(blob);
  if (text === undefined) return blob;
  const next = visitString(text, state, CONTENT);
  return next === text ? blob : Buffer.from(next, "utf8").toString("base64");
}

const UTF8 = new TextDecoder("utf-8", { fatal: true });

function asText(blob: string): string | undefined {
  try {
    const text = UTF8.decode(Buffer.from(blob, "base64"));
    // eslint-disable-next-line no-control-regex -- binary data shows as control characters
    return text.length > 0 && !/[\x00-\x08\x0e-\x1f]/.test(text) ? text : undefined;
  } catch {
    return undefined;
  }
}
