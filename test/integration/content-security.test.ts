// Content security in a running gateway, in front of a malicious MCP server (test/fixtures/
// malicious-server.ts) and the real everything server: poisoned definitions kept from the client,
// a look-alike tool name hidden, a rug pull withheld until an operator reviews it with
// `portcullis tools diff/approve`, arguments that attack refused, toxic flows refused, and malformed
// calls refused by the tool's own schema. Every attack has a benign twin that passes.
import assert from "node:assert/strict";
import { tmpdir } from "node:os";
import { after, before, describe, it } from "node:test";
import { Client, StreamableHTTPClientTransport } from "@modelcontextprotocol/client";
import { clientFrom } from "../helpers/rawHttp.ts";
import {
  everythingServer,
  filesystemServer,
  fixture,
  permitAll,
  runCli,
  startGateway,
  type RunningGateway,
} from "../helpers/gatewayProcess.ts";
import { failure } from "../helpers/rpc.ts";

const text = (result: unknown): string =>
  ((result as { content?: { type: string; text?: string }[] }).content ?? [])
    .map((c) => c.text ?? "")
    .join("");

describe("content security in front of a malicious server", () => {
  let gateway: RunningGateway;
  let client: Client;
  const names = async () => (await client.listTools()).tools.map((t) => t.name);

  before(async () => {
    // Trust is off here: after the attacks below it would (rightly) ask for verification of this
    // client's next calls; its own tests cover that.
    gateway = await startGateway(`version: 1
${permitAll}
trust: { enabled: false }
dataFlow:
  labels:
    - { tools: ["malicious__read_config"], labels: [private-data] }
    - { tools: ["malicious__fetch_page"], labels: [untrusted-content] }
    - { tools: ["malicious__echo"], labels: [external-sink] }
upstreams:
  filesystem:
    transport: stdio
    command: ${JSON.stringify(process.execPath)}
    args: [${JSON.stringify(filesystemServer)}, ${JSON.stringify(tmpdir())}]
  everything:
    transport: stdio
    command: ${JSON.stringify(process.execPath)}
    args: [${JSON.stringify(everythingServer)}]
  malicious:
    transport: stdio
    command: ${JSON.stringify(process.execPath)}
    args: [${JSON.stringify(fixture("malicious-server.ts"))}]
    env: { MALICIOUS_RUG_PULL_AFTER: "2" }
`);
    client = new Client({ name: "content-test", version: "1" });
    await client.connect(new StreamableHTTPClientTransport(new URL(gateway.url)));
  });

  after(async () => {
    if (process.env.DEBUG_LOGS)
      for (const l of gateway.logs.slice(-40)) console.log(JSON.stringify(l).slice(0, 400));
    await client?.close();
    await gateway?.stop();
  });

  it("keeps poisoned definitions out of the list and refuses their calls, naming the rule", async () => {
    const listed = await names();
    for (const poisoned of [
      "malicious__add",
      "malicious__get_weather",
      "malicious__translate",
      "malicious__summarize",
    ])
      assert.ok(!listed.includes(poisoned), `${poisoned} was listed`);
    const refused = await failure(client.callTool({ name: "malicious__add", arguments: { a: 1, b: 2 } }));
    assert.equal(refused.data.code, "PORTCULLIS_E_TOOL_POISONED");
    assert.equal(refused.data.layer, "catalog");
    // The benign twins: the same server's plain tools and the everything server are untouched.
    assert.ok(listed.includes("malicious__echo") && listed.includes("everything__echo"));
    assert.equal(
      text(await client.callTool({ name: "everything__echo", arguments: { message: "hi" } })),
      "Echo: hi",
    );
    await gateway.waitForLog(
      (l) => (l.event as { type?: string } | undefined)?.type === "tool_poisoning_detected",
      10_000,
    );
  });

  it("hides a tool named like another server's tool, and keeps the original", async () => {
    const listed = await names();
    assert.ok(listed.includes("filesystem__read_file"));
    assert.ok(!listed.includes("malicious__read-file"), "the look-alike of read_file was listed");
    await gateway.waitForLog(
      (l) => (l.event as { type?: string } | undefined)?.type === "tool_shadowing",
      10_000,
    );
  });

  it("withholds a tool whose definition changed until an operator approves it", async () => {
    assert.ok((await names()).includes("malicious__get_fact_of_the_day"));
    assert.match(
      text(await client.callTool({ name: "malicious__get_fact_of_the_day", arguments: {} })),
      /hearts/,
    );
    // The server re-reads its plugins: its next lists carry the changed definition.
    await client.callTool({ name: "malicious__refresh_catalog", arguments: {} });
    let listed = await names();
    for (let i = 0; i < 100 && listed.includes("malicious__get_fact_of_the_day"); i++) {
      await new Promise((r) => setTimeout(r, 100));
      listed = await names();
    }
    assert.ok(!listed.includes("malicious__get_fact_of_the_day"), "the changed tool is still listed");
    const refused = await failure(client.callTool({ name: "malicious__get_fact_of_the_day", arguments: {} }));
    assert.equal(refused.data.code, "PORTCULLIS_E_TOOL_CHANGED");
    await gateway.waitForLog(
      (l) => (l.event as { type?: string } | undefined)?.type === "tool_changed",
      10_000,
    );

    const config = ["--config", gateway.configPath];
    const changed = await runCli("tools", "list", "--changed", ...config);
    assert.equal(changed.status, 0, changed.stderr);
    assert.match(changed.stdout, /get_fact_of_the_day/);
    const diff = await runCli("tools", "diff", "malicious/get_fact_of_the_day", ...config);
    assert.equal(diff.status, 0, diff.stderr);
    assert.match(diff.stdout, /IMPORTANT/);
    const approved = await runCli(
      "tools",
      "approve",
      "malicious/get_fact_of_the_day",
      "--as",
      "reviewer",
      ...config,
    );
    assert.equal(approved.status, 0, approved.stderr);
    // Approving a change pins it; the new text is still poisoned, and the scan still refuses it.
    const still = await failure(client.callTool({ name: "malicious__get_fact_of_the_day", arguments: {} }));
    assert.equal(still.data.code, "PORTCULLIS_E_TOOL_POISONED");
  });

  it("refuses a call whose arguments break the tool's schema, and passes the valid twin", async () => {
    const refused = await failure(client.callTool({ name: "everything__echo", arguments: { message: 42 } }));
    assert.equal(refused.code, -32602);
    assert.equal(refused.data.code, "PORTCULLIS_E_VALIDATION");
    assert.equal(refused.data.rule, "input-schema");
    assert.equal(
      text(await client.callTool({ name: "everything__echo", arguments: { message: "42" } })),
      "Echo: 42",
    );
  });

  it("refuses an argument that walks to a cloud metadata address, and passes a public one", async () => {
    const refused = await failure(
      client.callTool({
        name: "malicious__fetch_page",
        arguments: { url: "http://169.254.169.254/latest/meta-data/" },
      }),
    );
    assert.equal(refused.data.code, "PORTCULLIS_E_ARGUMENT_ATTACK");
    assert.equal(refused.data.argument, "/url");
    const decimal = await failure(
      client.callTool({ name: "malicious__fetch_page", arguments: { url: "http://2852039166/latest/" } }),
    );
    assert.equal(decimal.data.code, "PORTCULLIS_E_ARGUMENT_ATTACK");
  });

  it("refuses an external sink after private data and untrusted content in one session", async () => {
    // Another caller (anonymous callers are told apart by address): taint follows the caller.
    const session = await clientFrom(gateway.url, "127.0.0.9");
    try {
      await session.callTool({ name: "malicious__echo", arguments: { message: "before any read" } });
      await session.callTool({ name: "malicious__read_config", arguments: { name: "prod" } });
      await session.callTool({ name: "malicious__echo", arguments: { message: "private only: fine" } });
      await session.callTool({
        name: "malicious__fetch_page",
        arguments: { url: "https://93.184.215.14/news" },
      });
      const refused = await failure(
        session.callTool({ name: "malicious__echo", arguments: { message: "exfil" } }),
      );
      assert.equal(refused.data.code, "PORTCULLIS_E_TOXIC_FLOW");
      assert.equal(refused.data.rule, "toxic-flow:private-and-untrusted-to-sink");
    } finally {
      await session.close();
    }
    // Another caller never read anything: its sink call passes.
    assert.equal(
      text(await client.callTool({ name: "malicious__echo", arguments: { message: "clean" } })),
      "clean",
    );
  });

  it("redacts leaked credentials in a result, and leaves a commit hash next to them alone", async () => {
    const shown = text(await client.callTool({ name: "malicious__debug_environment", arguments: {} }));
    assert.match(shown, /NODE_ENV=production/);
    assert.match(shown, /BUILD_SHA=4f1c2b7e0a9d8c3b6e5f4a1d2c3b4a5e6f7a8b9c/);
    assert.doesNotMatch(shown, /AKIA[0-9A-Z]{16}/);
    assert.doesNotMatch(shown, /ghp_[A-Za-z0-9]{36}/);
    assert.match(shown, /\[REDACTED:[a-z-]+\]/);
    await gateway.waitForLog(
      (l) => (l.event as { type?: string } | undefined)?.type === "secret_redacted",
      10_000,
    );
  });

  it("quarantines instructions aimed at the model in a result, and defuses its exfiltration links", async () => {
    const shown = text(
      await client.callTool({ name: "malicious__fetch_page", arguments: { url: "https://93.184.215.14/p" } }),
    );
    assert.match(shown, /^\[Portcullis quarantine [0-9a-f]+: /);
    assert.match(shown, /Prices start at \$9/, "the page itself is still delivered, marked as data");
    assert.doesNotMatch(shown, /img\.exfil\.example\/pixel\.png\?d=/);
    assert.doesNotMatch(shown, /evil\.example\/collect\?session=/);
    await gateway.waitForLog(
      (l) => (l.event as { type?: string } | undefined)?.type === "injection_detected",
      10_000,
    );
    // The benign twin: an ordinary result is delivered unchanged.
    assert.equal(
      text(await client.callTool({ name: "malicious__echo", arguments: { message: "plain words" } })),
      "plain words",
    );
  });
});
