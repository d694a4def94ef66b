// The validation layer: client messages against the SDK's MCP schemas of each revision, tool
// arguments against inputSchema, structuredContent against outputSchema, and hostile upstream
// schemas (catastrophic regular expressions, reference fan-out, huge, deep, async) that must cost a
// bounded amount of work. Every attack has a benign twin that passes.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { pino } from "pino";
import { validationSection, type ValidationConfig } from "../../src/config/validationSchema.ts";
import { SecurityEventBus, type StampedEvent } from "../../src/events/bus.ts";
import { Catalog } from "../../src/federation/catalog.ts";
import { NameSpacer } from "../../src/federation/naming.ts";
import { resolveTarget } from "../../src/federation/router.ts";
import { validationLayer } from "../../src/layers/validation/index.ts";
import { currentDefinitionOf } from "../../src/layers/index.ts";
import { ToolSchemaCompiler } from "../../src/layers/validation/toolSchemas.ts";
import type { Layer, RequestContext, RouteTarget, Verdict } from "../../src/pipeline/types.ts";

const MODERN = "2026-07-28";
const LEGACY = "2025-11-25";
const envelope = {
  "io.modelcontextprotocol/protocolVersion": MODERN,
  "io.modelcontextprotocol/clientInfo": { name: "test", version: "1" },
  "io.modelcontextprotocol/clientCapabilities": {},
};

function ctx(era: "legacy" | "modern" = "legacy"): RequestContext {
  return {
    id: "c",
    transport: "http",
    era,
    protocolVersion: era === "modern" ? MODERN : LEGACY,
    clientAddress: "198.51.100.7",
    principal: { id: "alice", kind: "user", roles: [], authMethod: "bearer" },
    sessionDigest: undefined,
    clientInfo: undefined,
    findings: {},
  };
}

function setup(
  config: Record<string, unknown> = {},
  stage?: "messages" | "tools",
): { layer: Layer; events: StampedEvent[] } {
  const bus = new SecurityEventBus(pino({ level: "silent" }));
  const events: StampedEvent[] = [];
  bus.subscribe((event) => events.push(event));
  const parsed: ValidationConfig = validationSection.parse(config);
  return { layer: validationLayer({ config: parsed, events: bus, stage }), events };
}

function tool(definition: Record<string, unknown>, publicName = "fs__write"): RouteTarget {
  return { upstream: "fs", kind: "tool", name: String(definition.name), publicName, definition };
}

const writeTool = {
  name: "write",
  inputSchema: {
    type: "object",
    properties: { path: { type: "string", minLength: 1 }, mode: { type: "integer", minimum: 0 } },
    required: ["path"],
    additionalProperties: false,
  },
};

type Deny = Extract<Verdict<unknown>, { kind: "deny" }>;

async function call(
  layer: Layer,
  target: RouteTarget,
  args: unknown,
  context = ctx(),
  extra: Record<string, unknown> = {},
): Promise<Verdict<unknown> | undefined> {
  const params = { name: target.publicName, arguments: args, ...extra } as Record<string, unknown>;
  if (args === undefined) delete params.arguments;
  return layer.onRequest!({ method: "tools/call", params, target }, context);
}

function denied(verdict: Verdict<unknown> | undefined, rule: string): Deny {
  assert.ok(verdict, `expected a deny with rule ${rule}, got a pass`);
  if (verdict.kind !== "deny") assert.fail(`expected a deny with rule ${rule}, got a ${verdict.kind}`);
  assert.equal(verdict.rule, rule, verdict.reason);
  assert.equal(verdict.code, "PORTCULLIS_E_VALIDATION");
  return verdict;
}

function errorsOf(deny: Deny): { instancePath: string; message: string }[] {
  return (deny.data as { errors: { instancePath: string; message: string }[] }).errors;
}

function timed<T>(run: () => T): { value: T; ms: number } {
  const started = performance.now();
  const value = run();
  return { value, ms: performance.now() - started };
}

