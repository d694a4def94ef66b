// The audit record of one decision and the hash chain over records: each record's hash is SHA-256
// over the previous hash and the record's RFC 8785 canonical JSON, so editing, deleting, inserting
// or reordering any record breaks every hash after it.
import { createHash, randomUUID } from "node:crypto";
import type { StampedEvent } from "../events/bus.ts";
import canonicalize from "canonicalize";
import type { AuthzFinding, LayerDecision, MessageOutcome, TrustAssessment } from "../pipeline/types.ts";
import type { EncryptedArguments } from "./argumentsCipher.ts";

/** The hash before the first record of a chain. */
export const GENESIS_HASH = "0".repeat(64);

export interface AuditBody {
  readonly time: string;
  readonly node: string;
  readonly correlationId: string;
  readonly principal: string;
  readonly authMethod: string;
  /** The device or service of a verified client certificate, when there was one. */
  readonly device?: string;
  /** A digest of the session id, never the id. */
  readonly session: string | undefined;
  readonly client: string | undefined;
  readonly transport: string;
  readonly era: string;
  readonly method: string;
  readonly upstream: string | undefined;
  readonly target: string | undefined;
  readonly verdict: MessageOutcome["verdict"];
  readonly decidedBy: { readonly layer: string; readonly rule: string } | undefined;
  readonly layers: readonly LayerDecision[];
  readonly errorCode: string | undefined;
  readonly latencyMs: number;
  /** The arguments, as the configured mode allows: a hash, a redacted copy, a ciphertext, or nothing. */
  readonly arguments: KeptValue | undefined;
  /** The tool's result, in the same modes (absent for errors and methods other than tools/call). */
  readonly result?: KeptValue | undefined;
  /** For decisions taken at the edge (authentication), what the identity layer saw. */
  readonly details?: Readonly<Record<string, unknown>>;
  /** The trust evaluator's score and factors for this message, when it ran. */
  readonly trust?: {
    readonly score: number;
    readonly factors: Readonly<Record<string, number>>;
    readonly unusual: readonly string[];
    readonly penalty: number;
  };
  /** The authorization decision: the policies that decided, obligations, the approval that was used. */
  readonly authz?: AuthzFinding;
}

export type KeptValue =
  | { readonly mode: "hashed"; readonly sha256: string }
  | { readonly mode: "redacted"; readonly value: unknown; readonly found: readonly string[] }
  | EncryptedArguments;

export function auditBody(
  outcome: MessageOutcome,
  node: string,
  args: AuditBody["arguments"],
  result?: AuditBody["result"],
): AuditBody {
  const { ctx, target } = outcome;
  return {
    time: new Date().toISOString(),
    node,
    correlationId: ctx.id,
    principal: ctx.principal.id,
    authMethod: ctx.principal.authMethod,
    ...(ctx.principal.device ? { device: ctx.principal.device.id } : {}),
    session: ctx.sessionDigest,
    client: ctx.clientAddress,
    transport: ctx.transport,
    era: ctx.era,
    method: outcome.method,
    upstream: target?.kind === "local" ? undefined : target?.upstream,
    target: target?.publicName ?? target?.name,
    verdict: outcome.verdict,
    decidedBy: outcome.decidedBy,
    layers: outcome.layerDecisions,
    errorCode: outcome.errorCode,
    latencyMs: Math.round(outcome.latencyMs * 1000) / 1000,
    arguments: args,
    ...(result === undefined ? {} : { result }),
    ...(ctx.findings.trust ? { trust: trustOf(ctx.findings.trust) } : {}),
    ...(ctx.findings.authz ? { authz: ctx.findings.authz } : {}),
    ...(ctx.findings.taint?.length ? { taint: ctx.findings.taint } : {}),
    ...(ctx.findings.data ? { data: ctx.findings.data } : {}),
  };
}

const rounded = (n: number) => Math.round(n * 1000) / 1000;

function trustOf(assessment: TrustAssessment): NonNullable<AuditBody["trust"]> {
  const { factors } = assessment;
  return {
    score: rounded(assessment.score),
    factors: {
      reputation: rounded(factors.reputation),
      device: rounded(factors.device),
      location: rounded(factors.location),
      behaviour: rounded(factors.behaviour),
    },
    unusual: assessment.unusual,
    penalty: rounded(assessment.penalty),
  };
}

/** The canonical text of a body: what is stored and what is hashed. */
export function canonicalBody(body: AuditBody): string {
  const text = canonicalize(body);
  if (text === undefined) throw new Error("audit record cannot be encoded");
  return text;
}

export function chainHash(prevHash: string, canonical: string): string {
  return createHash("sha256").update(prevHash).update("\n").update(canonical).digest("hex");
}

/** A digest of tool arguments, so that equal calls can be matched without storing their content. */
export function hashArguments(args: unknown): KeptValue {
  const text = canonicalize(args ?? null) ?? "null";
  return { mode: "hashed", sha256: createHash("sha256").update(text).digest("hex") };
}

/** Identity events recorded in the trail: refusals at the edge, before any message is handled. */
export const EDGE_AUDITED_EVENTS = new Set(["auth_failure", "session_hijack_suspected", "authz_denied"]);

/** The record of an identity decision taken at the edge (a refused credential, a hijack attempt). */
export function edgeAuditBody(event: StampedEvent, node: string): AuditBody {
  const d = event.details;
  const text = (value: unknown) => (typeof value === "string" ? value : undefined);
  return {
    time: event.time,
    node,
    correlationId: randomUUID(),
    // Only a principal whose credential was genuinely theirs is named; a claim is kept as a detail.
    principal: text(d.principal) ?? "unauthenticated",
    authMethod: "none",
    session: text(d.session),
    client: text(d.address),
    transport: "http",
    era: "edge",
    method: `edge/${event.type}`,
    upstream: undefined,
    target: undefined,
    verdict: "deny",
    decidedBy: { layer: "identity", rule: text(d.rule) ?? event.type },
    layers: [{ layer: "identity", verdict: "deny", rule: text(d.rule) ?? event.type }],
    errorCode: undefined,
    latencyMs: 0,
    arguments: undefined,
    details: {
      ...(text(d.reason) ? { reason: text(d.reason) } : {}),
      ...(text(d.claimed) ? { claimed: text(d.claimed) } : {}),
      ...(text(d.owner) ? { owner: text(d.owner) } : {}),
      ...(text(d.scope) ? { scope: text(d.scope) } : {}),
    },
  };
}
