// The config loader: every problem located by file, line and key; secret references; defaults.
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { loadConfigFile, parseConfigText } from "../../src/config/load.ts";
import { ConfigError } from "../../src/errors.ts";

function issuesOf(text: string, env: NodeJS.ProcessEnv = {}) {
  try {
    parseConfigText(text, "/etc/portcullis.yaml", env);
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return err.issues;
  }
  assert.fail("expected a ConfigError");
}

const minimal = `version: 1
upstreams:
  everything:
    transport: stdio
    command: node
`;

describe("config loading", () => {
  it("applies the secure defaults", () => {
    const config = parseConfigText(minimal, "x.yaml", {});
    assert.equal(config.server.host, "127.0.0.1");
    assert.equal(config.server.maxBodyBytes, 4 * 1024 * 1024);
    assert.equal(config.profile, "strict");
    const upstream = config.upstreams.everything!;
    assert.equal(upstream.isolation, "session");
    assert.ok(upstream.transport === "stdio" && upstream.inheritEnv.includes("PATH"));
  });

  it("names the line and key of an unknown key", () => {
    const [issue] = issuesOf(
      `version: 1\nserver:\n  port: 8080\n  prot: 1\nupstreams:\n  a: { transport: stdio, command: x }\n`,
    );
    assert.equal(issue?.line, 4);
    assert.equal(issue?.path, "server.prot");
    assert.match(issue.message, /unknown key "prot"/);
  });

  it("lists every error, not only the first", () => {
    const issues = issuesOf(`version: 1
server:
  port: 70000
upstreams:
  web:
    transport: streamable-http
    url: ftp://example.com/mcp
  local:
    transport: stdio
`);
    const paths = issues.map((i) => i.path).sort();
    assert.deepEqual(paths, ["server.port", "upstreams.local.command", "upstreams.web.url"]);
    assert.equal(issues.find((i) => i.path === "server.port")?.line, 3);
  });

  it("rejects an upstream name that cannot be a tool-name prefix", () => {
    const issues = issuesOf(`version: 1\nupstreams:\n  "bad name!": { transport: stdio, command: x }\n`);
    assert.ok(issues.some((i) => i.path.startsWith("upstreams")));
  });

  it("refuses an upstream name containing the name separator (names must map one to one)", () => {
    const issues = issuesOf(`version: 1\nupstreams:\n  a__b: { transport: stdio, command: x }\n`);
    assert.match(issues[0]!.message, /contains the name separator "__"/);
    assert.equal(issues[0]!.line, 3);
    assert.doesNotThrow(() =>
      parseConfigText(
        `version: 1\nfederation: { separator: "." }\nupstreams:\n  a__b: { transport: stdio, command: x }\n`,
        "x.yaml",
        {},
      ),
    );
  });

  it("reports YAML syntax errors with their line", () => {
    const [issue] = issuesOf(`version: 1\nupstreams:\n  a: [unclosed\n`);
    assert.ok(issue?.line !== undefined && issue.line >= 3, JSON.stringify(issue));
  });

  it("resolves ${env:…} references and reports missing ones", () => {
    const text = `version: 1
upstreams:
  web:
    transport: streamable-http
    url: https://example.com/mcp
    headers:
      Authorization: "Bearer \${env:TOKEN}"
`;
    const config = parseConfigText(text, "x.yaml", { TOKEN: "s3cret" });
    const web = config.upstreams.web!;
    assert.ok(web.transport === "streamable-http");
    assert.equal(web.headers.Authorization, "Bearer s3cret");
    const [issue] = issuesOf(text, {});
    assert.equal(issue?.path, "upstreams.web.headers.Authorization");
    assert.equal(issue?.line, 7);
    assert.match(issue.message, /TOKEN is not set/);
  });

  it("resolves ${file:…} relative to the config file", () => {
    const dir = mkdtempSync(join(tmpdir(), "portcullis-cfg-"));
    writeFileSync(join(dir, "token.txt"), "from-a-file\n");
    writeFileSync(
      join(dir, "portcullis.yaml"),
      `version: 1\nupstreams:\n  a:\n    transport: stdio\n    command: x\n    env:\n      TOKEN: \${file:token.txt}\n`,
    );
    const { config } = loadConfigFile(join(dir, "portcullis.yaml"), {});
    const a = config.upstreams.a!;
    assert.ok(a.transport === "stdio");
    assert.equal(a.env.TOKEN, "from-a-file");
  });

  it("names the file when it cannot be read", () => {
    assert.throws(
      () => loadConfigFile("/nonexistent/portcullis.yaml"),
      (err: unknown) => {
        assert.ok(err instanceof ConfigError);
        assert.match(err.message, /\/nonexistent\/portcullis\.yaml: .*cannot read/);
        return true;
      },
    );
  });
});
