// HTTP mode, MCP side: Streamable HTTP and HTTP+SSE with workspace keys over real loopback
// HTTP, the SDK's client transports, sessions bound to a workspace, keys checked on every
// request (a revoked key stops working mid-session), 401s that write nothing, DNS-rebinding
// protection, body limits, request timeouts and resumable SSE streams.

import http from "node:http";
import net from "node:net";
import { StreamableHTTPError } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { LATEST_PROTOCOL_VERSION } from "@modelcontextprotocol/sdk/types.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApiKey, revokeApiKey } from "../src/store/workspaces.js";
import type { ToolOutput } from "../tools/index.js";
import { toolCalls } from "./support/calls.js";
import { onPostgres } from "./support/database.js";
import { bearer, connectClient, type HttpHarness, rawRequest, startHttpHarness } from "./support/http.js";

const HUBSPOT = { TENEX_HUBSPOT_CLIENT_ID: "hubspot-client", TENEX_HUBSPOT_CLIENT_SECRET: "hubspot-secret-value-1234567890" };

const initBody = (version = LATEST_PROTOCOL_VERSION) =>
  JSON.stringify({
    jsonrpc: "2.0",
    id: 1,
    method: "initialize",
    params: { protocolVersion: version, capabilities: {}, clientInfo: { name: "raw", version: "1" } },
  });
const rpcHeaders = (key: string, extra: Record<string, string> = {}) => ({
  ...bearer(key),
  "content-type": "application/json",
  accept: "application/json, text/event-stream",
  ...extra,
});

/** Parse an SSE body into its events. */
function sseEvents(body: string): Array<{ id?: string; data: string }> {
  return body
    .split("\n\n")
    .filter((b) => b.trim() !== "")
    .map((block) => {
      const ev: { id?: string; data: string } = { data: "" };
      for (const line of block.split("\n")) {
        if (line.startsWith("id: ")) ev.id = line.slice(4);
        if (line.startsWith("data: ")) ev.data += line.slice(6);
      }
      return ev;
    });
}

/** GET an SSE stream and read it until `marker` arrives, then hang up. */
function readStreamUntil(url: string, headers: Record<string, string>, marker: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: "GET", headers }, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (d: string) => {
        text += d;
        if (text.includes(marker)) {
          resolve(text);
          req.destroy();
        }
      });
      res.on("end", () => reject(new Error(`stream ended without ${marker}: ${res.statusCode} ${text}`)));
    });
    req.on("error", (e) => reject(e));
    req.end();
  });
}

