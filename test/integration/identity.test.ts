// The identity layer of a running gateway: bearer JWTs verified against a real JWKS endpoint, API
// keys created and revoked with the CLI, RFC 9728 metadata and challenges, sessions bound to their
// principal, and authentication failures feeding brute-force and credential-stuffing responses.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import type { Client } from "@modelcontextprotocol/client";
import {
  createRemoteJWKSet,
  decodeJwt,
  exportJWK,
  exportSPKI,
  generateKeyPair,
  jwtVerify,
  SignJWT,
  type CryptoKey,
  type JWK,
} from "jose";
import { Agent, fetch as undiciFetch } from "undici";
import { clientFrom, postFrom, modernEnvelope } from "../helpers/rawHttp.ts";
import { startReportingUpstream, type ReportingUpstream } from "../helpers/reportingUpstream.ts";
import {
  cliPath,
  fixture,
  nodeUpstream,
  startGateway,
  type RunningGateway,
  permitAll,
} from "../helpers/gatewayProcess.ts";

const resource = "https://mcp.example.test/mcp";
const issuer = "https://idp.example.test";

interface Reply {
  status: number;
  challenge: string | null;
  body: { error?: { code: number; message: string; data: Record<string, unknown> } } & Record<
    string,
    unknown
  >;
}

const initialize = {
  jsonrpc: "2.0",
  id: 1,
  method: "initialize",
  params: { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "raw", version: "1" } },
};

async function post(
  url: string,
  headers: Record<string, string>,
  from = "127.0.0.1",
  body: unknown = initialize,
): Promise<Reply> {
  const reply = await postFrom(url, from, body, headers);
  return { status: reply.status, challenge: reply.headers.get("www-authenticate"), body: reply.body };
}

function connectWith(url: string, authorization: string): Promise<Client> {
  return clientFrom(url, "127.0.0.1", { authorization });
}

function cli(...args: string[]) {
  return spawnSync(process.execPath, [cliPath, ...args], { encoding: "utf8" });
}