describe("MCP message schemas, per revision", () => {
  const { layer } = setup();
  const target = tool(writeTool);

  for (const era of ["legacy", "modern"] as const) {
    const meta = era === "modern" ? { _meta: envelope } : {};
    it(`refuses a tools/call without a name (${era})`, async () => {
      const verdict = await layer.onRequest!(
        { method: "tools/call", params: { arguments: { path: "a" }, ...meta }, target },
        ctx(era),
      );
      const deny = denied(verdict, "mcp-schema");
      assert.deepEqual(
        errorsOf(deny).map((e) => e.instancePath),
        ["/params/name"],
      );
    });

    it(`refuses tools/call arguments that are an array (${era})`, async () => {
      denied(await call(layer, target, ["path", "a"], ctx(era), meta), "mcp-schema");
    });

    it(`passes a well-formed tools/call (${era})`, async () => {
      assert.equal(await call(layer, target, { path: "a" }, ctx(era), meta), undefined);
    });

    it(`refuses a resources/read without a uri, passes one with it (${era})`, async () => {
      const read = (params: Record<string, unknown>) =>
        layer.onRequest!(
          { method: "resources/read", params: { ...params, ...meta }, target: undefined },
          ctx(era),
        );
      denied(await read({ url: "file:///etc/passwd" }), "mcp-schema");
      assert.equal(await read({ uri: "file:///a" }), undefined);
    });

    it(`refuses prompt arguments that are not strings (${era})`, async () => {
      const get = (args: unknown) =>
        layer.onRequest!(
          { method: "prompts/get", params: { name: "p", arguments: args, ...meta }, target: undefined },
          ctx(era),
        );
      denied(await get({ topic: { nested: true } }), "mcp-schema");
      assert.equal(await get({ topic: "tides" }), undefined);
    });
  }

  it("refuses a 2026-07-28 request without its _meta envelope", async () => {
    const deny = denied(await call(layer, target, { path: "a" }, ctx("modern")), "mcp-envelope");
    assert.ok(errorsOf(deny).some((e) => e.instancePath.includes("protocolVersion")));
  });

  it("refuses an envelope that names another revision than the one served", async () => {
    const meta = { _meta: { ...envelope, "io.modelcontextprotocol/protocolVersion": "2025-06-18" } };
    denied(await call(layer, target, { path: "a" }, ctx("modern"), meta), "mcp-envelope");
  });

  it("refuses an envelope whose client capabilities are malformed", async () => {
    const meta = { _meta: { ...envelope, "io.modelcontextprotocol/clientCapabilities": "all" } };
    denied(await call(layer, target, { path: "a" }, ctx("modern"), meta), "mcp-envelope");
  });

  it("needs no envelope on a 2025 request", async () => {
    assert.equal(await call(layer, target, { path: "a" }, ctx("legacy")), undefined);
  });

  it("refuses a malformed cancellation from the client, passes a well-formed one", async () => {
    const cancel = (params: Record<string, unknown>) =>
      layer.onNotification!(
        { direction: "to-server", method: "notifications/cancelled", params, upstream: undefined },
        ctx(),
      );
    denied(await cancel({ requestId: { $gt: "" } }), "mcp-schema");
    assert.equal(await cancel({ requestId: 7, reason: "user stopped" }), undefined);
  });

  it("leaves methods it has no schema for to the router", async () => {
    const verdict = await layer.onRequest!(
      { method: "tools/explode", params: { x: 1 }, target: undefined },
      ctx(),
    );
    assert.equal(verdict, undefined);
  });

  it("checks no message schema when messages is off", async () => {
    const { layer: lax } = setup({ messages: false });
    const verdict = await lax.onRequest!(
      { method: "resources/read", params: { url: "x" }, target: undefined },
      ctx(),
    );
    assert.equal(verdict, undefined);
  });
});

