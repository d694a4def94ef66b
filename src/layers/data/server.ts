// What an upstream sends the client besides results, and what the client answers it, through the
// data guard. Sampling messages, the system prompt and the tools offered go to the client's model,
// an elicitation's message and form to the user: they are read like results (data per `results`,
// exfiltration links, injections quarantined or blocked; a form that asks for a credential counts
// as an injection). Notifications are read for data only. The client's answers (a sampled message,
// what the user typed, its roots) go to the upstream and are read like tool arguments, per
// `externalArguments` when the upstream is an external sink as a whole. A 2026-07-28 upstream asks
// in an input-required result and its client answers in the retry: both are read the same way.
import type {
  Layer,
  NotificationView,
  RequestContext,
  RequestView,
  ResultView,
  ServerRequestView,
  ServerResultView,
} from "../../pipeline/types.ts";
import { credentialRequest } from "./elicitation.ts";
import { MessageScan, type GuardSettings, type LayerVerdict } from "./messageScan.ts";
import type { DataPolicies, DirectionPolicy, TargetPolicy } from "./policy.ts";
import { whereOf, type Direction, type MessageWhere } from "./report.ts";
import { rewriteArguments, rewriteServerRequest, type TextVisitor, type WalkBudget } from "./walk.ts";

type ServerHooks = Pick<Layer, "onServerRequest" | "onServerResult" | "onNotification">;

/** Notification fields that identify what the notification is about. */
const NOTIFICATION_IDS = new Set(["progressToken", "requestId", "uri", "_meta"]);

/** Requests whose 2026-07-28 retries carry the client's answers to input requests. */
const INPUT_CAPABLE = new Set(["tools/call", "prompts/get", "resources/read"]);

export function serverMessageHooks(
  settings: GuardSettings,
  policies: DataPolicies,
  upstreamLabelsOf: (upstream: string) => readonly string[],
): ServerHooks {
  return {
    onServerRequest(request: ServerRequestView, ctx: RequestContext): LayerVerdict {
      if (!request.params) return undefined;
      const scan = new MessageScan(settings, "server-request", policies.ofUpstream(request.upstream));
      const rewritten = scanServerRequest(scan, request.method, request.params, request.upstream);
      const verdict = scan.conclude(ctx, { method: request.method, upstream: request.upstream });
      if (verdict) return verdict;
      return rewritten === request.params ? undefined : { kind: "pass", rewrite: rewritten };
    },

    onServerResult(answer: ServerResultView, ctx: RequestContext): LayerVerdict {
      const policy = policies.ofUpstream(answer.upstream, upstreamLabelsOf(answer.upstream));
      const where = { method: answer.method, upstream: answer.upstream };
      return scanData(settings, "server-answer", policy, policy.arguments, answer.result, ctx, where);
    },

    onNotification(notification: NotificationView, ctx: RequestContext): LayerVerdict {
      const { params, upstream } = notification;
      if (notification.direction !== "to-client" || !params || upstream === undefined) return undefined;
      const policy = policies.ofUpstream(upstream);
      const where = { method: notification.method, upstream };
      // Identifiers the client matches on (a progress token, a request id, a resource's URI) are
      // left as they are: a token that looked like a phone number and was masked would orphan the
      // notification. The rest (a log line's data, a progress message) is read.
      const content = Object.fromEntries(
        Object.entries(params).filter(([key]) => !NOTIFICATION_IDS.has(key)),
      );
      const verdict = scanData(settings, "notification", policy, policy.results, content, ctx, where);
      if (verdict?.kind !== "pass" || !verdict.rewrite) return verdict;
      return { kind: "pass", rewrite: { ...params, ...verdict.rewrite } };
    },
  };
}

/** A 2026-07-28 client's retry: its answers to the upstream's input requests, read like arguments. */
export function answersVerdict(
  settings: GuardSettings,
  policies: DataPolicies,
  request: RequestView,
  ctx: RequestContext,
): LayerVerdict {
  const answers = request.params?.inputResponses;
  if (!INPUT_CAPABLE.has(request.method) || !answers || typeof answers !== "object") return undefined;
  const policy = policies.of(request.target);
  const where = whereOf(request.method, request.target);
  const verdict = scanData(settings, "server-answer", policy, policy.arguments, answers, ctx, where);
  if (verdict?.kind !== "pass" || !verdict.rewrite) return verdict;
  return { kind: "pass", rewrite: { ...request.params, inputResponses: verdict.rewrite } };
}

