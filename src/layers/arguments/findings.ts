// What a detector reports: the rule that fired and a short reason that never repeats the value, so
// that refusals, events and logs cannot carry the payload (or a secret inside it) any further.

export interface Finding {
  readonly rule: string;
  readonly detail: string;
}

export function finding(rule: string, detail: string): Finding {
  return { rule, detail };
}

/** C0 controls and DEL: no path, URL or command line has a reason to carry them. */
// eslint-disable-next-line no-control-regex -- control characters are what this pattern looks for
export const CONTROL_CHARACTER = /[\u0000-\u001f\u007f]/;
