// The content scanners on their own, in this process: MB/s of the data guard's scans of a result
// (secrets and personal data, injection score, exfiltration links, and the whole layer), of the
// catalogue guard's definition scan (uncached and unchanged), and of tool-argument checks (the
// inputSchema and the argument guard), on deterministic tool output of 1 KiB, 64 KiB and 1 MiB.
import { performance } from "node:perf_hooks";
import { median, percentile } from "./lib/stats.ts";
import { SCANNER_SUBJECTS, type Subject } from "./scanSubjects.ts";

export const SCANNER_SIZES = [1024, 65_536, 1_048_576] as const;

/** How long to warm up and measure each scanner at each size. */
export interface ScannerBudget {
  readonly warmupMs: number;
  /** A sample repeats the scan until it has taken at least this long. */
  readonly sampleMs: number;
  /** Samples are taken until this much time is spent, within the bounds below. */
  readonly measureMs: number;
  readonly minSamples: number;
  readonly maxSamples: number;
}

export const FULL_BUDGET: ScannerBudget = {
  warmupMs: 300,
  sampleMs: 40,
  measureMs: 1500,
  minSamples: 7,
  maxSamples: 25,
};
export const QUICK_BUDGET: ScannerBudget = {
  warmupMs: 40,
  sampleMs: 10,
  measureMs: 150,
  minSamples: 3,
  maxSamples: 7,
};

export interface ScannerRow {
  readonly scanner: string;
  readonly label: string;
  /** Nominal input size, and the bytes actually scanned (UTF-8 text, or canonical JSON). */
  readonly size: number;
  readonly bytes: number;
  readonly samples: number;
  readonly opsPerSample: number;
  /** Median and quartiles of the samples, MB (10^6 bytes) per second of CPU time. */
  readonly mbPerSecond: number;
  readonly mbPerSecondP25: number;
  readonly mbPerSecondP75: number;
  readonly mbPerSecondMin: number;
  readonly mbPerSecondMax: number;
  /** Median per scan: CPU time and wall time. */
  readonly cpuMicrosPerOp: number;
  readonly wallMicrosPerOp: number;
  /** What the scan found or decided (the same every run). */
  readonly outcome: string;
}

/**
 * The process's CPU time in µs: nothing else runs in it meanwhile, and it counts the garbage
 * collector's helper threads. (Linux accounts a single thread's time in scheduler ticks, too coarse
 * for a sample.)
 */
function cpuMicros(): number {
  const usage = process.cpuUsage();
  return usage.user + usage.system;
}

async function repeat(run: () => unknown, count: number): Promise<void> {
  for (let i = 0; i < count; i++) {
    const result = run();
    if (result instanceof Promise) await result;
  }
}

/** Warm-up, then samples of `opsPerSample` scans each: median and spread of MB/s. */
async function measure(subject: Subject, size: number, budget: ScannerBudget): Promise<ScannerRow> {
  const { bytes, run, outcome } = await subject.prepare(size);
  let warmups = 0;
  const warmStart = performance.now();
  // Once at least (V8 compiles a regular expression to machine code after its first run); small
  // inputs run many times within the warm-up, which also lets the JIT optimise the scanners' code.
  while (warmups < 1 || performance.now() - warmStart < budget.warmupMs) {
    await repeat(run, 1);
    warmups++;
  }
  const opMs = Math.max(1e-3, (performance.now() - warmStart) / warmups);
  const opsPerSample = Math.max(1, Math.ceil(budget.sampleMs / opMs));
  const wanted = Math.floor(budget.measureMs / (opsPerSample * opMs));
  const count = Math.min(budget.maxSamples, Math.max(budget.minSamples, wanted));
  const cpu: number[] = [];
  const wall: number[] = [];
  for (let i = 0; i < count; i++) {
    const cpuBefore = cpuMicros();
    const wallBefore = performance.now();
    await repeat(run, opsPerSample);
    wall.push(((performance.now() - wallBefore) * 1000) / opsPerSample);
    cpu.push(Math.max(1e-3, (cpuMicros() - cpuBefore) / opsPerSample));
  }
  // bytes per µs is MB (10^6 bytes) per second.
  const rates = cpu.map((us) => bytes / us).sort((a, b) => a - b);
  return {
    scanner: subject.scanner,
    label: subject.label,
    size,
    bytes,
    samples: count,
    opsPerSample,
    mbPerSecond: median(rates) ?? 0,
    mbPerSecondP25: percentile(rates, 25) ?? 0,
    mbPerSecondP75: percentile(rates, 75) ?? 0,
    mbPerSecondMin: rates[0] ?? 0,
    mbPerSecondMax: rates[rates.length - 1] ?? 0,
    cpuMicrosPerOp: median(cpu) ?? 0,
    wallMicrosPerOp: median(wall) ?? 0,
    outcome,
  };
}

export async function measureScanners(
  budget: ScannerBudget = FULL_BUDGET,
  sizes: readonly number[] = SCANNER_SIZES,
  log: (text: string) => void = () => undefined,
): Promise<ScannerRow[]> {
  const rows: ScannerRow[] = [];
  for (const subject of SCANNER_SUBJECTS) {
    for (const size of sizes) {
      const row = await measure(subject, size, budget);
      rows.push(row);
      log(
        `scanner ${row.scanner} ${sizeLabel(size)}: ${row.mbPerSecond.toFixed(1)} MB/s ` +
          `(${row.mbPerSecondP25.toFixed(1)}–${row.mbPerSecondP75.toFixed(1)}), ${duration(row.cpuMicrosPerOp)} per scan`,
      );
    }
  }
  return rows;
}

export function sizeLabel(bytes: number): string {
  if (bytes >= 1_048_576 && bytes % 1_048_576 === 0) return `${bytes / 1_048_576} MiB`;
  if (bytes >= 1024 && bytes % 1024 === 0) return `${bytes / 1024} KiB`;
  return `${bytes} B`;
}

function duration(micros: number): string {
  if (micros >= 10_000) return `${(micros / 1000).toFixed(0)} ms`;
  if (micros >= 1000) return `${(micros / 1000).toFixed(1)} ms`;
  return `${micros.toFixed(micros >= 100 ? 0 : 1)} µs`;
}

const rate = (value: number) => (value >= 100 ? value.toFixed(0) : value.toFixed(1));

export function scannerMarkdown(rows: readonly ScannerRow[]): string {
  const lines = [
    "### Content scanners (in process)",
    "",
    "| scanner | input | bytes | MB/s (median) | MB/s p25–p75 | CPU per scan | wall per scan | samples × scans | outcome |",
    "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ...rows.map(
      (r) =>
        `| ${r.label} | ${sizeLabel(r.size)} | ${r.bytes.toLocaleString("en-US")} | ${rate(r.mbPerSecond)} | ` +
        `${rate(r.mbPerSecondP25)}–${rate(r.mbPerSecondP75)} | ${duration(r.cpuMicrosPerOp)} | ${duration(r.wallMicrosPerOp)} | ` +
        `${r.samples} × ${r.opsPerSample} | ${r.outcome} |`,
    ),
  ];
  return lines.join("\n");
}

if (import.meta.main) {
  const quick = process.argv.includes("--quick");
  const rows = await measureScanners(quick ? QUICK_BUDGET : FULL_BUDGET, SCANNER_SIZES, (text) =>
    process.stderr.write(`${text}\n`),
  );
  process.stdout.write(`${scannerMarkdown(rows)}\n`);
}