/** A 2026-07-28 upstream's input-required result: each input request read like a 2025 server request. */
export function inputRequestsVerdict(
  settings: GuardSettings,
  policy: TargetPolicy,
  view: ResultView,
  ctx: RequestContext,
): LayerVerdict {
  const requests = view.result.inputRequests;
  if (!requests || typeof requests !== "object") return undefined;
  const upstream = view.target?.upstream ?? "";
  const scan = new MessageScan(settings, "server-request", policy);
  const entries = requests as Record<string, unknown>;
  const what = `the input requests from ${upstreamNoun(upstream)}`;
  // Each request is read with its own marker text; the whole message is quarantined as one.
  const each = (
    visitOf: (method: string) => TextVisitor,
    budget: WalkBudget,
    value: Record<string, unknown>,
  ) =>
    mapEntries(value, (entry) => {
      const { method, params } = entry as { method?: unknown; params?: unknown };
      if (typeof method !== "string" || !params || typeof params !== "object") return entry;
      const next = rewriteServerRequest(method, params as Record<string, unknown>, visitOf(method), budget);
      return next === params ? entry : { ...(entry as object), params: next };
    });
  let rewritten = scan.walk(
    () => each((method) => scan.content(requestNoun(method, upstream)), scan.budget, entries),
    entries,
  );
  const forms = Object.values(entries).filter(elicitationForm) as { params: Record<string, unknown> }[];
  const extra =
    forms.length > 0 && scan.policy.injection !== "off"
      ? scan.walk(
          () => forms.map((form) => credentialRequest(form.params, scan.work)).find(Boolean),
          undefined,
        )
      : undefined;
  rewritten = scan.scoreWhole(
    rewritten,
    (value, visit, budget) => each(() => visit, budget, value),
    what,
    extra,
  );
  const verdict = scan.conclude(ctx, whereOf(view.method, view.target));
  if (verdict) return verdict;
  return rewritten === entries
    ? undefined
    : { kind: "pass", rewrite: { ...view.result, inputRequests: rewritten } };
}

/** An upstream's request as the client's model or user reads it; a form asking for a credential adds the rule. */
function scanServerRequest(
  scan: MessageScan,
  method: string,
  params: Record<string, unknown>,
  upstream: string,
): Record<string, unknown> {
  const what = requestNoun(method, upstream);
  const rewritten = scan.walk(
    () => rewriteServerRequest(method, params, scan.content(what), scan.budget),
    params,
  );
  const extra =
    method === "elicitation/create" && scan.policy.injection !== "off"
      ? scan.walk(() => credentialRequest(params, scan.work), undefined)
      : undefined;
  return scan.scoreWhole(
    rewritten,
    (value, visit, budget) => rewriteServerRequest(method, value, visit, budget),
    what,
    extra,
  );
}

/** Data in a message that is not read as instructions, found and acted on per `actions`. */
function scanData(
  settings: GuardSettings,
  direction: Direction,
  policy: TargetPolicy,
  actions: DirectionPolicy,
  value: object,
  ctx: RequestContext,
  where: MessageWhere,
): LayerVerdict {
  if (!actions.scanSecrets && !actions.scanPii) return undefined;
  const scan = new MessageScan(settings, direction, policy);
  const rewritten = scan.walk(() => rewriteArguments(value, scan.data(actions), scan.budget), value);
  const verdict = scan.conclude(ctx, where);
  if (verdict) return verdict;
  return rewritten === value ? undefined : { kind: "pass", rewrite: rewritten as Record<string, unknown> };
}

function elicitationForm(entry: unknown): boolean {
  const { method, params } = (entry ?? {}) as { method?: unknown; params?: unknown };
  return method === "elicitation/create" && params !== null && typeof params === "object";
}

function mapEntries(
  value: Record<string, unknown>,
  map: (entry: unknown) => unknown,
): Record<string, unknown> {
  let copy: Record<string, unknown> | undefined;
  for (const [key, entry] of Object.entries(value)) {
    const next = map(entry);
    if (next === entry) continue;
    copy ??= { ...value };
    Object.defineProperty(copy, key, { value: next, enumerable: true, writable: true, configurable: true });
  }
  return copy ?? value;
}

/** How the quarantine marker names an upstream's request. */
function requestNoun(method: string, upstream: string): string {
  const from = upstreamNoun(upstream);
  if (method === "sampling/createMessage") return `the sampling request from ${from}`;
  if (method === "elicitation/create") return `the form request from ${from}`;
  return `the request from ${from}`;
}

function upstreamNoun(upstream: string): string {
  return upstream.length <= 100 && /^[\w.-]+$/.test(upstream) ? `upstream ${upstream}` : "an upstream";
}
