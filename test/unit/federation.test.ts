// Name spacing, the merged catalogue's routing index, and pagination over merged lists.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Catalog } from "../../src/federation/catalog.ts";
import { NameSpacer } from "../../src/federation/naming.ts";
import { paginate } from "../../src/federation/pagination.ts";
import { paramsForUpstream, resolveTarget } from "../../src/federation/router.ts";
import { GatewayError } from "../../src/errors.ts";

const lists = (tools: string[], extra: Partial<Record<string, Record<string, unknown>[]>> = {}) => ({
  tools: tools.map((name) => ({ name, inputSchema: { type: "object" } })),
  prompts: extra.prompts ?? [],
  resources: extra.resources ?? [],
  resourceTemplates: extra.resourceTemplates ?? [],
});

describe("name spacing", () => {
  const spacer = new NameSpacer("__", true);
  it("prefixes names with their upstream", () => {
    assert.equal(spacer.publicName("everything", "echo", new Map()), "everything__echo");
  });
  it("keeps names within the 2025-11-25 tool-name rules", () => {
    const name = spacer.publicName("up", `weird name/${"x".repeat(200)}`, new Map());
    assert.match(name, /^[A-Za-z0-9_.-]{1,128}$/);
  });
  it("never hands out the same public name twice", () => {
    const taken = new Map([["a__x_y", 1]]);
    assert.equal(spacer.publicName("a", "x y", taken), "a__x_y_2");
  });
});

describe("catalogue", () => {
  const catalog = new Catalog(["one", "two"], new NameSpacer("__", true));
  catalog.set(
    "one",
    lists(["echo"], {
      resources: [{ uri: "file:///a", name: "a" }],
      resourceTemplates: [{ uriTemplate: "demo://item/{id}", name: "item" }],
    }),
  );
  catalog.set("two", lists(["echo", "sum"], { resources: [{ uri: "file:///a", name: "shadow" }] }));

  it("merges the tools of every upstream under their own names", () => {
    assert.deepEqual(
      catalog.items("tools").map((t) => t.publicName),
      ["one__echo", "two__echo", "two__sum"],
    );
    assert.deepEqual(catalog.resolveTool("two__echo"), { upstream: "two", name: "echo" });
  });

  it("does not route a name that is not in the catalogue", () => {
    assert.equal(catalog.resolveTool("two__missing"), undefined);
    assert.throws(
      () => resolveTarget("tools/call", { name: "two__missing" }, catalog),
      (e: unknown) => e instanceof GatewayError && e.code === "PORTCULLIS_E_UNKNOWN_TOOL",
    );
  });

  it("gives a contested resource URI to the first upstream in config order", () => {
    assert.equal(catalog.resolveResource("file:///a"), "one");
    assert.equal(catalog.items("resources").length, 1);
  });

  it("routes URIs that match a resource template", () => {
    assert.equal(catalog.resolveResource("demo://item/42"), "one");
    assert.equal(catalog.resolveResource("demo://other/42"), undefined);
  });

  it("rewrites a call to the upstream's own tool name", () => {
    const target = resolveTarget("tools/call", { name: "two__sum", arguments: { a: 1 } }, catalog);
    assert.deepEqual(paramsForUpstream("tools/call", { name: "two__sum", arguments: { a: 1 } }, target), {
      name: "sum",
      arguments: { a: 1 },
    });
  });

  it("strips the client's protocol envelope before forwarding", () => {
    const target = resolveTarget("tools/call", { name: "one__echo" }, catalog);
    const forwarded = paramsForUpstream(
      "tools/call",
      {
        name: "one__echo",
        _meta: {
          "io.modelcontextprotocol/protocolVersion": "2026-07-28",
          progressToken: 7,
          traceparent: "00-abc",
        },
      },
      target,
    );
    assert.deepEqual(forwarded, { name: "echo", _meta: { traceparent: "00-abc" } });
  });

  it("refuses unknown methods with method-not-found", () => {
    assert.throws(
      () => resolveTarget("tools/explode", {}, catalog),
      (e: unknown) => e instanceof GatewayError && e.jsonRpcCode === -32601,
    );
  });
});

describe("pagination of merged lists", () => {
  const items = Array.from({ length: 5 }, (_, i) => i);
  it("walks every item exactly once", () => {
    const seen: number[] = [];
    let cursor: unknown;
    do {
      const page = paginate(items, cursor, 2, 1);
      seen.push(...page.items);
      cursor = page.nextCursor;
    } while (cursor !== undefined);
    assert.deepEqual(seen, items);
  });
  it("refuses a cursor from before a list change", () => {
    const { nextCursor } = paginate(items, undefined, 2, 1);
    assert.throws(() => paginate(items, nextCursor, 2, 2), /cursor expired/);
  });
  it("refuses a forged cursor", () => {
    assert.throws(() => paginate(items, "not-a-cursor", 2, 1), /not one this gateway issued/);
    const forged = Buffer.from(JSON.stringify({ o: -5, v: 1 })).toString("base64url");
    assert.throws(() => paginate(items, forged, 2, 1), /not one this gateway issued/);
  });
});
