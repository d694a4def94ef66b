// Redaction of secrets and personal data in JSON values: each kind it must catch, and the benign
// look-alikes it must leave alone.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { redact } from "../../src/redaction/redact.ts";

const jwt =
  "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4ifQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c";

describe("redaction", () => {
  it("replaces values under secret-looking keys, at any depth", () => {
    const { value, kinds } = redact({
      user: "bob",
      auth: { password: "hunter2", api_key: "k" },
      list: [{ token: "t" }],
    });
    assert.deepEqual(value, {
      user: "bob",
      auth: "[REDACTED:secret-field]",
      list: [{ token: "[REDACTED:secret-field]" }],
    });
    assert.deepEqual(kinds, ["secret-field"]);
  });

  for (const [kind, text] of [
    ["aws-access-key", "AKIAIOSFODNN7EXAMPLE"],
    ["github-token", `ghp_${"a".repeat(36)}`],
    ["jwt", jwt],
    ["private-key", "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBg\n-----END PRIVATE KEY-----"],
    ["url-password", "postgres://app:s3cr3t@db.internal/prod"],
    ["email", "alice@example.org"],
    ["card-number", "4111 1111 1111 1111"],
    ["us-ssn", "123-45-6789"],
    ["iban", "GB82 WEST 1234 5698 7654 32"],
    ["bearer-token", "Bearer abcdefghijklmnopqrstuvwxyz012345"],
  ] as const) {
    it(`finds a ${kind} inside text`, () => {
      const { value, kinds } = redact({ note: `before ${text} after` });
      assert.ok(kinds.includes(kind), `kinds: ${kinds.join(",")}`);
      const secretPart = kind === "url-password" ? "s3cr3t" : text.slice(-8);
      assert.ok(!value.note.includes(secretPart), value.note);
      assert.match(value.note, /^before .*after$/);
    });
  }

  for (const [kind, text] of [
    ["anthropic-key", `sk-ant-api03-${"Qx7".repeat(31)}AA`],
    ["slack-webhook", "https://hooks.slack.com/services/T0ABCDEF1/B0ABCDEF2/Xy7pQ2mN9vR4tL6wK8sD3fG5"],
    ["azure-storage-key", `AccountKey=${"Ab3+".repeat(21)}Ab==`],
    ["password", "DB_PASSWORD=Xk9#mP2vL7qz"],
    ["uk-nino", "AB 12 34 56 C"],
    ["fr-nir", "2 84 12 76 451 089 93"],
    ["es-dni", "12345678Z"],
  ] as const) {
    it(`finds a ${kind} the audit trail's first rules did not know`, () => {
      const { value, kinds } = redact({ note: `before ${text} after` });
      assert.ok(kinds.includes(kind), `kinds: ${kinds.join(",")}`);
      assert.ok(!value.note.includes(text.slice(-6)), value.note);
    });
  }

  it("keeps the user name of a URL and redacts only its password", () => {
    assert.equal(redact("https://app:pw123@host/x").value, "https://app:[REDACTED:url-password]@host/x");
  });

  it("leaves look-alikes alone: numbers failing Luhn, IBANs failing their checksum, plain words", () => {
    const text =
      "order 4111 1111 1111 1112, ref GB82 WEST 1234 5698 7654 33, token bucket of 5, password reset page";
    const { value, kinds } = redact({ note: text, tokens: 5, passwordless: true });
    assert.deepEqual(kinds, []);
    assert.deepEqual(value, { note: text, tokens: 5, passwordless: true });
  });

  it("cuts off values nested too deep to inspect", () => {
    let deep: unknown = "x";
    for (let i = 0; i < 100; i++) deep = { d: deep };
    assert.ok(redact(deep).kinds.includes("too-deep"));
  });
});

describe("redaction under hostile input", () => {
  it("keeps a __proto__ member as data instead of dropping it", () => {
    const args = JSON.parse('{"value":"v","__proto__":{"exfil":"alice@example.org"}}') as Record<
      string,
      unknown
    >;
    const { value, kinds } = redact(args);
    assert.ok(Object.hasOwn(value, "__proto__"));
    assert.deepEqual(Object.getPrototypeOf(value), Object.prototype);
    assert.deepEqual(kinds, ["email"]);
  });

  it(
    "scans long runs of token characters in linear time (no catastrophic backtracking)",
    { timeout: 20_000 },
    () => {
      // Quadratic patterns take minutes on these; linear ones a few milliseconds.
      for (const text of [
        "a-".repeat(150_000),
        "eyJ-".repeat(75_000),
        "a.".repeat(150_000),
        "x".repeat(300_000),
      ]) {
        assert.deepEqual(redact({ text }).kinds, []);
      }
    },
  );

  it("finds the gateway's own API keys, Basic credentials and secret-key fields", () => {
    const { value, kinds } = redact({
      note: `key pk_0123456789abcdef_${"A".repeat(43)} and Authorization: Basic dXNlcjpwYXNzd29yZA==`,
      secretKey: "s",
      passphrase: "p",
    });
    assert.deepEqual([...kinds].sort(), ["basic-credentials", "portcullis-api-key", "secret-field"]);
    assert.equal(value.secretKey, "[REDACTED:secret-field]");
  });
});
