// Finds secrets and personal data in JSON values and replaces them with a marker naming the kind:
// values under secret-looking keys, credential formats (the project's rules and secretlint's
// recommended preset, see scan.ts) and PII (e-mail addresses, card numbers that pass the Luhn check,
// IBANs that pass their checksum, national identity numbers). Structure is kept. This is the audit
// trail's redaction: it is conservative and also replaces published examples and placeholders.
import { redactionMarker, replaceFindings, scanText } from "./scan.ts";

export interface Redaction<T> {
  readonly value: T;
  /** The kinds found, each once, in the order first found. */
  readonly kinds: readonly string[];
}

/** Keys whose values are secrets whatever they look like (`password`, `db_password`, `apiKey`, …). */
export const SECRET_KEY =
  /^(?:[^\n]*[-_.]?)?(?:password|passwd|passphrase|pwd|secret|secret[-_]?key|token|api[-_]?key|apikey|access[-_]?key|private[-_]?key|authorization|auth|cookie|credential|credentials|session[-_]?id|client[-_]?secret)$/i;

/** Strings longer than this are not scanned but replaced whole: bounded work per value. */
const MAX_SCANNED = 1_048_576;
const MAX_DEPTH = 64;

export function redact<T>(value: T): Redaction<T> {
  const kinds = new Set<string>();
  const walk = (v: unknown, depth: number): unknown => {
    if (typeof v === "string") return redactText(v, kinds);
    if (v === null || typeof v !== "object") return v;
    if (depth >= MAX_DEPTH) {
      kinds.add("too-deep");
      return redactionMarker("too-deep");
    }
    if (Array.isArray(v)) return v.map((item) => walk(item, depth + 1));
    // Own properties only, defined (not assigned), so that a `__proto__` key is kept as data.
    return Object.fromEntries(
      Object.entries(v).map(([key, item]) => {
        if (SECRET_KEY.test(key) && item !== null && item !== "" && typeof item !== "boolean") {
          kinds.add("secret-field");
          return [key, redactionMarker("secret-field")];
        }
        return [key, walk(item, depth + 1)];
      }),
    );
  };
  return { value: walk(value, 0) as T, kinds: [...kinds] };
}

function redactText(text: string, kinds: Set<string>): string {
  if (text.length > MAX_SCANNED) {
    kinds.add("too-long");
    return redactionMarker("too-long");
  }
  return replaceFindings(text, scanText(text), (finding) => {
    kinds.add(finding.kind);
    return redactionMarker(finding.kind);
  });
}
