// Issue 12, finding 1: one tenant could deny all others by filling the global session cap.
// Each workspace now has its own share (TENEX_MAX_SESSIONS_PER_WORKSPACE) below the global cap,
// for Streamable HTTP and HTTP+SSE sessions alike; sessions never used after they opened are
// closed soon, SSE sessions are swept like the others, and opening and refusing are logged at
// info level with the workspace and no key.
import http from "node:http";
import { LATEST_PROTOCOL_VERSION } from "@modelcontextprotocol/sdk/types.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApiKey } from "../src/store/workspaces.js";
import { sessionsPerKey } from "../src/transports/http/sessions.js";
import { bearer, connectClient, type HttpHarness, rawRequest, startHttpHarness } from "./support/http.js";

const CAP = 3;
const initBody = JSON.stringify({
  jsonrpc: "2.0",
  id: 1,
  method: "initialize",
  params: { protocolVersion: LATEST_PROTOCOL_VERSION, capabilities: {}, clientInfo: { name: "raw", version: "1" } },
});
const rpcHeaders = (key: string) => ({ ...bearer(key), "content-type": "application/json", accept: "application/json, text/event-stream" });

/** GET /sse and hold the stream: resolves once the endpoint event arrived; `ended` resolves when the server ends it. */
function openSseStream(url: string, key: string): Promise<{ status: number; ended: Promise<void>; close: () => void }> {
  return new Promise((resolve, reject) => {
    const req = http.request(`${url}/sse`, { headers: { ...bearer(key), accept: "text/event-stream" } }, (res) => {
      const ended = new Promise<void>((r) => res.once("end", () => r()).once("close", () => r()));
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (d: string) => {
        text += d;
        if (text.includes("event: endpoint")) resolve({ status: res.statusCode ?? 0, ended, close: () => req.destroy() });
      });
      if (res.statusCode !== 200) res.once("end", () => resolve({ status: res.statusCode ?? 0, ended, close: () => req.destroy() }));
    });
    req.on("error", reject);
    req.end();
  });
}

describe("finding 1: fair shares of MCP sessions between workspaces", () => {
  let h: HttpHarness;
  beforeAll(async () => {
    h = await startHttpHarness({ server: { sessionLimits: { maxSessionsPerWorkspace: CAP, unusedIdleMs: 60_000 }, sweepIntervalMs: 50 } });
  });
  afterAll(async () => {
    await h?.close();
  });

  it("workspace A filling its share does not stop workspace B; the refusal says what to do; unused sessions of both transports are swept", async () => {
    const sse = await openSseStream(h.url, h.a.key);
    expect(sse.status).toBe(200);
    for (let i = 0; i < CAP - 1; i++) {
      const r = await rawRequest(`${h.url}/mcp`, { method: "POST", headers: rpcHeaders(h.a.key), body: initBody });
      expect(r.status).toBe(200);
    }
    // A has its share: a new session of either transport is refused with what to do.
    const refused = await rawRequest(`${h.url}/mcp`, { method: "POST", headers: rpcHeaders(h.a.key), body: initBody });
    expect(refused.status).toBe(409);
    expect(refused.json().error.code).toBe("quota_exceeded");
    expect(refused.json().error.message).toContain("TENEX_MAX_SESSIONS_PER_WORKSPACE=3");
    expect(refused.json().error.message).toContain("DELETE /mcp");
    const refusedSse = await openSseStream(h.url, h.a.key);
    expect(refusedSse.status).toBe(409);

    // B is not affected, over either transport.
    const b1 = await connectClient(h.url, h.b.key, "streamable");
    const b2 = await connectClient(h.url, h.b.key, "sse");
    expect((await b1.client.listTools()).tools.length).toBeGreaterThan(0);
    expect((await b2.client.listTools()).tools.length).toBeGreaterThan(0);

    // Info-level logs with the workspace, never the key.
    const refusal = h.logs.find((l) => l.includes("mcp session refused"));
    expect(JSON.parse(refusal!)).toMatchObject({ level: "info", workspace_id: h.a.workspace_id, why: "workspace cap" });
    expect(h.logs.some((l) => l.includes("mcp session opened") && l.includes(h.b.workspace_id) && l.includes('"info"'))).toBe(true);
    expect(h.logs.filter((l) => l.includes("mcp session")).join("\n")).not.toContain(h.a.key);

    // A's sessions were never used after they opened: a minute later the sweep closes them,
    // the SSE stream too; B's sessions, used, stay.
    const realClock = h.app.ctx.clock;
    h.app.ctx.clock = () => realClock() + 61_000;
    try {
      await sse.ended;
      await expect.poll(() => h.server.sessionCount(), { timeout: 5000 }).toBe(2);
      expect(h.logs.some((l) => l.includes("closing mcp session") && l.includes('"transport":"sse"') && l.includes('"why":"unused"'))).toBe(
        true,
      );
    } finally {
      h.app.ctx.clock = realClock;
    }
    const again = await rawRequest(`${h.url}/mcp`, { method: "POST", headers: rpcHeaders(h.a.key), body: initBody });
    expect(again.status).toBe(200);
    expect((await b1.client.listTools()).tools.length).toBeGreaterThan(0);
    await b1.client.close();
    await b2.client.close();
  });
});

