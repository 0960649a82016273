// MCP 2026-07-28 on /mcp, by hand on the wire, against the spec text (docs/specification/
// 2026-07-28 in modelcontextprotocol/modelcontextprotocol): server/discover, stateless calls
// without a session, resultType and cache fields, the header checks of the Streamable HTTP
// transport (-32020), the unsupported-version error listing both revisions (-32022), the
// input-required round trip of start_connector_oauth (basic/patterns/mrtr), and requestState
// that is tampered with, replayed or presented by another workspace refused.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { tools } from "../tools/index.js";
import { type HubSpotSandbox, startHubSpotSandbox } from "./sandbox/hubspot.js";
import { freePort, type HttpHarness, type RawResponse, rawRequest, startHttpHarness } from "./support/http.js";

type Sc = Record<string, any>;

const V = "2026-07-28";
const URL_CAPS = { elicitation: { url: {} } };
let sandbox: HubSpotSandbox;
let h: HttpHarness;
let nextId = 1;

function envelope(caps: Sc = {}): Sc {
  return {
    "io.modelcontextprotocol/protocolVersion": V,
    "io.modelcontextprotocol/clientInfo": { name: "raw-2026", version: "1.0.0" },
    "io.modelcontextprotocol/clientCapabilities": caps,
  };
}

/** The JSON-RPC message answering `id` in a JSON or SSE response body. */
function answer(res: RawResponse, id: number): Sc {
  if (!String(res.headers["content-type"]).startsWith("text/event-stream")) return res.json();
  const messages = res.body
    .split("\n")
    .filter((l) => l.startsWith("data:") && l.length > 5)
    .map((l) => JSON.parse(l.slice(5)));
  return messages.find((m) => m.id === id);
}

interface Post {
  method: string;
  params?: Sc;
  caps?: Sc;
  key?: string;
  headers?: Record<string, string>;
}

/** POST one request the way the spec says a 2026-07-28 client must (headers from the body), with overrides. */
async function post(p: Post): Promise<{ res: RawResponse; msg: Sc }> {
  const id = nextId++;
  const params = { ...p.params, _meta: { ...envelope(p.caps), ...p.params?._meta } };
  const name: Record<string, string> = typeof p.params?.name === "string" ? { "mcp-name": p.params.name } : {};
  const res = await rawRequest(`${h.url}/mcp`, {
    method: "POST",
    headers: {
      authorization: `Bearer ${p.key ?? h.a.key}`,
      "content-type": "application/json",
      accept: "application/json, text/event-stream",
      "mcp-protocol-version": V,
      "mcp-method": p.method,
      ...name,
      ...p.headers,
    },
    body: JSON.stringify({ jsonrpc: "2.0", id, method: p.method, params }),
  });
  return { res, msg: answer(res, id) };
}

const call = (name: string, args: Sc, extra: Omit<Post, "method" | "params"> & { params?: Sc } = {}) =>
  post({ ...extra, method: "tools/call", params: { name, arguments: args, ...extra.params } });

beforeAll(async () => {
  const port = await freePort();
  sandbox = await startHubSpotSandbox({ redirectUri: `http://127.0.0.1:${port}/oauth/callback` });
  h = await startHttpHarness({ port, publicUrl: true, env: sandbox.env });
});
afterAll(async () => {
  await h?.close();
  await sandbox?.close();
});

