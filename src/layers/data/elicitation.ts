// A form an upstream asks the user to fill in that asks for a credential: MCP forbids it (sensitive
// information goes through URL mode, never through a form), and it is what phishing through
// elicitation looks like. Found from a text field's name or label, or from a message that asks the
// user to type a credential into the form.
import { SECRET_KEY } from "../../redaction/redact.ts";
import type { ScanWork } from "./budget.ts";

export const CREDENTIAL_REQUEST_RULE = "credential-request";
/** Strong enough to reach the default injection threshold alone. */
export const CREDENTIAL_REQUEST_WEIGHT = 0.8;

const CREDENTIAL =
  /\b(?:pass(?:word|phrase|code)s?|api[ _-]?keys?|(?:access|secret|private|signing)[ _-]?keys?|(?:access|auth|bearer|api|personal access|refresh|session|github|gitlab|slack|npm)[ _-]?tokens?|client[ _-]?secrets?|(?:seed|recovery|mnemonic)[ _-]?(?:phrases?|words|codes?)|one[ -]?time (?:code|password)|(?:2fa|mfa|otp|verification|security) codes?|card numbers?|credit card|cvv|cvc|social security numbers?|ssn)\b/i;
/** A message that asks the user to hand a credential over. */
const ASKS = new RegExp(
  `\\b(?:enter|type|provide|paste|give|input|share|submit|fill in|confirm)\\b[^.?!\\n]{0,60}${CREDENTIAL.source}`,
  "i",
);
/** Names that say a value is a handle, not a secret (`nextPageToken`, `csrf_token`). */
const HANDLE = /page|cursor|continuation|next|csrf|xsrf|sync|etag|max|limit|count/i;
/** A form has a handful of fields; past this many the rest are not read. */
const MAX_FIELDS = 100;

/** The rule and its weight when an elicitation form asks for a credential. */
export function credentialRequest(
  params: Record<string, unknown>,
  work: ScanWork,
): { score: number; rules: string[] } | undefined {
  if (params.mode === "url") return undefined;
  const schema = params.requestedSchema as { properties?: unknown } | undefined;
  const properties = schema?.properties;
  if (!properties || typeof properties !== "object") return undefined;
  const fields = Object.entries(properties as Record<string, unknown>).slice(0, MAX_FIELDS);
  const textFields = fields.filter(([, field]) => isText(field));
  if (textFields.length === 0) return undefined;
  const asks = (text: unknown): boolean => {
    if (typeof text !== "string") return false;
    work.spend(text.length);
    return CREDENTIAL.test(text);
  };
  const found =
    textFields.some(([name, field]) => {
      work.spend(name.length);
      const { title, description } = field as { title?: unknown; description?: unknown };
      return (SECRET_KEY.test(name) && !HANDLE.test(name)) || asks(title) || asks(description);
    }) ||
    (typeof params.message === "string" && (work.spend(params.message.length), ASKS.test(params.message)));
  return found ? { score: CREDENTIAL_REQUEST_WEIGHT, rules: [CREDENTIAL_REQUEST_RULE] } : undefined;
}

/** A field the user types text into (not a number, a boolean or a choice from a list). */
function isText(field: unknown): boolean {
  if (!field || typeof field !== "object") return false;
  const { type, enum: choices, oneOf } = field as { type?: unknown; enum?: unknown; oneOf?: unknown };
  return (type === undefined || type === "string") && choices === undefined && oneOf === undefined;
}
