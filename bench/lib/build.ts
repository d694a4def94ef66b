// Keeps dist/ current before a measurement: the gateway is measured as users run it, from the
// built output, rebuilt (`tsc -p tsconfig.build.json`) when any source file is newer.
import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";

function newestMtime(dir: string): number {
  return readdirSync(dir, { withFileTypes: true }).reduce((max, entry) => {
    const path = join(dir, entry.name);
    return Math.max(max, entry.isDirectory() ? newestMtime(path) : statSync(path).mtimeMs);
  }, 0);
}

/** Builds when needed; a build with type errors still emits, so it only warns when dist/ exists. */
export function ensureBuilt(repoRoot: string, log: (text: string) => void): void {
  const dist = join(repoRoot, "dist");
  const entry = join(dist, "cli/main.js");
  if (existsSync(entry) && newestMtime(dist) >= newestMtime(join(repoRoot, "src"))) return;
  log("building dist/ (tsc -p tsconfig.build.json) …");
  try {
    execFileSync(
      process.execPath,
      [join(repoRoot, "node_modules/typescript/bin/tsc"), "-p", "tsconfig.build.json"],
      { cwd: repoRoot, stdio: ["ignore", "pipe", "pipe"] },
    );
  } catch (err) {
    const output = (err as { stdout?: Buffer }).stdout?.toString() ?? String(err);
    if (!existsSync(entry)) throw new Error(`the build failed:\n${output}`, { cause: err });
    log(`warning: the build reported errors; measuring dist/ as emitted:\n${output.slice(0, 2000)}`);
  }
}
