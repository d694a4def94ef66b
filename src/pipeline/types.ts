// The contract between the pipeline and its layers: the request context the edge stage builds,
// the message views the message stage hands to each layer, and the verdicts layers return.
import type { ErrorCode } from "../errors.ts";
import type { MessageTrace, TraceCarrier } from "../observability/traceContext.ts";
import type { DataFinding } from "../layers/data/report.ts";

export type Era = "legacy" | "modern";

export interface Principal {
  readonly id: string;
  readonly kind: "anonymous" | "user" | "agent" | "service";
  readonly roles: readonly string[];
  readonly authMethod: "none" | "stdio-local" | "bearer" | "api-key" | "mtls";
  readonly scopes?: readonly string[];
  readonly groups?: readonly string[];
  readonly tenant?: string;
  /** The OAuth client the token was issued to. */
  readonly clientId?: string;
  readonly issuer?: string;
  /** When the credential stops being valid (ms since the epoch). */
  readonly expiresAt?: number;
  /** When the user last authenticated at the issuer (ms since the epoch; the `auth_time` claim). */
  readonly authTime?: number;
  /** Authentication strength as the issuer stated it (`acr`, `amr`), for step-up decisions. */
  readonly acr?: string;
  readonly amr?: readonly string[];
  /** The device or service a verified client certificate identifies (mutual TLS). */
  readonly device?: { readonly id: string; readonly fingerprint: string; readonly notAfter?: number };
}

/**
 * What makes two principals the same for binding sessions and stateless state: the id within its
 * authentication method and issuer, with the OAuth client or API key and the certificate's device,
 * so that one issuer's `sub` never passes for another's, nor a new key for a revoked one of the same
 * name, nor one app or device for another.
 */
export function principalKey(principal: Principal): string {
  return [
    principal.authMethod,
    principal.issuer ?? "",
    // The API key itself, or the OAuth client a token was issued to: two apps of one user are two.
    principal.clientId ?? "",
    // The device of a client certificate: a session opened from one device stays on it.
    principal.device?.fingerprint ?? "",
    principal.id,
  ].join("\u0000");
}

export const anonymousPrincipal: Principal = Object.freeze({
  id: "anonymous",
  kind: "anonymous",
  roles: Object.freeze([]),
  authMethod: "none",
});

/** Who is calling, from where, over what: built once by the edge stage, read by every layer. */
export interface RequestContext {
  /** Correlation id of this message's processing, in logs and events. */
  readonly id: string;
  readonly transport: "http" | "stdio";
  readonly era: Era;
  readonly protocolVersion: string;
  readonly clientAddress: string | undefined;
  readonly principal: Principal;
  /** A digest of the client session id (never the id itself), for logs and audit. */
  readonly sessionDigest: string | undefined;
  readonly clientInfo: { readonly name: string; readonly version: string } | undefined;
  /** W3C trace context from the HTTP request's headers, if any (used only when tracing is on). */
  readonly traceCarrier?: TraceCarrier;
  /** This message's spans, when tracing is on: layer hooks and upstream calls open children. */
  readonly trace?: MessageTrace;
  /** What earlier layers learned of this message, for later ones (the only channel between layers). */
  readonly findings: MessageFindings;
  /** The client of this request, when a layer may ask it something while the request runs. */
  readonly client?: ClientQuestions;
  /** Aborted when the client cancels the request or goes away: a layer that waits stops waiting. */
  readonly signal?: AbortSignal;
}

/**
 * Questions to the client about its own request (a 2025 session gets a server-to-client request on
 * the request's stream; a 2026-07-28 client an input-required round).
 */
export interface ClientQuestions {
  /** Whether the client declared elicitation (a form the user answers). */
  readonly canElicit: boolean;
  ask(method: string, params: Record<string, unknown>, signal: AbortSignal): Promise<Record<string, unknown>>;
}