describe("HTTP mode: MCP over Streamable HTTP and HTTP+SSE", () => {
  let h: HttpHarness;

  beforeAll(async () => {
    h = await startHttpHarness({
      env: { ...HUBSPOT, TENEX_ALLOWED_HOSTS: "connectors.internal, tools.example.org:8443" },
      publicUrl: true,
      server: { maxBodyBytes: 64 * 1024, sweepIntervalMs: 100 },
    });
  });
  afterAll(async () => {
    await h?.close();
  });

  it("serves tools over Streamable HTTP and over HTTP+SSE, each acting for the key's workspace", async () => {
    const a = await connectClient(h.url, h.a.key, "streamable");
    const b = await connectClient(h.url, h.b.key, "sse");
    try {
      const listed = await a.client.listTools();
      expect(listed.tools.map((t) => t.name)).toContain("start_connector_oauth");
      expect((await b.client.listTools()).tools.map((t) => t.name)).toEqual(listed.tools.map((t) => t.name));

      const started = await toolCalls(a.client).call("start_connector_oauth", { provider: "hubspot", label: "A's CRM" });
      const id = started.connector_id;
      expect(started.authorization_url.startsWith(`http://127.0.0.1:${h.port}/connect/`)).toBe(true);

      const mine = await toolCalls(a.client).call("list_connectors", {});
      expect(mine.connectors.map((c) => c.id)).toContain(id);
      const theirs = await toolCalls(b.client).call("list_connectors", {});
      expect(theirs.connectors.map((c) => c.id)).not.toContain(id);
      const peek = await toolCalls(b.client).callError("get_connector_status", { connector_id: id });
      expect(peek.code).toBe("not_found");
    } finally {
      await a.client.close();
      await b.client.close();
    }
  });

  it("binds a Streamable HTTP session to its workspace: another workspace's key finds no session", async () => {
    const a = await connectClient(h.url, h.a.key, "streamable");
    try {
      const sid = (a.transport as { sessionId?: string }).sessionId!;
      expect(sid).toBeTruthy();
      const list = JSON.stringify({ jsonrpc: "2.0", id: 7, method: "tools/call", params: { name: "list_connectors", arguments: {} } });
      for (const method of ["POST", "GET", "DELETE"]) {
        const res = await rawRequest(`${h.url}/mcp`, {
          method,
          headers: rpcHeaders(h.b.key, { "mcp-session-id": sid, "mcp-protocol-version": LATEST_PROTOCOL_VERSION }),
          ...(method === "POST" ? { body: list } : {}),
        });
        expect(res.status, method).toBe(404);
        expect(res.body).not.toContain("connectors");
      }
      // The session is untouched and still serves its own workspace.
      const ok = await toolCalls(a.client).callRaw("list_connectors", {});
      expect(ok.isError).toBeFalsy();
    } finally {
      await a.client.close();
    }
  });

  it("binds an HTTP+SSE session to its workspace too", async () => {
    let endpoint = "";
    const a = await connectClient(h.url, h.a.key, "sse");
    try {
      endpoint = (Reflect.get(a.transport, "_endpoint") as URL).href; // the SSE transport keeps the session URL private
      expect(endpoint).toMatch(/\/messages\?sessionId=/);
      const res = await rawRequest(endpoint, {
        method: "POST",
        headers: { ...bearer(h.b.key), "content-type": "application/json" },
        body: JSON.stringify({ jsonrpc: "2.0", id: 3, method: "tools/list" }),
      });
      expect(res.status).toBe(404);
      expect(res.json().error.code).toBe("not_found");
      expect((await a.client.listTools()).tools.length).toBeGreaterThan(0);
    } finally {
      await a.client.close();
    }
  });

  it("stops a revoked key at once, mid-session, on both transports, and ends its sessions and streams", async () => {
    const now = new Date().toISOString();
    const [k1, k2, k3] = await Promise.all([1, 2, 3].map(() => createApiKey(h.app.ctx.db, h.a.workspace_id, now)));
    const s = await connectClient(h.url, k1!.key, "streamable");
    const e = await connectClient(h.url, k2!.key, "sse");
    // A raw HTTP+SSE stream, to watch the server end it.
    let streamEnded!: () => void;
    const ended = new Promise<void>((resolve) => (streamEnded = resolve));
    const opened = new Promise<void>((resolve, reject) => {
      const req = http.request(`${h.url}/sse`, { headers: { ...bearer(k3!.key), accept: "text/event-stream" } }, (res) => {
        res.setEncoding("utf8");
        res.on("data", (d: string) => d.includes("event: endpoint") && resolve());
        res.on("end", () => streamEnded());
        res.on("close", () => streamEnded());
      });
      req.on("error", reject);
      req.end();
    });
    try {
      await opened;
      expect((await toolCalls(s.client).callRaw("list_connectors", {})).isError).toBeFalsy();
      expect((await toolCalls(e.client).callRaw("list_connectors", {})).isError).toBeFalsy();
      const before = h.server.sessionCount();

      for (const k of [k1!, k2!, k3!]) await revokeApiKey(h.app.ctx.db, k.id, new Date().toISOString());

      const err = await s.client.callTool({ name: "list_connectors", arguments: {} }).then(
        () => null,
        (x: unknown) => x,
      );
      expect(err).toBeInstanceOf(StreamableHTTPError);
      expect((err as StreamableHTTPError).code).toBe(401);
      const sseErr = await e.client.callTool({ name: "list_connectors", arguments: {} }).then(
        () => null,
        (x: unknown) => x,
      );
      expect(String(sseErr)).toContain("401");
      // The server ends the revoked key's streams and forgets its sessions.
      await ended;
      await expect.poll(() => h.server.sessionCount()).toBeLessThanOrEqual(before - 3);
    } finally {
      await s.client.close().catch(() => undefined);
      await e.client.close().catch(() => undefined);
    }
  });

  // SQLite only: total_changes() counts every row this connection wrote; PostgreSQL has no such per-connection count.
  it.skipIf(onPostgres)(
    "answers a missing, malformed, unknown or revoked key with 401, WWW-Authenticate: Bearer and a JSON error, writing nothing",
    async () => {
      const now = new Date().toISOString();
      const revoked = await createApiKey(h.app.ctx.db, h.a.workspace_id, now);
      await revokeApiKey(h.app.ctx.db, revoked.id, now);
      const changes = () => (h.app.database.sqlite!.prepare("select total_changes() as n").get() as { n: number }).n;
      const unknown = `tnx_${"A".repeat(43)}`;
      const cases: Array<[string, Record<string, string>]> = [
        ["missing", {}],
        ["malformed", { Authorization: `Basic ${Buffer.from("a:b").toString("base64")}` }],
        ["not a tnx key", { Authorization: "Bearer abc" }],
        ["unknown", { Authorization: `Bearer ${unknown}` }],
        ["revoked", { Authorization: `Bearer ${revoked.key}` }],
      ];
      const before = changes();
      for (const [name, headers] of cases) {
        for (const [method, url, body] of [
          ["POST", `${h.url}/mcp`, initBody()],
          ["GET", `${h.url}/sse`, undefined],
          ["POST", `${h.url}/messages?sessionId=x`, "{}"],
          ["GET", `${h.url}/api/v1/connectors`, undefined],
          ["POST", `${h.url}/api/v1/connectors/oauth`, JSON.stringify({ provider: "hubspot" })],
        ] as const) {
          const res = await rawRequest(url, {
            method,
            headers: { ...headers, "content-type": "application/json", accept: "application/json, text/event-stream" },
            ...(body ? { body } : {}),
          });
          expect(res.status, `${name} ${method} ${url}`).toBe(401);
          expect(res.headers["www-authenticate"], name).toMatch(/^Bearer\b/);
          expect(res.json().error.code).toBe("unauthorized");
          expect(res.body).not.toContain(revoked.key);
        }
      }
      expect(changes()).toBe(before);
    },
  );

  it("refuses a Host or Origin outside the allow list and accepts loopback, the public URL's host and TENEX_ALLOWED_HOSTS", async () => {
    const post = (headers: Record<string, string>) =>
      rawRequest(`${h.url}/mcp`, { method: "POST", headers: { ...rpcHeaders(h.a.key), ...headers }, body: initBody() });
    const refused: Array<Record<string, string>> = [
      { Host: "evil.example.com" },
      { Host: `evil.example.com:${h.port}` },
      { Host: `127.0.0.1.nip.io:${h.port}` },
      { Origin: "http://evil.example.com" },
      { Origin: "null" },
      { Host: `localhost:${h.port}`, Origin: `https://attacker.test:${h.port}` },
    ];
    for (const headers of refused) {
      const res = await post(headers);
      expect(res.status, JSON.stringify(headers)).toBe(403);
      expect(res.json().error.code).toBe("forbidden");
    }
    // REST and the callback are behind the same check.
    expect((await rawRequest(`${h.url}/api/v1/providers`, { headers: { ...bearer(h.a.key), Host: "evil.example.com" } })).status).toBe(403);
    expect((await rawRequest(`${h.url}/oauth/callback?state=x`, { headers: { Host: "evil.example.com" } })).status).toBe(403);

    const accepted: Array<Record<string, string>> = [
      { Host: `localhost:${h.port}`, Origin: `http://localhost:${h.port}` },
      { Host: `[::1]:${h.port}` },
      { Host: "connectors.internal" },
      { Host: "tools.example.org:8443", Origin: "https://tools.example.org:8443" },
    ];
    for (const headers of accepted) {
      const res = await post(headers);
      expect(res.status, JSON.stringify(headers)).toBe(200);
      const sid = res.headers["mcp-session-id"] as string;
      await rawRequest(`${h.url}/mcp`, { method: "DELETE", headers: rpcHeaders(h.a.key, { "mcp-session-id": sid }) });
    }
  });

  it("refuses a body over the limit with 413 and bad JSON with a parse error, and keeps serving", async () => {
    const big = JSON.stringify({ jsonrpc: "2.0", id: 1, method: "initialize", params: { pad: "x".repeat(70 * 1024) } });
    const res = await rawRequest(`${h.url}/mcp`, { method: "POST", headers: rpcHeaders(h.a.key), body: big });
    expect(res.status).toBe(413);
    expect(res.json().error.code).toBe("payload_too_large");
    const rest = await rawRequest(`${h.url}/api/v1/connectors/oauth`, {
      method: "POST",
      headers: { ...bearer(h.a.key), "content-type": "application/json" },
      body: JSON.stringify({ provider: "hubspot", label: "x".repeat(70 * 1024) }),
    });
    expect(rest.status).toBe(413);
    const bad = await rawRequest(`${h.url}/mcp`, { method: "POST", headers: rpcHeaders(h.a.key), body: "{not json" });
    expect(bad.status).toBe(400);
    expect(bad.json().error.code).toBe(-32700);
    expect((await rawRequest(`${h.url}/healthz`)).json()).toEqual({ status: "ok", version: expect.any(String) });
  });

  it("resumes an SSE stream from Last-Event-ID out of the session's bounded event store", async () => {
    const init = await rawRequest(`${h.url}/mcp`, { method: "POST", headers: rpcHeaders(h.a.key), body: initBody("2025-11-25") });
    expect(init.status).toBe(200);
    const sid = init.headers["mcp-session-id"] as string;
    const headers = rpcHeaders(h.a.key, { "mcp-session-id": sid, "mcp-protocol-version": "2025-11-25" });
    await rawRequest(`${h.url}/mcp`, {
      method: "POST",
      headers,
      body: JSON.stringify({ jsonrpc: "2.0", method: "notifications/initialized" }),
    });
    const call = await rawRequest(`${h.url}/mcp`, {
      method: "POST",
      headers,
      body: JSON.stringify({
        jsonrpc: "2.0",
        id: 2,
        method: "tools/call",
        params: { name: "list_providers", arguments: { role: "crm_sink" } },
      }),
    });
    const events = sseEvents(call.body);
    const priming = events.find((e) => e.id && e.data.trim() === "");
    const result = events.find((e) => e.data.includes('"id":2'));
    expect(priming?.id).toBeTruthy();
    expect(result?.id).toBeTruthy();

    // The client "lost" the stream after the priming event: the result is replayed.
    const replay = await readStreamUntil(
      `${h.url}/mcp`,
      { ...headers, accept: "text/event-stream", "last-event-id": priming!.id! },
      '"id":2',
    );
    const replayed = sseEvents(replay).find((e) => e.data.includes('"id":2'));
    expect(replayed?.id).toBe(result!.id);
    const replayedResult = JSON.parse(replayed!.data) as { result: { structuredContent: ToolOutput<"list_providers"> } };
    expect(replayedResult.result.structuredContent.providers.map((p) => p.id)).toEqual(["hubspot", "salesforce"]);

    // Another workspace cannot resume this session's stream.
    const foreign = await rawRequest(`${h.url}/mcp`, {
      method: "GET",
      headers: { ...rpcHeaders(h.b.key, { "mcp-session-id": sid }), accept: "text/event-stream", "last-event-id": priming!.id! },
    });
    expect(foreign.status).toBe(404);
    await rawRequest(`${h.url}/mcp`, { method: "DELETE", headers });
  });

  it("never writes an API key to the log", async () => {
    const text = h.logs.join("\n");
    expect(text).toContain('"msg":"http request"');
    for (const key of [h.a.key, h.b.key]) expect(text).not.toContain(key);
    expect(text).not.toMatch(/tnx_[A-Za-z0-9_-]{20,}/);
  });

  it("answers unknown paths and methods with JSON errors", async () => {
    const nf = await rawRequest(`${h.url}/nope`, { headers: bearer(h.a.key) });
    expect(nf.status).toBe(404);
    expect(nf.json().error.code).toBe("not_found");
    const put = await rawRequest(`${h.url}/mcp`, { method: "PUT", headers: bearer(h.a.key) });
    expect(put.status).toBe(405);
    const noSession = await rawRequest(`${h.url}/mcp`, {
      method: "POST",
      headers: rpcHeaders(h.a.key),
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list" }),
    });
    expect(noSession.status).toBe(400);
  });
});

