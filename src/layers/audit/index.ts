// The audit layer: every answered request becomes a record in the tamper-evident trail before its
// answer is released, and tool calls are refused while the trail cannot be written (fail-secure).
import type { AuditSink } from "../../audit/sqliteStore.ts";
import { auditBody, hashArguments } from "../../audit/record.ts";
import type { Layer, MessageOutcome, RequestView, Verdict } from "../../pipeline/types.ts";

export interface AuditLayerOptions {
  readonly sink: AuditSink;
  readonly node: string;
  readonly arguments: "off" | "hashed";
  /** Allow tool calls while the store cannot be written (explicit opt-out of fail-secure). */
  readonly failOpen: boolean;
}

/** Methods that act on the world: refused while their decision could not be recorded. */
const actingMethods = new Set(["tools/call", "prompts/get", "resources/read"]);

export function auditLayer(options: AuditLayerOptions): Layer {
  const { sink } = options;
  return {
    name: "audit",
    onRequest(request: RequestView): Verdict<Record<string, unknown>> | undefined {
      if (sink.healthy || options.failOpen || !actingMethods.has(request.method)) return undefined;
      return {
        kind: "deny",
        rule: "audit-unavailable",
        reason: "the audit trail cannot be written, so no tool call is carried out",
        code: "PORTCULLIS_E_AUDIT_UNAVAILABLE",
      };
    },
    onRecord(outcome: MessageOutcome): void {
      const args =
        options.arguments === "hashed" && outcome.method === "tools/call"
          ? hashArguments(outcome.params?.arguments)
          : undefined;
      sink.append(auditBody(outcome, options.node, args));
    },
  };
}
