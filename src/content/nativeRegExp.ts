// V8 runs a new regular expression in its bytecode interpreter first and compiles it to machine
// code once it has run ("tier-up"). The content scanners run dozens of large case-insensitive
// alternations over every result and definition, and under that default they stayed in the
// interpreter for most of their work: measured on Node 22 over 64 KiB of tool output, the
// directive analysis took 95 ms and the secret and personal-data scan 35 ms, against 34 ms and
// 5 ms with machine code from the first run (bench/scanners.ts; docs/benchmarks.md). So the
// gateway compiles every expression to machine code at once. The flag changes how expressions run,
// never what they match; it applies to expressions compiled after it is set, which are all of the
// scanners' (V8 compiles an expression at its first use).
import { setFlagsFromString } from "node:v8";

setFlagsFromString("--no-regexp-tier-up");
