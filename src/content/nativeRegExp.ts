// V8 runs a new regular expression in its bytecode interpreter first and compiles it to machine
// code once it has run ("tier-up"). The content scanners run dozens of large case-insensitive
// alternations over every result and definition; under that default they spend much of their work
// in the interpreter (bench/scanners.ts: the catalogue guard's first look at a definition is about
// three times slower, the argument guard up to six). `--no-regexp-tier-up` compiles every expression
// to machine code at its first use. It changes how expressions run, never what they match.
//
// The flag must be given when node starts: the `portcullis` command's first line does, and so do
// `npm test`, `npm run demo` and the benchmark. Set later (v8.setFlagsFromString), it crashed the
// process now and then inside V8's regular-expression code, so the gateway never sets it itself; it
// logs that the scanners run slower when it is missing.
export const NATIVE_REGEXP_FLAG = "--no-regexp-tier-up";

/** Whether this process was started with the flag. */
export function nativeRegExps(): boolean {
  return process.execArgv.includes(NATIVE_REGEXP_FLAG);
}
