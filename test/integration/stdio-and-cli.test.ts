// The stdio ingress as a desktop client uses it (the official SDK's stdio client spawning
// `portcullis stdio`), and the CLI's init and validate commands.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { Client, StreamableHTTPClientTransport } from "@modelcontextprotocol/client";
import { StdioClientTransport } from "@modelcontextprotocol/client/stdio";
import {
  cliPath,
  everythingServer,
  fixture,
  nodeUpstream,
  repoRoot,
  startGateway,
  permitAll,
} from "../helpers/gatewayProcess.ts";

function tempConfig(text: string): string {
  const dir = mkdtempSync(join(tmpdir(), "portcullis-cli-"));
  const path = join(dir, "portcullis.yaml");
  writeFileSync(path, text);
  return path;
}

const probeConfig = `version: 1
${permitAll}
upstreams:
${nodeUpstream("probe", fixture("session-probe-server.ts"), [], "    protocol: 2025-11-25\n")}`;

describe("stdio ingress", () => {
  for (const mode of ["legacy", "auto"] as const) {
    it(`serves a ${mode === "legacy" ? "2025-11-25" : "2026-07-28"} desktop client over stdio`, async () => {
      const client = new Client({ name: "desktop", version: "1.0.0" }, { versionNegotiation: { mode } });
      const transport = new StdioClientTransport({
        command: process.execPath,
        args: [cliPath, "stdio", "--config", tempConfig(probeConfig)],
        env: { PATH: process.env.PATH ?? "" },
        stderr: "pipe",
      });
      await client.connect(transport);
      try {
        const { tools } = await client.listTools();
        assert.ok(tools.some((t) => t.name === "probe__whoami"));
        const result = await client.callTool({ name: "probe__sleep", arguments: { ms: 1 } });
        assert.deepEqual(result.content, [{ type: "text", text: "slept 1" }]);
        await assert.rejects(client.callTool({ name: "probe__missing", arguments: {} }), /Unknown tool/);
      } finally {
        await client.close();
      }
    });
  }
});

describe("stdio ingress, 2026-07-28 listen streams", () => {
  it("acknowledges a listen stream and delivers tagged list changes on it", async () => {
    const config = `version: 1
${permitAll}
upstreams:
${nodeUpstream("probe", fixture("session-probe-server.ts"), [], "    protocol: 2025-11-25\n    isolation: shared\n")}`;
    const client = new Client(
      { name: "desktop", version: "1.0.0" },
      { versionNegotiation: { mode: "auto" } },
    );
    await client.connect(
      new StdioClientTransport({
        command: process.execPath,
        args: [cliPath, "stdio", "--config", tempConfig(config)],
        env: { PATH: process.env.PATH ?? "" },
        stderr: "pipe",
      }),
    );
    try {
      assert.equal(client.getProtocolEra(), "modern");
      const changed = new Promise<void>((resolve) =>
        client.setNotificationHandler("notifications/tools/list_changed", () => resolve()),
      );
      const subscription = await client.listen({ toolsListChanged: true });
      assert.deepEqual(subscription.honoredFilter, { toolsListChanged: true });
      await client.callTool({ name: "probe__add-tool", arguments: {} });
      await changed;
      const { tools } = await client.listTools();
      assert.ok(tools.some((t) => t.name === "probe__extra-1"));
      await subscription.close();
    } finally {
      await client.close();
    }
  });
});

describe("stdio ingress, 2026-07-28 input rounds", () => {
  it("turns a 2025 upstream's elicitation into an input-required round for a desktop client", async () => {
    const config = `version: 1\n${permitAll}\nupstreams:\n${nodeUpstream("everything", everythingServer)}`;
    const client = new Client(
      { name: "desktop", version: "1.0.0" },
      { versionNegotiation: { mode: "auto" }, capabilities: { elicitation: { form: {} } } },
    );
    let asked = false;
    client.setRequestHandler("elicitation/create", async () => {
      asked = true;
      return {
        action: "accept",
        content: { name: "Ada", check: true, integer: 3, email: "ada@example.com" },
      };
    });
    await client.connect(
      new StdioClientTransport({
        command: process.execPath,
        args: [cliPath, "stdio", "--config", tempConfig(config)],
        env: { PATH: process.env.PATH ?? "" },
        stderr: "pipe",
      }),
    );
    try {
      assert.equal(client.getProtocolEra(), "modern");
      const result = await client.callTool({
        name: "everything__trigger-elicitation-request",
        arguments: {},
      });
      assert.ok(asked, "the client was asked");
      assert.match(JSON.stringify(result.content), /Ada/);
    } finally {
      await client.close();
    }
  });
});

