// The gateway in front of real MCP servers (server-everything over stdio and over Streamable HTTP,
// server-filesystem, and a probe server), driven by the official SDK client in both revisions.
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { Client, StreamableHTTPClientTransport } from "@modelcontextprotocol/client";
import {
  everythingServer,
  filesystemServer,
  fixture,
  nodeUpstream,
  startGateway,
  type RunningGateway,
  permitAll,
} from "../helpers/gatewayProcess.ts";

type Mode = "legacy" | "auto";

async function connect(url: string, mode: Mode, capabilities: Record<string, unknown> = {}): Promise<Client> {
  const client = new Client(
    { name: `test-${mode}`, version: "1.0.0" },
    { versionNegotiation: { mode }, capabilities },
  );
  await client.connect(new StreamableHTTPClientTransport(new URL(url)));
  return client;
}

function text(result: { content?: unknown }): string {
  const content = result.content as { type: string; text?: string }[];
  return content.map((c) => c.text ?? "").join("");
}

async function startEverythingOverHttp(
  mode: "streamableHttp" | "sse",
): Promise<{ child: ChildProcess; url: string }> {
  const port = 20_000 + Math.floor(Math.random() * 20_000);
  const child = spawn(process.execPath, [everythingServer, mode], {
    env: { PATH: process.env.PATH ?? "", PORT: String(port) },
    stdio: ["ignore", "ignore", "pipe"],
  });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server-everything (${mode}) did not start`)), 20_000);
    child.stderr.on("data", (chunk: Buffer) => {
      if (/listening|running/i.test(chunk.toString())) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
  return { child, url: `http://127.0.0.1:${port}/${mode === "sse" ? "sse" : "mcp"}` };
}

