// Benign text nobody here wrote: every distinct README of the installed dependencies
// (node_modules, three levels deep; the first 64 KiB of each), scored for injection as a tool
// result would be, by the shipped default (the learned score) and by the rules alone. It reads what
// `npm ci` installed, so its figures move with the lockfile; it is a measurement, not a test.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { scoreInjection } from "../src/layers/data/injection.ts";

const root = join(import.meta.dirname, "../node_modules");
const files: string[] = [];
const walk = (dir: string, depth: number): void => {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory() && depth < 3 && entry.name !== ".bin") walk(path, depth + 1);
    else if (entry.isFile() && /^readme\.md$/i.test(entry.name)) files.push(path);
  }
};
walk(root, 0);
const seen = new Set<string>();
const flagged: string[] = [];
let read = 0;
let byRules = 0;
for (const file of files.sort()) {
  const text = readFileSync(file, "utf8");
  if (seen.has(text) || text.length < 200) continue;
  seen.add(text);
  read++;
  const head = text.slice(0, 65_536);
  if (scoreInjection(head, [], { scorer: "rules" }).score >= 0.5) byRules++;
  const verdict = scoreInjection(head);
  if (verdict.score >= 0.5)
    flagged.push(`${file.slice(root.length + 1)} (${verdict.rules.slice(0, 3).join(", ")})`);
}
const pct = (n: number) => `${((100 * n) / read).toFixed(1)} %`;
console.log(
  `${read} README files: the default flags ${flagged.length} (${pct(flagged.length)}), the rules alone ${byRules} (${pct(byRules)})`,
);
for (const line of flagged) console.log(`  ${line}`);
