// Credentials checked by the identity layer: API keys (hashed store, expiry, revocation) and access
// tokens (claim mapping, a JWKS file, algorithm allowlist), and the config rules around them.
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey } from "jose";
import { configSchema } from "../../src/config/schema.ts";
import { AccessTokenVerifier, isRejection } from "../../src/layers/identity/accessTokens.ts";
import { ApiKeyVerifier, createApiKey, revokeApiKey } from "../../src/layers/identity/apiKeys.ts";
import { Authenticator } from "../../src/layers/identity/index.ts";

const dir = () => mkdtempSync(join(tmpdir(), "portcullis-identity-"));

/** A folder holding jwks.json with the public key under kid "a". */
async function jwksFolder(publicKey: CryptoKey): Promise<string> {
  const folder = dir();
  writeFileSync(
    join(folder, "jwks.json"),
    JSON.stringify({ keys: [{ ...(await exportJWK(publicKey)), kid: "a" }] }),
  );
  return folder;
}
const base = { version: 1, upstreams: { a: { transport: "stdio", command: "x" } } };

describe("API keys", () => {
  it("stores only a hash, and accepts the key it printed", () => {
    const path = join(dir(), "keys.json");
    const { key } = createApiKey(path, { name: "bot", roles: ["ops"] });
    assert.doesNotMatch(readFileSync(path, "utf8"), new RegExp(key.split("_")[2] ?? "x"));
    const principal = new ApiKeyVerifier(path).verify(key);
    assert.ok(!("rejected" in principal));
    assert.equal(principal.id, "key:bot");
    assert.deepEqual(principal.roles, ["ops"]);
  });

  it("refuses a key with a wrong secret, an expired key and a revoked key", () => {
    const path = join(dir(), "keys.json");
    const { key, entry } = createApiKey(path, { name: "bot", roles: [] });
    const verifier = new ApiKeyVerifier(path);
    const wrong = key.slice(0, -4) + (key.endsWith("AAAA") ? "BBBB" : "AAAA");
    assert.deepEqual(verifier.verify(wrong), {
      rejected: "the API key is not valid",
      keyId: entry.id,
      owner: "key:bot",
    });
    assert.deepEqual(verifier.verify("pk_nonsense"), {
      rejected: "the API key is malformed",
      keyId: undefined,
    });
    const soon = createApiKey(path, { name: "temp", roles: [], expiresAt: new Date(Date.now() + 1000) });
    assert.match(
      String((verifier.verify(soon.key, Date.now() + 2000) as { rejected: string }).rejected),
      /expired/,
    );
    assert.equal(revokeApiKey(path, "bot"), true);
    assert.match(String((verifier.verify(key) as { rejected: string }).rejected), /revoked/);
  });
});

describe("access tokens", () => {
  it("maps roles from a nested claim and scopes from a space-separated string, with keys from a JWKS file", async () => {
    const { publicKey, privateKey } = await generateKeyPair("EdDSA", { crv: "Ed25519" });
    const folder = await jwksFolder(publicKey);
    const config = configSchema.parse({
      ...base,
      identity: {
        resource: "https://gw.test/mcp",
        jwt: { issuers: [{ issuer: "https://idp.test", jwksFile: "jwks.json", algorithms: ["EdDSA"] }] },
        claims: { roles: "realm_access.roles" },
      },
    }).identity;
    const verifier = new AccessTokenVerifier(config, folder);
    const jwt = await new SignJWT({
      realm_access: { roles: ["admin"] },
      scope: "a b",
      acr: "mfa",
      auth_time: 1_700_000_000,
    })
      .setProtectedHeader({ alg: "EdDSA", kid: "a" })
      .setIssuer("https://idp.test")
      .setAudience("https://gw.test/mcp")
      .setSubject("carol")
      .setExpirationTime("1m")
      .sign(privateKey);
    const principal = await verifier.verify(jwt);
    assert.ok(!isRejection(principal));
    assert.equal(principal.id, "carol");
    assert.deepEqual(principal.roles, ["admin"]);
    assert.deepEqual(principal.scopes, ["a", "b"]);
    assert.equal(principal.acr, "mfa");
    assert.equal(principal.authTime, 1_700_000_000_000);
  });

  it("refuses an algorithm outside the issuer's allowlist", async () => {
    const { publicKey, privateKey } = await generateKeyPair("ES256");
    const folder = await jwksFolder(publicKey);
    const config = configSchema.parse({
      ...base,
      identity: {
        resource: "https://gw.test/mcp",
        jwt: { issuers: [{ issuer: "https://idp.test", jwksFile: "jwks.json", algorithms: ["RS256"] }] },
      },
    }).identity;
    const jwt = await new SignJWT({})
      .setProtectedHeader({ alg: "ES256", kid: "a" })
      .setIssuer("https://idp.test")
      .setAudience("https://gw.test/mcp")
      .setSubject("carol")
      .setExpirationTime("1m")
      .sign(privateKey);
    const result = await new AccessTokenVerifier(config, folder).verify(jwt);
    assert.ok(isRejection(result));
    assert.match(result.description, /algorithm/);
  });

  it("has no HMAC or none among the algorithms a config may accept", () => {
    for (const alg of ["HS256", "none"]) {
      const parsed = configSchema.safeParse({
        ...base,
        identity: {
          resource: "https://gw.test/mcp",
          jwt: { issuers: [{ issuer: "i", jwksFile: "j", algorithms: [alg] }] },
        },
      });
      assert.equal(parsed.success, false, alg);
    }
  });

  it("requires the resource identifier when tokens are accepted", () => {
    const parsed = configSchema.safeParse({
      ...base,
      identity: { jwt: { issuers: [{ issuer: "i", jwksFile: "j" }] } },
    });
    assert.equal(parsed.success, false);
    assert.deepEqual(parsed.error?.issues[0]?.path, ["identity", "resource"]);
  });
});

