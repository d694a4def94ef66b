// The control socket's routes for tool pins: list what is pinned and what changed, show one pin with
// the pinned and the changed definition (for `portcullis tools diff`), approve a changed or new
// definition. Pins live in the state store, so an approval holds on every gateway node.
import { z } from "zod";
import type { SecurityEventBus } from "../events/bus.ts";
import { PinError, statusOf, type PinRecord, type ToolPinStore } from "../layers/catalog/pins.ts";
import { PIN_RULES } from "../layers/catalog/rules.ts";
import { ControlError, parseBody, type ControlRoute } from "./controlSocket.ts";

const INVALID = "PORTCULLIS_E_PIN_INVALID";
const KINDS = ["tools", "prompts"] as const;

const approveBody = z.strictObject({
  by: z.string().trim().min(1).max(200),
  // The full SHA-256 of the definition reviewed: a prefix could be matched by a definition made for it.
  hash: z.string().regex(/^[0-9a-fA-F]{64}$/, "the full hash (64 hex digits) `tools diff` showed"),
  kind: z.enum(KINDS).optional(),
  note: z.string().max(1000).optional(),
});

/** One line of `tools list`: a pin without its definitions. */
export interface PinSummary {
  readonly kind: PinRecord["kind"];
  readonly upstream: string;
  readonly name: string;
  readonly publicName: string;
  readonly status: ReturnType<typeof statusOf>;
  readonly pinnedHash?: string;
  readonly pinnedAt?: number;
  readonly pinnedBy?: string;
  readonly pendingHash?: string;
  readonly pendingAt?: number;
}

export function summaryOf(record: PinRecord): PinSummary {
  return {
    kind: record.kind,
    upstream: record.upstream,
    name: record.name,
    publicName: record.publicName,
    status: statusOf(record),
    ...(record.pinned
      ? { pinnedHash: record.pinned.hash, pinnedAt: record.pinned.at, pinnedBy: record.pinned.by }
      : {}),
    ...(record.pending ? { pendingHash: record.pending.hash, pendingAt: record.pending.at } : {}),
  };
}

export function toolRoutes(pins: ToolPinStore, events: SecurityEventBus): ControlRoute[] {
  /** The one pin a reference names, or a refusal that says why not. */
  const resolve = async (reference: string, kind: string | undefined): Promise<PinRecord> => {
    if (kind !== undefined && !(KINDS as readonly string[]).includes(kind))
      throw new ControlError(400, INVALID, `kind is one of ${KINDS.join(", ")}`);
    const found = await pins.find(reference, kind as PinRecord["kind"] | undefined);
    if (found.length === 0)
      throw new ControlError(404, "PORTCULLIS_E_PIN_NOT_FOUND", `nothing pinned or waiting as ${reference}`);
    if (found.length > 1)
      throw new ControlError(
        409,
        "PORTCULLIS_E_PIN_AMBIGUOUS",
        `${reference} names ${found.map((r) => `${r.kind} ${r.upstream}/${r.name}`).join(" and ")}; say which with --kind or upstream/name`,
      );
    return found[0]!;
  };

  return [
    {
      method: "GET",
      path: /^\/tools$/,
      async handle({ query }) {
        const changed = ["1", "true", "yes"].includes(query.get("changed") ?? "");
        const records = await pins.list();
        const listed = records.map(summaryOf).filter((s) => !changed || s.status !== "pinned");
        return { body: { pins: listed } };
      },
    },
    {
      method: "GET",
      path: /^\/tools\/([^/]+)$/,
      async handle({ params, query }) {
        const record = await resolve(params[0] ?? "", query.get("kind") ?? undefined);
        return { body: { pin: { ...summaryOf(record), pinned: record.pinned, pending: record.pending } } };
      },
    },
    {
      method: "POST",
      path: /^\/tools\/([^/]+)\/approve$/,
      async handle({ params, body }) {
        const { by, hash, kind, note } = parseBody(approveBody, body, INVALID);
        const target = await resolve(params[0] ?? "", kind);
        try {
          const { record, previous } = await pins.approve(target.kind, target.upstream, target.name, {
            by,
            hash,
          });
          events.emit({
            type: "tool_changed",
            severity: "info",
            details: {
              rule: PIN_RULES.approved,
              change: "approved",
              kind: record.kind,
              upstream: record.upstream,
              name: record.name,
              publicName: record.publicName,
              previous: previous?.hash,
              pinned: record.pinned?.hash,
              by,
              ...(note ? { note } : {}),
            },
          });
          return { body: { pin: summaryOf(record), previousHash: previous?.hash } };
        } catch (err) {
          if (err instanceof PinError) throw new ControlError(err.status, err.code, err.message);
          throw err;
        }
      },
    },
  ];
}