describe("command line", () => {
  const run = (...args: string[]) => spawnSync(process.execPath, [cliPath, ...args], { encoding: "utf8" });

  it("init writes a starter config that validates", () => {
    const out = join(mkdtempSync(join(tmpdir(), "portcullis-init-")), "portcullis.yaml");
    const init = run("init", "--out", out);
    assert.equal(init.status, 0, init.stderr);
    assert.match(readFileSync(out, "utf8"), /host: 127\.0\.0\.1/);
    const validate = run("validate", "--config", out);
    assert.equal(validate.status, 0, validate.stderr);
    assert.equal(run("init", "--out", out).status, 1, "refuses to overwrite without --force");
  });

  it("validate lists every error with file, line and key, and exits 1", () => {
    const path = tempConfig("version: 1\nserver:\n  port: -1\n  colour: blue\nupstreams: {}\n");
    const result = run("validate", "--config", path);
    assert.equal(result.status, 1);
    assert.match(result.stderr, new RegExp(`${path}:3:\\d+: server\\.port`));
    assert.match(result.stderr, new RegExp(`${path}:4:\\d+: server\\.colour: unknown key "colour"`));
    assert.match(result.stderr, /upstreams: at least one upstream is required/);
    assert.match(result.stderr, /3 error\(s\)/);
  });

  it("explains a missing --config and an unknown command", () => {
    assert.match(run("serve").stderr, /--config FILE is required/);
    const unknown = run("frobnicate");
    assert.equal(unknown.status, 1);
    assert.match(unknown.stderr, /unknown command "frobnicate"/);
  });
});

describe("the zero-trust example", () => {
  it("lets readers list and call only echo, admins use every tool, and nobody else anything; refuses a public plaintext listen", async () => {
    const dir = mkdtempSync(join(tmpdir(), "portcullis-zero-trust-"));
    const env = {
      PORTCULLIS_ISSUER: "https://issuer.example.test",
      PORTCULLIS_AUDIENCE: "http://127.0.0.1:8080/mcp",
      PORTCULLIS_JWKS_FILE: join(dir, "jwks.json"),
    };
    const tokenFor = (sub: string, roles: string) => {
      const issued = spawnSync(
        process.execPath,
        [join(repoRoot, "examples/zero-trust/issue-token.ts"), "--sub", sub, "--roles", roles, "--dir", dir],
        { encoding: "utf8", env: { ...process.env, ...env } },
      );
      assert.equal(issued.status, 0, issued.stderr);
      return issued.stdout.trim();
    };
    const reader = tokenFor("alice", "reader");
    const admin = tokenFor("root", "admin");
    const nobody = tokenFor("mallory", "");
    // The example's own policies (policyFiles: policies.yaml beside it), with the server from this checkout.
    const example = readFileSync(join(repoRoot, "examples/zero-trust/portcullis.yaml"), "utf8")
      .replace(
        "policyFiles: [policies.yaml]",
        `policyFiles: [${join(repoRoot, "examples/zero-trust/policies.yaml")}]`,
      )
      .replace(/upstreams:[\s\S]*$/, `upstreams:\n${nodeUpstream("everything", everythingServer)}`);
    const gateway = await startGateway(example, { env });
    const connect = async (token: string) => {
      const client = new Client({ name: "zero-trust", version: "1" });
      await client.connect(
        new StreamableHTTPClientTransport(new URL(gateway.url), {
          requestInit: { headers: { authorization: `Bearer ${token}` } },
        }),
      );
      return client;
    };
    try {
      const anonymous = new Client({ name: "anonymous", version: "1" });
      await assert.rejects(anonymous.connect(new StreamableHTTPClientTransport(new URL(gateway.url))));

      const alice = await connect(reader);
      const listed = (await alice.listTools()).tools.map((t) => t.name);
      assert.deepEqual(listed, ["everything__echo"]);
      const echoed = await alice.callTool({ name: "everything__echo", arguments: { message: "hi" } });
      assert.equal(echoed.isError, undefined);
      // Another tool is refused exactly as one that does not exist.
      const hidden = await alice
        .callTool({ name: "everything__get-sum", arguments: { a: 1, b: 2 } })
        .catch((e: Error) => e);
      const missing = await alice
        .callTool({ name: "everything__no-such-tool", arguments: {} })
        .catch((e: Error) => e);
      assert.ok(hidden instanceof Error && missing instanceof Error);
      assert.equal(hidden.message.replace("get-sum", "X"), missing.message.replace("no-such-tool", "X"));
      await alice.close();

      const root = await connect(admin);
      assert.ok((await root.listTools()).tools.length > 5);
      const sum = await root.callTool({ name: "everything__get-sum", arguments: { a: 1, b: 2 } });
      assert.equal(sum.isError, undefined);
      await root.close();

      const stranger = await connect(nobody);
      // Default deny: not even the list.
      await assert.rejects(stranger.listTools(), /no policy permits tools\/list/);
      await assert.rejects(stranger.callTool({ name: "everything__echo", arguments: { message: "hi" } }));
      await stranger.close();
    } finally {
      await gateway.stop();
    }
    const exposed = spawnSync(
      process.execPath,
      [
        cliPath,
        "serve",
        "--config",
        join(repoRoot, "examples/zero-trust/portcullis.yaml"),
        "--host",
        "0.0.0.0",
      ],
      { encoding: "utf8", env: { ...process.env, ...env }, timeout: 20_000 },
    );
    assert.equal(exposed.status, 1);
    assert.match(exposed.stderr, /off loopback\) serves plain HTTP/);
  });
});
