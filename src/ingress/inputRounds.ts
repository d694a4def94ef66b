// Turns a 2025-era upstream's requests to the client (sampling, elicitation, roots) into
// 2026-07-28 input-required rounds for a stateless client: the upstream call stays pending at the
// gateway, the client is answered "input required" with a sealed request state, and its retry
// carries the answers back to the waiting upstream request.
import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import { GatewayError } from "../errors.ts";
import type { RpcOutcome } from "../gateway.ts";
import type { RequestRef } from "../session/clientSession.ts";

/** Methods whose results may be "input required" in 2026-07-28. */
export const INPUT_CAPABLE_METHODS = new Set(["tools/call", "prompts/get", "resources/read"]);

const STATE_PREFIX = "portcullis.v1.";
/** How long the gateway keeps an upstream call waiting for the client's next round. */
export const INPUT_ROUND_TIMEOUT_MS = 300_000;

/** Per process: a request state is only valid on the gateway node that holds the pending call. */
const sealKey = randomBytes(32);

interface WaitingInput {
  readonly method: string;
  readonly params: Record<string, unknown> | undefined;
  sent: boolean;
  readonly resolve: (result: Record<string, unknown>) => void;
  readonly reject: (error: Error) => void;
}

export type RoundOutcome =
  | { readonly kind: "done"; readonly outcome: RpcOutcome }
  | { readonly kind: "input"; readonly result: Record<string, unknown> }
  /** A request state that is forged, expired, another client's, or presented with another request. */
  | { readonly kind: "refused"; readonly message: string };

export class InputFlow {
  readonly token = randomBytes(16).toString("base64url");
  private readonly waiting = new Map<string, WaitingInput>();
  private readonly work: Promise<RoundOutcome>;
  private readonly binding: string;
  private wake: (() => void) | undefined;
  private counter = 0;
  private expiry: NodeJS.Timeout | undefined;
  private readonly onAbandon: () => void;
  /** The request the flow answers: a retry must repeat it, or it could read another call's result. */
  readonly origin: { readonly method: string; readonly name: unknown };

  /** `binding` names the principal and client the flow belongs to; a state presented by anyone else fails. */
  constructor(
    binding: string,
    origin: { method: string; name: unknown },
    work: Promise<RpcOutcome>,
    onAbandon: () => void,
  ) {
    this.binding = binding;
    this.origin = origin;
    this.work = work.then((outcome) => ({ kind: "done", outcome }));
    this.onAbandon = onAbandon;
  }

  /** The upstream asks the client for input: park the request until the client's next round. */
  ask(
    method: string,
    params: Record<string, unknown> | undefined,
    signal: AbortSignal,
  ): Promise<Record<string, unknown>> {
    return new Promise((resolve, reject) => {
      const key = `input-${++this.counter}`;
      this.waiting.set(key, { method, params, sent: false, resolve, reject });
      signal.addEventListener(
        "abort",
        () => {
          this.waiting.delete(key);
          reject(new GatewayError("PORTCULLIS_E_CANCELLED"));
        },
        { once: true },
      );
      this.wake?.();
    });
  }

  /** Waits until the upstream call completes, or needs input the client has not been asked for yet. */
  async next(): Promise<RoundOutcome> {
    if (this.wake)
      throw new GatewayError("PORTCULLIS_E_INVALID_PARAMS", "this requestState is already being resumed");
    if (this.expiry) clearTimeout(this.expiry);
    for (;;) {
      const unsent = [...this.waiting.entries()].filter(([, w]) => !w.sent);
      if (unsent.length > 0) {
        const inputRequests: Record<string, unknown> = {};
        for (const [key, w] of unsent) {
          w.sent = true;
          inputRequests[key] =
            w.params === undefined ? { method: w.method } : { method: w.method, params: w.params };
        }
        this.expiry = setTimeout(
          () => this.abandon("the client did not answer in time"),
          INPUT_ROUND_TIMEOUT_MS,
        );
        this.expiry.unref();
        return {
          kind: "input",
          result: { resultType: "input_required", inputRequests, requestState: this.seal() },
        };
      }
      const woken = new Promise<undefined>((resolve) => (this.wake = () => resolve(undefined)));
      const settled = await Promise.race([this.work, woken]);
      this.wake = undefined;
      if (settled) {
        if (this.expiry) clearTimeout(this.expiry);
        return settled;
      }
    }
  }

