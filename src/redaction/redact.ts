// Finds secrets and personal data in JSON values and replaces them with a marker naming the kind:
// values under secret-looking keys, well-known credential formats (cloud keys, tokens, JWTs, PEM
// private keys, passwords in URLs) and PII (e-mail addresses, card numbers that pass the Luhn
// check, US social security numbers, IBANs that pass their checksum). Structure is kept.

export interface Redaction<T> {
  readonly value: T;
  /** The kinds found, each once, in the order first found. */
  readonly kinds: readonly string[];
}

const SECRET_KEY =
  /^(?:.*[-_.]?)?(?:password|passwd|pwd|secret|token|api[-_]?key|apikey|access[-_]?key|private[-_]?key|authorization|auth|cookie|credential|credentials|session[-_]?id|client[-_]?secret)$/i;

interface Pattern {
  readonly kind: string;
  readonly regex: RegExp;
  /** A second check on the match (a checksum) before it counts. */
  readonly valid?: (match: string) => boolean;
}

const PATTERNS: readonly Pattern[] = [
  {
    kind: "private-key",
    regex: /-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z ]*PRIVATE KEY-----/g,
  },
  { kind: "jwt", regex: /\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}/g },
  { kind: "aws-access-key", regex: /\b(?:AKIA|ASIA|ABIA|ACCA)[0-9A-Z]{16}\b/g },
  { kind: "github-token", regex: /\b(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{60,})\b/g },
  { kind: "slack-token", regex: /\bxox[abposr]-[A-Za-z0-9-]{10,}/g },
  { kind: "google-api-key", regex: /\bAIza[0-9A-Za-z_-]{35}\b/g },
  { kind: "stripe-key", regex: /\b(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{16,}\b/g },
  { kind: "api-key", regex: /\bsk-(?:proj-|ant-)?[A-Za-z0-9_-]{20,}/g },
  { kind: "bearer-token", regex: /\bBearer\s+[A-Za-z0-9._~+/-]{16,}=*/g },
  { kind: "url-password", regex: /(?<=\b[a-z][a-z0-9+.-]*:\/\/[^:/@\s]+:)[^@/\s]+(?=@)/gi },
  { kind: "email", regex: /\b[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}\b/g },
  { kind: "iban", regex: /\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?\b/g, valid: ibanValid },
  { kind: "card-number", regex: /\b\d(?:[ -]?\d){12,18}\b/g, valid: luhnValid },
  { kind: "us-ssn", regex: /\b(?!000|666|9\d\d)\d{3}-(?!00)\d{2}-(?!0000)\d{4}\b/g },
];

const MAX_DEPTH = 64;

export function redact<T>(value: T): Redaction<T> {
  const kinds = new Set<string>();
  const walk = (v: unknown, depth: number): unknown => {
    if (typeof v === "string") return redactText(v, kinds);
    if (v === null || typeof v !== "object") return v;
    if (depth >= MAX_DEPTH) {
      kinds.add("too-deep");
      return "[REDACTED:too-deep]";
    }
    if (Array.isArray(v)) return v.map((item) => walk(item, depth + 1));
    const out: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(v)) {
      if (SECRET_KEY.test(key) && item !== null && item !== "" && typeof item !== "boolean") {
        kinds.add("secret-field");
        out[key] = "[REDACTED:secret-field]";
      } else out[key] = walk(item, depth + 1);
    }
    return out;
  };
  return { value: walk(value, 0) as T, kinds: [...kinds] };
}

function redactText(text: string, kinds: Set<string>): string {
  let out = text;
  for (const { kind, regex, valid } of PATTERNS) {
    out = out.replace(regex, (match) => {
      if (valid && !valid(match)) return match;
      kinds.add(kind);
      return `[REDACTED:${kind}]`;
    });
  }
  return out;
}

function luhnValid(match: string): boolean {
  const digits = match.replace(/[ -]/g, "");
  if (digits.length < 13 || digits.length > 19) return false;
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let d = Number(digits[digits.length - 1 - i]);
    if (i % 2 === 1) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return sum % 10 === 0;
}

function ibanValid(match: string): boolean {
  const iban = match.replace(/ /g, "");
  if (iban.length < 15 || iban.length > 34) return false;
  const rearranged = iban.slice(4) + iban.slice(0, 4);
  let remainder = 0;
  for (const ch of rearranged) {
    const n = /[A-Z]/.test(ch) ? String(ch.charCodeAt(0) - 55) : ch;
    for (const digit of n) remainder = (remainder * 10 + Number(digit)) % 97;
  }
  return remainder === 1;
}