describe("tool arguments against inputSchema", () => {
  it("refuses an argument the schema does not allow; its valid twin passes", async () => {
    const { layer, events } = setup();
    const deny = denied(await call(layer, tool(writeTool), { path: "a", owner: "root" }), "input-schema");
    assert.match(errorsOf(deny)[0]!.message, /additional properties \("owner"\)/);
    assert.equal(await call(layer, tool(writeTool), { path: "a", mode: 420 }), undefined);
    const event = events.find((e) => e.type === "validation_failed");
    assert.equal(event?.details.rule, "input-schema");
    assert.equal(event?.details.action, "deny");
    assert.equal(event?.details.tool, "fs__write");
  });

  it("refuses a wrong-typed argument and names where", async () => {
    const { layer } = setup();
    const deny = denied(await call(layer, tool(writeTool), { path: "a", mode: "0777" }), "input-schema");
    assert.deepEqual(errorsOf(deny), [{ instancePath: "/mode", message: "must be integer" }]);
  });

  it("refuses a call without arguments when the schema requires some", async () => {
    const { layer } = setup();
    denied(await call(layer, tool(writeTool), undefined), "input-schema");
    const open = tool({ name: "ping", inputSchema: { type: "object", properties: {} } });
    assert.equal(await call(layer, open, undefined), undefined);
  });

  it("does not meet `required` with what every object inherits", async () => {
    const { layer } = setup();
    const target = tool({
      name: "t",
      inputSchema: { type: "object", required: ["toString", "constructor"] },
    });
    denied(await call(layer, target, {}), "input-schema");
    assert.equal(await call(layer, target, { toString: "x", constructor: "y" }), undefined);
  });

  it("passes undeclared arguments that the schema allows, unless undeclaredArguments is deny", async () => {
    const open = tool({ name: "t", inputSchema: { type: "object", properties: { q: { type: "string" } } } });
    assert.equal(await call(setup().layer, open, { q: "x", debug: true }), undefined);
    const strict = setup({ undeclaredArguments: "deny" }).layer;
    denied(await call(strict, open, { q: "x", debug: true }), "input-schema");
    assert.equal(await call(strict, open, { q: "x" }), undefined);
    // A schema that speaks of other keys itself keeps its own rule.
    const patterned = tool({
      name: "t",
      inputSchema: { type: "object", properties: { q: {} }, patternProperties: { "^x-": {} } },
    });
    assert.equal(await call(strict, patterned, { q: 1, "x-trace": 2 }), undefined);
  });

  it("validates 2020-12 by default and draft-07 when the schema says so", async () => {
    const { layer } = setup();
    const tuple2020 = tool({
      name: "t",
      inputSchema: {
        type: "object",
        properties: { pair: { type: "array", prefixItems: [{ type: "string" }, { type: "integer" }] } },
      },
    });
    denied(await call(layer, tuple2020, { pair: ["a", "b"] }), "input-schema");
    assert.equal(await call(layer, tuple2020, { pair: ["a", 1] }), undefined);
    const tuple07 = tool({
      name: "t",
      inputSchema: {
        $schema: "http://json-schema.org/draft-07/schema#",
        type: "object",
        definitions: { n: { type: "integer" } },
        properties: { pair: { type: "array", items: [{ type: "string" }, { $ref: "#/definitions/n" }] } },
      },
    });
    denied(await call(layer, tuple07, { pair: ["a", "b"] }), "input-schema");
    assert.equal(await call(layer, tuple07, { pair: ["a", 1] }), undefined);
  });

  it('follows recursive schemas (a tree of `$ref: "#"`)', async () => {
    const { layer } = setup();
    const target = tool({
      name: "t",
      inputSchema: {
        type: "object",
        properties: { label: { type: "string" }, children: { type: "array", items: { $ref: "#" } } },
        additionalProperties: false,
      },
    });
    const tree = { label: "a", children: [{ label: "b", children: [{ label: "c" }] }] };
    assert.equal(await call(layer, target, tree), undefined);
    denied(await call(layer, target, { children: [{ children: [{ label: 3 }] }] }), "input-schema");
  });

  it("checks formats", async () => {
    const { layer } = setup();
    const target = tool({
      name: "t",
      inputSchema: { type: "object", properties: { at: { type: "string", format: "date-time" } } },
    });
    denied(await call(layer, target, { at: "yesterday" }), "input-schema");
    assert.equal(await call(layer, target, { at: "2026-07-28T10:00:00Z" }), undefined);
  });

  it("passes the calls of the conformance server's 2020-12 tool (anchors, if/then/else)", async () => {
    const { layer } = setup();
    const target = tool({
      name: "json_schema_2020_12_tool",
      inputSchema: {
        $schema: "https://json-schema.org/draft/2020-12/schema",
        type: "object",
        $defs: {
          address: {
            $anchor: "addressDef",
            type: "object",
            properties: { street: { type: "string" }, city: { type: "string" } },
          },
        },
        properties: {
          name: { type: "string" },
          address: { $ref: "#/$defs/address" },
          contactMethod: { type: "string", enum: ["phone", "email"] },
          phone: { type: "string" },
          email: { type: "string" },
        },
        allOf: [{ anyOf: [{ required: ["phone"] }, { required: ["email"] }] }],
        if: { properties: { contactMethod: { const: "phone" } }, required: ["contactMethod"] },
        then: { required: ["phone"] },
        else: { required: ["email"] },
        additionalProperties: false,
      },
    });
    const good = {
      name: "Ada",
      address: { street: "1 Main", city: "X" },
      contactMethod: "phone",
      phone: "1",
    };
    assert.equal(await call(layer, target, good), undefined);
    denied(await call(layer, target, { ...good, phone: undefined, email: "a@b.c" }), "input-schema");
  });

  it("keeps unevaluatedProperties exact (the budget's keyword evaluates nothing)", async () => {
    const { layer } = setup();
    const target = tool({
      name: "t",
      inputSchema: {
        type: "object",
        allOf: [{ properties: { a: { type: "string" } } }],
        properties: { b: { type: "integer" } },
        unevaluatedProperties: false,
      },
    });
    assert.equal(await call(layer, target, { a: "x", b: 1 }), undefined);
    denied(await call(layer, target, { a: "x", b: 1, c: true }), "input-schema");
  });

  it("denies with validator-error, never passes, when the validator itself fails", async () => {
    const { layer, events } = setup({ onInvalidSchema: "pass" });
    const definition = {
      name: "t",
      get inputSchema(): never {
        throw new Error("boom");
      },
    };
    const deny = denied(await call(layer, tool(definition), {}), "validator-error");
    assert.match(deny.reason, /boom/);
    assert.equal(events.at(-1)?.severity, "high");
  });

  it("never echoes a huge value in the refusal", async () => {
    const { layer } = setup();
    const huge = "A".repeat(1_000_000);
    const deny = denied(
      await call(layer, tool(writeTool), { path: 42, mode: huge, [huge]: 1 }),
      "input-schema",
    );
    assert.ok(JSON.stringify(deny).length < 2_000, "the refusal stays short");
  });
});

