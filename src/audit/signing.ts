// Ed25519 keys for audit checkpoints: a checkpoint signs the chain's head (node, sequence, hash,
// time), so a verifier holding the public key can tell a forged or rewritten chain from the real one.
import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  sign,
  verify,
  type KeyObject,
} from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import canonicalize from "canonicalize";

export interface CheckpointClaim {
  readonly node: string;
  readonly seq: number;
  readonly hash: string;
  readonly time: string;
}

export interface SigningKey {
  readonly privateKey: KeyObject;
  readonly publicKeyPem: string;
  readonly keyId: string;
}

/** The key from its PEM text, or the one kept in `keyFile` (made there, 0600, on first start). */
export function loadSigningKey(pem: string | undefined, keyFile: string): SigningKey {
  let privatePem = pem;
  if (privatePem === undefined) {
    if (!existsSync(keyFile)) {
      const { privateKey } = generateKeyPairSync("ed25519");
      writeFileSync(keyFile, privateKey.export({ format: "pem", type: "pkcs8" }).toString(), {
        mode: 0o600,
        flag: "wx",
      });
    }
    privatePem = readFileSync(keyFile, "utf8");
  }
  const privateKey = createPrivateKey(privatePem);
  if (privateKey.asymmetricKeyType !== "ed25519")
    throw new Error("the audit signing key must be an Ed25519 private key");
  const publicKeyPem = createPublicKey(privateKey).export({ format: "pem", type: "spki" }).toString();
  return { privateKey, publicKeyPem, keyId: keyIdOf(publicKeyPem) };
}

export function keyIdOf(publicKeyPem: string): string {
  const der = createPublicKey(publicKeyPem).export({ format: "der", type: "spki" });
  return createHash("sha256").update(der).digest("hex").slice(0, 16);
}

function claimBytes(claim: CheckpointClaim): Buffer {
  return Buffer.from(
    canonicalize({ node: claim.node, seq: claim.seq, hash: claim.hash, time: claim.time }) ?? "",
  );
}

export function signCheckpoint(key: SigningKey, claim: CheckpointClaim): string {
  return sign(null, claimBytes(claim), key.privateKey).toString("base64");
}

export function verifyCheckpoint(publicKeyPem: string, claim: CheckpointClaim, signature: string): boolean {
  try {
    return verify(null, claimBytes(claim), createPublicKey(publicKeyPem), Buffer.from(signature, "base64"));
  } catch {
    return false;
  }
}
