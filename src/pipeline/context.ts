// Builds the request context of the edge stage. Until the identity layer exists every caller is the
// anonymous principal (stdio: the local user), which later layers must treat as least privileged.
import { randomUUID } from "node:crypto";
import { anonymousPrincipal, type Era, type Principal, type RequestContext } from "./types.ts";
import type { ClientSession } from "../session/clientSession.ts";
import type { TraceCarrier } from "../observability/traceContext.ts";

export interface EdgeFacts {
  readonly transport: "http" | "stdio";
  readonly era: Era;
  readonly protocolVersion: string;
  readonly clientAddress: string | undefined;
  readonly principal?: Principal;
  /** W3C trace context from this request's HTTP headers. */
  readonly traceCarrier?: TraceCarrier;
}

/**
 * The context of a message on an open session: the edge facts of the request that opened it, and
 * the trace context of the HTTP request this message came in (if any).
 */
export function sessionContext(session: ClientSession, traceCarrier?: TraceCarrier): RequestContext {
  return buildContext(
    {
      ...session.origin,
      // The newest credential's principal: roles removed at the issuer are gone at once.
      principal: session.principal,
      era: session.channel.era,
      protocolVersion: session.protocolVersion,
      traceCarrier,
    },
    session,
  );
}

export function buildContext(facts: EdgeFacts, session: ClientSession | undefined): RequestContext {
  return {
    id: randomUUID(),
    transport: facts.transport,
    era: facts.era,
    protocolVersion: facts.protocolVersion,
    clientAddress: facts.clientAddress,
    principal: facts.principal ?? anonymousPrincipal,
    sessionDigest: session?.digest,
    clientInfo: session?.clientInfo,
    traceCarrier: facts.traceCarrier,
    findings: {},
  };
}
