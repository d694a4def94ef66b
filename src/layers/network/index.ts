// The network layer of the edge stage: refuses a request from an address the static deny list names,
// the allow list leaves out, or a block (a detector's response, `portcullis block add`) covers, before
// its body is read or any credential parsed. Connection caps and slow-client limits are in `connections.ts`.
import { GatewayError } from "../../errors.ts";
import type { NetworkConfig } from "../../config/networkSchema.ts";
import type { Enforcements } from "../../state/enforcements.ts";
import { AddressList } from "./addressList.ts";

export interface NetworkGuard {
  /** Undefined when the address may proceed; otherwise the error to answer with. */
  admit(address: string | undefined): GatewayError | undefined;
}

interface Lists {
  readonly allow: AddressList;
  readonly deny: AddressList;
}

export function networkGuard(enforcements: Enforcements, config: () => NetworkConfig): NetworkGuard {
  // Built once per network section: a reload brings a new section object, and with it new lists.
  const built = new WeakMap<NetworkConfig, Lists>();
  const listsOf = (section: NetworkConfig): Lists => {
    let lists = built.get(section);
    if (!lists) {
      lists = { allow: new AddressList(section.allow), deny: new AddressList(section.deny) };
      built.set(section, lists);
    }
    return lists;
  };
  return {
    admit(address) {
      const { allow, deny } = listsOf(config());
      const denied = deny.match(address);
      if (denied !== undefined) return addressDenied(`deny-list:${denied}`);
      // Without an address (a Unix socket), an allow list cannot be satisfied.
      if (allow.size > 0 && allow.match(address) === undefined) return addressDenied("allow-list");
      const block = enforcements.addressBlock(address);
      if (!block) return undefined;
      const seconds = Math.max(1, Math.ceil((block.until - Date.now()) / 1000));
      // An operator's reason is written for the client; a detector's summary is not (the rule names it).
      const why = block.source === "admin" ? block.reason : "blocked by a security response";
      return new GatewayError("PORTCULLIS_E_ADDRESS_BLOCKED", `${why}; retry in ${seconds} s`, {
        layer: "network",
        rule: `dynamic-block:${block.source}`,
        retryAfterSeconds: seconds,
      });
    },
  };
}

function addressDenied(rule: string): GatewayError {
  return new GatewayError("PORTCULLIS_E_ADDRESS_DENIED", undefined, { layer: "network", rule });
}