describe("hostile upstream schemas", () => {
  it("runs a catastrophic pattern in linear time (the backtracking engine would take minutes)", async () => {
    const { layer } = setup();
    const target = tool({
      name: "t",
      inputSchema: { type: "object", properties: { id: { type: "string", pattern: "^(a+)+$" } } },
    });
    const attack = timed(() => call(layer, target, { id: `${"a".repeat(50_000)}!` }));
    denied(await attack.value, "input-schema");
    assert.ok(attack.ms < 2_000, `took ${attack.ms} ms`);
    assert.equal(await call(layer, target, { id: "aaaa" }), undefined);
  });

  it("refuses the calls of a tool whose pattern cannot run in linear time (backreference)", async () => {
    const { layer, events } = setup();
    const target = tool({
      name: "t",
      inputSchema: { type: "object", properties: { id: { type: "string", pattern: "^(a+)\\1$" } } },
    });
    const deny = denied(await call(layer, target, { id: "aa" }), "input-schema-invalid");
    assert.match(deny.reason, /linear time/);
    assert.equal(events.at(-1)?.details.rule, "input-schema-invalid");
  });

  it("passes such a tool unchecked, with an event, when onInvalidSchema is pass", async () => {
    const { layer, events } = setup({ onInvalidSchema: "pass" });
    const target = tool({
      name: "t",
      inputSchema: { type: "object", properties: { id: { type: "string", pattern: "(?=a)" } } },
    });
    assert.equal(await call(layer, target, { id: "a" }), undefined);
    assert.equal(events.at(-1)?.details.rule, "input-schema-invalid");
    assert.equal(events.at(-1)?.details.action, "flag");
  });

  // A few hundred bytes that ask for 2^40 evaluations (2020-12 evaluates every anyOf branch, to
  // know which properties were evaluated): without a budget, Ajv runs out of memory.
  const fanOut = (levels: number) => {
    const $defs: Record<string, unknown> = { l0: { type: "string" } };
    for (let i = 1; i <= levels; i++)
      $defs[`l${i}`] = { anyOf: [{ $ref: `#/$defs/l${i - 1}` }, { $ref: `#/$defs/l${i - 1}` }] };
    return tool({
      name: "t",
      inputSchema: { type: "object", $defs, properties: { x: { $ref: `#/$defs/l${levels}` } } },
    });
  };

  it("stops a schema whose references fan out exponentially", async () => {
    const { layer } = setup();
    const attack = timed(() => call(layer, fanOut(40), { x: "fine" }));
    denied(await attack.value, "validation-budget");
    assert.ok(attack.ms < 2_000, `took ${attack.ms} ms`);
  });

  it("stops the same fan-out hidden under a keyword nobody knows (a $ref makes it a schema)", async () => {
    const { layer } = setup();
    const hidden: Record<string, unknown> = { l0: { type: "string" } };
    for (let i = 1; i <= 40; i++)
      hidden[`l${i}`] = { oneOf: [{ $ref: `#/x-vault/l${i - 1}` }, { $ref: `#/x-vault/l${i - 1}` }] };
    const target = tool({
      name: "t",
      inputSchema: { type: "object", "x-vault": hidden, properties: { x: { $ref: "#/x-vault/l40" } } },
    });
    const attack = timed(() => call(layer, target, { x: "fine" }));
    denied(await attack.value, "validation-budget");
    assert.ok(attack.ms < 2_000, `took ${attack.ms} ms`);
  });

  it("refuses a $ref into data, which no budget could watch", async () => {
    const { layer } = setup();
    const target = tool({
      name: "t",
      inputSchema: {
        type: "object",
        properties: { x: { $ref: "#/properties/y/enum/0" }, y: { enum: [{ anyOf: [{ $ref: "#" }] }] } },
      },
    });
    const deny = denied(await call(layer, target, {}), "input-schema-invalid");
    assert.match(deny.reason, /not a subschema/);
  });

  it("passes the same construction when it stays small", async () => {
    const { layer } = setup();
    assert.equal(await call(layer, fanOut(8), { x: "fine" }), undefined);
    denied(await call(layer, fanOut(8), { x: 1 }), "input-schema");
  });

  it("allows the work a large benign payload needs", async () => {
    const { layer } = setup();
    const target = tool({
      name: "t",
      inputSchema: {
        type: "object",
        properties: { rows: { type: "array", items: { anyOf: [{ type: "string" }, { type: "integer" }] } } },
      },
    });
    const rows = Array.from({ length: 50_000 }, (_, i) => (i % 2 ? i : `r${i}`));
    assert.equal(await call(layer, target, { rows }), undefined);
  });

  it("bounds the characters patterns examine per message", async () => {
    const { layer } = setup({ budget: { patternCharacters: 4096 } });
    const target = tool({
      name: "t",
      inputSchema: { type: "object", additionalProperties: { type: "string", pattern: "^[a-z]*$" } },
    });
    assert.equal(await call(layer, target, { a: "x".repeat(1000), b: "y".repeat(1000) }), undefined);
    denied(await call(layer, target, { a: "x".repeat(3000), b: "y".repeat(3000) }), "validation-budget");
  });

  it("refuses schemas that are too large, too deep, async or of an unknown dialect", async () => {
    const { layer } = setup({ maxSchemaBytes: 4096, maxSchemaDepth: 16 });
    const properties = Object.fromEntries(
      Array.from({ length: 400 }, (_, i) => [`p${i}`, { type: "string" }]),
    );
    let deep: Record<string, unknown> = { type: "string" };
    for (let i = 0; i < 40; i++) deep = { type: "object", properties: { a: deep } };
    const cases: [string, Record<string, unknown>, RegExp][] = [
      ["large", { type: "object", properties }, /larger than 4096 bytes/],
      ["deep", deep, /deeper than 16/],
      ["async", { $async: true, type: "object" }, /asynchronous/],
      ["draft-04", { $schema: "http://json-schema.org/draft-04/schema#", type: "object" }, /dialect/],
      [
        "unresolvable",
        { type: "object", properties: { a: { $ref: "https://evil.example/s.json" } } },
        /resolve/,
      ],
    ];
    for (const [name, inputSchema, reason] of cases) {
      const deny = denied(await call(layer, tool({ name, inputSchema }), {}), "input-schema-invalid");
      assert.match(deny.reason, reason, name);
    }
  });

  it("keeps one upstream's $id out of another's schema", async () => {
    const { layer } = setup();
    const owner = tool({ name: "a", inputSchema: { $id: "https://schemas.example/shared", type: "object" } });
    const borrower = tool({
      name: "b",
      inputSchema: { type: "object", properties: { x: { $ref: "https://schemas.example/shared" } } },
    });
    assert.equal(await call(layer, owner, {}), undefined);
    denied(await call(layer, borrower, { x: {} }), "input-schema-invalid");
    // …and two upstreams may use the same $id for different schemas.
    const other = tool({
      name: "c",
      inputSchema: { $id: "https://schemas.example/shared", type: "object", required: ["k"] },
    });
    denied(await call(layer, other, {}), "input-schema");
  });

  it("never changes the upstream's definition", async () => {
    const { layer } = setup({ undeclaredArguments: "deny" });
    const definition = { name: "t", inputSchema: { type: "object", properties: { q: { type: "string" } } } };
    const before = JSON.stringify(definition);
    await call(layer, tool(definition), { q: "x" });
    assert.equal(JSON.stringify(definition), before);
  });
});