  /** Hands the client's answers to the upstream requests waiting for them. */
  answer(responses: unknown): void {
    if (!responses || typeof responses !== "object") return;
    for (const [key, value] of Object.entries(responses as Record<string, unknown>)) {
      const waiting = this.waiting.get(key);
      if (!waiting?.sent || !value || typeof value !== "object") continue;
      this.waiting.delete(key);
      waiting.resolve(value as Record<string, unknown>);
    }
  }

  abandon(reason: string): void {
    for (const w of this.waiting.values())
      w.reject(new GatewayError("PORTCULLIS_E_UPSTREAM_TIMEOUT", reason));
    this.waiting.clear();
    this.onAbandon();
  }

  private seal(): string {
    return `${STATE_PREFIX}${this.token}.${mac(this.token, this.binding)}`;
  }
}

/**
 * The input rounds of one 2026-07-28 client (over HTTP or stdio): upstream calls that wait for its
 * input, by the gateway key of the request that started them and by the token in their state.
 */
export class InputRounds {
  private readonly byOrigin = new Map<string, InputFlow>();
  private readonly byToken = new Map<string, InputFlow>();
  /** Who the rounds belong to (principal and client): a state shown by anyone else is refused. */
  readonly binding: string;

  constructor(binding: string) {
    this.binding = binding;
  }

  /** Rounds waiting for the client. */
  get pending(): number {
    return this.byToken.size;
  }

  /** An upstream asks the client for input during `related`: it becomes a round of that request. */
  ask(
    method: string,
    params: Record<string, unknown> | undefined,
    options: { related?: RequestRef; signal: AbortSignal },
  ): Promise<Record<string, unknown>> {
    const flow = options.related === undefined ? undefined : this.byOrigin.get(options.related.key);
    if (!flow) {
      return Promise.reject(
        new GatewayError(
          "PORTCULLIS_E_NOT_BRIDGEABLE",
          `${method} from a 2025-era upstream: it is not tied to exactly one tools/call, prompts/get or resources/read of this client`,
        ),
      );
    }
    return flow.ask(method, params, options.signal);
  }

  /**
   * Runs one request (`start` runs it through the gateway), or one round of a request that waits
   * for input when the request carries this gateway's sealed state: the outcome, or a round to send.
   */
  async run(
    key: string,
    method: string,
    params: Record<string, unknown> | undefined,
    start: () => Promise<RpcOutcome>,
  ): Promise<RoundOutcome> {
    let flow: InputFlow;
    const state = params?.requestState;
    if (isGatewayState(state)) {
      const token = unsealState(state, this.binding);
      const found = token === undefined ? undefined : this.byToken.get(token);
      if (!found)
        return {
          kind: "refused",
          message: "requestState is unknown, expired or was issued to another client",
        };
      if (found.origin.method !== method || found.origin.name !== addressedName(params)) {
        return {
          kind: "refused",
          message: "requestState belongs to another request: repeat the original method and name",
        };
      }
      found.answer(params?.inputResponses);
      flow = found;
    } else if (INPUT_CAPABLE_METHODS.has(method)) {
      const created: InputFlow = new InputFlow(
        this.binding,
        { method, name: addressedName(params) },
        start(),
        () => this.forget(created),
      );
      this.byOrigin.set(key, created);
      this.byToken.set(created.token, created);
      flow = created;
    } else {
      return { kind: "done", outcome: await start() };
    }
    const round = await flow.next();
    if (round.kind === "done") this.forget(flow);
    return round;
  }

  private forget(flow: InputFlow): void {
    for (const [key, value] of this.byOrigin) if (value === flow) this.byOrigin.delete(key);
    this.byToken.delete(flow.token);
  }
}

/** True when a request state is one this gateway issued (whatever its validity). */
/** The name a request addresses (tool or prompt name, resource URI), to bind retries to it. */
export function addressedName(params: Record<string, unknown> | undefined): unknown {
  return params?.name ?? params?.uri;
}

export function isGatewayState(state: unknown): state is string {
  return typeof state === "string" && state.startsWith(STATE_PREFIX);
}

/** The flow token of a request state issued to `binding`, or undefined when forged or misbound. */
export function unsealState(state: string, binding: string): string | undefined {
  const [token, tag] = state.slice(STATE_PREFIX.length).split(".", 2);
  if (!token || !tag) return undefined;
  const expected = Buffer.from(mac(token, binding));
  const given = Buffer.from(tag);
  return expected.length === given.length && timingSafeEqual(expected, given) ? token : undefined;
}

function mac(token: string, binding: string): string {
  return createHmac("sha256", sealKey).update(`${token}\u0000${binding}`).digest("base64url");
}
