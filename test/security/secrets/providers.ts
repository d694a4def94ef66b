// Generators of live-looking credentials, one per provider and format, in the shapes the providers
// issue (prefixes, lengths, alphabets, check parts), written for this project from the providers'
// published formats. Nothing here is a real credential: every value is drawn from a seeded source.
import type { Random } from "./random.ts";

export interface SecretFormat {
  readonly provider: string;
  /** The environment variable a project would keep it in. */
  readonly env: string;
  readonly make: (r: Random) => string;
}

const pem = (r: Random, label: string, bytes: number, prefix = "MII") => {
  const body = prefix + r.base64(bytes).replace(/=+$/, "");
  const lines = body.match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join("\n")}\n-----END ${label}-----`;
};

const jwt = (r: Random, claims: Record<string, unknown>, alg = "RS256") => {
  const part = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");
  return `${part({ alg, typ: "JWT", kid: r.hex(16) })}.${part(claims)}.${r.base64url(alg === "HS256" ? 43 : 342)}`;
};

const password = (r: Random) =>
  r.from("ABCDEFGHJKLMNPQRSTUVWXYZ", 2) +
  r.from("abcdefghijkmnopqrstuvwxyz", 4) +
  r.from("23456789", 3) +
  r.pick(["!", "#", "%", "^", "*", "-", "_", "+"]) +
  r.alnum(r.int(4, 10));

export const SECRET_FORMATS: readonly SecretFormat[] = [
  { provider: "aws-access-key", env: "AWS_ACCESS_KEY_ID", make: (r) => `AKIA${r.upper(16)}` },
  { provider: "aws-temporary-key", env: "AWS_ACCESS_KEY_ID", make: (r) => `ASIA${r.upper(16)}` },
  {
    provider: "aws-secret-key",
    env: "AWS_SECRET_ACCESS_KEY",
    make: (r) => r.from("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789/+", 40),
  },
  { provider: "github-classic", env: "GITHUB_TOKEN", make: (r) => `ghp_${r.alnum(36)}` },
  { provider: "github-oauth", env: "GH_OAUTH_TOKEN", make: (r) => `gho_${r.alnum(36)}` },
  { provider: "github-app", env: "GITHUB_APP_TOKEN", make: (r) => `ghs_${r.alnum(36)}` },
  { provider: "github-refresh", env: "GITHUB_REFRESH_TOKEN", make: (r) => `ghr_${r.alnum(76)}` },
  {
    provider: "github-fine-grained",
    env: "GH_PAT",
    make: (r) => `github_pat_11${r.from("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 20)}_${r.alnum(59)}`,
  },
  { provider: "gitlab-pat", env: "GITLAB_TOKEN", make: (r) => `glpat-${r.base64url(20)}` },
  { provider: "gitlab-deploy", env: "CI_DEPLOY_TOKEN", make: (r) => `gldt-${r.base64url(20)}` },
  {
    provider: "slack-bot",
    env: "SLACK_BOT_TOKEN",
    make: (r) => `xoxb-${r.digits(12)}-${r.digits(13)}-${r.alnum(24)}`,
  },
  {
    provider: "slack-user",
    env: "SLACK_USER_TOKEN",
    make: (r) => `xoxp-${r.digits(12)}-${r.digits(12)}-${r.digits(13)}-${r.hex(32)}`,
  },
  {
    provider: "slack-webhook",
    env: "SLACK_WEBHOOK_URL",
    make: (r) => `https://hooks.slack.com/services/T${r.upper(10)}/B${r.upper(10)}/${r.alnum(24)}`,
  },
  { provider: "stripe-live", env: "STRIPE_SECRET_KEY", make: (r) => `sk_live_51${r.alnum(97)}` },
  { provider: "stripe-test", env: "STRIPE_TEST_KEY", make: (r) => `sk_test_51${r.alnum(97)}` },
  { provider: "stripe-restricted", env: "STRIPE_RESTRICTED_KEY", make: (r) => `rk_live_51${r.alnum(97)}` },
  { provider: "stripe-webhook", env: "STRIPE_WEBHOOK_SECRET", make: (r) => `whsec_${r.alnum(32)}` },
  {
    provider: "openai-project",
    env: "OPENAI_API_KEY",
    make: (r) => `sk-proj-${r.base64url(74)}T3BlbkFJ${r.base64url(74)}`,
  },
  {
    provider: "openai-legacy",
    env: "OPENAI_API_KEY",
    make: (r) => `sk-${r.alnum(20)}T3BlbkFJ${r.alnum(20)}`,
  },
  {
    provider: "openai-service-account",
    env: "OPENAI_API_KEY",
    make: (r) => `sk-svcacct-${r.base64url(74)}T3BlbkFJ${r.base64url(74)}`,
  },
  {
    provider: "anthropic",
    env: "ANTHROPIC_API_KEY",
    make: (r) => `sk-ant-api03-${r.base64url(93)}AA`,
  },
  { provider: "openrouter", env: "OPENROUTER_API_KEY", make: (r) => `sk-or-v1-${r.hex(64)}` },
  { provider: "deepseek", env: "DEEPSEEK_API_KEY", make: (r) => `sk-${r.hex(32)}` },
  { provider: "google-api-key", env: "GOOGLE_API_KEY", make: (r) => `AIza${r.base64url(35)}` },
  {
    provider: "google-oauth-access",
    env: "GOOGLE_ACCESS_TOKEN",
    make: (r) => `ya29.a0${r.base64url(150)}`,
  },
  { provider: "google-client-secret", env: "GOOGLE_CLIENT_SECRET", make: (r) => `GOCSPX-${r.base64url(28)}` },
  {
    provider: "gcp-service-account",
    env: "GOOGLE_APPLICATION_CREDENTIALS_JSON",
    make: (r) =>
      JSON.stringify({
        type: "service_account",
        project_id: `acme-${r.word()}-${r.digits(6)}`,
        private_key_id: r.hex(40),
        private_key: `${pem(r, "PRIVATE KEY", 1190)}\n`,
        client_email: `deployer@acme-${r.digits(6)}.iam.gserviceaccount.com`,
      }),
  },
  { provider: "npm", env: "NPM_TOKEN", make: (r) => `npm_${r.alnum(36)}` },
  { provider: "pypi", env: "PYPI_TOKEN", make: (r) => `pypi-AgEIcHlwaS5vcmc${r.base64url(120)}` },
  {
    provider: "huggingface",
    env: "HF_TOKEN",
    make: (r) => `hf_${r.from("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz", 34)}`,
  },
  { provider: "groq", env: "GROQ_API_KEY", make: (r) => `gsk_${r.alnum(52)}` },
  { provider: "replicate", env: "REPLICATE_API_TOKEN", make: (r) => `r8_${r.alnum(37)}` },
  { provider: "perplexity", env: "PPLX_API_KEY", make: (r) => `pplx-${r.alnum(48)}` },
  { provider: "xai", env: "XAI_API_KEY", make: (r) => `xai-${r.alnum(80)}` },
  { provider: "langsmith", env: "LANGSMITH_API_KEY", make: (r) => `lsv2_pt_${r.hex(32)}_${r.hex(10)}` },
  { provider: "pinecone", env: "PINECONE_API_KEY", make: (r) => `pcsk_${r.alnum(5)}_${r.alnum(65)}` },
  { provider: "sendgrid", env: "SENDGRID_API_KEY", make: (r) => `SG.${r.base64url(22)}.${r.base64url(43)}` },
  { provider: "mailgun", env: "MAILGUN_API_KEY", make: (r) => `key-${r.hex(32)}` },
  { provider: "twilio-auth-token", env: "TWILIO_AUTH_TOKEN", make: (r) => r.hex(32) },
  { provider: "datadog", env: "DD_API_KEY", make: (r) => r.hex(32) },
  { provider: "heroku", env: "HEROKU_API_KEY", make: (r) => r.uuid() },
  { provider: "digitalocean", env: "DIGITALOCEAN_TOKEN", make: (r) => `dop_v1_${r.hex(64)}` },
  { provider: "databricks", env: "DATABRICKS_TOKEN", make: (r) => `dapi${r.hex(32)}` },
  { provider: "docker-hub", env: "DOCKERHUB_TOKEN", make: (r) => `dckr_pat_${r.base64url(27)}` },
  { provider: "shopify", env: "SHOPIFY_ACCESS_TOKEN", make: (r) => `shpat_${r.hex(32)}` },
  { provider: "vault", env: "VAULT_TOKEN", make: (r) => `hvs.${r.base64url(92)}` },
  { provider: "vercel", env: "VERCEL_TOKEN", make: (r) => `vcp_${r.alnum(56)}` },
  { provider: "netlify", env: "NETLIFY_AUTH_TOKEN", make: (r) => `nfp_${r.alnum(36)}` },
  {
    provider: "cloudflare-user-token",
    env: "CLOUDFLARE_API_TOKEN",
    make: (r) => `cfut_${r.alnum(40)}${r.hex(8)}`,
  },
  { provider: "cloudflare-legacy", env: "CF_API_TOKEN", make: (r) => r.base64url(40) },
  {
    provider: "tailscale",
    env: "TS_AUTHKEY",
    make: (r) => `tskey-auth-k${r.alnum(12)}CNTRL-${r.alnum(33)}`,
  },
  { provider: "postman", env: "POSTMAN_API_KEY", make: (r) => `PMAK-${r.hex(24)}-${r.hex(34)}` },
  {
    provider: "newrelic",
    env: "NEW_RELIC_API_KEY",
    make: (r) => `NRAK-${r.from("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", 27)}`,
  },
  {
    provider: "atlassian",
    env: "JIRA_API_TOKEN",
    make: (r) => `ATATT3xFfGF0${r.base64url(170)}=${r.hex(8).toUpperCase()}`,
  },
  { provider: "linear", env: "LINEAR_API_KEY", make: (r) => `lin_api_${r.alnum(40)}` },
  { provider: "notion", env: "NOTION_TOKEN", make: (r) => `ntn_${r.digits(11)}${r.alnum(35)}` },
  { provider: "notion-legacy", env: "NOTION_API_KEY", make: (r) => `secret_${r.alnum(43)}` },
  { provider: "figma", env: "FIGMA_TOKEN", make: (r) => `figd_${r.base64url(40)}` },
  { provider: "sentry", env: "SENTRY_AUTH_TOKEN", make: (r) => `sntrys_eyJ${r.base64url(120)}` },
  {
    provider: "grafana-service-account",
    env: "GRAFANA_TOKEN",
    make: (r) => `glsa_${r.alnum(32)}_${r.hex(8)}`,
  },
  { provider: "supabase", env: "SUPABASE_ACCESS_TOKEN", make: (r) => `sbp_${r.hex(40)}` },
  { provider: "planetscale", env: "PLANETSCALE_PASSWORD", make: (r) => `pscale_pw_${r.base64url(43)}` },
  {
    provider: "age",
    env: "SOPS_AGE_KEY",
    make: (r) => `AGE-SECRET-KEY-1${r.from("QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L", 58)}`,
  },
  { provider: "square", env: "SQUARE_ACCESS_TOKEN", make: (r) => `sq0atp-${r.base64url(22)}` },
  {
    provider: "onepassword",
    env: "OP_SERVICE_ACCOUNT_TOKEN",
    make: (r) => `ops_eyJ${r.base64(360).replace(/[=]+$/, "")}`,
  },
  { provider: "doppler", env: "DOPPLER_TOKEN", make: (r) => `dp.st.prd.${r.alnum(43)}` },
  {
    provider: "mapbox-secret",
    env: "MAPBOX_SECRET_TOKEN",
    make: (r) => `sk.eyJ${r.base64url(80)}.${r.base64url(22)}`,
  },
  { provider: "okta", env: "OKTA_API_TOKEN", make: (r) => `00${r.base64url(40)}` },
  {
    provider: "discord-bot",
    env: "DISCORD_BOT_TOKEN",
    make: (r) => `MT${r.base64url(24)}.${r.base64url(6)}.${r.base64url(38)}`,
  },
  {
    provider: "telegram-bot",
    env: "TELEGRAM_BOT_TOKEN",
    make: (r) => `${r.int(1, 7)}${r.digits(9)}:AA${r.base64url(33)}`,
  },
  {
    provider: "azure-client-secret",
    env: "AZURE_CLIENT_SECRET",
    make: (r) => `${r.alnum(3)}${r.int(0, 9)}Q~${r.base64url(34).replace(/-/g, ".")}`,
  },
  { provider: "airtable", env: "AIRTABLE_TOKEN", make: (r) => `pat${r.alnum(14)}.${r.hex(64)}` },
  { provider: "pulumi", env: "PULUMI_ACCESS_TOKEN", make: (r) => `pul-${r.hex(40)}` },
  { provider: "buildkite", env: "BUILDKITE_API_TOKEN", make: (r) => `bkua_${r.hex(40)}` },
  { provider: "circleci", env: "CIRCLE_TOKEN", make: (r) => `CCIPAT_${r.alnum(22)}_${r.hex(40)}` },
  { provider: "contentful", env: "CONTENTFUL_MANAGEMENT_TOKEN", make: (r) => `CFPAT-${r.base64url(43)}` },
  { provider: "flyio", env: "FLY_API_TOKEN", make: (r) => `fo1_${r.base64url(43)}` },
  { provider: "render", env: "RENDER_API_KEY", make: (r) => `rnd_${r.alnum(32)}` },
  {
    provider: "jwt-access-token",
    env: "ACCESS_TOKEN",
    make: (r) =>
      jwt(r, {
        iss: "https://login.acme-corp.com/",
        sub: `auth0|${r.hex(24)}`,
        aud: "https://api.acme-corp.com",
        iat: 1_714_000_000 + r.int(0, 9_999_999),
        exp: 1_716_000_000 + r.int(0, 9_999_999),
        scope: "openid profile email read:orders",
      }),
  },
  {
    provider: "jwt-supabase-service-role",
    env: "SUPABASE_SERVICE_ROLE_KEY",
    make: (r) =>
      jwt(
        r,
        {
          iss: "supabase",
          ref: r.from("abcdefghijklmnopqrst", 20),
          role: "service_role",
          iat: 1_700_000_000,
        },
        "HS256",
      ),
  },
  {
    provider: "rsa-private-key",
    env: "RSA_PRIVATE_KEY",
    make: (r) => pem(r, "RSA PRIVATE KEY", 1190, "MIIEow"),
  },
  { provider: "pkcs8-private-key", env: "PRIVATE_KEY", make: (r) => pem(r, "PRIVATE KEY", 1210, "MIIEvQ") },
  { provider: "ec-private-key", env: "EC_PRIVATE_KEY", make: (r) => pem(r, "EC PRIVATE KEY", 118, "MHcC") },
  {
    provider: "openssh-private-key",
    env: "SSH_PRIVATE_KEY",
    make: (r) => pem(r, "OPENSSH PRIVATE KEY", 390, "b3BlbnNzaC1rZXktdjEAAAAA"),
  },
  {
    provider: "pgp-private-key",
    env: "GPG_PRIVATE_KEY",
    make: (r) => pem(r, "PGP PRIVATE KEY BLOCK", 900, "lQWGBGX"),
  },
  {
    provider: "postgres-url",
    env: "DATABASE_URL",
    make: (r) => `postgres://app_${r.word()}:${password(r)}@db-${r.int(1, 9)}.prod.internal:5432/${r.word()}`,
  },
  {
    provider: "mysql-url",
    env: "MYSQL_URL",
    make: (r) => `mysql://root:${password(r)}@mysql.${r.word()}.svc.cluster.local:3306/app`,
  },
  {
    provider: "mongodb-url",
    env: "MONGODB_URI",
    make: (r) =>
      `mongodb+srv://admin:${password(r)}@cluster0.${r.from("abcdefghijklmnopqrstuvwxyz0123456789", 5)}.mongodb.net/?retryWrites=true&w=majority`,
  },
  {
    provider: "redis-url",
    env: "REDIS_URL",
    make: (r) => `redis://default:${password(r)}@redis-${r.digits(5)}.cache.internal:6379/0`,
  },
  {
    provider: "amqp-url",
    env: "AMQP_URL",
    make: (r) => `amqps://worker:${password(r)}@rabbit.${r.word()}.internal:5671/vhost`,
  },
  {
    provider: "sqlserver-ado",
    env: "ConnectionStrings__Default",
    make: (r) =>
      `Server=tcp:sql-${r.word()}.database.windows.net,1433;Initial Catalog=orders;User ID=svc_orders;Password=${password(r)};Encrypt=True;`,
  },
  {
    provider: "azure-storage",
    env: "AZURE_STORAGE_CONNECTION_STRING",
    make: (r) =>
      `DefaultEndpointsProtocol=https;AccountName=acme${r.word()}${r.digits(3)};AccountKey=${r.base64(64)};EndpointSuffix=core.windows.net`,
  },
  {
    provider: "azure-sas-url",
    env: "AZURE_BLOB_SAS_URL",
    make: (r) =>
      `https://acmebackups.blob.core.windows.net/exports?sv=2022-11-02&ss=b&srt=co&sp=rwdlac&se=2025-12-31T00:00:00Z&st=2024-01-01T00:00:00Z&spr=https&sig=${encodeURIComponent(r.base64(32))}`,
  },
  {
    provider: "servicebus",
    env: "SERVICEBUS_CONNECTION",
    make: (r) =>
      `Endpoint=sb://acme-bus.servicebus.windows.net/;SharedAccessKeyName=RootManageSharedAccessKey;SharedAccessKey=${r.base64(32)}`,
  },
  {
    provider: "git-url-token",
    env: "GIT_REMOTE",
    make: (r) => `https://oauth2:${r.base64url(20)}@gitlab.acme-corp.com/platform/${r.word()}.git`,
  },
  {
    provider: "basic-auth-header",
    env: "BASIC_AUTH",
    make: (r) => `Basic ${Buffer.from(`svc-${r.word()}:${password(r)}`).toString("base64")}`,
  },
  { provider: "bearer-opaque", env: "API_BEARER", make: (r) => `Bearer ${r.base64url(40)}` },
  {
    provider: "django-secret-key",
    env: "DJANGO_SECRET_KEY",
    make: (r) => `django-insecure-${r.from("abcdefghijklmnopqrstuvwxyz0123456789!@#%^&*(-_=+)", 50)}`,
  },
  { provider: "generic-password", env: "DB_PASSWORD", make: password },
  { provider: "jwt-signing-secret", env: "JWT_SECRET", make: (r) => r.base64(48) },
  { provider: "generic-api-key", env: "PAYMENTS_API_KEY", make: (r) => r.alnum(32) },
];
