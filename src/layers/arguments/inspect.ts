// Walks a tool call's arguments (objects and arrays, bounded in depth and size) and runs on every
// string the detector its plan assigns. URL hosts that need DNS are handed back as pending checks,
// so that a call without URLs never waits.
import type { ArgumentKind } from "../../config/argumentsSchema.ts";
import { finding, type Finding } from "./findings.ts";
import { checkPath } from "./paths.ts";
import type { Action, Assignment, ToolPlan } from "./plan.ts";
import { checkCommand, checkOperand } from "./shell.ts";
import { checkSql } from "./sql.ts";
import { checkSqlReadonly } from "./sqlReadonly.ts";
import { checkText } from "./text.ts";
import { checkUrl, type UrlPolicy } from "./urls.ts";

interface Located {
  /** JSON pointer of the argument (from the `arguments` object). */
  readonly pointer: string;
  /** The argument's kind; `structure` for arguments too large or deep to check. */
  readonly kind: ArgumentKind | "structure";
  readonly action: Action;
  readonly inferred: boolean;
}

export interface Hit extends Located {
  readonly finding: Finding;
}

export interface PendingHosts extends Located {
  readonly names: readonly string[];
}

export interface Inspection {
  /** Findings in document order; the walk stops at the first one that blocks. */
  readonly hits: Hit[];
  readonly pending: PendingHosts[];
  /** Set when the arguments are too deep or too large to check (refused: nothing goes unchecked). */
  readonly tooLarge?: { readonly pointer: string; readonly finding: Finding };
}

export interface InspectLimits {
  readonly maxDepth: number;
  readonly maxStrings: number;
}

interface Frame {
  readonly value: unknown;
  readonly path: readonly string[];
  readonly key: string | undefined;
}

export function inspectArguments(
  args: unknown,
  plan: ToolPlan,
  limits: InspectLimits,
  urls: UrlPolicy,
): Inspection {
  const hits: Hit[] = [];
  const pending: PendingHosts[] = [];
  const stack: Frame[] = [{ value: args, path: [], key: undefined }];
  let visited = 0;
  while (stack.length > 0) {
    const { value, path, key } = stack.pop() as Frame;
    if (++visited > limits.maxStrings)
      return { hits, pending, tooLarge: { pointer: pointerText(path), finding: tooLarge("values") } };
    if (typeof value === "string") {
      const assignment = plan.assign(path, key);
      if (!assignment) continue;
      const located: Located = {
        pointer: pointerText(path),
        kind: assignment.kind,
        action: assignment.action,
        inferred: assignment.inferred,
      };
      const result = detect(value, assignment, urls);
      if (result === undefined) continue;
      if ("rule" in result) {
        hits.push({ ...located, finding: result });
        if (assignment.action === "block") break;
      } else if (result.length > 0) pending.push({ ...located, names: result });
      continue;
    }
    if (!value || typeof value !== "object") continue;
    if (path.length >= limits.maxDepth)
      return { hits, pending, tooLarge: { pointer: pointerText(path), finding: tooLarge("nesting") } };
    // Children pushed in reverse, so that they are checked (and reported) in document order.
    if (Array.isArray(value)) {
      for (let i = value.length - 1; i >= 0; i--)
        stack.push({ value: value[i] as unknown, path: [...path, String(i)], key });
    } else {
      const entries = Object.entries(value as Record<string, unknown>);
      for (let i = entries.length - 1; i >= 0; i--) {
        const [name, child] = entries[i] as [string, unknown];
        stack.push({ value: child, path: [...path, name], key: name });
      }
    }
  }
  return { hits, pending };
}

/** A finding, nothing, or (for a URL) the host names still to resolve. */
function detect(
  value: string,
  assignment: Assignment,
  urls: UrlPolicy,
): Finding | readonly string[] | undefined {
  switch (assignment.kind) {
    case "path":
      return checkPath(value, assignment.paths);
    case "url": {
      const verdict = checkUrl(value, urls);
      return verdict.finding ?? verdict.names;
    }
    case "sql":
      return checkSql(value);
    case "sql-readonly":
      return checkSqlReadonly(value);
    case "command":
      return checkCommand(value);
    case "operand":
      return checkOperand(value);
    case "text":
      return checkText(value);
  }
}

function tooLarge(what: "values" | "nesting"): Finding {
  return finding(
    "argument-limits",
    what === "values" ? "too many values to check" : "arguments nested too deeply to check",
  );
}

const MAX_POINTER = 256;

/** The JSON pointer of a path, cut to a readable length (keys come from the client). */
export function pointerText(path: readonly string[]): string {
  const text = path.map((s) => `/${s.replace(/~/g, "~0").replace(/\//g, "~1")}`).join("");
  return text.length > MAX_POINTER ? `${text.slice(0, MAX_POINTER)}…` : text;
}
