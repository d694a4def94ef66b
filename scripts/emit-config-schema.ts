// Writes docs/config.schema.json from the config schema (the single source of truth); with
// --check, fails when the checked-in file is out of date.
import { readFileSync, writeFileSync } from "node:fs";
import { z } from "zod";
import { configSchema } from "../src/config/schema.ts";

const target = new URL("../docs/config.schema.json", import.meta.url);
const schema = {
  ...z.toJSONSchema(configSchema, { io: "input", target: "draft-2020-12" }),
  $id: "https://portcullis.dev/schemas/config.schema.json",
  title: "Portcullis configuration",
};
const text = `${JSON.stringify(schema, null, 2)}\n`;

if (process.argv.includes("--check")) {
  let current = "";
  try {
    current = readFileSync(target, "utf8");
  } catch {
    // missing counts as out of date
  }
  if (current !== text) {
    process.stderr.write("docs/config.schema.json is out of date: run `npm run schema`\n");
    process.exit(1);
  }
  process.stdout.write("docs/config.schema.json is up to date\n");
} else {
  writeFileSync(target, text);
  process.stdout.write("wrote docs/config.schema.json\n");
}
