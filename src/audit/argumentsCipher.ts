// Tool arguments encrypted at rest in audit records: AES-256-GCM under a named key, bound to the
// record's correlation id as associated data. The first configured key encrypts; the others stay
// readable, so keys can be rotated without losing old records.
import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import canonicalize from "canonicalize";

export interface ArgumentKey {
  readonly id: string;
  /** 32 bytes, base64. */
  readonly key: string;
}

export interface EncryptedArguments {
  readonly mode: "encrypted";
  readonly keyId: string;
  readonly iv: string;
  readonly tag: string;
  readonly data: string;
}

export class ArgumentsCipher {
  private readonly keys: ReadonlyMap<string, Buffer>;
  private readonly current: { readonly id: string; readonly key: Buffer };

  constructor(keys: readonly ArgumentKey[]) {
    const decoded = keys.map((k) => ({ id: k.id, key: decodeKey(k) }));
    const first = decoded[0];
    if (!first) throw new Error("arguments encryption needs at least one key");
    this.current = first;
    this.keys = new Map(decoded.map((k) => [k.id, k.key]));
  }

  encrypt(args: unknown, correlationId: string): EncryptedArguments {
    const iv = randomBytes(12);
    const cipher = createCipheriv("aes-256-gcm", this.current.key, iv);
    cipher.setAAD(Buffer.from(correlationId));
    const data = Buffer.concat([cipher.update(canonicalize(args ?? null) ?? "null", "utf8"), cipher.final()]);
    return {
      mode: "encrypted",
      keyId: this.current.id,
      iv: iv.toString("base64"),
      tag: cipher.getAuthTag().toString("base64"),
      data: data.toString("base64"),
    };
  }

  /** The arguments, or an error naming why they cannot be read (unknown key, altered data). */
  decrypt(sealed: EncryptedArguments, correlationId: string): unknown {
    const key = this.keys.get(sealed.keyId);
    if (!key) throw new Error(`no key "${sealed.keyId}" is configured`);
    const decipher = createDecipheriv("aes-256-gcm", key, Buffer.from(sealed.iv, "base64"));
    decipher.setAAD(Buffer.from(correlationId));
    decipher.setAuthTag(Buffer.from(sealed.tag, "base64"));
    const text = Buffer.concat([
      decipher.update(Buffer.from(sealed.data, "base64")),
      decipher.final(),
    ]).toString("utf8");
    return JSON.parse(text) as unknown;
  }
}

function decodeKey(k: ArgumentKey): Buffer {
  const key = Buffer.from(k.key, "base64");
  if (key.length !== 32) throw new Error(`audit arguments key "${k.id}" must be 32 bytes, base64-encoded`);
  return key;
}