describe("federation of real MCP servers", () => {
  let gateway: RunningGateway;
  let httpUpstream: { child: ChildProcess; url: string };
  let sseUpstream: { child: ChildProcess; url: string };
  let files: string;

  before(async () => {
    httpUpstream = await startEverythingOverHttp("streamableHttp");
    sseUpstream = await startEverythingOverHttp("sse");
    files = mkdtempSync(join(tmpdir(), "portcullis-fs-"));
    writeFileSync(join(files, "hello.txt"), "hello from the filesystem server\n");
    gateway = await startGateway(
      `version: 1
${permitAll}
upstreams:
${nodeUpstream("everything", everythingServer, [], "    env:\n      GRANTED_SETTING: visible\n")}
${nodeUpstream("files", filesystemServer, [files])}
  remote:
    transport: streamable-http
    url: ${httpUpstream.url}
  legacysse:
    transport: sse
    url: ${sseUpstream.url}
`,
      { env: { PORTCULLIS_TEST_SECRET: "must-not-leak" } },
    );
  });

  after(async () => {
    await gateway?.stop();
    httpUpstream?.child.kill();
    sseUpstream?.child.kill();
  });

  for (const mode of ["legacy", "auto"] as const) {
    describe(`with a ${mode === "legacy" ? "2025-11-25" : "2026-07-28"} client`, () => {
      let client: Client;
      before(async () => {
        client = await connect(gateway.url, mode);
      });
      after(async () => client?.close());

      it("negotiates the expected protocol revision", () => {
        assert.equal(client.getProtocolEra(), mode === "legacy" ? "legacy" : "modern");
      });

      it("lists the tools of every upstream under name-spaced names", async () => {
        const { tools } = await client.listTools();
        const names = tools.map((t) => t.name);
        for (const name of ["everything__echo", "files__read_text_file", "remote__echo"])
          assert.ok(names.includes(name), name);
        for (const name of names) assert.match(name, /^[A-Za-z0-9_.-]{1,128}$/);
      });

      it("routes a call to the stdio upstream and maps the name back", async () => {
        const result = await client.callTool({
          name: "everything__echo",
          arguments: { message: `stdio ${mode}` },
        });
        assert.equal(text(result), `Echo: stdio ${mode}`);
      });

      it("routes a call to the Streamable HTTP upstream", async () => {
        const result = await client.callTool({
          name: "remote__echo",
          arguments: { message: `http ${mode}` },
        });
        assert.equal(text(result), `Echo: http ${mode}`);
      });

      it("routes a call to the legacy HTTP+SSE upstream", async () => {
        const result = await client.callTool({
          name: "legacysse__echo",
          arguments: { message: `sse ${mode}` },
        });
        assert.equal(text(result), `Echo: sse ${mode}`);
      });

      it("reads a file through server-filesystem", async () => {
        const result = await client.callTool({
          name: "files__read_text_file",
          arguments: { path: join(files, "hello.txt") },
        });
        assert.match(text(result), /hello from the filesystem server/);
      });

      it("refuses a tool that does not exist with a clear error", async () => {
        await assert.rejects(
          client.callTool({ name: "everything__no_such_tool", arguments: {} }),
          /Unknown tool: everything__no_such_tool/,
        );
      });

      it("reads resources and gets prompts", async () => {
        const { resources } = await client.listResources();
        assert.ok(resources.length > 0);
        const read = await client.readResource({ uri: resources[0]!.uri });
        assert.equal(read.contents[0]!.uri, resources[0]!.uri);
        const prompt = await client.getPrompt({
          name: "everything__args-prompt",
          arguments: { city: "Oslo" },
        });
        assert.match(JSON.stringify(prompt.messages), /Oslo/);
      });

      it("completes prompt arguments on the owning upstream", async () => {
        const result = await client.complete({
          ref: { type: "ref/prompt", name: "everything__completable-prompt" },
          argument: { name: "department", value: "E" },
        });
        assert.ok(result.completion.values.includes("Engineering"), JSON.stringify(result));
      });

      it("relays progress notifications with the client's own token", async () => {
        const seen: number[] = [];
        const result = await client.callTool(
          { name: "everything__trigger-long-running-operation", arguments: { duration: 0.4, steps: 4 } },
          { onprogress: (p) => seen.push(p.progress) },
        );
        assert.match(text(result), /completed/i);
        assert.ok(seen.length >= 2, `progress seen: ${JSON.stringify(seen)}`);
      });

      if (mode === "legacy") {
        it("answers ping", async () => {
          assert.deepEqual(await client.ping(), {});
        });
      }
    });
  }

  it("spawns stdio servers with only the environment the config names", async () => {
    const client = await connect(gateway.url, "legacy");
    try {
      const env = text(await client.callTool({ name: "everything__get-env", arguments: {} }));
      assert.match(env, /GRANTED_SETTING/);
      assert.match(env, /"PATH"/);
      assert.doesNotMatch(env, /PORTCULLIS_TEST_SECRET|must-not-leak/);
    } finally {
      await client.close();
    }
  });

  it("writes one decision line per request with method, tool, upstream, verdict and latency", async () => {
    const line = await gateway.waitForLog((l) => l.msg === "decision" && l.tool === "everything__echo");
    assert.equal(line.method, "tools/call");
    assert.equal(line.upstream, "everything");
    assert.equal(line.verdict, "allow");
    assert.equal(typeof line.latencyMs, "number");
    assert.equal(typeof line.time, "string");
    const refused = await gateway.waitForLog((l) => l.msg === "decision" && l.verdict === "error");
    assert.ok(refused.errorCode, JSON.stringify(refused));
  });

  it("relays a sampling round trip to the 2025 client that caused it", async () => {
    const client = await connect(gateway.url, "legacy", { sampling: {} });
    client.setRequestHandler("sampling/createMessage", async (request) => ({
      model: "test-model",
      role: "assistant",
      content: { type: "text", text: `sampled: ${JSON.stringify(request.params.messages[0]?.content)}` },
    }));
    try {
      const result = await client.callTool({
        name: "everything__trigger-sampling-request",
        arguments: { prompt: "ping the model", maxTokens: 10 },
      });
      assert.match(text(result), /sampled/);
      assert.match(text(result), /ping the model/);
    } finally {
      await client.close();
    }
  });

  it("turns a 2025 upstream's elicitation into an input-required round for a 2026 client", async () => {
    const client = new Client(
      { name: "modern-elicitor", version: "1.0.0" },
      { versionNegotiation: { mode: "auto" }, capabilities: { elicitation: { form: {} } } },
    );
    await client.connect(new StreamableHTTPClientTransport(new URL(gateway.url)));
    let asked = "";
    client.setRequestHandler("elicitation/create", async (request) => {
      asked = String((request.params as { message?: unknown }).message);
      return {
        action: "accept",
        content: { name: "Grace", check: true, integer: 7, email: "grace@example.com" },
      };
    });
    try {
      assert.equal(client.getProtocolEra(), "modern");
      const result = await client.callTool({
        name: "everything__trigger-elicitation-request",
        arguments: {},
      });
      assert.ok(asked.length > 0, "the 2026 client was asked through an input-required round");
      assert.match(JSON.stringify(result.content), /Grace/);
    } finally {
      await client.close();
    }
  });

  it("turns a 2025 upstream's sampling request into an input-required round for a 2026 client", async () => {
    const client = new Client(
      { name: "modern-sampler", version: "1.0.0" },
      { versionNegotiation: { mode: "auto" }, capabilities: { sampling: {} } },
    );
    await client.connect(new StreamableHTTPClientTransport(new URL(gateway.url)));
    client.setRequestHandler("sampling/createMessage", async () => ({
      model: "test-model",
      role: "assistant",
      content: { type: "text", text: "modern sample" },
    }));
    try {
      const result = await client.callTool({
        name: "everything__trigger-sampling-request",
        arguments: { prompt: "hello", maxTokens: 5 },
      });
      assert.match(text(result), /modern sample/);
    } finally {
      await client.close();
    }
  });

  it("refuses a forged request state without reaching the upstream", async () => {
    const envelope = {
      "io.modelcontextprotocol/protocolVersion": "2026-07-28",
      "io.modelcontextprotocol/clientInfo": { name: "forger", version: "1" },
      "io.modelcontextprotocol/clientCapabilities": {},
    };
    const body = {
      jsonrpc: "2.0",
      id: 9,
      method: "tools/call",
      params: {
        name: "everything__echo",
        arguments: { message: "x" },
        requestState: "portcullis.v1.AAAAAAAAAAAAAAAAAAAAAA.forgedmac",
        inputResponses: { "input-1": { action: "accept" } },
        _meta: envelope,
      },
    };
    const res = await fetch(gateway.url, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        accept: "application/json, text/event-stream",
        "mcp-protocol-version": "2026-07-28",
        "mcp-method": "tools/call",
        "mcp-name": "everything__echo",
      },
      body: JSON.stringify(body),
    });
    const json = (await res.json()) as { error?: { code: number; message: string } };
    assert.equal(json.error?.code, -32602);
    assert.match(json.error.message, /requestState/);
  });

  it("relays an elicitation round trip to the 2025 client that caused it", async () => {
    const client = await connect(gateway.url, "legacy", { elicitation: { form: {} } });
    let asked = "";
    client.setRequestHandler("elicitation/create", async (request) => {
      asked = String(request.params.message);
      return {
        action: "accept",
        content: { name: "Ada", check: true, integer: 42, email: "ada@example.com" },
      };
    });
    try {
      const result = await client.callTool({
        name: "everything__trigger-elicitation-request",
        arguments: {},
      });
      assert.ok(asked.length > 0, "the client was asked");
      assert.match(JSON.stringify(result.content), /accept/);
    } finally {
      await client.close();
    }
  });
});