describe("discover and stateless requests", () => {
  it("answers server/discover with both revisions, the capabilities and the server's identity", async () => {
    const { res, msg } = await post({ method: "server/discover" });
    expect(res.status).toBe(200);
    expect(res.headers["mcp-session-id"]).toBeUndefined();
    expect(msg.result).toMatchObject({
      resultType: "complete",
      supportedVersions: ["2026-07-28", "2025-11-25"],
      capabilities: { tools: {}, logging: {} },
      _meta: { "io.modelcontextprotocol/serverInfo": { name: "tenex-connectors" } },
    });
  });

  it("lists tools with ttlMs and cacheScope, and calls a tool without any session", async () => {
    const list = await post({ method: "tools/list" });
    expect(list.res.status).toBe(200);
    expect(list.msg.result).toMatchObject({ resultType: "complete", ttlMs: 60_000, cacheScope: "private" });
    expect(list.msg.result.tools.map((t: Sc) => t.name).sort()).toEqual(tools.map((t) => t.name).sort());
    for (let i = 0; i < 2; i++) {
      const { res, msg } = await call("list_providers", {});
      expect(res.status).toBe(200);
      expect(res.headers["mcp-session-id"]).toBeUndefined();
      expect(msg.result.resultType).toBe("complete");
      expect(msg.result.structuredContent.providers.map((p: Sc) => p.id)).toContain("hubspot");
    }
  });

  it("answers bad arguments with invalid_input in the contract's shape and an unknown tool with JSON-RPC -32602", async () => {
    const bad = await call("list_connectors", { limit: "many" });
    expect(bad.msg.result.isError).toBe(true);
    expect(bad.msg.result.structuredContent.error).toMatchObject({ code: "invalid_input" });
    const unknown = await call("no_such_tool", {});
    expect(unknown.res.status).toBe(200);
    expect(unknown.msg.error).toMatchObject({ code: -32602, message: expect.stringContaining("no_such_tool") });
    expect(unknown.msg.result).toBeUndefined();
  });

  it("still requires the key and the allowed Host on 2026-07-28 requests", async () => {
    expect((await post({ method: "tools/list", key: "tnx_not_a_key" })).res.status).toBe(401);
    expect((await post({ method: "tools/list", headers: { host: "evil.example.com" } })).res.status).toBe(403);
  });
});

describe("header checks (Streamable HTTP, Server Validation)", () => {
  const cases: Array<[string, Post]> = [
    ["MCP-Protocol-Version missing", { method: "tools/list", headers: { "mcp-protocol-version": "" } }],
    ["Mcp-Method not the body's method", { method: "tools/list", headers: { "mcp-method": "prompts/list" } }],
    [
      "Mcp-Name not the body's tool name",
      { method: "tools/call", params: { name: "list_providers", arguments: {} }, headers: { "mcp-name": "delete_connector" } },
    ],
    [
      "Mcp-Name missing on tools/call",
      { method: "tools/call", params: { name: "list_providers", arguments: {} }, headers: { "mcp-name": "" } },
    ],
  ];
  for (const [what, p] of cases) {
    it(`refuses a request with ${what}: 400 and -32020`, async () => {
      const headers = Object.fromEntries(Object.entries(p.headers ?? {}).filter(([, v]) => v !== ""));
      const dropped = Object.entries(p.headers ?? {})
        .filter(([, v]) => v === "")
        .map(([k]) => k);
      const id = nextId++;
      const params = { ...p.params, _meta: envelope() };
      const base: Record<string, string> = {
        authorization: `Bearer ${h.a.key}`,
        "content-type": "application/json",
        accept: "application/json, text/event-stream",
        "mcp-protocol-version": V,
        "mcp-method": p.method,
        ...(typeof p.params?.name === "string" ? { "mcp-name": p.params.name } : {}),
        ...headers,
      };
      for (const k of dropped) delete base[k];
      const res = await rawRequest(`${h.url}/mcp`, {
        method: "POST",
        headers: base,
        body: JSON.stringify({ jsonrpc: "2.0", id, method: p.method, params }),
      });
      expect(res.status).toBe(400);
      expect(res.json().error.code).toBe(-32020);
    });
  }

  it("answers an unsupported version with 400, -32022 and the supported list naming both revisions", async () => {
    const { res, msg } = await post({
      method: "tools/list",
      headers: { "mcp-protocol-version": "2099-01-01" },
      params: { _meta: { "io.modelcontextprotocol/protocolVersion": "2099-01-01" } },
    });
    expect(res.status).toBe(400);
    expect(msg.error).toMatchObject({ code: -32022, data: { supported: ["2026-07-28", "2025-11-25"], requested: "2099-01-01" } });
  });
});