describe("two stages of one layer", () => {
  it("checks only MCP message schemas in the messages stage, only tool schemas in the tools stage", async () => {
    const early = setup({}, "messages").layer;
    const late = setup({}, "tools").layer;
    const target = tool(writeTool);
    // The early stage says nothing about a target (authorization may yet hide it)…
    assert.equal(await call(early, target, { path: 7 }), undefined);
    denied(await call(early, target, ["not", "an", "object"]), "mcp-schema");
    // …the late one checks the target's own schemas and leaves message shapes to the early one.
    denied(await call(late, target, { path: 7 }), "input-schema");
    const read = { method: "resources/read", params: { url: "x" }, target: undefined };
    assert.equal(await late.onRequest!(read, ctx()), undefined);
    const weather = tool({ ...writeTool, outputSchema: { type: "object", required: ["t"] } });
    const result = { method: "tools/call", target: weather, result: { content: [], structuredContent: {} } };
    assert.equal(await early.onResult!(result, ctx()), undefined);
    denied(await late.onResult!(result, ctx()), "output-schema");
  });
});

describe("the tool's definition as the upstream serves it now", () => {
  it("checks a call against the catalogue's current definition, not the router's copy from before a re-read", async () => {
    // The router resolved the call against the old definition; the catalogue guard then waited for
    // the upstream's lists to be read again (a reconnection), and the tool now takes `target`, not
    // `path`.
    const renamed = {
      ...writeTool,
      inputSchema: {
        ...writeTool.inputSchema,
        properties: { target: { type: "string" } },
        required: ["target"],
      },
    };
    const definitions = new Map<string, Record<string, unknown>>([["fs__write", renamed]]);
    const layer = validationLayer({
      config: validationSection.parse({}),
      stage: "tools",
      definitionOf: currentDefinitionOf(() => ({
        toolDefinition: (publicName) => definitions.get(publicName),
      })),
    });
    const routed = tool(writeTool);
    denied(await call(layer, routed, { path: "/tmp/a" }), "input-schema");
    assert.equal(await call(layer, routed, { target: "/tmp/a" }), undefined);
    // A tool the catalogue no longer holds is checked against the router's copy.
    definitions.clear();
    assert.equal(await call(layer, routed, { path: "/tmp/a" }), undefined);
  });
});

