// A local test issuer for the zero-trust example (never for production): keeps an ES256 key pair in
// a folder of its own, writes the public JWKS there, and prints an access token for the subject and
// roles given, issued by PORTCULLIS_ISSUER for PORTCULLIS_AUDIENCE.
// Usage: node examples/zero-trust/issue-token.ts [--sub alice] [--roles reader,writer] [--dir D] [--minutes 15]
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { exportJWK, exportPKCS8, generateKeyPair, importPKCS8, SignJWT } from "jose";

const { values } = parseArgs({
  options: {
    sub: { type: "string", default: "alice" },
    roles: { type: "string", default: "reader" },
    dir: { type: "string", default: join(import.meta.dirname, ".dev-issuer") },
    minutes: { type: "string", default: "15" },
  },
});
const issuer = process.env.PORTCULLIS_ISSUER;
const audience = process.env.PORTCULLIS_AUDIENCE;
if (!issuer || !audience) {
  process.stderr.write("set PORTCULLIS_ISSUER and PORTCULLIS_AUDIENCE first\n");
  process.exit(1);
}
const dir = values.dir;
const keyFile = join(dir, "issuer.key");
mkdirSync(dir, { recursive: true, mode: 0o700 });
if (!existsSync(keyFile)) {
  const { publicKey, privateKey } = await generateKeyPair("ES256", { extractable: true });
  writeFileSync(keyFile, await exportPKCS8(privateKey), { mode: 0o600 });
  const jwk = { ...(await exportJWK(publicKey)), kid: "dev-1", alg: "ES256", use: "sig" };
  writeFileSync(join(dir, "jwks.json"), `${JSON.stringify({ keys: [jwk] }, null, 2)}\n`);
  process.stderr.write(`made a test issuer key; its JWKS is ${join(dir, "jwks.json")}\n`);
}
const privateKey = await importPKCS8(readFileSync(keyFile, "utf8"), "ES256");
const token = await new SignJWT({ roles: values.roles.split(",").filter(Boolean) })
  .setProtectedHeader({ alg: "ES256", kid: "dev-1" })
  .setIssuer(issuer)
  .setAudience(audience)
  .setSubject(values.sub)
  .setIssuedAt()
  .setExpirationTime(`${Number(values.minutes)}m`)
  .sign(privateKey);
process.stdout.write(`${token}\n`);
