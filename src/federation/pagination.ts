// Pagination over merged lists: an opaque cursor carries the offset and the catalogue version, so a
// cursor from before a list change is refused instead of silently skipping or repeating items.
import { GatewayError } from "../errors.ts";

export interface Page<T> {
  readonly items: readonly T[];
  readonly nextCursor: string | undefined;
}

export function paginate<T>(
  items: readonly T[],
  cursor: unknown,
  pageSize: number,
  version: number,
): Page<T> {
  const offset = cursor === undefined ? 0 : decodeCursor(cursor, version);
  const end = offset + pageSize;
  return {
    items: items.slice(offset, end),
    nextCursor: end < items.length ? encodeCursor(end, version) : undefined,
  };
}

function encodeCursor(offset: number, version: number): string {
  return Buffer.from(JSON.stringify({ o: offset, v: version })).toString("base64url");
}

function decodeCursor(cursor: unknown, version: number): number {
  if (typeof cursor !== "string")
    throw new GatewayError("PORTCULLIS_E_INVALID_PARAMS", "cursor must be a string");
  let decoded: unknown;
  try {
    decoded = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8"));
  } catch {
    throw new GatewayError("PORTCULLIS_E_INVALID_PARAMS", "cursor is not one this gateway issued");
  }
  const { o, v } = (decoded ?? {}) as { o?: unknown; v?: unknown };
  if (typeof o !== "number" || !Number.isSafeInteger(o) || o < 0 || typeof v !== "number") {
    throw new GatewayError("PORTCULLIS_E_INVALID_PARAMS", "cursor is not one this gateway issued");
  }
  if (v !== version)
    throw new GatewayError("PORTCULLIS_E_INVALID_PARAMS", "cursor expired: the list changed, start again");
  return o;
}
