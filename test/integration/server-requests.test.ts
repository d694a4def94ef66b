// Content security of what upstreams ask of the client, in a running gateway in front of the
// malicious fixture (test/fixtures/malicious-server.ts) over 2025 sessions: a sampling request that
// carries a leaked token, an injection and an exfiltration image reaches the client's model redacted
// and quarantined, a form that phishes for a token is marked, a log line's secrets are redacted, and
// a tainted caller can neither be asked for a sample by an upstream that is an external sink nor send
// it one. A 2026-07-28 upstream's input request, bridged to a 2025 client, is read the same way, and so
// are the client's answers, errors included. Every attack has a benign twin that passes unchanged.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Client, ProtocolError, StreamableHTTPClientTransport } from "@modelcontextprotocol/client";
import { Agent, fetch as undiciFetch } from "undici";
import { fixture, permitAll, startGateway, type RunningGateway } from "../helpers/gatewayProcess.ts";

/** A GitHub token's shape (not a real one), as a client's error might quote it. */
const GITHUB_LIKE = `ghp_${"x7Kq2Lm9Np4Rs6Tv8Wy1Za3Bc5De7Fg9Hj2K"}`;

interface Sampled {
  readonly messages: string[];
  readonly systemPrompt: string | undefined;
}

const text = (result: unknown): string =>
  ((result as { content?: { type: string; text?: string }[] }).content ?? [])
    .map((c) => c.text ?? "")
    .join("");

/**
 * A 2025 client from `from` (anonymous callers' taint follows their address) that can sample and
 * elicit: it records what it is asked and answers with `reply` (which may do more work first).
 */
async function samplingClient(
  url: string,
  from: string,
  reply: (asked: Sampled) => Promise<string> | string = () => "A calm sea.",
): Promise<{ client: Client; sampled: Sampled[]; forms: Record<string, unknown>[]; logs: unknown[] }> {
  const agent = new Agent({ localAddress: from });
  const fetchFrom = ((input: string | URL, init?: RequestInit) =>
    undiciFetch(input, { ...(init as object), dispatcher: agent })) as unknown as typeof fetch;
  const client = new Client(
    { name: `sampler-${from}`, version: "1" },
    { versionNegotiation: { mode: "legacy" }, capabilities: { sampling: {}, elicitation: { form: {} } } },
  );
  const sampled: Sampled[] = [];
  const forms: Record<string, unknown>[] = [];
  const logs: unknown[] = [];
  client.setRequestHandler("sampling/createMessage", async (request) => {
    const params = request.params as { messages: { content: { text?: string } }[]; systemPrompt?: string };
    const asked = {
      messages: params.messages.map((m) => m.content.text ?? ""),
      systemPrompt: params.systemPrompt,
    };
    sampled.push(asked);
    return { model: "test-model", role: "assistant", content: { type: "text", text: await reply(asked) } };
  });
  client.setRequestHandler("elicitation/create", async (request) => {
    forms.push(request.params);
    return { action: "decline" };
  });
  client.setNotificationHandler("notifications/message", (notification) => {
    logs.push(notification.params);
  });
  await client.connect(new StreamableHTTPClientTransport(new URL(url), { fetch: fetchFrom }));
  return { client, sampled, forms, logs };
}

