// Writes the documents derived from code: docs/config.schema.json and docs/configuration.md from
// the config schema, docs/errors.md from the error catalogue. With --check, fails when any
// checked-in copy is out of date.
import { readFileSync, writeFileSync } from "node:fs";
import { z } from "zod";
import { configSchema } from "../src/config/schema.ts";
import { errorCatalogue } from "../src/errors.ts";

type JsonSchema = {
  type?: string | string[];
  description?: string;
  default?: unknown;
  enum?: unknown[];
  const?: unknown;
  properties?: Record<string, JsonSchema>;
  additionalProperties?: JsonSchema | boolean;
  items?: JsonSchema;
  oneOf?: JsonSchema[];
  anyOf?: JsonSchema[];
  required?: string[];
};

const schema = {
  ...z.toJSONSchema(configSchema, { io: "input", target: "draft-2020-12" }),
  $id: "https://portcullis.dev/schemas/config.schema.json",
  title: "Portcullis configuration",
};

function describeType(node: JsonSchema): string {
  if (node.const !== undefined) return `\`${JSON.stringify(node.const)}\``;
  if (node.enum) return node.enum.map((v) => `\`${String(v)}\``).join(" \\| ");
  if (node.type === "array") return `list of ${node.items ? describeType(node.items) : "values"}`;
  if (node.type === "object" && node.additionalProperties && typeof node.additionalProperties === "object") {
    const entry = node.additionalProperties;
    return `map of ${entry.oneOf || entry.properties ? "objects (below)" : describeType(entry)}`;
  }
  return Array.isArray(node.type) ? node.type.join(" \\| ") : (node.type ?? "value");
}

function rows(node: JsonSchema, path: string, out: string[]): void {
  const variants = node.oneOf ?? node.anyOf;
  if (variants) {
    for (const variant of variants) {
      const kind = variant.properties?.transport;
      const label = typeof kind?.const === "string" ? kind.const : (kind?.enum?.join("/") ?? "variant");
      rows(variant, `${path} (${String(label)})`, out);
    }
    return;
  }
  if (node.properties) {
    for (const [key, child] of Object.entries(node.properties)) {
      const childPath = path ? `${path}.${key}` : key;
      const required = node.required?.includes(key) && child.default === undefined ? " (required)" : "";
      const entries = typeof child.additionalProperties === "object" ? child.additionalProperties : undefined;
      const isSection =
        child.properties || child.oneOf || child.anyOf || entries?.oneOf || entries?.properties;
      const dflt = child.default === undefined || isSection ? "" : `\`${JSON.stringify(child.default)}\``;
      out.push(
        `| \`${childPath}\`${required} | ${describeType(child)} | ${dflt} | ${(child.description ?? "").replace(/\|/g, "\\|")} |`,
      );
      if (isSection) rows(child, childPath, out);
    }
    return;
  }
  if (node.type === "object" && node.additionalProperties && typeof node.additionalProperties === "object") {
    rows(node.additionalProperties, `${path}.<name>`, out);
  }
}

function configurationMarkdown(): string {
  const out = [
    "# Configuration",
    "",
    "Generated from `src/config/schema.ts` by `npm run schema`; do not edit by hand.",
    "",
    "The file is YAML. Unknown keys are errors, and every error names the file, line, column and key",
    "path. Any string may contain `${env:NAME}` (an environment variable of the gateway) or",
    "`${file:PATH}` (a file's content, relative to the config file, trailing newline removed).",
    "The gateway re-reads the file when it changes and on `SIGHUP`; an invalid file is rejected and",
    "the running config stays. `serve --host/--port` override `server.host/port` and survive reloads.",
    "",
    "| key | type | default | meaning |",
    "| --- | --- | --- | --- |",
  ];
  rows(schema as JsonSchema, "", out);
  return `${out.join("\n")}\n`;
}

function errorsMarkdown(): string {
  const out = [
    "# Errors",
    "",
    "Generated from `src/errors.ts` by `npm run schema`; do not edit by hand.",
    "",
    "Every error Portcullis raises carries its stable code in `error.data.code`. A denial by a",
    "security layer also names the `layer` and `rule` in `error.data`. Errors an upstream answered",
    "with are relayed unchanged.",
    "",
    "| code | JSON-RPC | HTTP | message |",
    "| --- | --- | --- | --- |",
  ];
  for (const [code, entry] of Object.entries(errorCatalogue)) {
    out.push(`| \`${code}\` | ${entry.jsonRpc} | ${entry.http} | ${entry.message} |`);
  }
  return `${out.join("\n")}\n`;
}

const outputs: [URL, string][] = [
  [new URL("../docs/config.schema.json", import.meta.url), `${JSON.stringify(schema, null, 2)}\n`],
  [new URL("../docs/configuration.md", import.meta.url), configurationMarkdown()],
  [new URL("../docs/errors.md", import.meta.url), errorsMarkdown()],
];

if (process.argv.includes("--check")) {
  const stale = outputs.filter(([url, text]) => {
    try {
      return readFileSync(url, "utf8") !== text;
    } catch {
      return true;
    }
  });
  for (const [url] of stale) process.stderr.write(`${url.pathname} is out of date: run \`npm run schema\`\n`);
  if (stale.length > 0) process.exit(1);
  process.stdout.write("generated documents are up to date\n");
} else {
  for (const [url, text] of outputs) {
    writeFileSync(url, text);
    process.stdout.write(`wrote ${url.pathname}\n`);
  }
}
