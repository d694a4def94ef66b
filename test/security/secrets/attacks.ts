// The attack set of the secrets surface: every provider's credential in the places tool results
// carry them (env files, configs, manifests, code, shell history, logs, diffs, chat messages, HTTP
// dumps, error messages), each item naming the part that must not reach the client.
import { SECRET_FORMATS, type SecretFormat } from "./providers.ts";
import { Random, type CorpusItem } from "./random.ts";

type Context = (secret: string, format: SecretFormat, r: Random) => string;

const camel = (env: string) =>
  env.toLowerCase().replace(/_([a-z0-9])/g, (_m: string, c: string) => c.toUpperCase());
const snake = (env: string) => env.toLowerCase();
const json = (value: string) => JSON.stringify(value);

/** Header values carry their scheme already (`Bearer …`, `Basic …`). */
const header = (secret: string) => (/^(?:Bearer|Basic) /.test(secret) ? secret : `Bearer ${secret}`);

export const CONTEXTS: Readonly<Record<string, Context>> = {
  dotenv: (s, f, r) =>
    `NODE_ENV=production\nPORT=${r.int(3000, 9000)}\nLOG_LEVEL=info\n${f.env}=${s.includes("\n") ? json(s) : s}\nFEATURE_FLAGS=search,${r.word()}\n`,
  "json-config": (s, f, r) =>
    `{\n  "service": "${r.word()}-api",\n  "region": "eu-west-1",\n  "${camel(f.env)}": ${json(s)},\n  "timeoutMs": ${r.int(1, 60) * 1000}\n}`,
  "k8s-secret": (s, f, r) =>
    `apiVersion: v1\nkind: Secret\nmetadata:\n  name: ${r.word()}-credentials\n  namespace: prod\ntype: Opaque\nstringData:\n  ${f.env}: ${json(s)}\n`,
  "compose-env": (s, f, r) =>
    `services:\n  ${r.word()}:\n    image: ghcr.io/acme/${r.word()}:1.${r.int(0, 40)}.${r.int(0, 9)}\n    environment:\n      - ${f.env}=${s.includes("\n") ? json(s) : s}\n      - TZ=UTC\n`,
  "shell-history": (s, f, r) =>
    `  ${r.int(100, 999)}  cd ~/src/${r.word()}\n  ${r.int(100, 999)}  export ${f.env}='${s}'\n  ${r.int(100, 999)}  npm run deploy -- --env staging\n`,
  "python-code": (s, f) =>
    `import os\nfrom client import Client\n\n# TODO: move to the secret manager before release\n${snake(f.env)} = ${json(s)}\nclient = Client(${snake(f.env)}=${snake(f.env)}, timeout=30)\n`,
  "js-code": (s, f, r) =>
    `import { createClient } from "@acme/${r.word()}";\n\nconst client = createClient({\n  ${camel(f.env)}: ${json(s)},\n  retries: 3,\n});\nexport default client;\n`,
  terraform: (s, f, r) =>
    `provider "${r.word()}" {\n  region = "us-east-1"\n}\n\nvariable "${snake(f.env)}" {\n  type      = string\n  sensitive = true\n  default   = ${json(s)}\n}\n`,
  "actions-workflow": (s, f) =>
    `jobs:\n  deploy:\n    runs-on: ubuntu-latest\n    env:\n      ${f.env}: ${json(s)}\n    steps:\n      - uses: actions/checkout@v4\n      - run: make deploy\n`,
  "git-diff": (s, f, r) =>
    `diff --git a/.env.production b/.env.production\nindex ${r.hex(7)}..${r.hex(7)} 100644\n--- a/.env.production\n+++ b/.env.production\n@@ -3,4 +3,5 @@ APP_NAME=${r.word()}\n LOG_LEVEL=warn\n+${f.env}=${s.includes("\n") ? json(s) : s}\n CACHE_TTL=300\n`,
  "chat-message": (s, _f, r) =>
    `@${r.word()} here you go for the staging demo, please rotate it after friday:\n${s}\nping me if the ${r.word()} job still fails`,
  "markdown-notes": (s, f, r) =>
    `## Staging access (${r.word()})\n\n- Dashboard: https://staging.acme-corp.com\n- ${f.provider} credential: \`${s.replace(/\n/g, " ")}\`\n- Owner: platform team\n`,
  "error-message": (s, _f, r) =>
    `Traceback (most recent call last):\n  File "/srv/app/${r.word()}.py", line ${r.int(10, 400)}, in connect\n    raise AuthError(f"rejected credential {cred}")\nAuthError: rejected credential ${s.replace(/\n/g, "\\n")} (HTTP 401)`,
  "api-response": (s, f, r) =>
    `{"id":"${r.uuid()}","name":"${r.word()}-integration","created":"2024-0${r.int(1, 9)}-1${r.int(0, 9)}T10:00:00Z","credentials":{"${snake(f.env)}":${json(s)},"scopes":["read","write"]}}`,
  "http-dump": (s, _f, r) =>
    `> POST /v2/${r.word()}s HTTP/1.1\n> Host: api.${r.word()}.io\n> User-Agent: curl/8.5.0\n> Authorization: ${header(s.replace(/\n/g, ""))}\n> Content-Type: application/json\n>\n< HTTP/1.1 201 Created`,
  "java-properties": (s, f, r) =>
    `spring.application.name=${r.word()}\nserver.port=8080\n${f.env.toLowerCase().replace(/_/g, ".")}=${s.replace(/\n/g, "\\n")}\nmanagement.endpoints.web.exposure.include=health\n`,
  "log-line": (s, f, r) =>
    `2024-05-${r.int(10, 28)}T0${r.int(0, 9)}:1${r.int(0, 9)}:44.812Z DEBUG [${r.word()}] loaded settings from environment: ${f.env}=${s.replace(/\n/g, "\\n")} region=eu-west-1`,
};

/** The part of a credential that is secret (a URL's password, a header's token, a PEM body line). */
export function secretCore(provider: string, secret: string): string {
  if (secret.includes("-----BEGIN")) {
    const body = secret
      .replace(/\\n/g, "\n")
      .split("\n")
      .filter((line) => /^[A-Za-z0-9+/=]{40,}$/.test(line));
    return body[1] ?? body[0] ?? secret;
  }
  const url = /:\/\/[^:/@\s]+:([^@/\s]+)@/.exec(secret);
  if (url?.[1]) return url[1];
  const field =
    /(?:Password|AccountKey|SharedAccessKey)=([^;]+)/.exec(secret) ?? /[?&]sig=([^&]+)/.exec(secret);
  if (field?.[1]) return field[1];
  const scheme = /^(?:Bearer|Basic) (.+)$/.exec(secret);
  if (scheme?.[1]) return scheme[1];
  if (provider === "telegram-bot") return secret.slice(secret.indexOf(":") + 1);
  return secret;
}

export function secretAttacks(seed = 8): CorpusItem[] {
  const r = new Random(seed);
  const items: CorpusItem[] = [];
  const contexts = Object.entries(CONTEXTS);
  for (const format of SECRET_FORMATS) {
    // Every provider in six different places; the places rotate so that all are used evenly.
    for (let i = 0; i < 6; i++) {
      const [contextName, context] = contexts[(items.length + i * 3) % contexts.length] ?? contexts[0]!;
      const secret = format.make(r);
      items.push({
        id: `secret/${format.provider}/${contextName}`,
        text: context(secret, format, r),
        secrets: [secretCore(format.provider, secret)],
      });
    }
  }
  return items;
}