describe("identity at the edge", () => {
  let gateway: RunningGateway;
  let jwks: Server;
  let signingKey: CryptoKey;
  let otherKey: CryptoKey;
  let reporter: ReportingUpstream;
  let jwksFetches = 0;
  let publicPem: string;
  let signedUpstream: ReportingUpstream;
  let serviceUpstream: ReportingUpstream;
  let tokenEndpoint: Server;
  let introspection: Server;
  let exchangeEndpoint: Server;
  let delegatedUpstream: ReportingUpstream;
  const exchanges: URLSearchParams[] = [];
  const introspected: string[] = [];
  const tokenRequests: { authorization: string | undefined; body: string }[] = [];

  const token = (
    claims: Record<string, unknown> = {},
    key: CryptoKey = signingKey,
    header: Record<string, unknown> = {},
  ) =>
    new SignJWT({ roles: ["reader"], scope: "tools:read tools:call", ...claims })
      .setProtectedHeader({ alg: "ES256", kid: "k1", ...header })
      .setIssuer((claims.iss as string | undefined) ?? issuer)
      .setAudience((claims.aud as string | undefined) ?? resource)
      .setSubject((claims.sub as string | undefined) ?? "alice")
      .setIssuedAt()
      .setExpirationTime(typeof claims.exp === "number" ? claims.exp : "5m")
      .sign(key);

  before(async () => {
    reporter = await startReportingUpstream();
    signedUpstream = await startReportingUpstream();
    serviceUpstream = await startReportingUpstream();
    tokenEndpoint = createServer((req, res) => {
      let body = "";
      req.on("data", (c: Buffer) => (body += c.toString()));
      req.on("end", () => {
        tokenRequests.push({ authorization: req.headers.authorization, body });
        res.writeHead(200, { "content-type": "application/json" }).end(
          JSON.stringify({
            access_token: `cc-token-${tokenRequests.length}`,
            token_type: "Bearer",
            expires_in: 600,
          }),
        );
      });
    });
    await new Promise<void>((r) => tokenEndpoint.listen(0, "127.0.0.1", r));
    const tokenUrl = `http://127.0.0.1:${(tokenEndpoint.address() as AddressInfo).port}/token`;
    // An authorization server's introspection endpoint (RFC 7662) for opaque tokens.
    introspection = createServer((req, res) => {
      let body = "";
      req.on("data", (c: Buffer) => (body += c.toString()));
      req.on("end", () => {
        const expected = `Basic ${Buffer.from("gateway-rs:introspect-secret").toString("base64")}`;
        if (req.headers.authorization !== expected) return void res.writeHead(401).end();
        const token = new URLSearchParams(body).get("token") ?? "";
        introspected.push(token);
        const exp = Math.floor(Date.now() / 1000) + 600;
        const answers: Record<string, object> = {
          "opaque-good": {
            active: true,
            sub: "carol",
            scope: "tools:read tools:call",
            aud: resource,
            exp,
            iss: issuer,
          },
          "opaque-other-audience": { active: true, sub: "carol", aud: "https://other.example.test", exp },
        };
        res
          .writeHead(200, { "content-type": "application/json" })
          .end(JSON.stringify(answers[token] ?? { active: false }));
      });
    });
    await new Promise<void>((r) => introspection.listen(0, "127.0.0.1", r));
    // An authorization server that exchanges tokens (RFC 8693) and issues its own to the gateway.
    delegatedUpstream = await startReportingUpstream();
    exchangeEndpoint = createServer((req, res) => {
      let body = "";
      req.on("data", (c: Buffer) => (body += c.toString()));
      req.on("end", () => {
        const form = new URLSearchParams(body);
        exchanges.push(form);
        const grant = form.get("grant_type");
        const token = grant === "client_credentials" ? "gateway-own-token" : `exchanged-${exchanges.length}`;
        res
          .writeHead(200, { "content-type": "application/json" })
          .end(JSON.stringify({ access_token: token, token_type: "Bearer", expires_in: 600 }));
      });
    });
    await new Promise<void>((r) => exchangeEndpoint.listen(0, "127.0.0.1", r));
    const exchangeUrl = `http://127.0.0.1:${(exchangeEndpoint.address() as AddressInfo).port}/token`;
    const introspectionUrl = `http://127.0.0.1:${(introspection.address() as AddressInfo).port}/introspect`;
    const pair = await generateKeyPair("ES256", { extractable: true });
    publicPem = await exportSPKI(pair.publicKey);
    signingKey = pair.privateKey;
    otherKey = (await generateKeyPair("ES256")).privateKey;
    const publicJwk: JWK = { ...(await exportJWK(pair.publicKey)), kid: "k1", alg: "ES256", use: "sig" };
    jwks = createServer((_req, res) => {
      jwksFetches++;
      res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ keys: [publicJwk] }));
    });
    await new Promise<void>((r) => jwks.listen(0, "127.0.0.1", r));
    const jwksUri = `http://127.0.0.1:${(jwks.address() as AddressInfo).port}/jwks.json`;
    gateway = await startGateway(`version: 1
${permitAll}
identity:
  resource: ${resource}
  scopesSupported: ["tools:read"]
  jwt:
    issuers:
      - issuer: ${issuer}
        jwksUri: ${jwksUri}
        algorithms: [ES256]
  apiKeys: { file: keys.json }
  introspection: { endpoint: "${introspectionUrl}", clientId: gateway-rs, clientSecret: introspect-secret }
  requiredScopes:
    - { scope: "tools:call", methods: ["tools/call"] }
    - { scope: "memory:write", tools: ["probe__remember"] }
# The reporting upstreams echo the credentials they were sent, which is what these tests read: the
# data guard would (rightly) redact those tokens in the results.
dataGuard:
  overrides:
    - { upstreams: [remote, signed, delegated, service], results: { secret: allow } }
detection:
  bruteForce: { failures: 6, windowMs: 60000 }
  credentialStuffing: { principals: 4, windowMs: 60000 }
upstreams:
  remote:
    transport: streamable-http
    url: ${reporter.url}
    headers: { authorization: "Bearer upstream-credential-from-config" }
  signed:
    transport: streamable-http
    url: ${signedUpstream.url}
    auth: { kind: gateway-jwt }
  delegated:
    transport: streamable-http
    url: ${delegatedUpstream.url}
    auth:
      kind: token-exchange
      tokenUrl: "${exchangeUrl}"
      clientId: portcullis
      clientSecret: s3cret
      subjectIssuers: ["${issuer}"]
  service:
    transport: streamable-http
    url: ${serviceUpstream.url}
    auth: { kind: client-credentials, tokenUrl: "${tokenUrl}", clientId: portcullis, clientSecret: s3cret, scope: mcp }
${nodeUpstream("probe", fixture("session-probe-server.ts"), [], "    protocol: 2025-11-25\n")}`);
  });
  after(async () => {
    await gateway?.stop();
    jwks?.close();
    reporter?.close();
    signedUpstream?.close();
    serviceUpstream?.close();
    tokenEndpoint?.close();
    introspection?.close();
    exchangeEndpoint?.close();
    delegatedUpstream?.close();
  });

  it("challenges a request without credentials and publishes its protected resource metadata", async () => {
    const reply = await post(gateway.url, {});
    assert.equal(reply.status, 401);
    assert.equal(reply.body.error?.data.code, "PORTCULLIS_E_UNAUTHENTICATED");
    assert.match(String(reply.challenge), /^Bearer /);
    assert.match(
      String(reply.challenge),
      /resource_metadata="https:\/\/mcp\.example\.test\/\.well-known\/oauth-protected-resource\/mcp"/,
    );
    assert.match(String(reply.challenge), /scope="tools:read"/);
    for (const path of [
      "/.well-known/oauth-protected-resource",
      "/.well-known/oauth-protected-resource/mcp",
    ]) {
      const metadata = (await (await fetch(`${gateway.base}${path}`)).json()) as Record<string, unknown>;
      assert.equal(metadata.resource, resource);
      assert.deepEqual(metadata.authorization_servers, [issuer]);
    }
  });

  it("serves a client with a valid access token", async () => {
    const client = await connectWith(gateway.url, `Bearer ${await token()}`);
    try {
      const result = await client.callTool({ name: "probe__whoami", arguments: {} });
      assert.equal(result.isError, undefined);
    } finally {
      await client.close();
    }
  });

  it("never passes the client's token to an upstream, which gets its own credential", async () => {
    const clientToken = await token({ sub: "alice" });
    const client = await connectWith(gateway.url, `Bearer ${clientToken}`);
    try {
      const result = await client.callTool({ name: "remote__report", arguments: {} });
      const seen = JSON.parse(String((result.content as { text: string }[])[0]?.text)) as Record<
        string,
        unknown
      >;
      assert.equal(seen.authorization, "Bearer upstream-credential-from-config");
    } finally {
      await client.close();
    }
    assert.ok(reporter.authorizations.length > 0);
    for (const header of reporter.authorizations)
      assert.ok(!header?.includes(clientToken), "no request carried it");
  });

  it("gives an upstream a JWT the gateway signs for the caller, verifiable with its published keys", async () => {
    const client = await connectWith(gateway.url, `Bearer ${await token({ sub: "alice" })}`);
    let seen: { authorization?: string };
    try {
      const result = await client.callTool({ name: "signed__report", arguments: {} });
      seen = JSON.parse(String((result.content as { text: string }[])[0]?.text)) as typeof seen;
    } finally {
      await client.close();
    }
    const jwt = String(seen.authorization).replace(/^Bearer /, "");
    const keys = createRemoteJWKSet(new URL(`${gateway.base}/.well-known/portcullis/upstream-jwks.json`));
    const { payload } = await jwtVerify(jwt, keys, { issuer: resource, audience: signedUpstream.url });
    assert.equal(payload.sub, "alice");
    assert.deepEqual(payload.roles, ["reader"]);
    assert.equal(typeof payload.sid, "string", "the session digest, never the session id");
    assert.equal(payload.auth_method, "bearer");
  });

  it("refreshes the shared catalogue as the gateway, never as the caller whose call changed it", async () => {
    const client = await connectWith(gateway.url, `Bearer ${await token({ sub: "alice" })}`);
    try {
      const before = signedUpstream.posted.length;
      await client.callTool({ name: "signed__grow", arguments: {} });
      const subjectOf = (authorization: string | undefined) =>
        String(decodeJwt(String(authorization).replace(/^Bearer /, "")).sub);
      let refresh: { method: string; authorization: string | undefined } | undefined;
      for (let i = 0; i < 100 && !refresh; i++) {
        refresh = signedUpstream.posted.slice(before).find((p) => p.method === "tools/list");
        if (!refresh) await new Promise((r) => setTimeout(r, 50));
      }
      assert.ok(refresh, "the list change led to a catalogue refresh");
      assert.equal(subjectOf(refresh.authorization), "portcullis-gateway");
      const call = signedUpstream.posted.slice(before).find((p) => p.method === "tools/call");
      assert.equal(subjectOf(call?.authorization), "alice");
    } finally {
      await client.close();
    }
  });

  it("checks every message of a batch for its scope", async () => {
    const lacking = await token({ scope: "tools:call" });
    const agent = new Agent();
    const opened = await undiciFetch(gateway.url, {
      method: "POST",
      dispatcher: agent,
      headers: {
        "content-type": "application/json",
        accept: "application/json, text/event-stream",
        authorization: `Bearer ${lacking}`,
      },
      body: JSON.stringify(initialize),
    });
    await opened.text();
    await agent.close();
    const batch = [
      {
        jsonrpc: "2.0",
        id: 9,
        method: "tools/call",
        params: { name: "probe__remember", arguments: { value: "x" } },
      },
    ];
    const reply = await post(
      gateway.url,
      {
        authorization: `Bearer ${lacking}`,
        "mcp-session-id": String(opened.headers.get("mcp-session-id")),
        "mcp-protocol-version": "2025-11-25",
      },
      "127.0.0.1",
      batch,
    );
    assert.equal(reply.status, 403);
    assert.match(String(reply.challenge), /scope="memory:write"/);
  });

  it("gives an upstream a token exchanged for the caller's (RFC 8693), never the caller's own", async () => {
    const aliceToken = await token({ sub: "alice" });
    const client = await connectWith(gateway.url, `Bearer ${aliceToken}`);
    let seen: { authorization?: string };
    try {
      const result = await client.callTool({ name: "delegated__report", arguments: {} });
      seen = JSON.parse(String((result.content as { text: string }[])[0]?.text)) as typeof seen;
    } finally {
      await client.close();
    }
    assert.match(String(seen.authorization), /^Bearer exchanged-\d+$/);
    const exchange = exchanges.find(
      (f) => f.get("grant_type") === "urn:ietf:params:oauth:grant-type:token-exchange",
    );
    assert.equal(exchange?.get("subject_token"), aliceToken);
    assert.equal(exchange?.get("subject_token_type"), "urn:ietf:params:oauth:token-type:access_token");
    assert.equal(exchange?.get("audience"), delegatedUpstream.url);
    // The catalogue connection has no caller: it used the gateway's own token.
    assert.ok(delegatedUpstream.authorizations.includes("Bearer gateway-own-token"));
    for (const header of delegatedUpstream.authorizations) assert.ok(!header?.includes(aliceToken));
  });

  it("refuses to call a token-exchange upstream for a caller with no exchangeable token", async () => {
    const created = cli("keys", "create", "--config", gateway.configPath, "--name", "exchange-less");
    const client = await connectWith(gateway.url, `Bearer ${created.stdout.trim()}`);
    try {
      const before = exchanges.length;
      await assert.rejects(client.callTool({ name: "delegated__report", arguments: {} }));
      assert.equal(
        exchanges.slice(before).filter((f) => f.get("grant_type") !== "client_credentials").length,
        0,
      );
    } finally {
      await client.close();
    }
  });

  it("gives an upstream the gateway's own client-credentials token, fetched once and reused", async () => {
    const client = await connectWith(gateway.url, `Bearer ${await token()}`);
    try {
      for (let i = 0; i < 2; i++) {
        const result = await client.callTool({ name: "service__report", arguments: {} });
        const seen = JSON.parse(String((result.content as { text: string }[])[0]?.text)) as {
          authorization?: string;
        };
        assert.equal(seen.authorization, "Bearer cc-token-1");
      }
    } finally {
      await client.close();
    }
    assert.equal(tokenRequests.length, 1);
    assert.equal(
      tokenRequests[0]?.authorization,
      `Basic ${Buffer.from("portcullis:s3cret").toString("base64")}`,
    );
    assert.match(String(tokenRequests[0]?.body), /grant_type=client_credentials/);
    assert.match(String(tokenRequests[0]?.body), /scope=mcp/);
  });

  it("answers a token without a needed scope with 403 insufficient_scope naming it, and serves one with it", async () => {
    const call = {
      jsonrpc: "2.0",
      id: 7,
      method: "tools/call",
      params: {
        name: "probe__remember",
        arguments: { value: "x" },
        _meta: modernEnvelope,
      },
    };
    const headers = (scope: string) => async () => ({
      authorization: `Bearer ${await token({ scope })}`,
      "mcp-protocol-version": "2026-07-28",
      "mcp-method": "tools/call",
      "mcp-name": "probe__remember",
    });
    const lacking = await post(gateway.url, await headers("tools:call")(), "127.0.0.1", call);
    assert.equal(lacking.status, 403);
    assert.match(String(lacking.challenge), /error="insufficient_scope"/);
    assert.match(String(lacking.challenge), /scope="memory:write"/);
    assert.equal(lacking.body.error?.data.code, "PORTCULLIS_E_INSUFFICIENT_SCOPE");
    const granted = await post(gateway.url, await headers("tools:call memory:write")(), "127.0.0.1", call);
    assert.equal(granted.status, 200, JSON.stringify(granted.body));
  });

  const forged: [string, () => Promise<string>][] = [
    ["signed for another audience", () => token({ aud: "https://other.example.test/mcp" })],
    ["from an untrusted issuer", () => token({ iss: "https://evil.example.test" })],
    ["expired", () => token({ exp: Math.floor(Date.now() / 1000) - 600 })],
    ["not valid yet (nbf in the future)", () => token({ nbf: Math.floor(Date.now() / 1000) + 600 })],
    [
      "signed with HS256 using the issuer's public key as the secret",
      () =>
        new SignJWT({ roles: ["admin"] })
          .setProtectedHeader({ alg: "HS256", kid: "k1" })
          .setIssuer(issuer)
          .setAudience(resource)
          .setSubject("alice")
          .setExpirationTime("5m")
          .sign(new TextEncoder().encode(publicPem)),
    ],
    ["whose subject poses as an API key", () => token({ sub: "key:ci-bot" })],
    ["signed with another key", () => token({}, otherKey)],
    [
      "with alg none",
      async () => {
        const [, payload] = (await token()).split(".");
        return `${Buffer.from('{"alg":"none"}').toString("base64url")}.${payload}.`;
      },
    ],
  ];
  for (const [index, [what, make]] of forged.entries()) {
    it(`rejects a token ${what}`, async () => {
      const reply = await post(
        gateway.url,
        { authorization: `Bearer ${await make()}` },
        `127.0.1.${index + 1}`,
      );
      assert.equal(reply.status, 401);
      assert.match(String(reply.challenge), /error="invalid_token"/);
      assert.equal(reply.body.error?.data.layer, "identity");
    });
  }

  it("does not refetch the issuer's keys for every unknown kid", async () => {
    const before = jwksFetches;
    for (let i = 0; i < 12; i++) {
      const forged = await token({}, otherKey, { kid: `unknown-${i}` });
      const reply = await post(gateway.url, { authorization: `Bearer ${forged}` }, `127.0.3.${i + 1}`);
      assert.equal(reply.status, 401);
    }
    assert.ok(jwksFetches - before <= 1, `${jwksFetches - before} refetches for 12 unknown kids`);
  });

  it("records refused credentials in the audit trail, with the reason", async () => {
    await post(gateway.url, { authorization: `Bearer ${await token({}, otherKey)}` }, "127.0.0.12");
    await new Promise((r) => setTimeout(r, 300));
    const query = cli("audit", "query", "--config", gateway.configPath, "--json");
    const edge = query.stdout
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line) as Record<string, unknown>)
      .filter((r) => r.method === "edge/auth_failure" && r.client === "127.0.0.12");
    assert.equal(edge.length, 1, query.stderr);
    assert.equal(edge[0]?.principal, "unauthenticated", "a forged claim names nobody");
    assert.match(JSON.stringify(edge[0]?.details), /signature does not verify/);
  });

  it("blocks an address guessing API keys", async () => {
    for (let i = 0; i < 6; i++) {
      const guess = `pk_${"0123456789abcdef"}_${Buffer.alloc(32, i).toString("base64url")}`;
      const reply = await post(gateway.url, { "x-api-key": guess }, "127.0.0.13");
      assert.equal(reply.status, 401);
    }
    const blocked = await post(gateway.url, { "x-api-key": "pk_0123456789abcdef_x" }, "127.0.0.13");
    assert.equal(blocked.status, 403);
    await gateway.waitForLog(
      (l) => l.msg === "security event brute_force" && JSON.stringify(l).includes("127.0.0.13"),
    );
  });

  it("checks opaque tokens with the authorization server, caching an active answer", async () => {
    const client = await connectWith(gateway.url, "Bearer opaque-good");
    try {
      await client.callTool({ name: "probe__whoami", arguments: {} });
    } finally {
      await client.close();
    }
    assert.ok(
      introspected.filter((t) => t === "opaque-good").length <= 1,
      "one introspection, then the cache",
    );
    for (const [token, reason] of [
      ["opaque-revoked", /not active/],
      ["opaque-other-audience", /"aud" claim/],
    ] as const) {
      const reply = await post(gateway.url, { authorization: `Bearer ${token}` }, "127.0.0.14");
      assert.equal(reply.status, 401);
      assert.match(String(reply.body.error?.message), reason);
    }
  });

  it("refuses credentials in the query string", async () => {
    const reply = await post(`${gateway.url}?access_token=${await token()}`, {}, "127.0.0.8");
    assert.equal(reply.status, 401);
    assert.match(String(reply.challenge), /error="invalid_request"/);
  });

  it("refuses a session presented with another principal's token", async () => {
    const alice = await post(gateway.url, { authorization: `Bearer ${await token({ sub: "alice" })}` });
    assert.equal(alice.status, 200);
    const ownerless = await post(gateway.url, { authorization: `Bearer ${await token({ sub: "alice" })}` });
    assert.equal(ownerless.status, 200);
    // Alice's session id, from a fresh initialize with her token.
    const agent = new Agent();
    const res = await undiciFetch(gateway.url, {
      method: "POST",
      dispatcher: agent,
      headers: {
        "content-type": "application/json",
        accept: "application/json, text/event-stream",
        authorization: `Bearer ${await token({ sub: "alice" })}`,
      },
      body: JSON.stringify(initialize),
    });
    await res.text();
    const sessionId = String(res.headers.get("mcp-session-id"));
    await agent.close();
    const list = { jsonrpc: "2.0", id: 2, method: "tools/list", params: {} };
    const asBob = await post(
      gateway.url,
      {
        authorization: `Bearer ${await token({ sub: "bob" })}`,
        "mcp-session-id": sessionId,
        "mcp-protocol-version": "2025-11-25",
      },
      "127.0.0.1",
      list,
    );
    assert.equal(asBob.status, 403);
    assert.equal(asBob.body.error?.data.code, "PORTCULLIS_E_SESSION_BINDING");
    const asAlice = await post(
      gateway.url,
      {
        authorization: `Bearer ${await token({ sub: "alice" })}`,
        "mcp-session-id": sessionId,
        "mcp-protocol-version": "2025-11-25",
      },
      "127.0.0.1",
      list,
    );
    assert.equal(asAlice.status, 200, JSON.stringify(asAlice.body));
    await gateway.waitForLog((l) => l.msg === "security event session_hijack_suspected");
  });

  it("accepts an API key from the CLI, and refuses it from the request after its revocation", async () => {
    const created = cli(
      "keys",
      "create",
      "--config",
      gateway.configPath,
      "--name",
      "ci-bot",
      "--roles",
      "deployer",
    );
    assert.equal(created.status, 0, created.stderr);
    const key = created.stdout.trim();
    assert.match(key, /^pk_[0-9a-f]{16}_/);
    const listed = cli("keys", "list", "--config", gateway.configPath);
    assert.match(listed.stdout, /ci-bot/);
    assert.doesNotMatch(listed.stdout, new RegExp(key.slice(-20)), "the secret is never shown again");
    const client = await connectWith(gateway.url, `Bearer ${key}`);
    await client.callTool({ name: "probe__whoami", arguments: {} });
    const revoked = cli("keys", "revoke", "ci-bot", "--config", gateway.configPath);
    assert.equal(revoked.status, 0, revoked.stderr);
    // Its session (and the stream the client holds open) ends without waiting for a request.
    await gateway.waitForLog(
      (l) => l.msg === "ending a session: a security response applies to it" && l.source === "identity",
    );
    await assert.rejects(client.callTool({ name: "probe__whoami", arguments: {} }));
    await client.close().catch(() => undefined);
    const reply = await post(gateway.url, { "x-api-key": key });
    assert.equal(reply.status, 401);
    assert.match(String(reply.body.error?.message), /revoked/);
  });

  it("blocks an address guessing credentials (brute force), not the other callers", async () => {
    for (let i = 0; i < 6; i++) {
      const reply = await post(
        gateway.url,
        { authorization: `Bearer ${await token({ sub: "mallory" }, otherKey)}` },
        "127.0.0.4",
      );
      assert.equal(reply.status, 401);
    }
    const blocked = await post(gateway.url, { authorization: `Bearer ${await token()}` }, "127.0.0.4");
    assert.equal(blocked.status, 403, "even a valid token is refused from the blocked address");
    assert.equal(blocked.body.error?.data.rule, "dynamic-block:brute_force");
    const bystander = await post(gateway.url, { authorization: `Bearer ${await token()}` }, "127.0.0.1");
    assert.equal(bystander.status, 200);
  });

  it("blocks an address trying many identities (credential stuffing)", async () => {
    for (const sub of ["u1", "u2", "u3", "u4"]) {
      const reply = await post(
        gateway.url,
        { authorization: `Bearer ${await token({ sub }, otherKey)}` },
        "127.0.0.5",
      );
      assert.equal(reply.status, 401);
    }
    const blocked = await post(gateway.url, { authorization: `Bearer ${await token()}` }, "127.0.0.5");
    assert.equal(blocked.status, 403);
    assert.equal(blocked.body.error?.data.rule, "dynamic-block:credential_stuffing");
  });
});