describe("HTTP mode: request timeouts", () => {
  it("cuts a client that is slow to send its headers or its body with 408, and leaves SSE streams open past the request timeout", async () => {
    const h = await startHttpHarness({ server: { headersTimeoutMs: 300, requestTimeoutMs: 600 } });
    const rawExchange = (text: string) =>
      new Promise<string>((resolve, reject) => {
        const s = net.connect(h.port, "127.0.0.1", () => s.write(text));
        let data = "";
        s.on("data", (d) => (data += d));
        s.on("close", () => resolve(data.split("\r\n")[0] ?? ""));
        s.on("error", reject);
      });
    try {
      expect(await rawExchange("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")).toBe("HTTP/1.1 408 Request Timeout");
      // An SSE stream opened before a slow request is cut stays open: by the time the server gives
      // up on that request (its request timeout), the stream has lasted longer than it.
      let streamClosed = false;
      const stream = await new Promise<http.ClientRequest>((resolve, reject) => {
        const req = http.request(`${h.url}/sse`, { headers: { ...bearer(h.a.key), accept: "text/event-stream" } }, (res) => {
          res.on("data", () => undefined);
          res.on("close", () => (streamClosed = true));
          resolve(req);
        });
        req.on("error", reject);
        req.end();
      });
      const slowBody = `POST /api/v1/connectors/oauth HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${h.a.key}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"pro`;
      expect(await rawExchange(slowBody)).toBe("HTTP/1.1 408 Request Timeout");
      expect(await h.app.ctx.db.selectFrom("connectors").select("id").execute()).toEqual([]);
      expect(streamClosed).toBe(false);
      stream.destroy();
    } finally {
      await h.close();
    }
  });
});
