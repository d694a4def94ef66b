// The cap on the client sessions one caller holds at once (network.maxSessionsPerPrincipal), across
// both eras: without it one principal (or one address, for anonymous callers) inventing client names
// or sending initialize after initialize fills the gateway's whole session table.
import { GatewayError } from "../../errors.ts";

/** What the cap counts: a session, alive until it is closed. */
export interface HeldSession {
  readonly isClosed: boolean;
}

export const SESSION_CAP_RULE = "max-sessions-per-principal";

/**
 * A place held for one session of a caller: reserved before the session exists (so that parallel
 * initializes cannot all slip under the cap), then bound to it, or released if none was opened.
 */
export class SessionPlace implements HeldSession {
  private session: HeldSession | undefined;
  private released = false;

  get isClosed(): boolean {
    return this.released || (this.session?.isClosed ?? false);
  }

  get bound(): boolean {
    return this.session !== undefined;
  }

  bind(session: HeldSession): void {
    this.session = session;
  }

  release(): void {
    this.released = true;
  }
}

export class SessionsPerCaller {
  private readonly held = new Map<string, Set<SessionPlace>>();

  /**
   * A place for one more session of `caller` (a `callerSubject`), or the refusal when it holds
   * `max` already: 503 `PORTCULLIS_E_TOO_MANY_SESSIONS`, rule `max-sessions-per-principal`.
   */
  reserve(caller: string, max: number): SessionPlace | GatewayError {
    let places = this.held.get(caller);
    if (places) for (const place of places) if (place.isClosed) places.delete(place);
    if (places && places.size >= max)
      return new GatewayError("PORTCULLIS_E_TOO_MANY_SESSIONS", `at most ${max} per principal`, {
        layer: "network",
        rule: SESSION_CAP_RULE,
        limit: max,
      });
    if (!places) this.held.set(caller, (places = new Set()));
    const place = new SessionPlace();
    places.add(place);
    return place;
  }

  /** Sessions `caller` holds now. */
  count(caller: string): number {
    let open = 0;
    for (const place of this.held.get(caller) ?? []) if (!place.isClosed) open++;
    return open;
  }

  /** Forgets closed sessions and callers that hold none (run now and then). */
  sweep(): void {
    for (const [caller, places] of this.held) {
      for (const place of places) if (place.isClosed) places.delete(place);
      if (places.size === 0) this.held.delete(caller);
    }
  }
}
