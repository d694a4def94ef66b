// A remote upstream over HTTPS with a private CA and a per-upstream credential header: the gateway
// must verify the server against the configured CA, send the header, and refuse an unknown CA.
import assert from "node:assert/strict";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import type { ServerResponse } from "node:http";
import { createServer, type Server } from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { Client, StreamableHTTPClientTransport } from "@modelcontextprotocol/client";
import { everythingServer, startGateway, type RunningGateway, permitAll } from "../helpers/gatewayProcess.ts";

/** A self-signed certificate for 127.0.0.1 made with the system's openssl. */
function makeCertificate(dir: string): { cert: string; key: string; certPath: string } {
  const certPath = join(dir, "cert.pem");
  const keyPath = join(dir, "key.pem");
  const made = spawnSync("openssl", [
    "req",
    "-x509",
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:P-256",
    "-nodes",
    "-keyout",
    keyPath,
    "-out",
    certPath,
    "-days",
    "1",
    "-subj",
    "/CN=127.0.0.1",
    "-addext",
    "subjectAltName=IP:127.0.0.1",
  ]);
  assert.equal(made.status, 0, made.stderr?.toString());
  return { cert: readFileSync(certPath, "utf8"), key: readFileSync(keyPath, "utf8"), certPath };
}

/** Forwards one request to the plain backend and streams the answer back; a cut-off stream just ends. */
async function relay(
  url: string,
  method: string,
  headers: Record<string, string>,
  chunks: Buffer[],
  res: ServerResponse,
): Promise<void> {
  try {
    const upstream = await fetch(url, {
      method,
      headers,
      body: chunks.length > 0 ? Buffer.concat(chunks) : undefined,
    });
    res.writeHead(upstream.status, Object.fromEntries(upstream.headers));
    if (upstream.body) for await (const chunk of upstream.body) res.write(chunk);
    res.end();
  } catch {
    if (!res.headersSent) res.writeHead(502);
    res.end();
  }
}

describe("HTTPS upstream with a private CA and a credential header", () => {
  let backend: ChildProcess;
  let proxy: Server;
  let gateway: RunningGateway;
  let seenKeys: (string | undefined)[] = [];
  let caPath = "";
  let httpsUrl = "";

  before(async () => {
    const dir = mkdtempSync(join(tmpdir(), "portcullis-tls-"));
    const { cert, key, certPath } = makeCertificate(dir);
    caPath = certPath;
    const port = 20_000 + Math.floor(Math.random() * 20_000);
    backend = spawn(process.execPath, [everythingServer, "streamableHttp"], {
      env: { PATH: process.env.PATH ?? "", PORT: String(port) },
      stdio: ["ignore", "ignore", "pipe"],
    });
    await new Promise<void>((resolve) =>
      backend.stderr!.on("data", (c: Buffer) => /listening/i.test(c.toString()) && resolve()),
    );
    // TLS terminates here and the request goes on to the plain backend, streams and all.
    proxy = createServer({ cert, key }, (req, res) => {
      seenKeys.push(req.headers["x-upstream-key"] as string | undefined);
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        const headers = Object.fromEntries(
          Object.entries(req.headers).filter(([k]) => k !== "host" && k !== "connection"),
        ) as Record<string, string>;
        void relay(`http://127.0.0.1:${port}${req.url}`, req.method ?? "GET", headers, chunks, res);
      });
    });
    await new Promise<void>((resolve) => proxy.listen(0, "127.0.0.1", resolve));
    httpsUrl = `https://127.0.0.1:${(proxy.address() as AddressInfo).port}/mcp`;
  });

  after(async () => {
    await gateway?.stop();
    proxy?.closeAllConnections();
    proxy?.close();
    backend?.kill();
  });

  it("verifies the upstream against the configured CA and sends the header", async () => {
    seenKeys = [];
    gateway = await startGateway(
      `version: 1
${permitAll}
upstreams:
  secure:
    transport: streamable-http
    url: ${httpsUrl}
    headers:
      X-Upstream-Key: "\${env:UPSTREAM_KEY}"
    tls:
      ca: "\${file:${caPath}}"
`,
      { env: { UPSTREAM_KEY: "k-123", NODE_EXTRA_CA_CERTS: "" } },
    );
    const client = new Client({ name: "tls-test", version: "1" });
    await client.connect(new StreamableHTTPClientTransport(new URL(gateway.url)));
    try {
      const result = await client.callTool({ name: "secure__echo", arguments: { message: "over tls" } });
      assert.deepEqual(result.content, [{ type: "text", text: "Echo: over tls" }]);
      assert.ok(seenKeys.length > 0 && seenKeys.every((k) => k === "k-123"), JSON.stringify(seenKeys));
    } finally {
      await client.close();
      await gateway.stop();
    }
  });

  it("refuses an upstream whose certificate the configured trust does not cover", async () => {
    gateway = await startGateway(
      `version: 1
${permitAll}
upstreams:
  secure:
    transport: streamable-http
    url: ${httpsUrl}
    restart: { initialDelayMs: 60000, maxDelayMs: 60000 }
`,
      { env: { NODE_EXTRA_CA_CERTS: "" } },
    );
    const failure = await gateway.waitForLog(
      (l) => l.msg === "upstream failed to start" && l.upstream === "secure",
    );
    assert.match(String(failure.error), /certificate|fetch failed|self.signed/i);
    const ready = (await (await fetch(`${gateway.base}/readyz`)).json()) as {
      upstreams: { state: string }[];
    };
    assert.equal(ready.upstreams[0]?.state, "down");
  });
});
