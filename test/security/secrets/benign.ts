// The benign set of the secrets surface: tool results full of things that look like credentials and
// are not: git SHAs, UUIDs, digests and checksums, base64 blobs, public keys and certificates, object
// ids, code and docs that talk about tokens and passwords, and published placeholders
// (AKIAIOSFODNN7EXAMPLE, jwt.io's token, RFC 6749's sample tokens, `<your-token>`, `${{ secrets.X }}`),
// which the data guard leaves alone by decision (see docs/data-guard.md).
import { Random, type CorpusItem } from "./random.ts";

type Generator = (r: Random) => string;

const sha = (r: Random) => r.hex(40);
const iso = (r: Random) =>
  `2024-0${r.int(1, 9)}-${String(r.int(10, 28))}T${String(r.int(10, 23))}:${String(r.int(10, 59))}:${String(r.int(10, 59))}Z`;
const author = (r: Random) => r.pick(["Ana Ruiz", "Wei Chen", "Sam Okafor", "Lena Fischer", "Priya Nair"]);

const GENERATORS: Readonly<Record<string, Generator>> = {
  "git-log": (r) =>
    Array.from(
      { length: r.int(3, 6) },
      () =>
        `commit ${sha(r)}\nAuthor: ${author(r)}\nDate:   ${iso(r)}\n\n    ${r.pick(["fix", "feat", "chore", "refactor"])}(${r.word()}): ${r.words(5)}\n`,
    ).join("\n"),
  "git-oneline": (r) =>
    Array.from(
      { length: 8 },
      () =>
        `${r.hex(7)} ${r.pick(["Merge pull request #", "Bump ", "Fix "])}${r.int(10, 9999)} ${r.words(3)}`,
    ).join("\n"),
  "package-lock": (r) =>
    `"node_modules/${r.word()}": {\n  "version": "${r.int(1, 9)}.${r.int(0, 30)}.${r.int(0, 9)}",\n  "resolved": "https://registry.npmjs.org/${r.word()}/-/${r.word()}-1.2.3.tgz",\n  "integrity": "sha512-${r.base64(64)}",\n  "license": "MIT"\n}`,
  "pip-hashes": (r) =>
    `${r.word()}==2.${r.int(0, 31)}.${r.int(0, 9)} \\\n    --hash=sha256:${r.hex(64)} \\\n    --hash=sha256:${r.hex(64)}`,
  "docker-images": (r) =>
    `REPOSITORY              TAG       IMAGE ID       CREATED        SIZE\nghcr.io/acme/${r.word()}   1.${r.int(0, 9)}.0     ${r.hex(12)}   2 days ago     ${r.int(40, 900)}MB\nDigest: sha256:${r.hex(64)}\nContainer ${r.hex(64)} started`,
  "k8s-pods": (r) =>
    JSON.stringify({
      kind: "Pod",
      metadata: {
        name: `${r.word()}-${r.hex(10)}-${r.from("abcdefghijklmnopqrstuvwxyz0123456789", 5)}`,
        uid: r.uuid(),
        resourceVersion: r.digits(8),
        annotations: { "kubectl.kubernetes.io/restartedAt": iso(r) },
      },
      status: {
        containerStatuses: [
          {
            imageID: `docker-pullable://ghcr.io/acme/api@sha256:${r.hex(64)}`,
            containerID: `containerd://${r.hex(64)}`,
          },
        ],
      },
    }),
  checksums: (r) =>
    Array.from(
      { length: 5 },
      () =>
        `${r.pick([r.hex(64), r.hex(32), r.hex(40), r.hex(128)])}  dist/${r.word()}-${r.int(1, 9)}.tar.gz`,
    ).join("\n"),
  "uuid-table": (r) =>
    `id | order_id | created_at\n${Array.from({ length: 6 }, () => `${r.uuid()} | ${r.uuid()} | ${iso(r)}`).join("\n")}`,
  "data-uri": (r) => `<img alt="chart" src="data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAA${r.base64(600)}">`,
  "base64-payload": (r) =>
    `event payload (gzip+base64): H4sIAAAAAAAAA${r.base64(300)}\nstatus=accepted size=${r.int(1000, 9000)}`,
  "protobuf-log": (r) =>
    `${iso(r)} INFO grpc.decode message=${r.base64(90)} method=/${r.word()}.v1.Service/Get`,
  "ssh-public-keys": (r) =>
    `ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI${r.base64(32).replace(/=+$/, "")} ${r.word()}@laptop\nssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABgQ${r.base64(380).replace(/=+$/, "")} deploy@ci`,
  certificate: (r) =>
    `-----BEGIN CERTIFICATE-----\nMIID${r
      .base64(700)
      .match(/.{1,64}/g)
      ?.join("\n")}\n-----END CERTIFICATE-----`,
  "public-key": (r) =>
    `-----BEGIN PUBLIC KEY-----\nMIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA${r
      .base64(250)
      .match(/.{1,64}/g)
      ?.join("\n")}\n-----END PUBLIC KEY-----`,
  "pgp-public": (r) =>
    `-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nmQINBG${r
      .base64(500)
      .match(/.{1,64}/g)
      ?.join("\n")}\n-----END PGP PUBLIC KEY BLOCK-----`,
  "stripe-objects": (r) =>
    JSON.stringify({
      id: `pi_3${r.alnum(23)}`,
      object: "payment_intent",
      customer: `cus_${r.alnum(14)}`,
      latest_charge: `ch_3${r.alnum(23)}`,
      publishable_key: `pk_live_51${r.alnum(97)}`,
      amount: r.int(100, 99999),
      currency: "eur",
    }),
  "aws-ids": (r) =>
    `arn:aws:iam::${r.digits(12)}:role/${r.word()}-deployer\ninstance i-0${r.hex(16)} (ami-0${r.hex(16)}) in sg-0${r.hex(16)}\nRequestId: ${r.uuid()}\nbucket arn:aws:s3:::acme-${r.word()}-logs`,
  "tracing-ids": (r) =>
    `traceparent: 00-${r.hex(32)}-${r.hex(16)}-01\nx-request-id: ${r.uuid()}\nx-amzn-trace-id: Root=1-${r.hex(8)}-${r.hex(24)}`,
  "twilio-slack-ids": (r) =>
    `Twilio account AC${r.hex(32)} sent message SM${r.hex(32)}; Slack channel C0${r.upper(8)} user U0${r.upper(8)} team T0${r.upper(8)}`,
  "crypto-addresses": (r) =>
    `payout to 0x${r.hex(40)} (ETH), bc1q${r.from("023456789acdefghjklmnpqrstuvwxyz", 38)} (BTC); ipfs://bafybei${r.from("abcdefghijklmnopqrstuvwxyz234567", 52)}`,
  "minified-js": (r) =>
    `!function(e,t){"use strict";var n=${r.int(1, 99)},o="${r.base64url(24)}";function ${r.from("abcdefghijklmnopqrstuvwxyz", 1)}(e){return e.replace(/[^a-z0-9]/gi,"")}t.exports={v:"${r.hex(8)}",k:o,n:n}}(window,module);`,
  "aws-docs-example": () =>
    `To configure the CLI, run aws configure and enter:\nAWS Access Key ID [None]: AKIAIOSFODNN7EXAMPLE\nAWS Secret Access Key [None]: wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\nDefault region name [None]: us-west-2`,
  "stripe-docs-example": () =>
    `curl https://api.stripe.com/v1/charges \\\n  -u sk_test_4eC39HqLyjWDarjtT1zdp7dc: \\\n  -d amount=2000 \\\n  -d currency=usd`,
  "jwt-io-example": () =>
    `Paste a token such as eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c into the debugger to decode it.`,
  "oauth-rfc-example": () =>
    `HTTP/1.1 200 OK\nContent-Type: application/json;charset=UTF-8\n\n{"access_token":"2YotnFZFEjr1zCsicMWpAA","token_type":"example","expires_in":3600,"refresh_token":"tGzv3JOkF0XG5Qx2TlKWIA"}`,
  placeholders: (r) =>
    r.pick([
      `export GITHUB_TOKEN=ghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx`,
      `OPENAI_API_KEY=sk-...your-key-here...`,
      `API_KEY=YOUR_API_KEY\nAPI_SECRET=<your-secret>`,
      `env:\n  NPM_TOKEN: \${{ secrets.NPM_TOKEN }}\n  SLACK_WEBHOOK: \${{ secrets.SLACK_WEBHOOK_URL }}`,
      `DATABASE_URL=postgres://user:password@localhost:5432/mydb`,
      `Authorization: Bearer <access_token>`,
      `password: changeme`,
      `STRIPE_SECRET_KEY=sk_live_XXXXXXXXXXXXXXXXXXXXXXXX`,
      `token: "{{ vault_github_token }}"`,
      `-----BEGIN RSA PRIVATE KEY-----\n...your key here...\n-----END RSA PRIVATE KEY-----`,
      `SLACK_BOT_TOKEN=xoxb-your-bot-token`,
      `aws_secret_access_key = REPLACE_WITH_YOUR_SECRET`,
      `"apiKey": "%API_KEY%"`,
      `client_secret=$CLIENT_SECRET`,
      `MONGO_URI=mongodb://localhost:27017/test`,
    ]),
  "code-about-secrets": (r) =>
    r.pick([
      `const token = process.env.GITHUB_TOKEN;\nif (!token) throw new Error("GITHUB_TOKEN is not set");`,
      `password: z.string().min(12).max(128),\nconfirmPassword: z.string(),`,
      `def get_secret(name: str) -> str:\n    return client.access_secret_version(name=name).payload.data.decode()`,
      `bucket = TokenBucket(rate=10, burst=20)\nTOKEN_EXPIRY_SECONDS = 3600`,
      `{"tokenizer_class": "LlamaTokenizer", "max_tokens": 4096, "pad_token": "<unk>"}`,
      `password_hash = bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=12))`,
      `api_key = os.environ["PAYMENTS_API_KEY"]  # set by the deploy pipeline`,
      `spring.datasource.password=\${DB_PASSWORD}`,
      `secretName: ${r.word()}-db-credentials\nsecretKeyRef:\n  name: db\n  key: password`,
      `token_type: Bearer\nexpires_in: 3600\ntokenUrl: https://auth.acme-corp.com/oauth/token`,
      `if (user.passwordResetRequired) redirect("/account/password/reset");`,
      `PASSWORD_MIN_LENGTH=12\nSESSION_TTL_SECONDS=86400`,
      `accessKeyId: credentials.accessKeyId,\nsecretAccessKey: credentials.secretAccessKey,`,
      `pub fn verify_token(token: &str, key: &DecodingKey) -> Result<Claims, Error> {`,
    ]),
  "docs-about-secrets": (r) =>
    r.pick([
      `Rotate your API keys every 90 days. A key that leaks can be revoked from Settings → API keys; the old key stops working at once.`,
      `The access token is valid for one hour. Use the refresh token to get a new one; never store tokens in the browser's local storage.`,
      `Passwords must be at least 12 characters long and may not contain your user name.`,
      `The token bucket refills at 10 tokens per second with a burst of 20 tokens.`,
      `CSRF tokens are tied to the session and checked on every state-changing request.`,
      `Secrets are mounted at /var/run/secrets/kubernetes.io/serviceaccount and rotated automatically.`,
    ]),
  "long-identifiers": (r) =>
    `export const ${r.word()}${r.word().replace(/^./, (c) => c.toUpperCase())}ServiceConfigurationValidator = createValidator("${r.word()}_${r.word()}_${r.word()}_settings_v${r.int(1, 9)}");`,
  "hex-colors-css": (r) =>
    `.btn-primary{background:#${r.hex(6)};border-color:#${r.hex(6)}}\n.grad{background:linear-gradient(90deg,#${r.hex(6)} 0%,#${r.hex(6)} 100%)}`,
  "youtube-ids": (r) =>
    `Playlist: https://www.youtube.com/watch?v=${r.base64url(11)}&list=PL${r.base64url(32)}`,
  "sentry-dsn": (r) => `SENTRY_DSN=https://${r.hex(32)}@o${r.digits(6)}.ingest.sentry.io/${r.digits(7)}`,
  "firebase-push-ids": (r) =>
    JSON.stringify({ messages: { [`-N${r.base64url(18)}`]: { text: r.words(6), ts: r.digits(13) } } }),
  "semver-and-builds": (r) =>
    `Build ${r.int(1000, 9999)} (${r.hex(9)}) of v${r.int(1, 9)}.${r.int(0, 20)}.${r.int(0, 9)}-rc.${r.int(1, 9)}+sha.${r.hex(7)} passed in ${r.int(3, 59)}m`,
  "url-with-ids": (r) =>
    `https://console.cloud.google.com/logs/query;query=resource.type%3D%22k8s_container%22;cursorTimestamp=${iso(r)}?project=acme-${r.word()}-${r.digits(6)}&authuser=0`,
  "ssh-known-hosts": (r) =>
    `|1|${r.base64(20)}|${r.base64(20)} ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBB${r.base64(64).replace(/=+$/, "")}`,
  "bcrypt-hashes": (r) =>
    `user_id,email_verified,password_hash\n${Array.from({ length: 3 }, () => `${r.digits(6)},true,$2b$12$${r.from("./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789", 53)}`).join("\n")}`,
  "aws-cli-pagination": (r) =>
    JSON.stringify(
      {
        Functions: [{ FunctionName: `${r.word()}-handler`, CodeSha256: r.base64(32), RevisionId: r.uuid() }],
        NextToken: `AAMA-EFRSURBSGh${r.base64(90)}`,
      },
      null,
      2,
    ),
  "github-api": (r) =>
    JSON.stringify({
      login: `${r.word()}-bot`,
      id: r.int(100000, 9999999),
      node_id: `MDQ6VXNlcj${r.base64(9).replace(/=+$/, "")}`,
      avatar_url: `https://avatars.githubusercontent.com/u/${r.digits(7)}?v=4`,
      gravatar_id: "",
      head_sha: r.hex(40),
    }),
  "graphql-cursors": (r) =>
    `{"data":{"repository":{"issues":{"pageInfo":{"endCursor":"Y3Vyc29yOnYyOpK5${r.base64(30).replace(/=+$/, "")}","hasNextPage":true},"totalCount":${r.int(1, 900)}}}}}`,
  "csrf-and-session-ids": (r) =>
    `{"csrfToken":"${r.base64url(43)}","page_token":"${r.base64url(32)}","sessionState":"${r.uuid()}"}`,
  "curl-docs-env": () =>
    `curl -H "Authorization: Bearer $API_TOKEN" -H "Accept: application/json" https://api.acme-corp.com/v1/projects`,
  "docker-hub-defaults": () =>
    `services:
  db:
    image: postgres:16
    environment:
      POSTGRES_PASSWORD: postgres
  mysql:
    image: mysql:8
    environment:
      MYSQL_ROOT_PASSWORD: my-secret-pw`,
  "npmrc-env": () => `//registry.npmjs.org/:_authToken=\${NPM_TOKEN}
always-auth=true
save-exact=true`,
  "sri-hashes": (r) =>
    `<script src="https://cdn.jsdelivr.net/npm/${r.word()}@3.${r.int(0, 9)}.1/dist/app.min.js" integrity="sha384-${r.base64(48)}" crossorigin="anonymous"></script>`,
  "terraform-plan": (r) =>
    `  # aws_db_instance.${r.word()} will be updated in-place
  ~ resource "aws_db_instance" "${r.word()}" {
      ~ password = (sensitive value)
        id       = "db-${r.upper(26)}"
    }`,
  "jpeg-thumbnail": (r) =>
    JSON.stringify({ title: r.words(4), thumbnail: `/9j/4AAQSkZJRgABAQ${r.base64(240)}` }),
  "webpack-stats": (r) =>
    `asset main.${r.hex(20)}.js ${r.int(100, 900)} KiB [emitted] [immutable] (name: main)
asset vendors.${r.hex(20)}.js ${r.int(100, 900)} KiB [emitted]`,
  "magnet-links": (r) => `magnet:?xt=urn:btih:${r.hex(40)}&dn=${r.word()}-dataset-v${r.int(1, 9)}.tar`,
};

export function secretBenign(seed = 9): CorpusItem[] {
  const r = new Random(seed);
  const items: CorpusItem[] = [];
  const seen = new Set<string>();
  const entries = Object.entries(GENERATORS);
  // Every generator several times with fresh randomness (a fixed text counts once).
  for (let round = 0; round < 18; round++) {
    for (const [name, generate] of entries) {
      const text = generate(r);
      if (seen.has(text)) continue;
      seen.add(text);
      items.push({ id: `benign/${name}/${round}`, text, secrets: [] });
    }
  }
  return items;
}
