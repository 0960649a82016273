// Small parts of HTTP mode on their own: the Host/Origin allow list, the bounded per-session
// event store behind resumable SSE streams, and REST calls through the tool boundary.
import type { JSONRPCMessage } from "@modelcontextprotocol/sdk/types.js";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { BoundedEventStore } from "../src/transports/http/event-store.js";
import { HostAllowList } from "../src/transports/http/hosts.js";
import { type AnyToolDefinition, defineTool } from "../src/transports/tool.js";
import { bearer, rawRequest, startHttpHarness } from "./support/http.js";

const msg = (id: number): JSONRPCMessage => ({ jsonrpc: "2.0", id, result: { n: id } });

describe("HostAllowList", () => {
  const allow = HostAllowList.forServer({
    publicUrl: "https://Connectors.Example.com/base",
    allowedHosts: ["tools.internal:8443", " ", "[fd00::1]"],
    bindHost: "0.0.0.0",
  });

  it("accepts loopback names, the public URL's host and the configured hosts, on any port", () => {
    for (const host of [
      "localhost:8080",
      "127.0.0.1",
      "127.0.0.2:9",
      "[::1]:3000",
      "connectors.example.com",
      "CONNECTORS.example.com:443",
      "tools.internal",
      "[fd00::1]:80",
    ]) {
      expect(allow.allowsHostHeader(host), host).toBe(true);
    }
    expect(allow.allowsOrigin(undefined)).toBe(true);
    expect(allow.allowsOrigin("https://connectors.example.com")).toBe(true);
  });

  it("refuses other names, tricks and a wildcard bind address", () => {
    for (const host of [
      undefined,
      "",
      "evil.com",
      "localhost.evil.com",
      "127.0.0.1.nip.io",
      "connectors.example.com.evil.com",
      "a@localhost",
      "localhost/x",
      "0.0.0.0",
      "localhost#.evil.com",
      "127.0.0.1:18931/../",
      "localhost:80 evil",
    ]) {
      expect(allow.allowsHostHeader(host), String(host)).toBe(false);
    }
    for (const origin of [
      "null",
      "http://evil.com",
      "file://",
      "chrome-extension://abc",
      "http://localhost.evil.com",
      "https://user@connectors.example.com",
    ]) {
      expect(allow.allowsOrigin(origin), origin).toBe(false);
    }
  });
});

describe("BoundedEventStore", () => {
  it("replays a stream's events after an event id, and only that stream's", async () => {
    const store = new BoundedEventStore({ maxEvents: 10, maxBytes: 10_000 });
    const a0 = await store.storeEvent("a", {} as JSONRPCMessage); // priming event
    await store.storeEvent("b", msg(1));
    const a1 = await store.storeEvent("a", msg(2));
    await store.storeEvent("a", msg(3));
    const sent: Array<[string, JSONRPCMessage]> = [];
    expect(await store.replayEventsAfter(a0, { send: async (id, m) => void sent.push([id, m]) })).toBe("a");
    expect(sent.map(([, m]) => (m as { id: number }).id)).toEqual([2, 3]);
    expect(sent[0]![0]).toBe(a1);
    expect(await store.getStreamIdForEventId(a1)).toBe("a");
  });

  it("drops the oldest events beyond its count and byte bounds, and refuses to resume from them", async () => {
    const byCount = new BoundedEventStore({ maxEvents: 3, maxBytes: 1_000_000 });
    const first = await byCount.storeEvent("s", msg(0));
    for (let i = 1; i < 10; i++) await byCount.storeEvent("s", msg(i));
    expect(byCount.size).toBe(3);
    expect(await byCount.getStreamIdForEventId(first)).toBeUndefined();
    expect(await byCount.replayEventsAfter(first, { send: async () => undefined })).toBe("");

    const byBytes = new BoundedEventStore({ maxEvents: 1000, maxBytes: 2_000 });
    for (let i = 0; i < 50; i++) await byBytes.storeEvent("s", { jsonrpc: "2.0", id: i, result: { pad: "x".repeat(200) } });
    expect(byBytes.size).toBeLessThanOrEqual(10);
    expect(byBytes.size).toBeGreaterThan(0);
  });
});

describe("REST through the tool boundary", () => {
  it("runs each request in its caller's workspace, and a slow call is answered while other workspaces call", async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const gated: AnyToolDefinition = defineTool({
      name: "gated",
      title: "Gated",
      description: "Waits for the test when asked to.",
      inputSchema: z.object({ wait: z.boolean().describe("wait for the gate") }).strict(),
      outputSchema: z.object({ workspace_id: z.string() }).strict(),
      annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
      rest: { method: "POST", path: "/gated" },
      handler: async (input, ctx) => {
        if (input.wait) await gate;
        return { workspace_id: ctx.workspace_id };
      },
    });
    const h = await startHttpHarness({ tools: [gated] });
    const post = (key: string, wait: boolean) =>
      rawRequest(`${h.url}/api/v1/gated`, {
        method: "POST",
        headers: { ...bearer(key), "content-type": "application/json" },
        body: JSON.stringify({ wait }),
      });
    try {
      const slow = post(h.a.key, true);
      // Other calls, of the other workspace, go through while A's call waits.
      for (let i = 0; i < 3; i++) expect((await post(h.b.key, false)).json()).toEqual({ workspace_id: h.b.workspace_id });
      release();
      const res = await slow;
      expect(res.status).toBe(200);
      expect(res.json()).toEqual({ workspace_id: h.a.workspace_id });
    } finally {
      await h.close();
    }
  });
});