describe("finding 1, per key: one key cannot take its whole workspace's share from the workspace's other keys", () => {
  const SHARE = 4; // a key may hold 3; one stays for the workspace's other keys
  let h: HttpHarness;
  beforeAll(async () => {
    h = await startHttpHarness({ server: { sessionLimits: { maxSessionsPerWorkspace: SHARE, unusedIdleMs: 60_000 } } });
  });
  afterAll(async () => {
    await h?.close();
  });

  it("a key's share is its workspace's less a quarter (none kept under 4)", () => {
    expect([1, 2, 3, 4, 10, 100].map(sessionsPerKey)).toEqual([1, 2, 3, 3, 8, 75]);
  });

  it("the key that used its part is refused with what to do; another key of the workspace still opens one, then the workspace is full", async () => {
    const second = await createApiKey(h.app.ctx.db, h.a.workspace_id, new Date().toISOString());
    for (let i = 0; i < sessionsPerKey(SHARE); i++) {
      const r = await rawRequest(`${h.url}/mcp`, { method: "POST", headers: rpcHeaders(h.a.key), body: initBody });
      expect(r.status).toBe(200);
    }
    const refused = await rawRequest(`${h.url}/mcp`, { method: "POST", headers: rpcHeaders(h.a.key), body: initBody });
    expect(refused.status).toBe(409);
    expect(refused.json().error.code).toBe("quota_exceeded");
    expect(refused.json().error.message).toContain("This API key already has 3 open MCP sessions");
    expect(refused.json().error.message).toContain("DELETE /mcp");
    const refusal = h.logs.find((l) => l.includes("mcp session refused"));
    expect(JSON.parse(refusal!)).toMatchObject({
      level: "info",
      workspace_id: h.a.workspace_id,
      key_id: h.a.key_id,
      why: "key cap",
      cap: 3,
    });
    expect(refusal).not.toContain(h.a.key);

    // The workspace's other key gets the place kept for it; after that the workspace's share is used up.
    const other = await rawRequest(`${h.url}/mcp`, { method: "POST", headers: rpcHeaders(second.key), body: initBody });
    expect(other.status).toBe(200);
    const full = await rawRequest(`${h.url}/mcp`, { method: "POST", headers: rpcHeaders(second.key), body: initBody });
    expect(full.status).toBe(409);
    expect(full.json().error.message).toContain(`TENEX_MAX_SESSIONS_PER_WORKSPACE=${SHARE}`);
    // Another workspace is untouched.
    const b = await rawRequest(`${h.url}/mcp`, { method: "POST", headers: rpcHeaders(h.b.key), body: initBody });
    expect(b.status).toBe(200);
  });
});