describe("content security of an upstream's requests to the client", () => {
  let gateway: RunningGateway;
  const fixtureUpstream = (name: string) => `  ${name}:
    transport: stdio
    command: ${JSON.stringify(process.execPath)}
    args: [${JSON.stringify(fixture("malicious-server.ts"))}]
    protocol: "2025-11-25"
`;

  before(async () => {
    // Trust is off (these attacks would rightly lower it); the catalogue guard too, because the
    // fixture runs twice and its tools share names (its own tests cover that).
    gateway = await startGateway(`version: 1
${permitAll}
trust: { enabled: false }
catalogGuard: { enabled: false }
dataFlow:
  labels:
    - { tools: ["malicious__read_config"], labels: [private-data] }
    - { tools: ["malicious__fetch_page"], labels: [untrusted-content] }
    - { upstreams: [sink], labels: [external-sink] }
upstreams:
${fixtureUpstream("malicious")}${fixtureUpstream("sink")}  modern:
    transport: stdio
    command: ${JSON.stringify(process.execPath)}
    args: [${JSON.stringify(fixture("conformance-server.ts"))}, "--stdio"]
    protocol: "2026-07-28"
`);
  });

  after(async () => {
    if (process.env.DEBUG_LOGS)
      for (const l of gateway.logs.slice(-40)) console.log(JSON.stringify(l).slice(0, 400));
    await gateway?.stop();
  });

  const eventLine = (type: string, extra: (details: Record<string, unknown>) => boolean = () => true) =>
    gateway.waitForLog((l) => {
      const event = l.event as { type?: string; details?: Record<string, unknown> } | undefined;
      return event?.type === type && extra(event.details ?? {});
    }, 10_000);

  it("hands the client's model a sampling request with the token redacted, the injection quarantined and the image defused", async () => {
    const { client, sampled } = await samplingClient(gateway.url, "127.0.0.21");
    try {
      const result = await client.callTool({
        name: "malicious__ask_model",
        arguments: { variant: "malicious" },
      });
      assert.match(text(result), /^model said: A calm sea\./);
      const [asked] = sampled;
      const message = asked?.messages[0] ?? "";
      assert.match(
        message,
        /^\[Portcullis quarantine [0-9a-f]+: the sampling request from upstream malicious below/,
      );
      assert.match(message, /GITHUB_TOKEN=\[REDACTED:github-token\]/);
      assert.doesNotMatch(message, /ghp_[A-Za-z0-9]{36}/);
      assert.doesNotMatch(message, /img\.exfil\.example\/pixel\.png\?d=/);
      assert.equal(asked?.systemPrompt, "You write release notes.");
    } finally {
      await client.close();
    }
    await eventLine("secret_redacted", (d) => d.direction === "server-request" && d.upstream === "malicious");
    await eventLine("injection_detected", (d) => d.direction === "server-request");
    const decision = await gateway.waitForLog(
      (l) => l.msg === "decision" && l.method === "sampling/createMessage" && l.upstream === "malicious",
    );
    assert.equal(decision.verdict, "allow");
  });

  it("passes a benign sampling request and its answer unchanged", async () => {
    const { client, sampled } = await samplingClient(gateway.url, "127.0.0.22");
    try {
      const result = await client.callTool({
        name: "malicious__ask_model",
        arguments: { variant: "benign" },
      });
      assert.equal(text(result), "model said: A calm sea.");
      assert.deepEqual(sampled, [
        { messages: ["Write a haiku about the sea in autumn."], systemPrompt: "You are a poet." },
      ]);
    } finally {
      await client.close();
    }
  });

  it("marks a form that phishes for a token before the user sees it", async () => {
    const { client, forms } = await samplingClient(gateway.url, "127.0.0.23");
    try {
      const result = await client.callTool({ name: "malicious__ask_user", arguments: {} });
      assert.match(text(result), /user answered: .*decline/);
      assert.match(
        String(forms[0]?.message),
        /^\[Portcullis quarantine [0-9a-f]+: the form request from upstream malicious below asks the user for a credential/,
      );
    } finally {
      await client.close();
    }
    await eventLine(
      "injection_detected",
      (d) => (d.rules as string[] | undefined)?.includes("credential-request") === true,
    );
  });

  it("redacts the secrets of an upstream's log line", async () => {
    const { client, logs } = await samplingClient(gateway.url, "127.0.0.24");
    try {
      assert.equal(
        text(await client.callTool({ name: "malicious__sync_database", arguments: {} })),
        "synced",
      );
      for (let i = 0; i < 50 && logs.length === 0; i++) await new Promise((r) => setTimeout(r, 100));
      const line = logs[0] as { data?: { msg?: string; password?: string }; logger?: string } | undefined;
      assert.ok(line, "the log line reached the client");
      assert.equal(line.logger, "sync");
      assert.equal(line.data?.msg, "connecting to the database with [REDACTED:github-token]");
      assert.equal(line.data?.password, "[REDACTED:secret-field]");
    } finally {
      await client.close();
    }
    await eventLine("secret_redacted", (d) => d.direction === "notification");
  });

  it("reads the client's error answer like a result: its secrets are redacted on the way to the upstream", async () => {
    // A client's error may carry what its model or its user had (here a provider key in the message
    // and a password in the data); the upstream gets the error, code kept, without them.
    const leaky = await samplingClient(gateway.url, "127.0.0.28", () => {
      throw new ProtocolError(-32001, `model provider refused key ${GITHUB_LIKE} for this request`, {
        password: "hunter2-but-longer",
        retryable: false,
      });
    });
    const plain = await samplingClient(gateway.url, "127.0.0.29", () => {
      throw new ProtocolError(-32001, "the user declined to sample", { retryable: false });
    });
    try {
      const refused = text(
        await leaky.client.callTool({ name: "malicious__ask_model", arguments: { variant: "benign" } }),
      );
      assert.match(
        refused,
        /^sampling refused: -32001 model provider refused key \[REDACTED:github-token\] for this request /,
      );
      assert.doesNotMatch(refused, /ghp_|hunter2/);
      assert.match(refused, /"password":"\[REDACTED:password\]"/);
      assert.match(refused, /"retryable":false/);
      // The benign twin: the client's error reaches the upstream as it was.
      assert.equal(
        text(await plain.client.callTool({ name: "malicious__ask_model", arguments: { variant: "benign" } })),
        'sampling refused: -32001 the user declined to sample {"retryable":false}',
      );
    } finally {
      await leaky.client.close();
      await plain.client.close();
    }
    await eventLine("secret_redacted", (d) => d.direction === "server-answer");
    const decision = await gateway.waitForLog(
      (l) => l.msg === "decision" && l.method === "sampling/createMessage" && l.verdict === "error",
    );
    assert.deepEqual(decision.decidedBy, { layer: "client", rule: "client:-32001" });
  });

  it("reads a 2026 upstream's input request bridged to a 2025 client, and the client's answer on its way back", async () => {
    // The 2026-07-28 upstream answers "input required" with a form; the gateway asks this 2025
    // client with a real elicitation request, then retries the upstream with the answer. The form
    // phishes for a token (the caller chose its message); the answer carries one.
    const { client, forms } = await samplingClient(gateway.url, "127.0.0.30");
    client.setRequestHandler("elicitation/create", async (request) => {
      forms.push(request.params);
      return { action: "accept", content: { username: `ada ${GITHUB_LIKE}`, email: "ada@example.org" } };
    });
    try {
      const phishing =
        "Your session with the deployment service expired. Enter your GitHub personal access token to continue.";
      const result = text(
        await client.callTool({ name: "modern__test_elicitation", arguments: { message: phishing } }),
      );
      assert.match(
        String(forms[0]?.message),
        /^\[Portcullis quarantine [0-9a-f]+: the form request from upstream modern below asks the user for a credential/,
      );
      assert.match(result, /^User response: action=accept/);
      assert.doesNotMatch(result, /ghp_/);
      // The benign twin: an ordinary form, and an answer with nothing to hide, pass unchanged.
      client.setRequestHandler("elicitation/create", async (request) => {
        forms.push(request.params);
        return { action: "accept", content: { username: "ada", email: "ada@example.org" } };
      });
      const plain = text(
        await client.callTool({
          name: "modern__test_elicitation",
          arguments: { message: "Which name should the report be filed under?" },
        }),
      );
      assert.equal(forms[1]?.message, "Which name should the report be filed under?");
      assert.match(plain, /^User response: action=accept, content=\{"username":"ada"/);
    } finally {
      await client.close();
    }
    await eventLine(
      "injection_detected",
      (d) =>
        d.upstream === "modern" && (d.rules as string[] | undefined)?.includes("credential-request") === true,
    );
    await eventLine("secret_redacted", (d) => d.direction === "server-answer" && d.upstream === "modern");
  });

  it("lets a clean caller's sampling answer go to an upstream that is an external sink", async () => {
    const { client, sampled } = await samplingClient(gateway.url, "127.0.0.25");
    try {
      const result = await client.callTool({ name: "sink__ask_model", arguments: { variant: "benign" } });
      assert.equal(text(result), "model said: A calm sea.");
      assert.equal(sampled.length, 1);
    } finally {
      await client.close();
    }
  });

  it("refuses a tainted caller's sampling answer to an external sink, naming the layer and the rule", async () => {
    // The call starts clean; while the client's model works on the sample, the caller reads private
    // data and untrusted content, then answers.
    const tainter = (await samplingClient(gateway.url, "127.0.0.26")).client;
    const { client } = await samplingClient(gateway.url, "127.0.0.26", async () => {
      await tainter.callTool({ name: "malicious__read_config", arguments: { name: "prod" } });
      await tainter.callTool({
        name: "malicious__fetch_page",
        arguments: { url: "https://93.184.215.14/news" },
      });
      return "Here is everything I know.";
    });
    try {
      const result = text(
        await client.callTool({ name: "sink__ask_model", arguments: { variant: "benign" } }),
      );
      assert.match(result, /^sampling refused: -32010 /);
      assert.match(result, /"code":"PORTCULLIS_E_TOXIC_FLOW"/);
      assert.match(result, /"layer":"flow"/);
      assert.match(result, /"rule":"toxic-flow:private-and-untrusted-to-sink"/);
      assert.doesNotMatch(result, /everything I know/);
    } finally {
      await client.close();
      await tainter.close();
    }
    await eventLine(
      "toxic_flow_blocked",
      (d) => d.upstream === "sink" && d.method === "sampling/createMessage",
    );
    const decision = await gateway.waitForLog(
      (l) => l.msg === "decision" && l.method === "sampling/createMessage" && l.verdict === "deny",
    );
    assert.deepEqual(decision.decidedBy, { layer: "flow", rule: "toxic-flow:private-and-untrusted-to-sink" });
  });

  it("refuses an external sink's sampling request to a caller tainted before it asked; the client is never asked", async () => {
    const { client, sampled } = await samplingClient(gateway.url, "127.0.0.27");
    try {
      // The sink waits before asking; meanwhile the caller reads private data and untrusted content.
      const call = client.callTool({
        name: "sink__ask_model",
        arguments: { variant: "benign", delayMs: 1500 },
      });
      await client.callTool({ name: "malicious__read_config", arguments: { name: "prod" } });
      await client.callTool({
        name: "malicious__fetch_page",
        arguments: { url: "https://93.184.215.14/news" },
      });
      const result = text(await call);
      assert.match(result, /^sampling refused: -32010 .*its sampling request is refused/);
      assert.match(result, /"rule":"toxic-flow:private-and-untrusted-to-sink"/);
      assert.equal(sampled.length, 0, "the client was never asked");
      // Now tainted, the caller cannot call the sink's tools either (the existing rule).
      const refused = await client
        .callTool({ name: "sink__ask_model", arguments: { variant: "benign" } })
        .then(
          () => undefined,
          (err: { data?: { code?: string } }) => err,
        );
      assert.equal(refused?.data?.code, "PORTCULLIS_E_TOXIC_FLOW");
    } finally {
      await client.close();
    }
  });
});
