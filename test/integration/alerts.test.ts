// Alert webhooks against a real receiver: signed bodies, retries after server errors, one alert per
// dedupe window, the severity filter, a bounded queue; and an alert from a running gateway.
import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import { pino } from "pino";
import { WebhookSink } from "../../src/events/webhook.ts";
import { fixture, nodeUpstream, startGateway, permitAll } from "../helpers/gatewayProcess.ts";

const secret = "a-webhook-secret-of-some-length";

interface Received {
  body: string;
  timestamp: string;
  signature: string;
}

/** A receiver that answers with the next status of `statuses` (then 200) and keeps what it got. */
function receiver(statuses: number[] = []): Promise<{ server: Server; url: string; got: Received[] }> {
  const got: Received[] = [];
  const server = createServer((req, res) => {
    let body = "";
    req.setEncoding("utf8");
    req.on("data", (c: string) => (body += c));
    req.on("end", () => {
      got.push({
        body,
        timestamp: String(req.headers["x-portcullis-timestamp"]),
        signature: String(req.headers["x-portcullis-signature"]),
      });
      res.writeHead(statuses.shift() ?? 200).end();
    });
  });
  return new Promise((resolve) =>
    server.listen(0, "127.0.0.1", () =>
      resolve({ server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`, got }),
    ),
  );
}

function sink(
  url: string,
  overrides: Partial<ConstructorParameters<typeof WebhookSink>[0]> = {},
): WebhookSink {
  return new WebhookSink({
    url,
    secret,
    minSeverity: "medium",
    dedupeWindowMs: 60_000,
    maxAttempts: 4,
    timeoutMs: 2_000,
    queueSize: 100,
    logger: pino({ level: "silent" }),
    ...overrides,
  });
}

const event = (details: Record<string, unknown>, severity: "low" | "medium" | "high" = "high") =>
  ({ type: "upstream_down", severity, details, time: new Date().toISOString() }) as const;

async function until(check: () => boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe("webhook alerts", () => {
  const servers: Server[] = [];
  after(() => servers.forEach((s) => s.close()));

  it("signs each alert with HMAC-SHA256 over timestamp and body", async () => {
    const r = await receiver();
    servers.push(r.server);
    sink(r.url).offer(event({ upstream: "a" }));
    await until(() => r.got.length === 1);
    const { body, timestamp, signature } = r.got[0]!;
    const expected = createHmac("sha256", secret).update(`${timestamp}.${body}`).digest("hex");
    assert.equal(signature, `sha256=${expected}`);
    assert.equal((JSON.parse(body) as { type: string }).type, "upstream_down");
    const forged = createHmac("sha256", "another-secret-entirely")
      .update(`${timestamp}.${body}`)
      .digest("hex");
    assert.notEqual(signature, `sha256=${forged}`);
  });

  it("retries after server errors until it is accepted", async () => {
    const r = await receiver([500, 503]);
    servers.push(r.server);
    sink(r.url).offer(event({ upstream: "b" }));
    await until(() => r.got.length === 3);
  });

  it("sends the same event once per dedupe window, and another event at once", async () => {
    const r = await receiver();
    servers.push(r.server);
    const s = sink(r.url);
    s.offer(event({ upstream: "c" }));
    s.offer(event({ upstream: "c" }));
    s.offer(event({ upstream: "d" }));
    await until(() => r.got.length === 2);
    await new Promise((res) => setTimeout(res, 200));
    assert.equal(r.got.length, 2);
  });

  it("drops events below the severity filter", async () => {
    const r = await receiver();
    servers.push(r.server);
    const s = sink(r.url, { minSeverity: "high" });
    s.offer(event({ upstream: "e" }, "medium"));
    s.offer(event({ upstream: "f" }, "high"));
    await until(() => r.got.length === 1);
    assert.match(r.got[0]!.body, /"f"/);
  });

  it("counts what a full queue drops instead of blocking", async () => {
    const s = sink("http://127.0.0.1:9/unreachable", { queueSize: 2, maxAttempts: 1, timeoutMs: 500 });
    for (let i = 0; i < 10; i++) s.offer(event({ n: i }));
    assert.ok(s.dropped >= 7, `dropped ${s.dropped}`);
  });
});

describe("alerts from a running gateway", () => {
  let r: Awaited<ReturnType<typeof receiver>>;
  before(async () => {
    r = await receiver();
  });
  after(() => r.server.close());

  it("posts a signed alert when a bad config is rejected", async () => {
    const config = `version: 1
${permitAll}
alerts:
  webhooks:
    - url: ${r.url}
      secret: \${env:ALERT_SECRET}
      minSeverity: medium
upstreams:
${nodeUpstream("probe", fixture("session-probe-server.ts"))}`;
    const gateway = await startGateway(config, { env: { ALERT_SECRET: secret } });
    try {
      writeFileSync(gateway.configPath, config.replace("version: 1", "version: 1\nbogus: true"));
      await until(() => r.got.some((g) => g.body.includes("config_rejected")));
      const alert = r.got.find((g) => g.body.includes("config_rejected"))!;
      const expected = createHmac("sha256", secret).update(`${alert.timestamp}.${alert.body}`).digest("hex");
      assert.equal(alert.signature, `sha256=${expected}`);
    } finally {
      await gateway.stop();
    }
  });
});
