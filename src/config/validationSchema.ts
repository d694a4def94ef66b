// The config of the validation layer: which checks run (MCP message schemas, tool arguments against
// inputSchema, results against outputSchema), what an unusable upstream schema means, and the limits
// that keep a hostile upstream schema from costing the gateway more than a bounded amount of work.
import { z } from "zod";

const count = (fallback: number, min: number, max: number, description: string) =>
  z.number().int().min(min).max(max).default(fallback).describe(description);

const budget = z
  .strictObject({
    steps: count(
      100_000,
      100,
      100_000_000,
      "Schema evaluations one message may cost at least, whatever its size: what keeps a schema whose references fan out (a few hundred bytes can ask for 2^30 evaluations) from freezing the gateway.",
    ),
    stepsPerValue: count(
      64,
      1,
      100_000,
      "Schema evaluations allowed on top of `steps` for each value (object, array, string, number…) in the checked arguments or structuredContent, so that large benign payloads pass.",
    ),
    patternCharacters: count(
      1_048_576,
      1024,
      1_073_741_824,
      "Characters that the schema's `pattern` and `patternProperties` expressions may examine while one message is checked (they run on a linear-time engine; this bounds the total).",
    ),
    compileMs: count(
      250,
      10,
      60_000,
      "Time that compiling one upstream schema's regular expressions may take; past it the schema counts as unusable (`*-schema-invalid`).",
    ),
  })
  .prefault({})
  .describe(
    "How much work checking one message may cost; a message that needs more is refused with rule `validation-budget`.",
  );

export const validationSection = z
  .strictObject({
    enabled: z
      .boolean()
      .default(true)
      .describe("Turns the validation layer on (every check below) or off (docs/validation.md)."),
    messages: z
      .boolean()
      .default(true)
      .describe(
        "Checks every client request's and notification's params against the official MCP schema of its method (SDK schemas), and a 2026-07-28 request's `_meta` envelope, before anything else reads them (rules `mcp-schema`, `mcp-envelope`).",
      ),
    toolArguments: z
      .boolean()
      .default(true)
      .describe(
        "Checks every tools/call's arguments against the tool's inputSchema as its upstream declared it (JSON Schema 2020-12 by default; 2019-09, draft-07 and draft-06 by `$schema`; rule `input-schema`).",
      ),
    undeclaredArguments: z
      .enum(["schema", "deny"])
      .default("schema")
      .describe(
        "`schema` (default): arguments the inputSchema does not declare pass when the schema allows them (JSON Schema's default). `deny`: a schema that lists `properties` and says nothing else about other keys (no additionalProperties, patternProperties, unevaluatedProperties, composition or $ref at its root) is checked as if it said `additionalProperties: false`.",
      ),
    outputSchema: z
      .enum(["deny", "flag", "off"])
      .default("deny")
      .describe(
        "A tools/call result whose structuredContent does not match the tool's outputSchema (or lacks it): `deny` (default) withholds the result (rule `output-schema`), `flag` passes it and raises a `validation_failed` event, `off` does not check.",
      ),
    onInvalidSchema: z
      .enum(["deny", "pass"])
      .default("deny")
      .describe(
        "An upstream schema that cannot be used (does not compile, too large or deep, an unsupported dialect, a regular expression the linear-time engine cannot run, too costly to compile): `deny` (default) refuses the tool's calls (rule `input-schema-invalid`) or withholds its results (`output-schema-invalid`); `pass` lets them through unchecked and raises a `validation_failed` event.",
      ),
    maxSchemaBytes: count(
      131_072,
      1024,
      16_777_216,
      "Largest inputSchema or outputSchema (canonical JSON, bytes) that is compiled; a larger one is unusable.",
    ),
    maxSchemaDepth: count(
      64,
      4,
      1024,
      "Deepest nesting of subschemas that is compiled; a deeper schema is unusable.",
    ),
    maxPatterns: count(
      256,
      0,
      100_000,
      "Most regular expressions (`pattern`, `patternProperties`) one schema may hold; a schema with more is unusable.",
    ),
    cacheSize: count(
      1024,
      16,
      1_000_000,
      "Compiled schemas kept (least recently used first out), keyed by the hash of the canonical schema: a tool whose definition does not change is compiled once.",
    ),
    budget,
  })
  .prefault({})
  .describe(
    "Message validation: MCP schemas per revision, tool arguments and structured results against the tools' own schemas (docs/validation.md).",
  );

export type ValidationConfig = z.output<typeof validationSection>;