/** Written by one layer, read by the layers after it (and by the audit record). */
export interface MessageFindings {
  /** The trust layer's assessment of the caller for this message. */
  trust?: TrustAssessment;
  /** The authorization layer's decision: the policies that decided and any obligation met. */
  authz?: AuthzFinding;
  /** The flow labels the session has read so far (its taint), for calls, gets and reads. */
  taint?: readonly string[];
  /** What the data guard found and did in the arguments and the result (kinds, rules, actions; never values). */
  data?: DataFinding;
}

export interface TrustFactors {
  readonly reputation: number;
  readonly device: number;
  readonly location: number;
  readonly behaviour: number;
}

export interface TrustAssessment {
  /** Weighted sum of the factors minus any penalty a security response set, clamped to [0, 1]. */
  readonly score: number;
  readonly factors: TrustFactors;
  /** Why this access is unusual (first use of a tool, a new network, an unusual hour, …); empty when it is not. */
  readonly unusual: readonly string[];
  /** How much a security response lowered the score (0 when none). */
  readonly penalty: number;
}

export interface AuthzFinding {
  readonly decision: "permit" | "deny";
  /** Ids of the policies that decided (the forbids that matched, or the permits that allowed). */
  readonly policies: readonly string[];
  readonly obligations?: readonly string[];
  /** The human approval that let the call through, or refused it. */
  readonly approval?: string;
}

/** Where the router sends a message: the upstream and the name the upstream knows it by. */
export interface RouteTarget {
  readonly upstream: string;
  readonly kind: "tool" | "prompt" | "resource" | "completion" | "broadcast" | "local";
  /** The upstream's own name (tool, prompt) or URI (resource) of the target. */
  readonly name: string | undefined;
  /** The name the client used (namespaced). */
  readonly publicName: string | undefined;
  /** A tool's annotations as its upstream declared them (read-only, destructive, …). */
  readonly annotations?: Readonly<Record<string, unknown>>;
  /** The tool's whole definition as its upstream declared it (its own name, schemas): never to be changed. */
  readonly definition?: Readonly<Record<string, unknown>>;
}

export interface RequestView {
  readonly method: string;
  readonly params: Record<string, unknown> | undefined;
  readonly target: RouteTarget | undefined;
}

export interface ResultView {
  readonly method: string;
  readonly target: RouteTarget | undefined;
  readonly result: Record<string, unknown>;
}

export interface NotificationView {
  readonly direction: "to-server" | "to-client";
  readonly method: string;
  readonly params: Record<string, unknown> | undefined;
  readonly upstream: string | undefined;
}

/** A request from an upstream to the client (sampling, elicitation, roots) on its way to the client. */
export interface ServerRequestView {
  readonly method: string;
  readonly params: Record<string, unknown> | undefined;
  readonly upstream: string;
}

/** The client's answer to an upstream's request (sampling, elicitation, roots) on its way to that upstream. */
export interface ServerResultView {
  readonly method: string;
  /** The request as the client received it (after the layers). */
  readonly params: Record<string, unknown> | undefined;
  readonly upstream: string;
  readonly result: Record<string, unknown>;
}

export type CatalogKind = "tools" | "prompts" | "resources" | "resourceTemplates";

/** A list on its way to the client (after merging and name-spacing). */
export interface CatalogView {
  readonly kind: CatalogKind;
  readonly items: readonly CatalogItem[];
}

export interface CatalogItem {
  readonly upstream: string;
  readonly publicName: string;
  readonly definition: Readonly<Record<string, unknown>>;
}

