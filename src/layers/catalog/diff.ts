// A line diff of two definitions for `portcullis tools diff`: both printed as canonical JSON (keys
// sorted, two-space indent), compared by longest common subsequence, unchanged runs folded.
import canonicalize from "canonicalize";

export interface DiffLine {
  readonly op: " " | "-" | "+";
  readonly text: string;
}

/** Above this many line pairs the comparison gives up on alignment: all old lines, then all new. */
const MAX_CELLS = 4_000_000;

export function definitionLines(definition: unknown): string[] {
  const canonical = canonicalize(definition ?? null) ?? "null";
  return JSON.stringify(JSON.parse(canonical), null, 2).split("\n");
}

export function lineDiff(before: readonly string[], after: readonly string[]): DiffLine[] {
  const n = before.length;
  const m = after.length;
  if (n * m > MAX_CELLS)
    return [
      ...before.map((text) => ({ op: "-" as const, text })),
      ...after.map((text) => ({ op: "+" as const, text })),
    ];
  // lcs[i][j]: the longest common subsequence of before[i..] and after[j..], one row at a time.
  const lcs = Array.from({ length: n + 1 }, () => new Uint32Array(m + 1));
  for (let i = n - 1; i >= 0; i--)
    for (let j = m - 1; j >= 0; j--)
      lcs[i]![j] =
        before[i] === after[j] ? lcs[i + 1]![j + 1]! + 1 : Math.max(lcs[i + 1]![j]!, lcs[i]![j + 1]!);
  const out: DiffLine[] = [];
  let i = 0;
  let j = 0;
  while (i < n && j < m) {
    if (before[i] === after[j]) {
      out.push({ op: " ", text: before[i++]! });
      j++;
    } else if (lcs[i + 1]![j]! >= lcs[i]![j + 1]!) out.push({ op: "-", text: before[i++]! });
    else out.push({ op: "+", text: after[j++]! });
  }
  while (i < n) out.push({ op: "-", text: before[i++]! });
  while (j < m) out.push({ op: "+", text: after[j++]! });
  return out;
}

/** The diff as text, with unchanged runs longer than twice `context` folded to a marker. */
export function formatDiff(lines: readonly DiffLine[], context = 3): string {
  const out: string[] = [];
  const near = (index: number) =>
    lines.slice(Math.max(0, index - context), index + context + 1).some((l) => l.op !== " ");
  let folded = 0;
  lines.forEach((line, index) => {
    if (line.op === " " && !near(index)) {
      folded++;
      return;
    }
    if (folded > 0) out.push(`  … ${folded} unchanged line${folded === 1 ? "" : "s"}`);
    folded = 0;
    out.push(`${line.op} ${line.text}`);
  });
  if (folded > 0) out.push(`  … ${folded} unchanged line${folded === 1 ? "" : "s"}`);
  return `${out.join("\n")}\n`;
}
