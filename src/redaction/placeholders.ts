// Values that have the shape of a secret or of personal data but are published examples or
// placeholders: AWS's documentation keys, jwt.io's sample token, Stripe's test cards, `xxxx`,
// `<your-token>`, `${API_KEY}`, reserved example domains. The scanner still reports them, marked, so
// that the audit trail can redact everything while the data guard leaves documentation alone.

/** Published example credentials that appear verbatim in vendors' documentation. */
const KNOWN_EXAMPLES = [
  "AKIAIOSFODNN7EXAMPLE",
  "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
  "SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c",
  "sk_test_4eC39HqLyjWDarjtT1zdp7dc",
  "sk_test_BQokikJOvBiI2HlWgH4olfQ2",
  "ghp_16C7e42F292c6912E7710c838347Ae178B4a",
  // RFC 6749's sample access token, refresh token and authorization code.
  "2YotnFZFEjr1zCsicMWpAA",
  "tGzv3JOkF0XG5Qx2TlKWIA",
  "SplxlOBeZQQYbYS6WxSbIA",
];

/** Words that mark a value as a stand-in (checked in lower case). */
const PLACEHOLDER_WORDS = [
  "example",
  "placeholder",
  "your_",
  "your-",
  "yourtoken",
  "yourkey",
  "yourpassword",
  "xxxx",
  "changeme",
  "change_me",
  "change-me",
  "dummy",
  "sample",
  "redacted",
  "replace",
  "insert",
  "notreal",
  "not_real",
  "not-real",
  "fake",
  "<",
  ">",
  "${",
  "{{",
  "...",
  "***",
  "\u2022",
];

/** Documented test card numbers (Stripe, Adyen, Braintree, PayPal sandboxes). */
const TEST_CARDS = new Set([
  "4111111111111111",
  "4242424242424242",
  "4000056655665556",
  "4012888888881881",
  "4222222222222",
  "5555555555554444",
  "5105105105105100",
  "2223003122003222",
  "378282246310005",
  "371449635398431",
  "6011111111111117",
  "6011000990139424",
  "3530111333300000",
  "30569309025904",
  "38520000023237",
]);

const RESERVED_EMAIL_DOMAIN = /(?:^|\.)(?:example\.(?:com|org|net)|example|test|invalid|localhost)$/i;

/** Whether a credential-shaped value is an example or placeholder rather than a live secret. */
export function isPlaceholderSecret(value: string, body: string = value): boolean {
  for (const example of KNOWN_EXAMPLES) if (value.includes(example)) return true;
  const lower = body.toLowerCase();
  for (const word of PLACEHOLDER_WORDS) if (lower.includes(word)) return true;
  // printf and Python format slots: `%s`, `%(password)s`.
  if (/^%[sd]$|%\(\w+\)s/.test(body)) return true;
  return lowVariety(body);
}

/** Repeated runs (`aaaaaa`, `000000`), counting runs (`12345678`, `abcdefgh`) or too few distinct characters. */
function lowVariety(body: string): boolean {
  let same = 1;
  let ascending = 1;
  const distinct = new Set<number>();
  for (let i = 0; i < body.length; i++) {
    const c = body.charCodeAt(i);
    distinct.add(c);
    if (i === 0) continue;
    const previous = body.charCodeAt(i - 1);
    same = c === previous ? same + 1 : 1;
    ascending = c === previous + 1 ? ascending + 1 : 1;
    if (same >= 6 || ascending >= 8) return true;
  }
  return body.length >= 20 && distinct.size < 8;
}

/** Test cards, reserved example e-mail domains and fictional 555-01xx telephone numbers. */
export function isPlaceholderPii(kind: string, value: string, digits: string): boolean {
  switch (kind) {
    case "card-number":
      return TEST_CARDS.has(digits);
    case "email":
      return RESERVED_EMAIL_DOMAIN.test(value.slice(value.lastIndexOf("@") + 1));
    case "phone":
      return /^55501\d\d$/.test(digits.slice(-7));
    default:
      return false;
  }
}
