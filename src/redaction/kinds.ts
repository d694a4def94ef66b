// The kinds of sensitive data the scanner names, and the data types they belong to: a kind (the
// marker's name, `[REDACTED:github-token]`) belongs to a category (secret or pii) and, for national
// identity numbers, to the `national-id` type; actions in the config are keyed by any of these.

export type DataCategory = "secret" | "pii";

/** Credentials: whoever holds one can act as its owner. */
export const SECRET_KINDS = [
  "private-key",
  "jwt",
  "portcullis-api-key",
  "aws-access-key",
  "aws-secret-key",
  "github-token",
  "gitlab-token",
  "npm-token",
  "slack-token",
  "slack-webhook",
  "google-api-key",
  "google-oauth-token",
  "stripe-key",
  "api-key",
  "anthropic-key",
  "openai-key",
  "bearer-token",
  "basic-credentials",
  "url-password",
  "connection-string",
  "password",
  "generic-secret",
  "secret-field",
  "azure-storage-key",
  "azure-sas-token",
  "azure-client-secret",
  "sendgrid-key",
  "mailgun-key",
  "telegram-token",
  "huggingface-token",
  "groq-key",
  "linear-key",
  "notion-token",
  "onepassword-token",
  "vault-token",
  "vercel-token",
  "databricks-token",
  "docker-token",
  "figma-token",
  "cloudflare-token",
  "tailscale-key",
  "shopify-token",
  "grafana-token",
  "replicate-token",
  "pypi-token",
  "digitalocean-token",
  "postman-key",
  "newrelic-key",
  "atlassian-token",
  "age-secret-key",
  "square-token",
  "planetscale-token",
  "supabase-token",
  "heroku-key",
  "sentry-token",
  "gcp-service-account",
  "discord-token",
  "doppler-token",
  "mapbox-token",
  "okta-token",
  "dropbox-token",
  "contentful-token",
  "netlify-token",
  "flyio-token",
  "render-token",
  "buildkite-token",
  "circleci-token",
  "perplexity-key",
  "xai-key",
  "langsmith-key",
  "pinecone-key",
  "airtable-token",
  "pulumi-token",
] as const;

/** National identity numbers: each with its own format and check digits. */
export const NATIONAL_ID_KINDS = [
  "us-ssn",
  "uk-nino",
  "fr-nir",
  "es-dni",
  "it-fiscal-code",
  "br-cpf",
  "in-aadhaar",
  "ca-sin",
] as const;

export const PII_KINDS = ["email", "phone", "card-number", "iban", ...NATIONAL_ID_KINDS] as const;

export type SecretKind = (typeof SECRET_KINDS)[number];
export type PiiKind = (typeof PII_KINDS)[number];

/** Every name an action may be keyed by: a category, the national-id group, or one kind. */
export const DATA_TYPES = ["secret", "pii", "national-id", ...SECRET_KINDS, ...PII_KINDS] as const;
export type DataType = (typeof DATA_TYPES)[number];

const nationalIds = new Set<string>(NATIONAL_ID_KINDS);
const piiKinds = new Set<string>(PII_KINDS);

export function categoryOf(kind: string): DataCategory {
  return piiKinds.has(kind) ? "pii" : "secret";
}

/** The names an action for this kind is looked up by, most specific first. */
export function dataTypesOf(kind: string): readonly string[] {
  if (nationalIds.has(kind)) return [kind, "national-id", "pii"];
  return [kind, categoryOf(kind)];
}