describe("isolation, cancellation and supervision", () => {
  let gateway: RunningGateway;

  before(async () => {
    gateway = await startGateway(`version: 1
${permitAll}
federation:
  pageSize: 2
upstreams:
${nodeUpstream("probe", fixture("session-probe-server.ts"), [], "    protocol: 2025-11-25\n")}
${nodeUpstream("sharedprobe", fixture("session-probe-server.ts"), [], "    isolation: shared\n")}
${nodeUpstream("broken", fixture("broken-server.ts"))}
${nodeUpstream("idleprobe", fixture("session-probe-server.ts"), [], "    protocol: 2025-11-25\n    sessionIdleMs: 400\n")}
`);
  });
  after(async () => gateway?.stop());

  it("gives each client session its own upstream session", async () => {
    const [a, b] = await Promise.all([connect(gateway.url, "legacy"), connect(gateway.url, "legacy")]);
    try {
      await a.callTool({ name: "probe__remember", arguments: { value: "secret-of-a" } });
      const seenByB = await b.callTool({ name: "probe__remember", arguments: { value: "b" } });
      assert.equal(text(seenByB), "", "client B must not see client A's state");
      const pidA = text(await a.callTool({ name: "probe__whoami", arguments: {} }));
      const pidB = text(await b.callTool({ name: "probe__whoami", arguments: {} }));
      assert.notEqual(pidA, pidB);
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });

  it("closes a session's idle upstream connection and opens a fresh one on the next call", async () => {
    const client = await connect(gateway.url, "legacy");
    try {
      const before = text(await client.callTool({ name: "idleprobe__whoami", arguments: {} }));
      await client.callTool({ name: "idleprobe__remember", arguments: { value: "kept-while-busy" } });
      await new Promise((r) => setTimeout(r, 2_000)); // idle for well over 400 ms (the sweep runs every second)
      const after = text(await client.callTool({ name: "idleprobe__whoami", arguments: {} }));
      assert.notEqual(after, before, "a new upstream process serves the session");
      const seen = text(await client.callTool({ name: "idleprobe__remember", arguments: { value: "x" } }));
      assert.equal(seen, "", "the closed connection's state is gone");
    } finally {
      await client.close();
    }
  });

  it("cancels the upstream request when the client cancels", async () => {
    const client = await connect(gateway.url, "legacy");
    try {
      await client.callTool({ name: "probe__whoami", arguments: {} }); // the session's upstream is running
      const controller = new AbortController();
      const call = client.callTool({ name: "probe__hang", arguments: {} }, { signal: controller.signal });
      await new Promise((r) => setTimeout(r, 300));
      controller.abort();
      await assert.rejects(call);
      await gateway.waitForLog((l) => l.line === "hang: cancelled");
    } finally {
      await client.close();
    }
  });

  it("reports an upstream that never starts with its command and stderr, and serves the others", async () => {
    const failure = await gateway.waitForLog(
      (l) => l.msg === "upstream failed to start" && l.upstream === "broken",
    );
    assert.match(String(failure.command), /broken-server\.ts/);
    assert.match(JSON.stringify(failure.stderrTail), /cannot open database/);
    const ready = (await (await fetch(`${gateway.base}/readyz`)).json()) as {
      upstreams: { name: string; state: string }[];
    };
    assert.equal(ready.upstreams.find((u) => u.name === "broken")?.state, "down");
    // One restart loop with backoff (200 ms doubling to 1 s), never a loop per failure.
    await new Promise((r) => setTimeout(r, 2500));
    const attempts = gateway.logs.filter(
      (l) => l.msg === "upstream failed to start" && l.upstream === "broken",
    ).length;
    const elapsedSeconds = (Date.now() - Date.parse(String(gateway.logs[0]?.time))) / 1000;
    // At most one attempt per 0.8 s once the backoff reaches its 1 s cap (jitter is ±20 %).
    const ceiling = 4 + elapsedSeconds / 0.8;
    assert.ok(attempts >= 2 && attempts <= ceiling, `restart attempts: ${attempts} in ${elapsedSeconds} s`);
    const client = await connect(gateway.url, "auto");
    try {
      const { tools } = await client.listTools();
      assert.ok(tools.some((t) => t.name === "probe__whoami"));
      assert.ok(!tools.some((t) => t.name.startsWith("broken__")));
    } finally {
      await client.close();
    }
  });

  it("pages through merged lists that span several pages", async () => {
    const client = await connect(gateway.url, "auto");
    try {
      const { tools } = await client.listTools();
      const names = tools.map((t) => t.name);
      assert.equal(new Set(names).size, names.length, "no tool twice");
      for (const name of ["probe__whoami", "probe__sleep", "sharedprobe__whoami", "sharedprobe__add-tool"]) {
        assert.ok(names.includes(name), name);
      }
    } finally {
      await client.close();
    }
  });

  it("tells a 2025 client when an upstream's tool list changes", async () => {
    const client = await connect(gateway.url, "legacy");
    const changed = new Promise<void>((resolve) =>
      client.setNotificationHandler("notifications/tools/list_changed", () => resolve()),
    );
    try {
      await client.callTool({ name: "sharedprobe__add-tool", arguments: {} });
      await changed;
      const { tools } = await client.listTools();
      assert.ok(tools.some((t) => t.name === "sharedprobe__extra-1"));
      const result = await client.callTool({ name: "sharedprobe__extra-1", arguments: {} });
      assert.deepEqual(result.content, [{ type: "text", text: "extra-1" }]);
    } finally {
      await client.close();
    }
  });

  it("restarts a crashed upstream with backoff and keeps serving", async () => {
    const client = await connect(gateway.url, "legacy");
    try {
      const before = text(await client.callTool({ name: "sharedprobe__whoami", arguments: {} }));
      await client.callTool({ name: "sharedprobe__crash", arguments: {} }).catch(() => undefined);
      await gateway.waitForLog((l) => l.msg === "upstream went down" && l.upstream === "sharedprobe");
      await gateway.waitForLog(
        (l) =>
          l.msg === "upstream connected" &&
          l.upstream === "sharedprobe" &&
          gateway.logs.indexOf(l) > gateway.logs.findIndex((d) => d.msg === "upstream went down"),
      );
      const after = text(await client.callTool({ name: "sharedprobe__whoami", arguments: {} }));
      assert.match(after, /^\d+$/);
      assert.notEqual(after, before, "a new process serves after the restart");
      assert.equal(text(await client.callTool({ name: "probe__remember", arguments: { value: "x" } })), "");
    } finally {
      await client.close();
    }
  });
});