describe("compiling once per tool definition", () => {
  const limits = {
    maxSchemaBytes: 131_072,
    maxSchemaDepth: 64,
    maxPatterns: 256,
    compileMs: 250,
    steps: 100_000,
    stepsPerValue: 64,
    patternCharacters: 1_048_576,
  };

  it("compiles a schema once, finds it again by content, and recompiles when it changes", () => {
    const compiler = new ToolSchemaCompiler(limits, { cacheSize: 16, closeInput: false });
    const schema = { type: "object", properties: { a: { type: "string" } } };
    for (let i = 0; i < 100; i++) compiler.compiled(schema, "input");
    assert.equal(compiler.compilations, 1);
    // A list refresh hands over new objects: same content, no new compilation.
    compiler.compiled(structuredClone(schema), "input");
    assert.equal(compiler.compilations, 1);
    compiler.compiled({ type: "object", properties: { a: { type: "integer" } } }, "input");
    assert.equal(compiler.compilations, 2);
  });

  it("forgets the least recently used schema beyond its size", () => {
    const compiler = new ToolSchemaCompiler(limits, { cacheSize: 16, closeInput: false });
    const schemaN = (n: number) => ({ type: "object", properties: { [`p${n}`]: { type: "string" } } });
    for (let n = 0; n < 17; n++) compiler.compiled(schemaN(n), "input");
    compiler.compiled(schemaN(16), "input");
    assert.equal(compiler.compilations, 17);
    compiler.compiled(schemaN(0), "input");
    assert.equal(compiler.compilations, 18);
  });

  it("applies a changed schema after the upstream's list changes (through the router)", async () => {
    const { layer } = setup();
    const catalog = new Catalog(["fs"], new NameSpacer("__", true));
    const list = (schema: Record<string, unknown>) => ({
      tools: [{ name: "write", inputSchema: schema }],
      prompts: [],
      resources: [],
      resourceTemplates: [],
    });
    catalog.set("fs", list({ type: "object", properties: { path: { type: "string" } } }));
    const params = { name: "fs__write", arguments: { path: 7 } };
    let target = resolveTarget("tools/call", params, catalog);
    assert.equal(target.definition?.name, "write");
    denied(await layer.onRequest!({ method: "tools/call", params, target }, ctx()), "input-schema");
    catalog.set("fs", list({ type: "object", properties: { path: { type: ["string", "integer"] } } }));
    target = resolveTarget("tools/call", params, catalog);
    assert.equal(await layer.onRequest!({ method: "tools/call", params, target }, ctx()), undefined);
  });
});

