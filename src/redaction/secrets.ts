// The project's own credential rules, compiled once: provider tokens found by their prefix (one
// pass over the text for every prefix, then the token's body checked where a prefix was found),
// PEM private keys, passwords in URLs and values assigned to secret-looking names. Each pass is
// linear: bounded quantifiers, and every body is matched only where its prefix is.
import { afterEscape, PRIORITY, type Finding } from "./finding.ts";
import { isPlaceholderSecret } from "./placeholders.ts";

interface TokenFormat {
  readonly kind: string;
  readonly prefixes: readonly string[];
  /** The token after its prefix (sticky); bounded, ending where the token's alphabet ends. */
  readonly body: string;
  /**
   * The prefix may follow any character (default: not a letter, digit, `_` or `-`, so that a token's
   * body is tried once per run of token characters, never again at each prefix inside the run).
   */
  readonly inWord?: boolean;
  /** Where the token starts when part of it comes before the prefix (-1: not a token). */
  readonly startBefore?: (text: string, at: number) => number;
  readonly valid?: (token: string, body: string, text: string, start: number) => boolean;
}

const TOKEN_FORMATS: readonly TokenFormat[] = [
  { kind: "aws-access-key", prefixes: ["AKIA", "ASIA", "ABIA", "ACCA"], body: "[A-Z0-9]{16}(?![A-Za-z0-9])" },
  {
    kind: "github-token",
    prefixes: ["ghp_", "gho_", "ghu_", "ghs_", "ghr_"],
    body: "(?:[A-Za-z0-9]{36,255}|[0-9]{1,20}_[A-Za-z0-9_-]{20,1000}\\.[A-Za-z0-9_-]{20,2000}\\.[A-Za-z0-9_-]{8,1000})(?![A-Za-z0-9_])",
  },
  { kind: "github-token", prefixes: ["github_pat_"], body: "[A-Za-z0-9_]{22,255}(?![A-Za-z0-9_])" },
  {
    kind: "gitlab-token",
    prefixes: [
      "glpat-",
      "gldt-",
      "glptt-",
      "glrt-",
      "glcbt-",
      "glimt-",
      "glagent-",
      "gloas-",
      "glft-",
      "glsoat-",
    ],
    body: "[A-Za-z0-9_-]{20,255}(?![A-Za-z0-9_-])",
  },
  { kind: "grafana-token", prefixes: ["glc_"], body: "[A-Za-z0-9+/]{32,400}={0,2}(?![A-Za-z0-9+/=])" },
  { kind: "grafana-token", prefixes: ["glsa_"], body: "[A-Za-z0-9]{32}_[A-Fa-f0-9]{8}(?![A-Za-z0-9])" },
  { kind: "npm-token", prefixes: ["npm_"], body: "[A-Za-z0-9]{36}(?![A-Za-z0-9])" },
  { kind: "npm-token", prefixes: ["_authToken="], body: "[^\\s$\"'][^\\s\"']{7,500}", inWord: true },
  {
    kind: "slack-token",
    prefixes: ["xoxb-", "xoxp-", "xoxa-", "xoxo-", "xoxr-", "xoxs-", "xoxe-", "xoxe.xoxp-"],
    body: "[A-Za-z0-9-]{10,250}(?![A-Za-z0-9-])",
  },
  { kind: "slack-token", prefixes: ["xapp-"], body: "[0-9]-[A-Za-z0-9-]{10,250}(?![A-Za-z0-9-])" },
  {
    kind: "slack-webhook",
    prefixes: ["hooks.slack.com/"],
    body: "(?:services|workflows|triggers)/[A-Za-z0-9/_-]{20,250}",
    inWord: true,
  },
  { kind: "google-api-key", prefixes: ["AIza"], body: "[0-9A-Za-z_-]{35}(?![0-9A-Za-z_-])" },
  { kind: "google-oauth-token", prefixes: ["ya29."], body: "[0-9A-Za-z_-]{20,2000}(?![0-9A-Za-z_-])" },
  { kind: "google-oauth-token", prefixes: ["GOCSPX-"], body: "[A-Za-z0-9_-]{28}(?![A-Za-z0-9_-])" },
  { kind: "google-oauth-token", prefixes: ["1//0"], body: "[0-9A-Za-z_-]{30,500}(?![0-9A-Za-z_-])" },
  {
    kind: "stripe-key",
    prefixes: ["sk_live_", "sk_test_", "rk_live_", "rk_test_"],
    body: "[A-Za-z0-9]{16,247}(?![A-Za-z0-9])",
  },
  { kind: "stripe-key", prefixes: ["whsec_"], body: "[A-Za-z0-9+/=]{24,100}(?![A-Za-z0-9+/=])" },
  {
    kind: "anthropic-key",
    prefixes: ["sk-ant-"],
    body: "(?:api|admin|sid)[0-9]{2}-[A-Za-z0-9_-]{40,200}(?![A-Za-z0-9_-])",
  },
  {
    kind: "api-key",
    prefixes: ["sk-"],
    body: "(?:proj-|svcacct-|admin-|or-v1-)?[A-Za-z0-9_-]{20,250}(?![A-Za-z0-9_-])",
    valid: (_token, body) => looksRandom(body),
  },
  { kind: "huggingface-token", prefixes: ["hf_"], body: "[A-Za-z]{34}(?![A-Za-z0-9])" },
  { kind: "groq-key", prefixes: ["gsk_"], body: "[A-Za-z0-9]{52}(?![A-Za-z0-9])" },
  { kind: "linear-key", prefixes: ["lin_api_"], body: "[A-Za-z0-9_]{32,128}(?![A-Za-z0-9_])" },
  { kind: "notion-token", prefixes: ["ntn_"], body: "[0-9]{11}[A-Za-z0-9]{35}(?![A-Za-z0-9])" },
  {
    kind: "notion-token",
    prefixes: ["secret_"],
    body: "[A-Za-z0-9]{43}(?![A-Za-z0-9_])",
    valid: (_token, body) => looksRandom(body),
  },
  { kind: "onepassword-token", prefixes: ["ops_ey"], body: "[A-Za-z0-9+/=]{100,1280}(?![A-Za-z0-9+/=])" },
  { kind: "vault-token", prefixes: ["hvs.", "hvb.", "hvr."], body: "[A-Za-z0-9_-]{24,300}(?![A-Za-z0-9_-])" },
  {
    kind: "vercel-token",
    prefixes: ["vcp_", "vci_", "vca_", "vcr_", "vck_"],
    body: "[A-Za-z0-9]{20,60}(?![A-Za-z0-9])",
  },
  { kind: "databricks-token", prefixes: ["dapi"], body: "[a-f0-9]{32}(?:-[0-9])?(?![A-Za-z0-9])" },
  { kind: "docker-token", prefixes: ["dckr_pat_"], body: "[A-Za-z0-9_-]{27}(?![A-Za-z0-9_-])" },
  { kind: "figma-token", prefixes: ["figd_"], body: "[A-Za-z0-9_-]{40,200}(?![A-Za-z0-9_-])" },
  {
    kind: "cloudflare-token",
    prefixes: ["cfk_", "cfut_", "cfat_"],
    body: "[A-Za-z0-9]{40}[0-9a-f]{8}(?![A-Za-z0-9])",
  },
  {
    kind: "tailscale-key",
    prefixes: ["tskey-"],
    body: "[a-z]{2,20}-[0-9A-Za-z_]{8,40}-[0-9A-Za-z_]{16,60}(?![0-9A-Za-z_])",
  },
  {
    kind: "shopify-token",
    prefixes: ["shpat_", "shpca_", "shppa_", "shpss_"],
    body: "[a-fA-F0-9]{32,64}(?![A-Za-z0-9])",
  },
  {
    kind: "sendgrid-key",
    prefixes: ["SG."],
    body: "[A-Za-z0-9_-]{16,32}\\.[A-Za-z0-9_-]{16,64}(?![A-Za-z0-9_-])",
  },
  {
    kind: "mailgun-key",
    prefixes: ["key-"],
    body: "[0-9a-f]{32}(?![0-9a-zA-Z])",
    startBefore: (text, at) =>
      at > 0 && /[A-Za-z0-9_-]/.test(text[at - 1] ?? "") && !afterEscape(text, at) ? -1 : at,
  },
  { kind: "replicate-token", prefixes: ["r8_"], body: "[A-Za-z0-9]{37}(?![A-Za-z0-9])" },
  { kind: "pypi-token", prefixes: ["pypi-AgE"], body: "[A-Za-z0-9_-]{50,300}(?![A-Za-z0-9_-])" },
  {
    kind: "digitalocean-token",
    prefixes: ["dop_v1_", "doo_v1_", "dor_v1_"],
    body: "[a-f0-9]{64}(?![A-Za-z0-9])",
  },
  { kind: "postman-key", prefixes: ["PMAK-"], body: "[a-f0-9]{24}-[a-f0-9]{34}(?![A-Za-z0-9])" },
  { kind: "newrelic-key", prefixes: ["NRAK-"], body: "[A-Z0-9]{27}(?![A-Za-z0-9])" },
  { kind: "atlassian-token", prefixes: ["ATATT3"], body: "[A-Za-z0-9_=-]{100,300}(?![A-Za-z0-9_=-])" },
  { kind: "age-secret-key", prefixes: ["AGE-SECRET-KEY-1"], body: "[0-9A-Z]{58}(?![A-Za-z0-9])" },
  { kind: "square-token", prefixes: ["sq0atp-", "sq0csp-"], body: "[0-9A-Za-z_-]{22,60}(?![0-9A-Za-z_-])" },
  {
    kind: "planetscale-token",
    prefixes: ["pscale_tkn_", "pscale_pw_", "pscale_oauth_"],
    body: "[A-Za-z0-9_.-]{32,64}(?![A-Za-z0-9_.-])",
  },
  { kind: "supabase-token", prefixes: ["sbp_"], body: "[a-f0-9]{40}(?![A-Za-z0-9])" },
  { kind: "heroku-key", prefixes: ["HRKU-"], body: "[A-Za-z0-9_-]{40,80}(?![A-Za-z0-9_-])" },
  { kind: "sentry-token", prefixes: ["sntrys_"], body: "eyJ[A-Za-z0-9+/=_-]{50,1000}(?![A-Za-z0-9+/=_-])" },
  {
    kind: "discord-token",
    // The base64 of the bot's numeric id: its first two characters follow from the id's first digit.
    prefixes: ["MT", "Mj", "Mz", "ND", "NT", "Nj", "Nz", "OD", "OT"],
    body: "[A-Za-z0-9_-]{21,25}\\.[A-Za-z0-9_-]{6,7}\\.[A-Za-z0-9_-]{27,40}(?![A-Za-z0-9_-])",
  },
  {
    kind: "doppler-token",
    prefixes: ["dp.pt.", "dp.st.", "dp.sa.", "dp.ct.", "dp.scim."],
    body: "(?:[a-z0-9_-]{1,40}\\.)?[A-Za-z0-9]{40,44}(?![A-Za-z0-9])",
  },
  {
    kind: "mapbox-token",
    prefixes: ["sk.eyJ"],
    body: "[A-Za-z0-9_-]{50,200}\\.[A-Za-z0-9_-]{20,40}(?![A-Za-z0-9_-])",
  },
  { kind: "okta-token", prefixes: ["SSWS "], body: "00[A-Za-z0-9_-]{38,40}(?![A-Za-z0-9_-])" },
  { kind: "dropbox-token", prefixes: ["sl."], body: "[A-Za-z0-9_-]{130,1400}(?![A-Za-z0-9_-])" },
  { kind: "contentful-token", prefixes: ["CFPAT-"], body: "[A-Za-z0-9_-]{43}(?![A-Za-z0-9_-])" },
  { kind: "netlify-token", prefixes: ["nfp_"], body: "[A-Za-z0-9]{36,40}(?![A-Za-z0-9])" },
  { kind: "flyio-token", prefixes: ["fo1_"], body: "[A-Za-z0-9_-]{43}(?![A-Za-z0-9_-])" },
  { kind: "render-token", prefixes: ["rnd_"], body: "[A-Za-z0-9]{32}(?![A-Za-z0-9])" },
  { kind: "buildkite-token", prefixes: ["bkua_"], body: "[a-f0-9]{40}(?![A-Za-z0-9])" },
  { kind: "circleci-token", prefixes: ["CCIPAT_"], body: "[A-Za-z0-9]{22}_[a-f0-9]{40}(?![A-Za-z0-9])" },
  { kind: "perplexity-key", prefixes: ["pplx-"], body: "[A-Za-z0-9]{48}(?![A-Za-z0-9])" },
  { kind: "xai-key", prefixes: ["xai-"], body: "[A-Za-z0-9]{80}(?![A-Za-z0-9])" },
  {
    kind: "langsmith-key",
    prefixes: ["lsv2_pt_", "lsv2_sk_"],
    body: "[a-f0-9]{32}_[a-f0-9]{10}(?![A-Za-z0-9])",
  },
  { kind: "pinecone-key", prefixes: ["pcsk_"], body: "[A-Za-z0-9]{5,6}_[A-Za-z0-9]{60,70}(?![A-Za-z0-9])" },
  { kind: "airtable-token", prefixes: ["pat"], body: "[A-Za-z0-9]{14}\\.[a-f0-9]{64}(?![A-Za-z0-9])" },
  { kind: "pulumi-token", prefixes: ["pul-"], body: "[a-f0-9]{40}(?![A-Za-z0-9])" },
  {
    kind: "jwt",
    prefixes: ["eyJ"],
    body: "[A-Za-z0-9_-]{8,4000}\\.eyJ[A-Za-z0-9_-]{8,8000}\\.[A-Za-z0-9_-]{8,2000}(?![A-Za-z0-9_-])",
  },
  { kind: "portcullis-api-key", prefixes: ["pk_"], body: "[0-9a-f]{16}_[A-Za-z0-9_-]{43}(?![A-Za-z0-9_-])" },
  {
    kind: "azure-client-secret",
    prefixes: ["Q~"],
    body: "[A-Za-z0-9_~.-]{31,34}(?![A-Za-z0-9_~.-])",
    inWord: true,
    startBefore: (text, at) => {
      const start = at - 4;
      if (start < 0 || !/^[A-Za-z0-9_~.]{3}[0-9]$/.test(text.slice(start, at))) return -1;
      return start > 0 && /[A-Za-z0-9_~.-]/.test(text[start - 1] ?? "") ? -1 : start;
    },
  },
  { kind: "azure-storage-key", prefixes: ["AccountKey="], body: "[A-Za-z0-9+/]{86}==", inWord: true },
  { kind: "connection-string", prefixes: ["SharedAccessKey="], body: "[A-Za-z0-9+/]{42,44}=?", inWord: true },
  {
    kind: "azure-sas-token",
    prefixes: ["sig="],
    body: "[A-Za-z0-9%+/=]{30,200}",
    inWord: true,
    // A SAS token's signature: `sig=` follows `sv=` (the service version) in the same query.
    valid: (_token, _body, text, start) =>
      /[?&;\s"']/.test(text[start - 1] ?? " ") &&
      text.slice(Math.max(0, start - 400), start).includes("sv=20"),
  },
  {
    kind: "telegram-token",
    prefixes: [":AA"],
    body: "[A-Za-z0-9_-]{33}(?![A-Za-z0-9_-])",
    inWord: true,
    startBefore: (text, at) => {
      let start = at;
      while (start > 0 && at - start < 10 && /[0-9]/.test(text[start - 1] ?? "")) start--;
      const digits = at - start;
      if (digits < 8 || (start > 0 && /[A-Za-z0-9_]/.test(text[start - 1] ?? ""))) return -1;
      return start;
    },
  },
  {
    kind: "bearer-token",
    prefixes: ["Bearer ", "bearer ", "BEARER "],
    body: " *[A-Za-z0-9._~+/-]{16,4096}=*(?![A-Za-z0-9._~+/=-])",
    valid: (_token, body) => looksRandom(body.trim()),
  },
  {
    kind: "basic-credentials",
    prefixes: ["Basic ", "basic ", "BASIC "],
    body: " *[A-Za-z0-9+/]{8,1000}={0,2}(?![A-Za-z0-9+/=])",
    valid: (_token, body) => decodesToCredentials(body.trim()),
  },
];

interface CompiledFormat extends TokenFormat {
  readonly sticky: RegExp;
}

const formatsByPrefix = new Map<string, CompiledFormat[]>();
for (const format of TOKEN_FORMATS) {
  const compiled = { ...format, sticky: new RegExp(format.body, "y") };
  for (const prefix of format.prefixes) {
    const list = formatsByPrefix.get(prefix) ?? [];
    list.push(compiled);
    formatsByPrefix.set(prefix, list);
  }
}

const escapeLiteral = (text: string) => text.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");

/** Every prefix in one alternation, longest first (so `sk-ant-` is tried before `sk-`). */
const PREFIXES = new RegExp(
  [...formatsByPrefix.keys()]
    .sort((a, b) => b.length - a.length)
    .map(escapeLiteral)
    .join("|"),
  "g",
);

/** A prefix seen also stands for the shorter prefixes it starts with (`sk-ant-` for `sk-`). */
const IMPLIED_PREFIXES = new Map(
  [...formatsByPrefix.keys()].map((prefix) => [
    prefix,
    [...formatsByPrefix.keys()].filter((other) => prefix.startsWith(other)),
  ]),
);

/** The prefixes, `-----BEGIN`, URL credentials and the word "secret": what the scan saw, to gate other rules by. */
export type Triggers = Set<string>;

export function scanSecrets(text: string, out: Finding[], seen: Triggers): void {
  scanTokens(text, out, seen);
  scanPrivateKeys(text, out, seen);
  scanUrlPasswords(text, out, seen);
  scanAssignments(text, out, seen);
}

function scanTokens(text: string, out: Finding[], seen: Triggers): void {
  // Scanning is synchronous and never re-entered: the compiled regex is shared, its lastIndex reset.
  const prefixes = PREFIXES;
  prefixes.lastIndex = 0;
  for (let m = prefixes.exec(text); m !== null; m = prefixes.exec(text)) {
    const prefix = m[0];
    for (const implied of IMPLIED_PREFIXES.get(prefix) ?? []) seen.add(implied);
    const at = m.index;
    // The next search starts inside this match: every prefix is seen (for secretlint's gates), even
    // one inside a token found here (`Bearer glpat-…`); overlapping findings are resolved later.
    prefixes.lastIndex = at + 1;
    for (const format of formatsByPrefix.get(prefix) ?? []) {
      const start = format.startBefore ? format.startBefore(text, at) : at;
      if (start < 0) continue;
      if (
        !format.inWord &&
        !format.startBefore &&
        start > 0 &&
        isTokenCharacter(text.charCodeAt(start - 1)) &&
        !afterEscape(text, start)
      )
        continue;
      format.sticky.lastIndex = at + prefix.length;
      const body = format.sticky.exec(text);
      if (!body) continue;
      const end = at + prefix.length + body[0].length;
      const token = text.slice(start, end);
      if (format.valid && !format.valid(token, body[0], text, start)) continue;
      out.push({
        kind: format.kind,
        category: "secret",
        start,
        end,
        rule: `portcullis/${format.kind}`,
        placeholder: isPlaceholderSecret(token, body[0]),
        priority: PRIORITY.format,
      });
      break;
    }
  }
}

const PEM_HEADER = /-----BEGIN ?([A-Z0-9 ]{0,40}?)PRIVATE KEY(?: BLOCK)?-----/y;
const PEM_FOOTER = /-----END ?[A-Z0-9 ]{0,40}?PRIVATE KEY(?: BLOCK)?-----/y;
/** The lines of a PEM body that has no footer: base64 lines, `Proc-Type:`-style headers, blank lines. */
const PEM_LINES =
  /(?:[A-Za-z0-9+/=]{16,}(?:\r?\n|\\n|(?![\s\S]))|[A-Za-z-]{2,30}: [^\r\n]{0,200}\r?\n|[ \t]*\r?\n|\\n)*/y;
const MAX_PEM = 65_536;

function scanPrivateKeys(text: string, out: Finding[], seen: Triggers): void {
  let footerAt = 0;
  for (let at = text.indexOf("-----BEGIN"); at >= 0; at = text.indexOf("-----BEGIN", at + 1)) {
    seen.add("-----BEGIN");
    PEM_HEADER.lastIndex = at;
    const header = PEM_HEADER.exec(text);
    if (!header) continue;
    const bodyStart = at + header[0].length;
    let bodyEnd = -1;
    let end = -1;
    // Searched again only when the last footer found lies behind: one pass however many headers.
    if (footerAt >= 0 && footerAt < bodyStart) footerAt = text.indexOf("-----END", bodyStart);
    if (footerAt >= 0 && footerAt - bodyStart <= MAX_PEM) {
      PEM_FOOTER.lastIndex = footerAt;
      const footer = PEM_FOOTER.exec(text);
      if (footer) [bodyEnd, end] = [footerAt, footerAt + footer[0].length];
    }
    if (end < 0) {
      // A key cut short (the head of a file, a truncated result) still leaks: redact what there is.
      PEM_LINES.lastIndex = bodyStart;
      bodyEnd = end = bodyStart + Math.min(MAX_PEM, PEM_LINES.exec(text)?.[0].length ?? 0);
    }
    const body = text.slice(bodyStart, bodyEnd).replace(/\\n|\s/g, "");
    out.push({
      kind: "private-key",
      category: "secret",
      start: at,
      end,
      rule: "portcullis/private-key",
      placeholder: body.length < 64 || isPlaceholderSecret(body),
      priority: PRIORITY.format,
    });
    at = end - 1;
  }
}

// A password may hold `#` and `?` written raw (clients disagree on them; people write them anyway).
const URL_CREDENTIALS = /:\/\/([^:/@\s?#"'<>]{1,256}):([^@/\s"'<>]{1,256})@/y;
const WEAK_PASSWORDS = new Set(["password", "pass", "passwd", "pwd", "secret", "changeme", "pw"]);

function scanUrlPasswords(text: string, out: Finding[], seen: Triggers): void {
  for (let at = text.indexOf("://"); at >= 0; at = text.indexOf("://", at + 3)) {
    if (!/[A-Za-z0-9+.-]/.test(text[at - 1] ?? "")) continue;
    URL_CREDENTIALS.lastIndex = at;
    const m = URL_CREDENTIALS.exec(text);
    if (!m) continue;
    seen.add("url-credentials");
    const user = m[1] ?? "";
    const password = m[2] ?? "";
    const start = at + 3 + user.length + 1;
    out.push({
      kind: "url-password",
      category: "secret",
      start,
      end: start + password.length,
      rule: "portcullis/url-password",
      placeholder:
        WEAK_PASSWORDS.has(password.toLowerCase()) ||
        password === user ||
        /^[$%{]/.test(password) ||
        isPlaceholderSecret(password),
      priority: PRIORITY.format,
    });
  }
}

/** A name that says "secret" (in any case, as part of a longer name too: DB_PASSWORD, clientSecret). */
const SECRET_NAME =
  /(?:passw(?:or)?d|passphrase|pwd|secret|token|api[_-]?key|apikey|access[_-]?key|auth[_-]?key|private[_-]?key|credentials?)/gi;
/**
 * After the name: the rest of the name (separated segments or CamelCase, never more lower-case
 * letters, so `tokenizer` is not `token`), an assignment, and a value: quoted, or up to a delimiter.
 */
const ASSIGNMENT =
  /(s?(?:[_.-][A-Za-z0-9]{1,20}|[A-Z][a-z0-9]{1,20}){0,3})["']?[ \t]{0,3}(?:=>|:=|[:=])[ \t]{0,3}(?:"([^"\s]{8,256})"|'([^'\s]{8,256})'|`([^`\s]{8,256})`|([^\s"'`,;&<>(){}[\]]{8,256}))/y;
/** Name endings that say the value is about a secret, not the secret (`token_type`, `password_hash`). */
const ABOUT_THE_SECRET = new Set(
  "id ids count type name names url uri endpoint path file length len expires expiry expiration ttl version arn ref hint policy rotation label description field header prefix format usage limit hash hashed algorithm alg kind mode env var location store provider manager".split(
    " ",
  ),
);

function scanAssignments(text: string, out: Finding[], seen: Triggers): void {
  const names = SECRET_NAME;
  names.lastIndex = 0;
  for (let m = names.exec(text); m !== null; m = names.exec(text)) {
    // secretlint's AWS rule needs the word "secret"; its gate is that word, not any secret-like name.
    if (/secret/i.test(m[0])) seen.add("secret-word");
    ASSIGNMENT.lastIndex = m.index + m[0].length;
    const a = ASSIGNMENT.exec(text);
    if (!a) continue;
    const value = a[2] ?? a[3] ?? a[4] ?? a[5] ?? "";
    const tail = lastSegment(m[0] + (a[1] ?? ""));
    if (ABOUT_THE_SECRET.has(tail) || handleName(text, m.index) || !secretValue(value)) {
      // Each value is read once: the next name is looked for after it (`secret=secret=…` stays linear).
      names.lastIndex = Math.max(names.lastIndex, ASSIGNMENT.lastIndex);
      continue;
    }
    const end = ASSIGNMENT.lastIndex - (a[5] === undefined ? 1 : 0);
    const start = end - value.length;
    const name = (m[0] + (a[1] ?? "")).toLowerCase();
    const kind = /passw|passphrase|pwd/.test(name)
      ? "password"
      : /secret_?access_?key|secretaccesskey/.test(name) && /^[A-Za-z0-9/+]{40}$/.test(value)
        ? "aws-secret-key"
        : "generic-secret";
    out.push({
      kind,
      category: "secret",
      start,
      end,
      rule: `portcullis/assignment:${kind}`,
      placeholder: false,
      priority: PRIORITY.context,
    });
    names.lastIndex = end;
  }
}

/** Names of opaque handles a client passes back (`NextToken`, `page_token`, `csrfToken`), not secrets. */
const HANDLE_NAME = /(?:page|cursor|continuation|next|csrf|xsrf|sync|etag|pagination)[_.-]?$/i;

function handleName(text: string, keywordAt: number): boolean {
  let start = keywordAt;
  while (start > 0 && keywordAt - start < 40 && /[A-Za-z0-9_.-]/.test(text[start - 1] ?? "")) start--;
  return HANDLE_NAME.test(text.slice(start, keywordAt));
}

function lastSegment(name: string): string {
  const parts = name.split(/[_.-]|(?=[A-Z][a-z])/).filter((part) => part !== "");
  return (parts[parts.length - 1] ?? "").toLowerCase();
}

/** A value that could be a password or key: not a placeholder, a reference, a path or a plain word. */
export function secretValue(value: string): boolean {
  if (value.length < 8) return false;
  if (/^(?:[$%#@~]|https?:|env:|vault:|arn:|file:|secret:|ref:|true$|false$|null$|none$)/i.test(value))
    return false;
  // A file path (`/run/secrets/db`, `./certs/key.pem`), not a base64 value that starts with a slash.
  if (/^\.{0,2}\/[\w.-]*(?:\/[\w.-]+)*\/?$/.test(value)) return false;
  if (/^\d+$/.test(value) || /^[a-z]+(?:[_.-][a-z]+)*$/.test(value) || /^[A-Z][A-Z0-9_]*$/.test(value))
    return false;
  // CamelCase words (type names) and dotted member access (`config.db.password`).
  if (
    (/^[A-Za-z]+$/.test(value) && !/[A-Z](?![a-z])/.test(value)) ||
    /^[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+$/.test(value)
  )
    return false;
  const digit = /\d/.test(value);
  const symbol = /[^A-Za-z0-9]/.test(value);
  const mixedCase = /[a-z]/.test(value) && /[A-Z]/.test(value);
  return (
    /[A-Za-z]/.test(value) &&
    (digit || symbol || (mixedCase && value.length >= 16)) &&
    !isPlaceholderSecret(value)
  );
}

/** Random enough to be a key: letters and digits mixed, not a hyphenated phrase. */
export function looksRandom(body: string): boolean {
  const core = body.replace(/^(?:proj-|svcacct-|admin-|or-v1-)/, "");
  if (!/[0-9]/.test(core) || !/[A-Za-z]/.test(core)) return false;
  return !/^(?:[a-z]+-)+[a-z0-9]+$/.test(core);
}

function decodesToCredentials(encoded: string): boolean {
  const decoded = Buffer.from(encoded, "base64").toString("latin1");
  return /^[\x20-\x7e]{1,256}:[\x20-\x7e]{1,256}$/.test(decoded);
}

function isTokenCharacter(code: number): boolean {
  return (
    (code >= 48 && code <= 57) ||
    (code >= 65 && code <= 90) ||
    (code >= 97 && code <= 122) ||
    code === 95 ||
    code === 45
  );
}
