// API keys for service agents. A key is `pk_<id>_<secret>`: the id finds the entry, the secret's
// SHA-256 (256 random bits need no salt or stretching) is compared in constant time. The store
// keeps hashes only; it is re-read when it changes on disk, so a revocation applies at once.
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { existsSync, readFileSync, renameSync, statSync, writeFileSync } from "node:fs";
import type { Principal } from "../../pipeline/types.ts";

export interface ApiKeyEntry {
  readonly id: string;
  readonly name: string;
  readonly roles: readonly string[];
  /** SHA-256 of the secret part, hex. */
  readonly hash: string;
  readonly created: string;
  readonly expires?: string;
  readonly revoked?: string;
}

interface KeyFile {
  readonly version: 1;
  readonly keys: ApiKeyEntry[];
}

const KEY_PATTERN = /^pk_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$/;

export type ApiKeyCheck =
  Principal | { readonly rejected: string; readonly keyId: string | undefined; readonly owner?: string };

function digest(secret: string): Buffer {
  return createHash("sha256").update(secret).digest();
}

export function readKeyFile(path: string): KeyFile {
  if (!existsSync(path)) return { version: 1, keys: [] };
  const parsed = JSON.parse(readFileSync(path, "utf8")) as KeyFile;
  if (parsed.version !== 1 || !Array.isArray(parsed.keys))
    throw new Error(`${path} is not a Portcullis key store`);
  return parsed;
}

function writeKeyFile(path: string, file: KeyFile): void {
  const temporary = `${path}.${process.pid}.tmp`;
  writeFileSync(temporary, `${JSON.stringify(file, null, 2)}\n`, { mode: 0o600 });
  renameSync(temporary, path);
}

/** Creates a key, stores its hash and returns the key: the only time it is ever shown. */
export function createApiKey(
  path: string,
  options: { name: string; roles: readonly string[]; expiresAt?: Date },
): { key: string; entry: ApiKeyEntry } {
  const file = readKeyFile(path);
  if (file.keys.some((k) => k.name === options.name && !k.revoked))
    throw new Error(`a key named "${options.name}" exists; revoke it first or choose another name`);
  const id = randomBytes(8).toString("hex");
  const secret = randomBytes(32).toString("base64url");
  const entry: ApiKeyEntry = {
    id,
    name: options.name,
    roles: [...options.roles],
    hash: digest(secret).toString("hex"),
    created: new Date().toISOString(),
    ...(options.expiresAt ? { expires: options.expiresAt.toISOString() } : {}),
  };
  writeKeyFile(path, { version: 1, keys: [...file.keys, entry] });
  return { key: `pk_${id}_${secret}`, entry };
}

/** Revokes a key by id or name; true when one was revoked. */
export function revokeApiKey(path: string, idOrName: string): boolean {
  const file = readKeyFile(path);
  let revoked = false;
  const keys = file.keys.map((k) => {
    if ((k.id !== idOrName && k.name !== idOrName) || k.revoked) return k;
    revoked = true;
    return { ...k, revoked: new Date().toISOString() };
  });
  if (revoked) writeKeyFile(path, { version: 1, keys });
  return revoked;
}

export function looksLikeApiKey(credential: string): boolean {
  return credential.startsWith("pk_");
}

export class ApiKeyVerifier {
  private readonly path: string;
  private entries = new Map<string, ApiKeyEntry>();
  private seen = "";

  constructor(path: string) {
    this.path = path;
    this.reloadIfChanged();
  }

  verify(credential: string, now = Date.now()): ApiKeyCheck {
    const match = KEY_PATTERN.exec(credential);
    if (!match?.[1] || !match[2]) return { rejected: "the API key is malformed", keyId: undefined };
    this.reloadIfChanged();
    const keyId = match[1];
    const entry = this.entries.get(keyId);
    // Compare even when the id is unknown, so that timing does not tell ids apart.
    const expected = entry ? Buffer.from(entry.hash, "hex") : Buffer.alloc(32);
    const equal = timingSafeEqual(digest(match[2]), expected);
    // A wrong secret for a key that exists is evidence about that key's owner; an unknown id is not.
    if (!entry || !equal)
      return { rejected: "the API key is not valid", keyId, owner: entry && `key:${entry.name}` };
    if (entry.revoked) return { rejected: "the API key was revoked", keyId };
    if (expired(entry, now)) return { rejected: "the API key has expired", keyId };
    return {
      id: `key:${entry.name}`,
      kind: "agent",
      roles: entry.roles,
      authMethod: "api-key",
      clientId: entry.id,
      expiresAt: entry.expires ? Date.parse(entry.expires) : undefined,
    };
  }

  /** True while the key exists, is not revoked and has not expired. */
  isActive(keyId: string, now = Date.now()): boolean {
    this.reloadIfChanged();
    const entry = this.entries.get(keyId);
    return entry !== undefined && !entry.revoked && !expired(entry, now);
  }

  /** A stat per check: revocations written by `portcullis keys revoke` apply to the next request. */
  private reloadIfChanged(): void {
    let stamp = "missing";
    try {
      const stat = statSync(this.path);
      stamp = `${stat.mtimeMs}:${stat.size}:${stat.ino}`;
    } catch {
      // no store yet: no keys
    }
    if (stamp === this.seen) return;
    const file = readKeyFile(this.path);
    this.entries = new Map(file.keys.map((k) => [k.id, k]));
    this.seen = stamp;
  }
}

/** An expiry that cannot be read counts as past (fail-secure). */
function expired(entry: ApiKeyEntry, now: number): boolean {
  if (entry.expires === undefined) return false;
  const at = Date.parse(entry.expires);
  return Number.isNaN(at) || at <= now;
}
