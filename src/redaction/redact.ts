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
  /^(?:[^\n]*[-_.]?)?(?:password|passwd|passphrase|pwd|secret|secret[-_]?key|token|api[-_]?key|apikey|access[-_]?key|private[-_]?key|authorization|auth|cookie|credential|credentials|session[-_]?id|client[-_]?secret)$/i;

interface Pattern {
  readonly kind: string;
  readonly regex: RegExp;
  /** A second check on the match (a checksum) before it counts. */
  readonly valid?: (match: string) => boolean;
}

// Every pattern that starts with a run of token characters anchors with a lookbehind (not `\b`), so
// that a failed match is tried once per run, not once per character: linear, whatever the input.
const PATTERNS: readonly Pattern[] = [
  {
    kind: "private-key",
    regex: /-----BEGIN [A-Z ]{0,40}PRIVATE KEY-----[\s\S]*?-----END [A-Z ]{0,40}PRIVATE KEY-----/g,
  },
  { kind: "jwt", regex: /(?<![A-Za-z0-9_-])eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}/g },
  { kind: "portcullis-api-key", regex: /(?<![A-Za-z0-9_-])pk_[0-9a-f]{16}_[A-Za-z0-9_-]{43}/g },
  { kind: "aws-access-key", regex: /(?<![A-Za-z0-9])(?:AKIA|ASIA|ABIA|ACCA)[0-9A-Z]{16}(?![A-Za-z0-9])/g },
  {
    kind: "github-token",
    regex: /(?<![A-Za-z0-9_])(?:gh[pousr]_[A-Za-z0-9]{36,255}|github_pat_[A-Za-z0-9_]{60,255})/g,
  },
  { kind: "gitlab-token", regex: /(?<![A-Za-z0-9_-])glpat-[A-Za-z0-9_-]{20,}/g },
  { kind: "npm-token", regex: /(?<![A-Za-z0-9_])npm_[A-Za-z0-9]{36}/g },
  { kind: "slack-token", regex: /(?<![A-Za-z0-9-])xox[abposr]-[A-Za-z0-9-]{10,}/g },
  { kind: "google-api-key", regex: /(?<![A-Za-z0-9_-])AIza[0-9A-Za-z_-]{35}(?![A-Za-z0-9_-])/g },
  { kind: "stripe-key", regex: /(?<![A-Za-z0-9_])(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{16,}/g },
  { kind: "api-key", regex: /(?<![A-Za-z0-9_-])sk-(?:proj-|ant-)?[A-Za-z0-9_-]{20,}/g },
  { kind: "bearer-token", regex: /(?<![A-Za-z])Bearer +[A-Za-z0-9._~+/-]{16,}=*/g },
  { kind: "basic-credentials", regex: /(?<![A-Za-z])Basic +[A-Za-z0-9+/]{8,}={0,2}/g },
  { kind: "url-password", regex: /(?<=[a-z][a-z0-9+.-]{0,20}:\/\/[^:/@\s]{1,256}:)[^@/\s]{1,256}(?=@)/gi },
  {
    kind: "email",
    regex:
      /(?<![A-Za-z0-9._%+-])[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63}){0,8}\.[A-Za-z]{2,24}(?![A-Za-z0-9-])/g,
  },
  {
    kind: "iban",
    regex: /(?<![A-Za-z0-9])[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?(?![A-Za-z0-9])/g,
    valid: ibanValid,
  },
  { kind: "card-number", regex: /(?<![0-9])\d(?:[ -]?\d){12,18}(?![0-9])/g, valid: luhnValid },
  { kind: "us-ssn", regex: /(?<![0-9])(?!000|666|9\d\d)\d{3}-(?!00)\d{2}-(?!0000)\d{4}(?![0-9])/g },
];

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
      return "[REDACTED:too-deep]";
    }
    if (Array.isArray(v)) return v.map((item) => walk(item, depth + 1));
    // Own properties only, defined (not assigned), so that a `__proto__` key is kept as data.
    return Object.fromEntries(
      Object.entries(v).map(([key, item]) => {
        if (SECRET_KEY.test(key) && item !== null && item !== "" && typeof item !== "boolean") {
          kinds.add("secret-field");
          return [key, "[REDACTED:secret-field]"];
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
    return "[REDACTED:too-long]";
  }
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