describe("start_connector_oauth: the URL elicitation returned as input_required (basic/patterns/mrtr)", () => {
  /** The first round: input_required with the URL elicitation and a requestState. */
  async function start(key = h.a.key): Promise<{ url: string; state: string; message: string }> {
    const { res, msg } = await call("start_connector_oauth", { provider: "hubspot" }, { caps: URL_CAPS, key });
    expect(res.status).toBe(200);
    expect(msg.result.resultType).toBe("input_required");
    const req = msg.result.inputRequests.consent;
    expect(req.method).toBe("elicitation/create");
    expect(req.params).toEqual({
      mode: "url",
      url: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+\//),
      message: expect.stringContaining("HubSpot"),
    });
    expect(typeof msg.result.requestState).toBe("string");
    return { url: req.params.url, state: msg.result.requestState, message: req.params.message };
  }
  const retry = (state: string, action: string, key = h.a.key) =>
    call(
      "start_connector_oauth",
      { provider: "hubspot" },
      { caps: URL_CAPS, key, params: { inputResponses: { consent: { action } }, requestState: state } },
    );

  it("returns the design's result on the retry with accept: the same URL, status pending", async () => {
    const first = await start();
    const { msg } = await retry(first.state, "accept");
    expect(msg.result.resultType).toBe("complete");
    expect(msg.result.structuredContent).toEqual({
      connector_id: expect.stringMatching(/^con_/),
      authorization_url: first.url,
      expires_at: expect.any(String),
      status: "pending",
    });
    // The grant is the one the first round started: one pending connector, one grant.
    const id = msg.result.structuredContent.connector_id;
    expect((await h.app.ctx.db.selectFrom("oauth_grants").select("connector_id").where("connector_id", "=", id).execute()).length).toBe(1);
  });

  it("refuses a replayed, a tampered and another workspace's requestState with -32602", async () => {
    const first = await start();
    expect((await retry(first.state, "accept")).msg.result.structuredContent.status).toBe("pending");
    const replayed = await retry(first.state, "accept");
    expect(replayed.msg.error).toMatchObject({ code: -32602, data: { reason: "invalid_request_state" } });

    const second = await start();
    const [v, body, mac] = second.state.split(".") as [string, string, string];
    const payload = JSON.parse(Buffer.from(body, "base64url").toString("utf8"));
    payload.p.c = "con_someone_else";
    const tampered = [v, Buffer.from(JSON.stringify(payload)).toString("base64url"), mac].join(".");
    expect((await retry(tampered, "accept")).msg.error).toMatchObject({ code: -32602, data: { reason: "invalid_request_state" } });
    expect((await retry(`${second.state}x`, "accept")).msg.error).toMatchObject({ code: -32602 });
    // Another workspace's key with a valid token of workspace A.
    expect((await retry(second.state, "accept", h.b.key)).msg.error).toMatchObject({
      code: -32602,
      data: { reason: "invalid_request_state" },
    });
    // A's own retry still works: a refused token was not used up.
    expect((await retry(second.state, "accept")).msg.result.structuredContent.status).toBe("pending");
  });

  it("settles the connector as error (consent_denied) on decline and on cancel", async () => {
    for (const action of ["decline", "cancel"]) {
      const first = await start();
      const { msg } = await retry(first.state, action);
      expect(msg.result.isError, action).toBe(true);
      expect(msg.result.structuredContent.error.code, action).toBe("consent_denied");
      const id = /con_[0-9a-f]+/.exec(msg.result.structuredContent.error.message)![0];
      const status = (await call("get_connector_status", { connector_id: id })).msg.result.structuredContent;
      expect(status, action).toMatchObject({ status: "error", status_reason: "consent_denied" });
    }
  });

  it("gives a client without URL elicitation the URL in the result, as before", async () => {
    const { msg } = await call("start_connector_oauth", { provider: "hubspot" }, { caps: {} });
    expect(msg.result.resultType).toBe("complete");
    expect(msg.result.structuredContent).toMatchObject({ status: "pending", authorization_url: expect.stringMatching(/^http:/) });
  });
});
