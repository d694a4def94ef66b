// The audit layer: every answered request becomes a record in the tamper-evident trail before its
// answer is released, and tool calls are refused while the trail cannot be written (fail-secure).
import type { AuditSink } from "../../audit/sqliteStore.ts";
import type { ArgumentsCipher } from "../../audit/argumentsCipher.ts";
import { auditBody, hashArguments, type AuditBody } from "../../audit/record.ts";
import type { Layer, MessageOutcome, RequestView, Verdict } from "../../pipeline/types.ts";

export interface AuditLayerOptions {
  readonly sink: AuditSink;
  readonly node: string;
  readonly arguments: "off" | "hashed" | "encrypted";
  /** Required when arguments are "encrypted". */
  readonly cipher?: ArgumentsCipher;
  /** Allow tool calls while the store cannot be written (explicit opt-out of fail-secure). */
  readonly failOpen: boolean;
}

/** Methods that act on the world: refused while their decision could not be recorded. */
const actingMethods = new Set(["tools/call", "prompts/get", "resources/read"]);

export function auditLayer(options: AuditLayerOptions): Layer {
  const { sink } = options;
  const keptArguments = (outcome: MessageOutcome): AuditBody["arguments"] => {
    if (outcome.method !== "tools/call" || options.arguments === "off") return undefined;
    const args = outcome.params?.arguments;
    if (options.arguments === "hashed") return hashArguments(args);
    if (!options.cipher) throw new Error("arguments encryption is configured without keys");
    return options.cipher.encrypt(args, outcome.ctx.id);
  };
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
      sink.append(auditBody(outcome, options.node, keptArguments(outcome)));
    },
  };
}
