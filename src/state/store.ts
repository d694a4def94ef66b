// The state store: the only place where security state that several layers (and, with Redis,
// several gateway nodes) share is kept — counters with expiry, small records with a TTL, sets, and
// publish/subscribe so that every node learns of a change at once.

export type Unsubscribe = () => void;

export interface StateStore {
  /** Adds `by` to a counter and returns the new value; the counter expires `ttlMs` after it was created. */
  increment(key: string, by: number, ttlMs: number): Promise<number>;
  /** A record's value, or undefined when it is missing or expired. */
  get(key: string): Promise<string | undefined>;
  /** Writes a record; without `ttlMs` it lives until deleted. */
  set(key: string, value: string, ttlMs?: number): Promise<void>;
  delete(key: string): Promise<void>;
  /** Adds a member to a set and returns the set's size. */
  addToSet(key: string, member: string): Promise<number>;
  removeFromSet(key: string, member: string): Promise<void>;
  members(key: string): Promise<string[]>;
  /** Sends a message to every subscriber of the channel, on every node. */
  publish(channel: string, message: string): Promise<void>;
  subscribe(channel: string, onMessage: (message: string) => void): Unsubscribe;
  close(): Promise<void>;
}
