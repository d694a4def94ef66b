// Keeps the last events of one 2025-era session's SSE streams so a client that lost its stream can
// resume with Last-Event-ID. Bounded: the oldest events go first; a resume past them replays nothing.
import { randomBytes } from "node:crypto";
import type { EventStore, JSONRPCMessage } from "@modelcontextprotocol/server";

interface StoredEvent {
  readonly streamId: string;
  readonly message: JSONRPCMessage;
}

export class BoundedEventStore implements EventStore {
  private readonly events = new Map<string, StoredEvent>();
  private readonly prefix = randomBytes(6).toString("base64url");
  private sequence = 0;
  private readonly capacity: number;

  constructor(capacity: number) {
    this.capacity = capacity;
  }

  async storeEvent(streamId: string, message: JSONRPCMessage): Promise<string> {
    const id = `${this.prefix}.${++this.sequence}`;
    this.events.set(id, { streamId, message });
    if (this.events.size > this.capacity) {
      const oldest = this.events.keys().next().value;
      if (oldest !== undefined) this.events.delete(oldest);
    }
    return id;
  }

  async getStreamIdForEventId(eventId: string): Promise<string | undefined> {
    return this.events.get(eventId)?.streamId;
  }

  async replayEventsAfter(
    lastEventId: string,
    { send }: { send: (eventId: string, message: JSONRPCMessage) => Promise<void> },
  ): Promise<string> {
    const last = this.events.get(lastEventId);
    if (!last) throw new Error("unknown or expired event id");
    let after = false;
    for (const [id, event] of this.events) {
      if (id === lastEventId) {
        after = true;
        continue;
      }
      // Priming events are stored as empty messages; they carry no content to replay.
      if (after && event.streamId === last.streamId && Object.keys(event.message).length > 0)
        await send(id, event.message);
    }
    return last.streamId;
  }
}
