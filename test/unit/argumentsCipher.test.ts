// Tool arguments encrypted at rest: readable with the right key and record, and nothing else.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { describe, it } from "node:test";
import { ArgumentsCipher } from "../../src/audit/argumentsCipher.ts";
import { parseConfigText } from "../../src/config/load.ts";
import { ConfigError } from "../../src/errors.ts";

const key = (id: string) => ({ id, key: randomBytes(32).toString("base64") });

describe("audit arguments encryption", () => {
  const k1 = key("2026-q3");
  const args = { path: "/etc/passwd", token: "s3cr3t" };

  it("round-trips and keeps no plaintext", () => {
    const cipher = new ArgumentsCipher([k1]);
    const sealed = cipher.encrypt(args, "req-1");
    assert.doesNotMatch(JSON.stringify(sealed), /passwd|s3cr3t/);
    assert.deepEqual(cipher.decrypt(sealed, "req-1"), args);
  });

  it("refuses ciphertext moved to another record or altered", () => {
    const cipher = new ArgumentsCipher([k1]);
    const sealed = cipher.encrypt(args, "req-1");
    assert.throws(() => cipher.decrypt(sealed, "req-2"));
    const flipped = Buffer.from(sealed.data, "base64");
    flipped[0] = (flipped[0] ?? 0) ^ 1;
    assert.throws(() => cipher.decrypt({ ...sealed, data: flipped.toString("base64") }, "req-1"));
  });

  it("keeps old records readable after rotation, and encrypts with the new first key", () => {
    const old = new ArgumentsCipher([k1]).encrypt(args, "req-1");
    const rotated = new ArgumentsCipher([key("2026-q4"), k1]);
    assert.deepEqual(rotated.decrypt(old, "req-1"), args);
    assert.equal(rotated.encrypt(args, "req-2").keyId, "2026-q4");
    assert.throws(() => new ArgumentsCipher([key("other")]).decrypt(old, "req-1"), /no key "2026-q3"/);
  });

  it("refuses a config that encrypts without keys, or with a short key", () => {
    const base = `version: 1\nupstreams:\n  a: { transport: stdio, command: x }\naudit:\n  arguments: encrypted\n`;
    assert.throws(
      () => parseConfigText(base, "x.yaml", {}),
      (e: unknown) => e instanceof ConfigError && /at least one key/.test(e.message),
    );
    const short = `${base}  encryptionKeys: [{ id: k, key: ${Buffer.alloc(16).toString("base64")} }]\n`;
    assert.throws(() => parseConfigText(short, "x.yaml", {}), /32 bytes/);
  });
});