describe("exposure off loopback", () => {
  it("refuses to serve off loopback without identity or with plain HTTP, and allows loopback", () => {
    const offLoopback = configSchema.safeParse({ ...base, server: { host: "0.0.0.0" } });
    assert.equal(offLoopback.success, false);
    const paths = offLoopback.error?.issues.map((i) => i.path.join(".")).sort();
    assert.deepEqual(paths, ["server.host", "server.insecureAllowPlaintext"]);
    const guarded = configSchema.safeParse({
      ...base,
      server: { host: "0.0.0.0", insecureAllowPlaintext: true },
      identity: { apiKeys: {} },
    });
    assert.equal(guarded.success, true);
    assert.equal(configSchema.safeParse({ ...base, server: { host: "::1" } }).success, true);
    const mutualTls = configSchema.safeParse({
      ...base,
      server: {
        host: "0.0.0.0",
        tls: { certFile: "c.pem", keyFile: "k.pem", clientCaFile: "ca.pem", clientCertificates: "required" },
      },
    });
    assert.equal(
      mutualTls.success,
      true,
      "HTTPS with required client certificates is both encrypted and authenticated",
    );
    const noCa = configSchema.safeParse({
      ...base,
      server: { tls: { certFile: "c.pem", keyFile: "k.pem", clientCertificates: "optional" } },
    });
    assert.deepEqual(noCa.error?.issues[0]?.path, ["server", "tls", "clientCaFile"]);
  });
});

describe("an issuer whose keys cannot be fetched", () => {
  it("is a fault of the verifier (refused as unavailable), not a failed authentication", async () => {
    const { privateKey } = await generateKeyPair("ES256");
    const config = configSchema.parse({
      ...base,
      identity: {
        resource: "https://gw.test/mcp",
        jwt: {
          issuers: [
            { issuer: "https://idp.test", jwksUri: "http://127.0.0.1:9/jwks.json", algorithms: ["ES256"] },
          ],
        },
      },
    }).identity;
    const jwt = await new SignJWT({})
      .setProtectedHeader({ alg: "ES256", kid: "a" })
      .setIssuer("https://idp.test")
      .setAudience("https://gw.test/mcp")
      .setSubject("carol")
      .setExpirationTime("1m")
      .sign(privateKey);
    await assert.rejects(new AccessTokenVerifier(config, dir()).verify(jwt));
  });
});

describe("credentials of open sessions", () => {
  it("holds a token until its expiry plus the skew, and an API key until it is revoked", () => {
    const folder = dir();
    const config = configSchema.parse({
      ...base,
      identity: {
        resource: "https://gw.test/mcp",
        jwt: { issuers: [{ issuer: "i", jwksFile: "jwks.json" }], clockSkewSeconds: 10 },
        apiKeys: { file: "keys.json" },
      },
    }).identity;
    writeFileSync(join(folder, "jwks.json"), JSON.stringify({ keys: [] }));
    const auth = new Authenticator(config, folder);
    const user = { id: "u", kind: "user", roles: [], authMethod: "bearer" } as const;
    assert.equal(auth.credentialHolds(user, 1_000_000, 1_005_000), true, "within the skew");
    assert.equal(auth.credentialHolds(user, 1_000_000, 1_011_000), false);
    const { entry } = createApiKey(join(folder, "keys.json"), { name: "bot", roles: [] });
    const agent = {
      id: "key:bot",
      kind: "agent",
      roles: [],
      authMethod: "api-key",
      clientId: entry.id,
    } as const;
    assert.equal(auth.credentialHolds(agent, undefined), true);
    revokeApiKey(join(folder, "keys.json"), "bot");
    assert.equal(auth.credentialHolds(agent, undefined), false);
  });
});
