// Edge helpers: JSON nesting limits, 2026 header decoding and checks, and per-era result shapes.
import assert from "node:assert/strict";
import type { IncomingMessage } from "node:http";
import { describe, it } from "node:test";
import { jsonDepthExceeds } from "../../src/ingress/body.ts";
import { encodeResult } from "../../src/ingress/eraCodec.ts";
import { checkModernRequest, decodeHeaderValue } from "../../src/ingress/modernHeaders.ts";

const request = (headers: Record<string, string>) => ({ headers }) as unknown as IncomingMessage;

describe("JSON depth limit", () => {
  it("refuses nesting deeper than the limit", () => {
    assert.equal(jsonDepthExceeds("[".repeat(65) + "]".repeat(65), 64), true);
    assert.equal(jsonDepthExceeds("[".repeat(64) + "]".repeat(64), 64), false);
  });
  it("ignores brackets inside strings", () => {
    assert.equal(jsonDepthExceeds(JSON.stringify({ a: '[[[[[[[[[[\\"[[[[' }), 2), false);
  });
});

describe("2026-07-28 header checks", () => {
  const good = { "mcp-protocol-version": "2026-07-28", "mcp-method": "tools/call", "mcp-name": "echo" };
  it("accepts headers that agree with the body", () => {
    assert.equal(
      checkModernRequest(request(good), "2026-07-28", "tools/call", { name: "echo" }, true),
      undefined,
    );
  });
  it("refuses an Mcp-Name that differs from the body", () => {
    const r = checkModernRequest(
      request({ ...good, "mcp-name": "rm_rf" }),
      "2026-07-28",
      "tools/call",
      { name: "echo" },
      true,
    );
    assert.equal(r?.code, -32020);
    assert.equal(r?.httpStatus, 400);
  });
  it("refuses a missing Mcp-Method header", () => {
    const { "mcp-method": _m, ...rest } = good;
    assert.equal(
      checkModernRequest(request(rest), "2026-07-28", "tools/call", { name: "echo" }, true)?.code,
      -32020,
    );
  });
  it("refuses an unsupported revision with the supported list", () => {
    const r = checkModernRequest(request(good), "2099-01-01", "tools/call", { name: "echo" }, true);
    assert.equal(r?.code, -32022);
    assert.deepEqual(r?.data?.supported, ["2026-07-28"]);
  });
  it("decodes base64-sentinel header values and refuses non-canonical ones", () => {
    const encoded = `=?base64?${Buffer.from("héllo").toString("base64")}?=`;
    assert.equal(decodeHeaderValue(encoded), "héllo");
    assert.equal(decodeHeaderValue("=?base64?aGl=?="), undefined);
    assert.equal(decodeHeaderValue("plain"), "plain");
  });
});

describe("per-era result encoding", () => {
  it("marks 2026 results complete, private and uncached", () => {
    const r = encodeResult("modern", "tools/list", { tools: [], ttlMs: 60_000, cacheScope: "public" });
    assert.equal(r.resultType, "complete");
    assert.equal(r.ttlMs, 0);
    assert.equal(r.cacheScope, "private");
  });
  it("strips 2026-only fields from 2025 results", () => {
    assert.deepEqual(encodeResult("legacy", "tools/call", { content: [], resultType: "complete" }), {
      content: [],
    });
  });
  it("refuses to hand an input_required result to a 2025 client", () => {
    assert.throws(
      () => encodeResult("legacy", "tools/call", { resultType: "input_required", inputRequests: {} }),
      /cannot be asked/,
    );
  });
});
