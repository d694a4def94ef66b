// The HTTPS ingress with mutual TLS: a verified client certificate identifies a device or service on
// its own or together with a credential (user + device), a certificate from another CA is refused,
// plain HTTP gets nowhere, and only strong TLS is offered.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { copyFileSync, mkdtempSync } from "node:fs";
import { X509Certificate } from "node:crypto";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect } from "node:tls";
import { after, before, describe, it } from "node:test";
import { Client, StreamableHTTPClientTransport } from "@modelcontextprotocol/client";
import { Agent, fetch as undiciFetch } from "undici";
import {
  cliPath,
  fixture,
  nodeUpstream,
  startGateway,
  type RunningGateway,
  permitAll,
} from "../helpers/gatewayProcess.ts";
import { issue, makeCa, type Issued } from "../helpers/pki.ts";
import { postVia } from "../helpers/rawHttp.ts";

const initialize = {
  jsonrpc: "2.0",
  id: 1,
  method: "initialize",
  params: { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "mtls", version: "1" } },
};

describe("mutual TLS at the edge", () => {
  let gateway: RunningGateway;
  let ca: Issued;
  let device: Issued;
  let stranger: Issued;
  let url: string;
  let dir: string;
  let server: Issued;

  const agentWith = (cert?: Issued) =>
    new Agent({ connect: { ca: ca.cert, ...(cert ? { cert: cert.cert, key: cert.key } : {}) } });

  async function post(cert: Issued | undefined) {
    const agent = agentWith(cert);
    try {
      return await postVia(agent, url, initialize);
    } finally {
      await agent.close();
    }
  }

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "portcullis-pki-"));
    ca = makeCa(dir);
    server = issue(dir, ca, "server", "IP:127.0.0.1");
    device = issue(dir, ca, "device", "URI:spiffe://example.test/agent/builder");
    stranger = issue(dir, makeCa(dir, "other-ca"), "stranger", "URI:spiffe://evil.test/agent");
    gateway = await startGateway(
      `version: 1
${permitAll}
server:
  tls:
    certFile: ${server.certPath}
    keyFile: ${server.keyPath}
    clientCaFile: ${ca.certPath}
    clientCertificates: optional
identity:
  apiKeys: { file: keys.json }
upstreams:
${nodeUpstream("probe", fixture("session-probe-server.ts"), [], "    protocol: 2025-11-25\n")}`,
      { waitReady: false },
    );
    url = gateway.url;
    assert.match(url, /^https:/);
    const probe = agentWith();
    for (let ready = false; !ready; await new Promise((r) => setTimeout(r, 100))) {
      const res = await undiciFetch(`${gateway.base}/readyz`, { dispatcher: probe }).catch(() => undefined);
      ready = res?.status === 200;
    }
    await probe.close();
  });
  after(async () => gateway?.stop());

  /** An SDK client presenting `cert`, with extra request headers. */
  async function connectWith(cert: Issued, headers: Record<string, string> = {}): Promise<Client> {
    const agent = agentWith(cert);
    const fetchWith = ((input: string | URL, init?: RequestInit) =>
      undiciFetch(input, { ...(init as object), dispatcher: agent })) as unknown as typeof fetch;
    const client = new Client({ name: "device", version: "1" });
    await client.connect(
      new StreamableHTTPClientTransport(new URL(url), { fetch: fetchWith, requestInit: { headers } }),
    );
    return client;
  }

  it("accepts a verified device certificate on its own, as that device", async () => {
    const client = await connectWith(device);
    try {
      const result = await client.callTool({ name: "probe__whoami", arguments: {} });
      assert.equal(result.isError, undefined);
    } finally {
      await client.close();
    }
    const query = spawnSync(
      process.execPath,
      [cliPath, "audit", "query", "--config", gateway.configPath, "--json"],
      {
        encoding: "utf8",
      },
    );
    const records = query.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const call = records.find((r) => r.method === "tools/call");
    assert.equal(call?.principal, "mtls:spiffe://example.test/agent/builder");
    assert.equal(call?.authMethod, "mtls");
    assert.equal(call?.device, "spiffe://example.test/agent/builder");
  });

  it("combines a credential with the device (user + device)", async () => {
    const created = spawnSync(
      process.execPath,
      [cliPath, "keys", "create", "--config", gateway.configPath, "--name", "builder"],
      { encoding: "utf8" },
    );
    const key = created.stdout.trim();
    const client = await connectWith(device, { "x-api-key": key });
    await client.callTool({ name: "probe__whoami", arguments: {} });
    await client.close();
    const query = spawnSync(
      process.execPath,
      [cliPath, "audit", "query", "--config", gateway.configPath, "--principal", "key:builder", "--json"],
      { encoding: "utf8" },
    );
    const record = JSON.parse(query.stdout.trim().split("\n")[0] ?? "{}") as Record<string, unknown>;
    assert.equal(record.authMethod, "api-key");
    assert.equal(record.device, "spiffe://example.test/agent/builder");
  });

  it("refuses a certificate from another CA, and a caller with neither certificate nor credential", async () => {
    const foreign = await post(stranger);
    assert.equal(foreign.status, 401);
    assert.match(String(foreign.body.error?.message), /does not chain to a trusted CA/);
    const bare = await post(undefined);
    assert.equal(bare.status, 401);
  });

  it("gets nowhere over plain HTTP", async () => {
    await assert.rejects(fetch(url.replace("https:", "http:"), { method: "POST", body: "{}" }));
  });

  it("offers no TLS below 1.2 and no non-AEAD cipher", async () => {
    const port = Number(new URL(url).port);
    const handshake = (options: Record<string, unknown>) =>
      new Promise<string>((resolve) => {
        const socket = connect({ host: "127.0.0.1", port, ca: ca.cert, ...options }, () => {
          resolve(`ok ${socket.getProtocol()} ${socket.getCipher().name}`);
          socket.end();
        });
        socket.once("error", (err) => resolve(`refused ${err.message}`));
      });
    assert.match(await handshake({ maxVersion: "TLSv1.1", minVersion: "TLSv1" }), /^refused/);
    assert.match(await handshake({ maxVersion: "TLSv1.2", ciphers: "AES128-SHA256" }), /^refused/);
    assert.match(await handshake({ maxVersion: "TLSv1.2" }), /^ok TLSv1\.2 ECDHE-.*(GCM|CHACHA20)/);
  });

  it("serves a rotated certificate after SIGHUP, without a restart", async () => {
    const fingerprint = () =>
      new Promise<string>((resolve, reject) => {
        const socket = connect({ host: "127.0.0.1", port: Number(new URL(url).port), ca: ca.cert }, () => {
          resolve(socket.getPeerCertificate().fingerprint256);
          socket.end();
        });
        socket.once("error", reject);
      });
    const before = await fingerprint();
    const rotated = issue(dir, ca, "server-next", "IP:127.0.0.1");
    copyFileSync(rotated.certPath, server.certPath);
    copyFileSync(rotated.keyPath, server.keyPath);
    gateway.process.kill("SIGHUP");
    await gateway.waitForLog((l) => l.msg === "TLS certificates reloaded");
    const after = await fingerprint();
    assert.notEqual(after, before);
    assert.equal(after, new X509Certificate(rotated.cert).fingerprint256);
  });
});
