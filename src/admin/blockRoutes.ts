// The control socket's routes for the dynamic block list: what is blocked, block an address or range
// for a while, lift a block. Blocks live in the state store, so every gateway node enforces them.
import { z } from "zod";
import { isAddressOrRange } from "../config/networkSchema.ts";
import type { SecurityEventBus } from "../events/bus.ts";
import type { Enforcements } from "../state/enforcements.ts";
import { ControlError, parseBody, type ControlRoute } from "./controlSocket.ts";

/** The longest block an operator can set in one go (a permanent one belongs in network.deny). */
export const MAX_BLOCK_MS = 30 * 24 * 3_600_000;

const blockBody = z.strictObject({
  address: z
    .string()
    .refine(isAddressOrRange, "an IP address or CIDR range, e.g. 203.0.113.7 or 203.0.113.0/24"),
  forMs: z.number().int().min(1_000).max(MAX_BLOCK_MS),
  reason: z.string().trim().min(1).max(500),
  by: z.string().trim().min(1).max(200),
});

const INVALID = "PORTCULLIS_E_BLOCK_INVALID";

export function blockRoutes(enforcements: Enforcements, events: SecurityEventBus): ControlRoute[] {
  return [
    {
      method: "GET",
      path: /^\/blocks$/,
      async handle() {
        const blocks = enforcements.list().filter((e) => e.kind === "block");
        return { body: { blocks } };
      },
    },
    {
      method: "POST",
      path: /^\/blocks$/,
      async handle({ body }) {
        const { address, forMs, reason, by } = parseBody(blockBody, body, INVALID);
        // The reason is shown to the blocked client; who blocked it is for the event and the log only.
        const block = await enforcements.blockAddress(address, forMs, reason, "admin");
        events.emit({
          type: "ip_blocked",
          severity: "medium",
          details: {
            address: block.subject,
            source: "admin",
            by,
            reason,
            until: new Date(block.until).toISOString(),
          },
        });
        return { status: 201, body: { block } };
      },
    },
    {
      method: "DELETE",
      path: /^\/blocks\/([^/]+)$/,
      async handle({ params }) {
        const address = params[0] ?? "";
        if (!isAddressOrRange(address))
          throw new ControlError(400, INVALID, `not an IP address or CIDR range: ${address}`);
        const lifted = await enforcements.lift("block", address);
        if (!lifted) throw new ControlError(404, "PORTCULLIS_E_BLOCK_NOT_FOUND", `no block on ${address}`);
        return { body: { lifted: address } };
      },
    },
  ];
}