describe("structuredContent against outputSchema", () => {
  const weather = tool({
    name: "weather",
    inputSchema: { type: "object" },
    outputSchema: {
      type: "object",
      properties: { celsius: { type: "number" }, city: { type: "string" } },
      required: ["celsius"],
    },
  });
  const result = (structuredContent: unknown, extra: Record<string, unknown> = {}) => ({
    content: [{ type: "text", text: JSON.stringify(structuredContent) }],
    structuredContent,
    ...extra,
  });
  const onResult = (layer: Layer, value: Record<string, unknown>, target = weather) =>
    layer.onResult!({ method: "tools/call", target, result: value }, ctx());

  it("withholds a result that does not match; passes its matching twin", async () => {
    const { layer, events } = setup();
    const deny = denied(await onResult(layer, result({ celsius: "hot" })), "output-schema");
    assert.equal(errorsOf(deny)[0]?.instancePath, "/celsius");
    assert.equal(events.at(-1)?.details.rule, "output-schema");
    assert.equal(await onResult(layer, result({ celsius: 21.5, city: "Oslo" })), undefined);
  });

  it("flags the mismatch and passes the result when outputSchema is flag", async () => {
    const { layer, events } = setup({ outputSchema: "flag" });
    assert.equal(await onResult(layer, result({ celsius: "hot" })), undefined);
    const event = events.at(-1);
    assert.equal(event?.type, "validation_failed");
    assert.equal(event?.details.rule, "output-schema");
    assert.equal(event?.details.action, "flag");
  });

  it("does not check when outputSchema is off", async () => {
    const { layer, events } = setup({ outputSchema: "off" });
    assert.equal(await onResult(layer, result({ celsius: "hot" })), undefined);
    assert.equal(events.length, 0);
  });

  it("withholds a result without structuredContent when the tool declares an outputSchema", async () => {
    const { layer } = setup();
    denied(await onResult(layer, { content: [{ type: "text", text: "21" }] }), "output-schema");
  });

  it("passes a tool error unstructured, and results of tools without an outputSchema", async () => {
    const { layer } = setup();
    assert.equal(
      await onResult(layer, { content: [{ type: "text", text: "boom" }], isError: true }),
      undefined,
    );
    assert.equal(await onResult(layer, result({ any: "thing" }), tool(writeTool)), undefined);
  });

  it("stops a hostile upstream that pairs a catastrophic pattern with matching output", async () => {
    const { layer } = setup();
    const target = tool({
      name: "evil",
      inputSchema: { type: "object" },
      outputSchema: { type: "object", properties: { v: { type: "string", pattern: "^(\\w+\\s?)*$" } } },
    });
    const attack = timed(() => onResult(layer, result({ v: `${"word ".repeat(20_000)}!` }), target));
    denied(await attack.value, "output-schema");
    assert.ok(attack.ms < 2_000, `took ${attack.ms} ms`);
  });

  it("withholds the results of a tool whose outputSchema cannot be compiled", async () => {
    const { layer } = setup();
    const target = tool({ name: "t", inputSchema: { type: "object" }, outputSchema: { type: "strnig" } });
    denied(await onResult(layer, result({}), target), "output-schema-invalid");
  });
});