export type Verdict<T = undefined> =
  | { readonly kind: "pass"; readonly rewrite?: T }
  | {
      readonly kind: "deny";
      readonly rule: string;
      readonly reason: string;
      readonly code?: ErrorCode;
      /** Added to the error's data (e.g. the ids of the policies that decided). */
      readonly data?: Readonly<Record<string, unknown>>;
      /**
       * The error the client gets instead, exactly as if the target did not exist (no existence
       * oracle); the audit record and the event still name the layer and the rule.
       */
      readonly conceal?: {
        readonly code: ErrorCode;
        readonly detail: string;
        readonly data?: Record<string, unknown>;
      };
    }
  | {
      readonly kind: "challenge";
      readonly rule: string;
      readonly reason: string;
      readonly challenge: "step-up" | "approval";
      readonly details?: Readonly<Record<string, unknown>>;
    };

export const pass: Verdict<never> = Object.freeze({ kind: "pass" });

type MaybePromise<T> = T | Promise<T>;

/** What happened to one message, reported to every layer once it is over. */
export interface MessageOutcome {
  readonly ctx: RequestContext;
  readonly method: string;
  readonly target: RouteTarget | undefined;
  /** The layer and rule that decided when a layer did not pass; "router"/"upstream" for errors past the chain. */
  readonly decidedBy: { readonly layer: string; readonly rule: string } | undefined;
  readonly verdict: "allow" | "deny" | "challenge" | "error";
  readonly errorCode: string | undefined;
  readonly latencyMs: number;
  readonly layerDecisions: readonly LayerDecision[];
  /** The request's params as the layers passed them on (what an audit may hash). */
  readonly params: Record<string, unknown> | undefined;
  /** The result as released to the client (after the layers), when there is one. */
  readonly result?: Record<string, unknown>;
}

export interface LayerDecision {
  readonly layer: string;
  readonly verdict: Verdict<unknown>["kind"];
  readonly rule: string | undefined;
}

/**
 * One layer of the message stage. Every hook is optional and may return undefined (no opinion); a
 * hook that throws denies (fail-secure).
 * Hooks run in chain order on the way in (requests, client notifications, the client's answers to
 * upstream requests) and in reverse order on the way out (results, upstream notifications and
 * requests, catalogues).
 */
export interface Layer {
  readonly name: string;
  /** A client request on its way to an upstream (or to the gateway itself). */
  onRequest?(
    request: RequestView,
    ctx: RequestContext,
  ): MaybePromise<Verdict<Record<string, unknown>> | undefined>;
  /** An upstream's result on its way back to the client. */
  onResult?(
    result: ResultView,
    ctx: RequestContext,
  ): MaybePromise<Verdict<Record<string, unknown>> | undefined>;
  /** A notification in either direction. */
  onNotification?(
    notification: NotificationView,
    ctx: RequestContext,
  ): MaybePromise<Verdict<Record<string, unknown>> | undefined>;
  /** An upstream's request to the client (sampling, elicitation, roots) before it is relayed. */
  onServerRequest?(
    request: ServerRequestView,
    ctx: RequestContext,
  ): MaybePromise<Verdict<Record<string, unknown>> | undefined>;
  /**
   * The client's answer to an upstream's request (a sampled message, what the user typed, its roots)
   * before it is relayed to that upstream. A deny refuses the answer: the upstream gets the error.
   */
  onServerResult?(
    result: ServerResultView,
    ctx: RequestContext,
  ): MaybePromise<Verdict<Record<string, unknown>> | undefined>;
  /** A merged list (tools, prompts, resources, templates) on its way to the client. */
  onCatalog?(
    catalog: CatalogView,
    ctx: RequestContext,
  ): MaybePromise<Verdict<readonly CatalogItem[]> | undefined>;
  /**
   * Before an answer is released: make the outcome durable (the audit trail). A hook that throws
   * withholds a successful answer, which becomes an error (fail-secure).
   */
  onRecord?(outcome: MessageOutcome): MaybePromise<void>;
  /** After a request has been answered: observe the outcome (logging, metrics). Never throws. */
  onOutcome?(outcome: MessageOutcome): void;
  /** Called once when the chain is discarded (reload or shutdown). */
  close?(): MaybePromise<void>;
}
