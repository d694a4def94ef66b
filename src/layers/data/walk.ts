// A bounded walk over a result, an argument object or an upstream's request to the client that
// hands every string to the inspector and rebuilds only what changed. It knows the MCP shapes it
// meets: binary image and audio data and non-text blobs are skipped, text blobs are decoded, scanned
// and re-encoded, protocol fields (types, MIME types, roles, URIs, `_meta`) are scanned for secrets
// but not read as instructions, and values under secret-looking keys are secrets whatever they look
// like. Every value and key it walks is charged to the message's work budget.
import { SECRET_KEY } from "../../redaction/redact.ts";
import type { ScanWork } from "./budget.ts";

export interface TextPlace {
  /** Shown to the model: inspected for injections and exfiltration links. */
  readonly modelFacing: boolean;
  /** The value of a key such as `password` or `api_key`. */
  readonly secretField: boolean;
}

export type TextVisitor = (text: string, place: TextPlace) => string;

/**
 * How much of one message a walk reads (`overflow` says why it stopped scanning), and the message's
 * work budget, which a second walk over the same message shares.
 */
export class WalkBudget {
  readonly maxChars: number;
  readonly maxDepth: number;
  readonly work: ScanWork;
  chars = 0;
  overflow: "depth" | "size" | undefined;

  constructor(maxChars: number, maxDepth: number, work: ScanWork) {
    this.maxChars = maxChars;
    this.maxDepth = maxDepth;
    this.work = work;
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

/** In an elicitation's requested schema: values the client sends back as they are, not text to read. */
const SCHEMA_VALUE_KEYS = new Set([...PROTOCOL_KEYS, "enum", "const", "default", "format"]);

const CONTENT: TextPlace = { modelFacing: true, secretField: false };
const PROTOCOL: TextPlace = { modelFacing: false, secretField: false };

/**
 * The params of an upstream's request that the client's model or user reads: sampling messages, the
 * system prompt and the tools offered to the model; an elicitation's message and requested schema
 * (its descriptions are shown to the user). The other params are data.
 */
const SERVER_REQUEST_CONTENT: Readonly<Record<string, ReadonlySet<string>>> = {
  "sampling/createMessage": new Set(["messages", "systemPrompt", "tools"]),
  "elicitation/create": new Set(["message", "requestedSchema"]),
};

interface WalkState {
  readonly visit: TextVisitor;
  readonly budget: WalkBudget;
  /** Keys whose values are protocol fields (scanned for data only); PROTOCOL_KEYS unless said otherwise. */
  readonly protocolKeys?: ReadonlySet<string>;
}

/** A result: content blocks, structured content, resource contents, prompt messages. */
export function rewriteResult(
  result: Record<string, unknown>,
  visit: TextVisitor,
  budget: WalkBudget,
): Record<string, unknown> {
  return walk(result, { visit, budget }, 0, false, CONTENT) as Record<string, unknown>;
}

/**
 * Data for the other side, never read as instructions to a model: tool arguments, the client's answers
 * to an upstream's requests, the params of an upstream's notifications.
 */
export function rewriteArguments(args: unknown, visit: TextVisitor, budget: WalkBudget): unknown {
  return walk(args, { visit, budget }, 0, true, PROTOCOL);
}

/** An upstream's request to the client: what the client's model or user reads is content, the rest data. */
export function rewriteServerRequest(
  method: string,
  params: Record<string, unknown>,
  visit: TextVisitor,
  budget: WalkBudget,
): Record<string, unknown> {
  const content = SERVER_REQUEST_CONTENT[method];
  const state: WalkState = { visit, budget };
  const schema: WalkState = { visit, budget, protocolKeys: SCHEMA_VALUE_KEYS };
  let copy: Record<string, unknown> | undefined;
  for (const [key, item] of Object.entries(params)) {
    budget.work.spend(1 + key.length);
    const next = content?.has(key)
      ? walk(item, key === "requestedSchema" ? schema : state, 1, false, CONTENT)
      : walk(item, state, 1, true, PROTOCOL);
    if (next !== item) copy = withKey(copy ?? { ...params }, key, next);
  }
  return copy ?? params;
}

function walk(value: unknown, state: WalkState, depth: number, free: boolean, place: TextPlace): unknown {
  state.budget.work.spend(1);
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
  const protocolKeys = state.protocolKeys ?? PROTOCOL_KEYS;
  let copy: Record<string, unknown> | undefined;
  for (const [key, item] of Object.entries(object)) {
    state.budget.work.spend(key.length);
    let next: unknown;
    if (!free && (ENUM_KEYS.has(key) || (binary && key === "data"))) continue;
    if (!free && key === "blob" && typeof item === "string") {
      next = visitBlob(item, object.mimeType, state);
    } else if (!free && key === "structuredContent") {
      next = walk(item, state, depth + 1, true, CONTENT);
    } else if (typeof item === "string" && SECRET_KEY.test(key) && !HANDLE_KEY.test(key)) {
      next = visitString(item, state, { modelFacing: place.modelFacing, secretField: true });
    } else {
      next = walk(item, state, depth + 1, free, !free && protocolKeys.has(key) ? PROTOCOL : place);
    }
    if (next !== item) copy = withKey(copy ?? { ...object }, key, next);
  }
  return copy ?? object;
}

/** Sets a key of a copy: defined, not assigned, so that a `__proto__` key stays data. */
function withKey(copy: Record<string, unknown>, key: string, value: unknown): Record<string, unknown> {
  Object.defineProperty(copy, key, { value, enumerable: true, writable: true, configurable: true });
  return copy;
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