interface ReferenceTool {
  server: string;
  name: string;
  inputSchema: Record<string, unknown>;
  outputSchema?: Record<string, unknown>;
  benign: Record<string, unknown>[];
  attacks: Record<string, unknown>[];
  benignOutputs?: unknown[];
  attackOutputs?: unknown[];
}

const corpus = (file: string): unknown =>
  JSON.parse(readFileSync(new URL(`../security/validation/${file}`, import.meta.url), "utf8"));

describe("the reference servers' tools (corpus)", () => {
  const { tools } = corpus("reference-tools.json") as { tools: ReferenceTool[] };
  const { layer } = setup();
  const targets = tools.map((t) => tool(t as unknown as Record<string, unknown>, `${t.server}__${t.name}`));

  it("passes every benign call and refuses every attack", async () => {
    let benign = 0;
    let attacks = 0;
    for (const [i, t] of tools.entries()) {
      for (const args of t.benign) {
        assert.equal(await call(layer, targets[i]!, args), undefined, `${t.name} ${JSON.stringify(args)}`);
        benign++;
      }
      for (const args of t.attacks) {
        denied(await call(layer, targets[i]!, args), "input-schema");
        attacks++;
      }
    }
    assert.ok(benign >= 39 && attacks >= 50, `${benign} benign, ${attacks} attacks`);
  });

  it("passes every benign structured result and withholds every malformed one", async () => {
    for (const [i, t] of tools.entries()) {
      const onResult = (structuredContent: unknown) =>
        layer.onResult!(
          { method: "tools/call", target: targets[i], result: { content: [], structuredContent } },
          ctx(),
        );
      for (const output of t.benignOutputs ?? []) assert.equal(await onResult(output), undefined, t.name);
      for (const output of t.attackOutputs ?? []) denied(await onResult(output), "output-schema");
    }
  });
});

interface HostileCase {
  name: string;
  schema: Record<string, unknown>;
  data: unknown;
  expect: string;
  maxMs: number;
}

/** Expands the corpus's shorthand: "@repeat:C:N" (value or key) and "@nest:K:N". */
function expand(value: unknown): unknown {
  if (typeof value === "string") {
    const repeat = /^@repeat:(.):(\d+)$/.exec(value);
    if (repeat) return repeat[1]!.repeat(Number(repeat[2]));
    const nest = /^@nest:(\w+):(\d+)$/.exec(value);
    if (nest) {
      let nested: Record<string, unknown> = {};
      for (let i = 0; i < Number(nest[2]); i++) nested = { [nest[1]!]: nested };
      return nested;
    }
    return value;
  }
  if (Array.isArray(value)) return value.map(expand);
  if (typeof value === "object" && value !== null)
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [expand(k) as string, expand(v)]));
  return value;
}

describe("hostile upstream schemas (corpus)", () => {
  const { cases } = corpus("hostile-schemas.json") as { cases: HostileCase[] };
  for (const c of cases) {
    it(`answers "${c.name}" with ${c.expect} in bounded time`, async () => {
      const { layer } = setup();
      const target = tool({ name: "hostile", inputSchema: c.schema });
      const run = timed(() => call(layer, target, expand(c.data)));
      const verdict = await run.value;
      if (c.expect === "pass") assert.equal(verdict, undefined);
      else denied(verdict, c.expect);
      assert.ok(run.ms < c.maxMs, `took ${run.ms.toFixed(0)} ms`);
    });
  }
});
