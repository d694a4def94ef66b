// A throwaway PKI for tests, made with the system's openssl: a CA, certificates it signs (server
// certificates for 127.0.0.1, client certificates naming a SPIFFE-style URI), and a stranger's
// self-signed certificate.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export interface Issued {
  readonly certPath: string;
  readonly keyPath: string;
  readonly cert: string;
  readonly key: string;
}

function openssl(args: string[], cwd: string): void {
  const run = spawnSync("openssl", args, { cwd, encoding: "utf8" });
  assert.equal(run.status, 0, `openssl ${args[0]}: ${run.stderr}`);
}

function read(dir: string, name: string): Issued {
  const certPath = join(dir, `${name}.pem`);
  const keyPath = join(dir, `${name}.key`);
  return { certPath, keyPath, cert: readFileSync(certPath, "utf8"), key: readFileSync(keyPath, "utf8") };
}

const ecKey = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];

/** A self-signed CA named `name`, in `dir`. */
export function makeCa(dir: string, name = "ca"): Issued {
  openssl(
    [
      "req",
      "-x509",
      ...ecKey,
      "-keyout",
      `${name}.key`,
      "-out",
      `${name}.pem`,
      "-days",
      "2",
      "-subj",
      `/CN=${name}`,
    ],
    dir,
  );
  return read(dir, name);
}

/** A certificate signed by `ca`, with the given subject alternative names (e.g. `IP:127.0.0.1`, `URI:spiffe://…`). */
export function issue(dir: string, ca: Issued, name: string, subjectAltName: string, cn = name): Issued {
  openssl(["req", ...ecKey, "-keyout", `${name}.key`, "-out", `${name}.csr`, "-subj", `/CN=${cn}`], dir);
  writeFileSync(join(dir, `${name}.ext`), `subjectAltName=${subjectAltName}\n`);
  openssl(
    [
      "x509",
      "-req",
      "-in",
      `${name}.csr`,
      "-CA",
      ca.certPath,
      "-CAkey",
      ca.keyPath,
      "-CAcreateserial",
      "-out",
      `${name}.pem`,
      "-days",
      "2",
      "-extfile",
      `${name}.ext`,
    ],
    dir,
  );
  return read(dir, name);
}
