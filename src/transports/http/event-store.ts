import type { EventId, EventStore, JSONRPCMessage, StreamId } from "@modelcontextprotocol/server";

/** Bytes of events kept across all sessions: one budget shared by every session's store. */
export class EventBudget {
  used = 0;
  constructor(readonly maxBytes: number) {}
}

export interface EventStoreLimits {
  maxEvents: number;
  /** Bytes (UTF-8 of the serialized message) one session keeps at most. */
  maxBytes: number;
}

/** JSON-RPC error code of the stand-in for a response too large to keep. */
export const NOT_KEPT_CODE = -32000;

type Entry = { streamId: StreamId; message: JSONRPCMessage | null; size: number };

const bytesOf = (message: JSONRPCMessage) => Buffer.byteLength(JSON.stringify(message), "utf8");

/** A response (result or error) carries the id of the request it answers. */
function responseId(message: JSONRPCMessage): unknown {
  const m = message as { id?: unknown; result?: unknown; error?: unknown; method?: unknown };
  return m.method === undefined && m.id !== undefined && (m.result !== undefined || m.error !== undefined) ? m.id : undefined;
}

/**
 * The events of one MCP session, kept so a client can resume an SSE stream with
 * `Last-Event-ID`. One store per session, so a resume can never replay another session's
 * messages. Bounded by construction, by count and by bytes, per session and (through the
 * shared EventBudget) across sessions: the oldest events of the session go first, and an event
 * that does not fit is not kept at all. In its place the store keeps a small stand-in: for a
 * response, a JSON-RPC error for the same request id telling the client to send the request
 * again (it fits, or the event becomes a gap); for a notification or a server request, an empty
 * gap that keeps the event id known and that replay skips: the messages after it, often the
 * response the client waits for, still arrive. A resume from an event already dropped is
 * refused by the SDK ("Invalid event ID"), and the client starts a new stream.
 */
export class BoundedEventStore implements EventStore {
  private readonly events = new Map<EventId, Entry>();
  private next = 1;
  private bytes = 0;

  constructor(
    private readonly limits: EventStoreLimits = { maxEvents: 200, maxBytes: 256 * 1024 },
    private readonly budget: EventBudget = new EventBudget(Number.POSITIVE_INFINITY),
  ) {}

  async storeEvent(streamId: StreamId, message: JSONRPCMessage): Promise<EventId> {
    const id = String(this.next++);
    const size = bytesOf(message);
    const kept = this.fit(size) ? message : this.standIn(message, size);
    const keptSize = kept === message ? size : kept ? bytesOf(kept) : 0;
    if (kept && kept !== message && !this.fit(keptSize)) return this.add(id, { streamId, message: null, size: 0 });
    return this.add(id, { streamId, message: kept, size: keptSize });
  }

  /** Make room for `size` bytes by dropping this session's oldest events; false when it cannot fit at all. */
  private fit(size: number): boolean {
    if (size > this.limits.maxBytes || this.budget.used - this.bytes + size > this.budget.maxBytes) return false;
    while (
      this.events.size > 0 &&
      (this.events.size >= this.limits.maxEvents ||
        this.bytes + size > this.limits.maxBytes ||
        this.budget.used + size > this.budget.maxBytes)
    ) {
      this.dropOldest();
    }
    return this.budget.used + size <= this.budget.maxBytes;
  }

  private standIn(message: JSONRPCMessage, size: number): JSONRPCMessage | null {
    const id = responseId(message);
    if (id === undefined) return null;
    const text = `The response (${size} bytes) was too large to keep for resuming this stream; send the request again.`;
    return { jsonrpc: "2.0", id, error: { code: NOT_KEPT_CODE, message: text } } as JSONRPCMessage;
  }

  private add(id: EventId, entry: Entry): EventId {
    if (this.events.size >= this.limits.maxEvents) this.dropOldest();
    this.events.set(id, entry);
    this.bytes += entry.size;
    this.budget.used += entry.size;
    return id;
  }

  private dropOldest(): void {
    const oldest = this.events.keys().next().value as EventId;
    this.bytes -= this.events.get(oldest)!.size;
    this.budget.used -= this.events.get(oldest)!.size;
    this.events.delete(oldest);
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
      // Gaps (not kept) and priming events (no message) have nothing to replay.
      if (after && ev.streamId === last.streamId && ev.message !== null && Object.keys(ev.message).length > 0) await send(id, ev.message);
    }
    return last.streamId;
  }

  /** Give this session's bytes back to the shared budget (the session ended). */
  clear(): void {
    this.budget.used -= this.bytes;
    this.bytes = 0;
    this.events.clear();
  }

  get size(): number {
    return this.events.size;
  }

  /** Bytes this session keeps. */
  get byteSize(): number {
    return this.bytes;
  }
}
