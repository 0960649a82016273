// Issue 12, finding 2: the event store's bound was not a bound (the newest event was kept
// whatever its size, and sizes were UTF-16 lengths). Now it counts bytes, keeps at most its
// per-session bound and its share of a global bound, never stores an event that does not fit,
// and in place of a response too large to keep replays an error telling the client to send the
// request again.

import { LATEST_PROTOCOL_VERSION } from "@modelcontextprotocol/sdk/types.js";
import type { JSONRPCMessage } from "@modelcontextprotocol/server";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BoundedEventStore, EventBudget, NOT_KEPT_CODE } from "../src/transports/http/event-store.js";
import { bearer, type HttpHarness, rawRequest, startHttpHarness } from "./support/http.js";

const note = (text: string): JSONRPCMessage => ({ jsonrpc: "2.0", method: "notifications/message", params: { level: "info", data: text } });
const result = (id: number, text: string): JSONRPCMessage => ({ jsonrpc: "2.0", id, result: { content: [{ type: "text", text }] } });
const bytes = (m: JSONRPCMessage) => Buffer.byteLength(JSON.stringify(m));

async function replay(store: BoundedEventStore, after: string): Promise<Array<[string, JSONRPCMessage]>> {
  const sent: Array<[string, JSONRPCMessage]> = [];
  await store.replayEventsAfter(after, { send: async (id, m) => void sent.push([id, m]) });
  return sent;
}

describe("BoundedEventStore", () => {
  it("counts UTF-8 bytes, not UTF-16 length", async () => {
    const store = new BoundedEventStore({ maxEvents: 10, maxBytes: 10_000 });
    const m = note("é€😀".repeat(100));
    await store.storeEvent("s", m);
    expect(store.byteSize).toBe(bytes(m));
    expect(store.byteSize).toBeGreaterThan(JSON.stringify(m).length);
  });

  it("keeps its per-session byte bound by construction: an event too large is not stored; a response becomes a 'send it again' error", async () => {
    const store = new BoundedEventStore({ maxEvents: 10, maxBytes: 1000 });
    const first = await store.storeEvent("s", note("a"));
    const bigNote = await store.storeEvent("s", note("x".repeat(5000)));
    const bigResult = await store.storeEvent("s", result(7, "y".repeat(5000)));
    const after = await store.storeEvent("s", note("b"));
    expect(store.byteSize).toBeLessThanOrEqual(1000);
    // The ids stay known, so a client that saw them live can still resume from them.
    expect(await store.getStreamIdForEventId(bigNote)).toBe("s");
    const sent = await replay(store, first);
    expect(sent.map(([id]) => id)).toEqual([bigResult, after]);
    expect(sent[0]![1]).toMatchObject({
      id: 7,
      error: { code: NOT_KEPT_CODE, message: expect.stringContaining("send the request again") },
    });
  });

  it("drops its oldest events to make room, and a resume from a dropped event finds nothing", async () => {
    const store = new BoundedEventStore({ maxEvents: 3, maxBytes: 100_000 });
    const ids = [];
    for (let i = 0; i < 5; i++) ids.push(await store.storeEvent("s", note(`n${i}`)));
    expect(store.size).toBe(3);
    expect(await store.getStreamIdForEventId(ids[0]!)).toBeUndefined();
    expect((await replay(store, ids[2]!)).map(([id]) => id)).toEqual([ids[3], ids[4]]);
  });

  it("shares a global byte bound across sessions and gives the bytes back when a session ends", async () => {
    const budget = new EventBudget(3000);
    const a = new BoundedEventStore({ maxEvents: 100, maxBytes: 2000 }, budget);
    const b = new BoundedEventStore({ maxEvents: 100, maxBytes: 2000 }, budget);
    for (let i = 0; i < 10; i++) await a.storeEvent("s", note("a".repeat(300)));
    for (let i = 0; i < 10; i++) await b.storeEvent("s", note("b".repeat(300)));
    expect(a.byteSize).toBeLessThanOrEqual(2000);
    expect(budget.used).toBe(a.byteSize + b.byteSize);
    expect(budget.used).toBeLessThanOrEqual(3000);
    a.clear();
    expect(budget.used).toBe(b.byteSize);
    await a.storeEvent("s", note("a".repeat(300)));
    expect(a.size).toBe(1);
  });
});

describe("event store bound in HTTP mode", () => {
  let h: HttpHarness;
  beforeAll(async () => {
    h = await startHttpHarness({ server: { sessionLimits: { eventStore: { maxEvents: 50, maxBytes: 2048, maxTotalBytes: 4096 } } } });
  });
  afterAll(async () => {
    await h?.close();
  });

  it("a result larger than the session's bound is not kept; resuming replays an error that says to send the request again", async () => {
    const headersOf = (sid?: string) => ({
      ...bearer(h.a.key),
      "content-type": "application/json",
      accept: "application/json, text/event-stream",
      ...(sid ? { "mcp-session-id": sid, "mcp-protocol-version": LATEST_PROTOCOL_VERSION } : {}),
    });
    const init = await rawRequest(`${h.url}/mcp`, {
      method: "POST",
      headers: headersOf(),
      body: JSON.stringify({
        jsonrpc: "2.0",
        id: 1,
        method: "initialize",
        params: { protocolVersion: LATEST_PROTOCOL_VERSION, capabilities: {}, clientInfo: { name: "raw", version: "1" } },
      }),
    });
    const sid = init.headers["mcp-session-id"] as string;
    await rawRequest(`${h.url}/mcp`, {
      method: "POST",
      headers: headersOf(sid),
      body: JSON.stringify({ jsonrpc: "2.0", method: "notifications/initialized" }),
    });
    // tools/list is far larger than 2 KiB: delivered live in full, not kept.
    const list = await rawRequest(`${h.url}/mcp`, {
      method: "POST",
      headers: headersOf(sid),
      body: JSON.stringify({ jsonrpc: "2.0", id: 2, method: "tools/list" }),
    });
    expect(list.body.length).toBeGreaterThan(2048);
    expect(list.body).toContain('"tools"');
    const priming = /id: (\S+)\ndata: *\n/.exec(list.body)?.[1];
    expect(priming).toBeTruthy();
    expect(h.server.eventBytes()).toBeLessThanOrEqual(2048);

    const replay = await rawRequest(`${h.url}/mcp`, {
      method: "GET",
      headers: { ...headersOf(sid), accept: "text/event-stream", "last-event-id": priming! },
    });
    expect(replay.status).toBe(200);
    expect(replay.body).toContain('"id":2');
    expect(replay.body).toContain("send the request again");
    expect(replay.body).not.toContain('"tools"');

    await rawRequest(`${h.url}/mcp`, { method: "DELETE", headers: headersOf(sid) });
    expect(h.server.eventBytes()).toBe(0);
  });
});
