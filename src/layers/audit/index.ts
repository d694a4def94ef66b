// The audit layer: every answered request becomes a record in the tamper-evident trail before its
// answer is released, and tool calls are refused while the trail cannot be written (fail-secure).
import type { AuditSink } from "../../audit/sink.ts";
import type { ArgumentsCipher } from "../../audit/argumentsCipher.ts";
import { auditBody, hashArguments, type KeptValue } from "../../audit/record.ts";
import { redact } from "../../redaction/redact.ts";
import type { Layer, MessageOutcome, RequestView, Verdict } from "../../pipeline/types.ts";

export interface AuditLayerOptions {
  readonly sink: AuditSink;
  readonly node: string;
  readonly arguments: KeepMode;
  readonly results: KeepMode;
  /** Required when arguments or results are "encrypted". */
  readonly cipher?: ArgumentsCipher;
  /** Allow tool calls while the store cannot be written (explicit opt-out of fail-secure). */
  readonly failOpen: boolean;
}

export type KeepMode = "off" | "hashed" | "redacted" | "encrypted";

/** Suffix of the associated data that binds an encrypted result to its record (arguments use the bare id). */
export const RESULT_AAD_SUFFIX = "#result";

/** Methods that act on the world: refused while their decision could not be recorded. */
const actingMethods = new Set(["tools/call", "prompts/get", "resources/read"]);

export function auditLayer(options: AuditLayerOptions): Layer {
  const { sink } = options;
  // Secrets never reach the store in clear: a hash, a redacted copy or a ciphertext.
  const keep = (mode: KeepMode, value: unknown, aad: string): KeptValue | undefined => {
    switch (mode) {
      case "off":
        return undefined;
      case "hashed":
        return hashArguments(value);
      case "redacted": {
        const { value: redacted, kinds } = redact(value ?? null);
        return { mode: "redacted", value: redacted, found: kinds };
      }
      case "encrypted":
        if (!options.cipher) throw new Error("audit encryption is configured without keys");
        return options.cipher.encrypt(value, aad);
    }
  };
  const kept = (outcome: MessageOutcome) => {
    if (outcome.method !== "tools/call") return { args: undefined, result: undefined };
    const id = outcome.ctx.id;
    return {
      args: keep(options.arguments, outcome.params?.arguments, id),
      result: outcome.result ? keep(options.results, outcome.result, id + RESULT_AAD_SUFFIX) : undefined,
    };
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
    onRecord(outcome: MessageOutcome): void | Promise<void> {
      const { args, result } = kept(outcome);
      return sink.append(auditBody(outcome, options.node, args, result));
    },
  };
}
