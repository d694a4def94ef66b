// The network layer of the edge stage: refuses a request from an address that a security response
// has blocked, before its body is read. (Static allow and deny lists and flood limits join it.)
import { GatewayError } from "../../errors.ts";
import type { Enforcements } from "../../state/enforcements.ts";

export interface NetworkGuard {
  /** Undefined when the address may proceed; otherwise the error to answer with. */
  admit(address: string | undefined): GatewayError | undefined;
}

export function networkGuard(enforcements: Enforcements): NetworkGuard {
  return {
    admit(address) {
      const block = enforcements.addressBlock(address);
      if (!block) return undefined;
      const seconds = Math.max(1, Math.ceil((block.until - Date.now()) / 1000));
      return new GatewayError("PORTCULLIS_E_ADDRESS_BLOCKED", `${block.reason}; retry in ${seconds} s`, {
        layer: "network",
        rule: `dynamic-block:${block.source}`,
        retryAfterSeconds: seconds,
      });
    },
  };
}
