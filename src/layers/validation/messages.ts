// Checks a client's request and notification params against the official MCP schemas (the SDK's zod
// schemas, never redeclared here) for the client's revision. The SDK's per-revision wire schemas are
// internal to it; what it exports are the params schemas both revisions share. For client messages
// the revisions differ in which methods exist (the ingress and router refuse the others) and in the
// `_meta` envelope every 2026-07-28 request carries: checked here with the SDK's own parts.
import type { ZodType } from "zod";
import {
  CallToolRequestSchema,
  CancelledNotificationSchema,
  ClientCapabilitiesSchema,
  CompleteRequestSchema,
  DiscoverRequestSchema,
  GetPromptRequestSchema,
  ImplementationSchema,
  InitializedNotificationSchema,
  InitializeRequestSchema,
  ListPromptsRequestSchema,
  ListResourcesRequestSchema,
  ListResourceTemplatesRequestSchema,
  ListToolsRequestSchema,
  LoggingLevelSchema,
  PingRequestSchema,
  ProgressNotificationSchema,
  ReadResourceRequestSchema,
  RootsListChangedNotificationSchema,
  SetLevelRequestSchema,
  SubscribeRequestSchema,
  SubscriptionsListenRequestSchema,
  UnsubscribeRequestSchema,
} from "@modelcontextprotocol/core";
import {
  CLIENT_CAPABILITIES_META_KEY,
  CLIENT_INFO_META_KEY,
  LOG_LEVEL_META_KEY,
  PROTOCOL_VERSION_META_KEY,
} from "@modelcontextprotocol/server";
import type { RequestContext } from "../../pipeline/types.ts";
import { clip, type SchemaIssue } from "./toolSchemas.ts";

/** The params schema of each client request, by method. */
const requestParams: ReadonlyMap<string, ZodType> = new Map<string, ZodType>([
  ["initialize", InitializeRequestSchema.shape.params],
  ["ping", PingRequestSchema.shape.params],
  ["tools/list", ListToolsRequestSchema.shape.params],
  ["tools/call", CallToolRequestSchema.shape.params],
  ["prompts/list", ListPromptsRequestSchema.shape.params],
  ["prompts/get", GetPromptRequestSchema.shape.params],
  ["resources/list", ListResourcesRequestSchema.shape.params],
  ["resources/templates/list", ListResourceTemplatesRequestSchema.shape.params],
  ["resources/read", ReadResourceRequestSchema.shape.params],
  ["resources/subscribe", SubscribeRequestSchema.shape.params],
  ["resources/unsubscribe", UnsubscribeRequestSchema.shape.params],
  ["completion/complete", CompleteRequestSchema.shape.params],
  ["logging/setLevel", SetLevelRequestSchema.shape.params],
  ["server/discover", DiscoverRequestSchema.shape.params],
  ["subscriptions/listen", SubscriptionsListenRequestSchema.shape.params],
]);

/** The params schema of each client notification, by method. */
const notificationParams: ReadonlyMap<string, ZodType> = new Map<string, ZodType>([
  ["notifications/cancelled", CancelledNotificationSchema.shape.params],
  ["notifications/progress", ProgressNotificationSchema.shape.params],
  ["notifications/initialized", InitializedNotificationSchema.shape.params],
  ["notifications/roots/list_changed", RootsListChangedNotificationSchema.shape.params],
]);

/** Why a message does not match its schema: the rule and a short list of findings. */
export interface MessageProblem {
  readonly rule: "mcp-schema" | "mcp-envelope";
  readonly reason: string;
  readonly issues: readonly SchemaIssue[];
}

const MAX_ISSUES = 5;

/** Checks a client request; methods without a schema are the router's business. */
export function checkRequest(
  method: string,
  params: Record<string, unknown> | undefined,
  ctx: RequestContext,
): MessageProblem | undefined {
  const schema = requestParams.get(method);
  if (!schema) return undefined;
  const parsed = schema.safeParse(params);
  if (!parsed.success)
    return {
      rule: "mcp-schema",
      reason: `the params of ${method} do not match the MCP schema of ${ctx.protocolVersion}`,
      issues: zodIssues(parsed.error.issues, "/params"),
    };
  return ctx.era === "modern" ? checkEnvelope(params, ctx) : undefined;
}

/** Checks a notification from the client. */
export function checkNotification(
  method: string,
  params: Record<string, unknown> | undefined,
  ctx: RequestContext,
): MessageProblem | undefined {
  const schema = notificationParams.get(method);
  const parsed = schema?.safeParse(params);
  if (!parsed || parsed.success) return undefined;
  return {
    rule: "mcp-schema",
    reason: `the params of ${method} do not match the MCP schema of ${ctx.protocolVersion}`,
    issues: zodIssues(parsed.error.issues, "/params"),
  };
}

/**
 * The 2026-07-28 request envelope: the revision (the one this request is served as), the client's
 * capabilities, and optionally its implementation info and log level — the keys the SDK's
 * 2026-07-28 codec requires and the shapes of the SDK's schemas.
 */
function checkEnvelope(
  params: Record<string, unknown> | undefined,
  ctx: RequestContext,
): MessageProblem | undefined {
  const meta = params?._meta as Record<string, unknown> | undefined;
  const issues: SchemaIssue[] = [];
  const at = (key: string) => `/params/_meta/${key.replaceAll("~", "~0").replaceAll("/", "~1")}`;
  const version = meta?.[PROTOCOL_VERSION_META_KEY];
  if (typeof version !== "string")
    issues.push({ instancePath: at(PROTOCOL_VERSION_META_KEY), message: "required string" });
  else if (version !== ctx.protocolVersion)
    issues.push({
      instancePath: at(PROTOCOL_VERSION_META_KEY),
      message: clip(`names ${version}, but the request is served as ${ctx.protocolVersion}`, 200),
    });
  const parts: [string, ZodType, boolean][] = [
    [CLIENT_CAPABILITIES_META_KEY, ClientCapabilitiesSchema, true],
    [CLIENT_INFO_META_KEY, ImplementationSchema, false],
    [LOG_LEVEL_META_KEY, LoggingLevelSchema, false],
  ];
  for (const [key, schema, required] of parts) {
    const value = meta?.[key];
    if (value === undefined) {
      if (required) issues.push({ instancePath: at(key), message: "required" });
      continue;
    }
    const parsed = schema.safeParse(value);
    if (!parsed.success) issues.push(...zodIssues(parsed.error.issues, at(key)));
  }
  if (issues.length === 0) return undefined;
  return {
    rule: "mcp-envelope",
    reason: `the request's _meta envelope does not match the MCP schema of ${ctx.protocolVersion}`,
    issues: issues.slice(0, MAX_ISSUES),
  };
}

function zodIssues(
  issues: readonly { readonly path: readonly PropertyKey[]; readonly message: string }[],
  prefix: string,
): SchemaIssue[] {
  return issues.slice(0, MAX_ISSUES).map((issue) => ({
    instancePath: clip(
      [prefix, ...issue.path.map((p) => String(p).replaceAll("~", "~0").replaceAll("/", "~1"))].join("/"),
      200,
    ),
    message: clip(issue.message, 200),
  }));
}
