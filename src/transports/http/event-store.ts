import type { EventId, EventStore, JSONRPCMessage, StreamId } from "@modelcontextprotocol/server";

/**
 * The events of one MCP session, kept so a client can resume an SSE stream with
 * `Last-Event-ID`. One store per session, so a resume can never replay another session's
 * messages. Bounded by count and by bytes: the oldest events go first, and a resume from
 * an event that was dropped is refused (the client then starts a new stream).
 */
export class BoundedEventStore implements EventStore {
  private readonly events = new Map<EventId, { streamId: StreamId; message: JSONRPCMessage; size: number }>();
  private next = 1;
  private bytes = 0;

  constructor(private readonly limits: { maxEvents: number; maxBytes: number } = { maxEvents: 200, maxBytes: 256 * 1024 }) {}

  async storeEvent(streamId: StreamId, message: JSONRPCMessage): Promise<EventId> {
    const id = String(this.next++);
    const size = JSON.stringify(message).length;
    this.events.set(id, { streamId, message, size });
    this.bytes += size;
    while (this.events.size > this.limits.maxEvents || (this.bytes > this.limits.maxBytes && this.events.size > 1)) {
      const oldest = this.events.keys().next().value as EventId;
      this.bytes -= this.events.get(oldest)!.size;
      this.events.delete(oldest);
    }
    return id;
  }

  async getStreamIdForEventId(eventId: EventId): Promise<StreamId | undefined> {
    return this.events.get(eventId)?.streamId;
  }

  async replayEventsAfter(
    lastEventId: EventId,
    { send }: { send: (eventId: EventId, message: JSONRPCMessage) => Promise<void> },
  ): Promise<StreamId> {
    const last = this.events.get(lastEventId);
    if (!last) return "";
    let after = false;
    for (const [id, ev] of this.events) {
      if (id === lastEventId) {
        after = true;
        continue;
      }
      // Priming events carry no message: nothing to replay.
      if (after && ev.streamId === last.streamId && Object.keys(ev.message).length > 0) await send(id, ev.message);
    }
    return last.streamId;
  }

  get size(): number {
    return this.events.size;
  }
}
