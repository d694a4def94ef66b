// The HTTPS listener's TLS settings: TLS 1.2 or newer, forward-secret key exchange (ECDHE, DHE) with
// AEAD ciphers only (AES-GCM, ChaCha20-Poly1305), and client certificates for mutual TLS.
import { readFileSync } from "node:fs";
import type { ServerOptions } from "node:https";
import { resolve } from "node:path";
import type { GatewayConfig } from "../config/schema.ts";
import { ConfigError } from "../errors.ts";

/** TLS 1.2 suites (TLS 1.3's own suites are all AEAD with forward secrecy). */
export const TLS12_CIPHERS = [
  "ECDHE-ECDSA-AES128-GCM-SHA256",
  "ECDHE-RSA-AES128-GCM-SHA256",
  "ECDHE-ECDSA-AES256-GCM-SHA384",
  "ECDHE-RSA-AES256-GCM-SHA384",
  "ECDHE-ECDSA-CHACHA20-POLY1305",
  "ECDHE-RSA-CHACHA20-POLY1305",
  "DHE-RSA-AES128-GCM-SHA256",
  "DHE-RSA-AES256-GCM-SHA384",
  "DHE-RSA-CHACHA20-POLY1305",
].join(":");

type TlsConfig = NonNullable<GatewayConfig["server"]["tls"]>;

export function tlsServerOptions(tls: TlsConfig, baseDir: string): ServerOptions {
  const read = (key: string, file: string): Buffer => {
    try {
      return readFileSync(resolve(baseDir, file));
    } catch (err) {
      throw new ConfigError([
        {
          file: resolve(baseDir, file),
          line: undefined,
          column: undefined,
          path: `server.tls.${key}`,
          message: `cannot read: ${err instanceof Error ? err.message : String(err)}`,
        },
      ]);
    }
  };
  const mutual = tls.clientCertificates !== "off";
  return {
    cert: read("certFile", tls.certFile),
    key: read("keyFile", tls.keyFile),
    minVersion: tls.minVersion,
    ciphers: TLS12_CIPHERS,
    honorCipherOrder: true,
    ...(mutual && tls.clientCaFile
      ? {
          ca: read("clientCaFile", tls.clientCaFile),
          requestCert: true,
          // optional: a certificate that does not verify is refused by the identity layer, with a reason.
          rejectUnauthorized: tls.clientCertificates === "required",
        }
      : {}),
  };
}
