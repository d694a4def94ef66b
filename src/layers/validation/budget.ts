// The work one check may do: schema evaluations and characters matched by regular expressions while
// a message is validated, and the time an upstream schema's expressions may take to compile. Ajv has
// no budget of its own, so the compiled code calls `spendStep` at every subschema (see schemaWalk.ts).

/** A check needed more work than its budget: the schema (or the data with it) is refused. */
export class BudgetExceeded extends Error {
  readonly resource: "steps" | "pattern-characters" | "compile-time";

  constructor(resource: BudgetExceeded["resource"], detail: string) {
    super(detail);
    this.name = "BudgetExceeded";
    this.resource = resource;
  }
}

interface RunBudget {
  steps: number;
  characters: number;
  /** More steps, granted once when the first run out (what the data's size allows). */
  topUp: (() => number) | undefined;
}

/** The budget of the validation running now (validation is synchronous, so one at a time). */
let running: RunBudget | undefined;
/** When the compilation running now must have finished its regular expressions (performance.now()). */
let compileDeadline: number | undefined;

/**
 * Runs one validation with at most `steps` subschema evaluations (plus what `topUp` grants once they
 * run out: sized by the data, computed only for data that needs it) and `characters` matched.
 */
export function withBudget<T>(steps: number, characters: number, topUp: () => number, run: () => T): T {
  const outer = running;
  running = { steps, characters, topUp };
  try {
    return run();
  } finally {
    running = outer;
  }
}

/** Called by compiled schemas at each subschema they evaluate. */
export function spendStep(): true {
  // Fail-secure: compiled code never runs outside a budget.
  if (running && --running.steps >= 0) return true;
  const grant = running?.topUp;
  if (running && grant) {
    running.topUp = undefined;
    running.steps += grant();
    if (running.steps >= 0) return true;
  }
  throw new BudgetExceeded("steps", "checking this message needs more schema evaluations than allowed");
}

/** Called before a regular expression examines `length` characters. */
export function spendCharacters(length: number): void {
  if (!running || (running.characters -= length) < 0)
    throw new BudgetExceeded(
      "pattern-characters",
      "checking this message needs its patterns to examine more characters than allowed",
    );
}

/** Runs one schema compilation whose regular expressions must compile within `ms`. */
export function withCompileDeadline<T>(ms: number, run: () => T): T {
  const outer = compileDeadline;
  compileDeadline = performance.now() + ms;
  try {
    return run();
  } finally {
    compileDeadline = outer;
  }
}

/** Called after each regular expression compiled: the compilation stops once past its deadline. */
export function checkCompileDeadline(): void {
  if (compileDeadline !== undefined && performance.now() > compileDeadline)
    throw new BudgetExceeded("compile-time", "the schema's regular expressions take too long to compile");
}
