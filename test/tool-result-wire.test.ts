// Our tools/call answers on the wire against a bare SDK server's for the very same results. The
// SDK no longer parses a tool result of the plain shape again (transports/mcp-server.ts,
// isPlainToolResult): this holds that nothing changed for it, in both revisions, key for key and
// in order, and that a result of another shape still goes through the SDK's validation.
import http from "node:http";
import { toNodeHandler } from "@modelcontextprotocol/node";
import { createMcpHandler, InMemoryTransport, type JSONRPCMessage, Server } from "@modelcontextprotocol/server";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { ConnectorError } from "../src/common/errors.js";
import { createLogger } from "../src/common/log.js";
import { LOCAL_WORKSPACE_ID } from "../src/store/workspaces.js";
import { invokeTool } from "../src/transports/boundary.js";
import { createMcpServer, isPlainToolResult } from "../src/transports/mcp-server.js";
import { type AnyToolDefinition, defineTool, type ToolContext } from "../src/transports/tool.js";
import { type HttpHarness, rawRequest, startHttpHarness } from "./support/http.js";

type Sc = Record<string, any>;

const NESTED = { id: "con_1", label: 'a "quoted" \u00e9 label', none: null, list: [1, "two", { three: [3] }], deep: { a: { b: {} } } };

const tool = (name: string, handler: () => Promise<Sc>): AnyToolDefinition =>
  defineTool({
    name,
    title: name,
    description: `The wire test's ${name}`,
    inputSchema: z.object({}).strict(),
    outputSchema: z.looseObject({}),
    annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
    rest: null,
    handler,
  });

const TOOLS: AnyToolDefinition[] = [
  tool("nested", async () => NESTED),
  tool("empty", async () => ({})),
  tool("fails", async () => {
    throw new ConnectorError("not_found", "No connector con_nope in this workspace.");
  }),
];

/** The results our boundary builds for each tool, as the handler hands them to the SDK. */
async function originals(): Promise<Map<string, Sc>> {
  const ctx = { log: createLogger({ level: "error", write: () => undefined }) } as unknown as ToolContext;
  const out = new Map<string, Sc>();
  for (const t of TOOLS) out.set(t.name, await invokeTool(t, {}, ctx));
  return out;
}

/** A bare SDK server whose tools/call answers `results[name]`, validated by the SDK as any handler's. */
function bareServer(results: Map<string, Sc>): Server {
  const server = new Server({ name: "bare", version: "1.0.0" }, { capabilities: { tools: {} } });
  server.setRequestHandler("tools/call", async (req) => structuredClone(results.get(req.params.name)) as never);
  return server;
}

/** A raw 2025-11-25 peer over the SDK's in-memory transport: initialize, then requests by id. */
async function rawLegacyPeer(server: Server): Promise<(method: string, params: Sc) => Promise<Sc>> {
  const [peer, serverSide] = InMemoryTransport.createLinkedPair();
  const waiting = new Map<number, (m: Sc) => void>();
  peer.onmessage = (m: JSONRPCMessage) => {
    const msg = m as Sc;
    if (msg.id !== undefined && !msg.method) waiting.get(msg.id)?.(msg);
  };
  await server.connect(serverSide);
  await peer.start();
  let nextId = 1;
  const request = (method: string, params: Sc) =>
    new Promise<Sc>((resolve) => {
      const id = nextId++;
      waiting.set(id, resolve);
      void peer.send({ jsonrpc: "2.0", id, method, params } as JSONRPCMessage);
    });
  await request("initialize", { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "wire", version: "1.0.0" } });
  await peer.send({ jsonrpc: "2.0", method: "notifications/initialized" } as JSONRPCMessage);
  return request;
}

const ENVELOPE = {
  "io.modelcontextprotocol/protocolVersion": "2026-07-28",
  "io.modelcontextprotocol/clientInfo": { name: "wire", version: "1.0.0" },
  "io.modelcontextprotocol/clientCapabilities": {},
};

/** One 2026-07-28 tools/call over HTTP; the JSON-RPC result (JSON or the SSE event carrying it). */
async function modernCall(url: string, name: string, key?: string): Promise<Sc> {
  const res = await rawRequest(url, {
    method: "POST",
    headers: {
      ...(key ? { authorization: `Bearer ${key}` } : {}),
      "content-type": "application/json",
      accept: "application/json, text/event-stream",
      "mcp-protocol-version": "2026-07-28",
      "mcp-method": "tools/call",
      "mcp-name": name,
    },
    body: JSON.stringify({ jsonrpc: "2.0", id: 7, method: "tools/call", params: { name, arguments: {}, _meta: ENVELOPE } }),
  });
  expect(res.status).toBe(200);
  const msg = String(res.headers["content-type"]).startsWith("text/event-stream")
    ? JSON.parse(
        res.body
          .split("\n")
          .find((l) => l.startsWith("data:") && l.includes('"id":7'))!
          .slice(5),
      )
    : res.json();
  return msg.result;
}

/** The result without the `_meta` each server stamps with its own name (compared on its own). */
function withoutMeta(result: Sc): Sc {
  const { _meta, ...rest } = result;
  return rest;
}

let h: HttpHarness;
let bareHttp: http.Server;
let bareUrl: string;
let results: Map<string, Sc>;

beforeAll(async () => {
  results = await originals();
  h = await startHttpHarness({ tools: TOOLS });
  const handle = toNodeHandler(createMcpHandler(() => bareServer(results), { legacy: "reject" }));
  bareHttp = http.createServer((req, res) => void handle(req, res));
  await new Promise<void>((resolve) => bareHttp.listen(0, "127.0.0.1", resolve));
  bareUrl = `http://127.0.0.1:${(bareHttp.address() as { port: number }).port}/mcp`;
});
afterAll(async () => {
  await new Promise((resolve) => bareHttp?.close(resolve));
  await h?.close();
});

describe("tool results our boundary builds", () => {
  it("all have the plain shape (so none of them is parsed again), and other shapes do not", () => {
    for (const [name, r] of results) expect(isPlainToolResult(r), name).toBe(true);
    expect(results.get("fails")).toMatchObject({ isError: true });
    const text = [{ type: "text", text: "x" }];
    const notPlain: unknown[] = [
      null,
      [],
      "text",
      { content: text, structuredContent: [] },
      { content: text, structuredContent: new Date() },
      { content: text, isError: "yes" },
      { content: text, _meta: {} },
      { content: text, resultType: "input_required", inputRequests: {} },
      { content: [{ type: "image", data: "", mimeType: "image/png" }] },
      { content: [{ type: "text", text: 1 }] },
      { content: [{ type: "text", text: "x", annotations: {} }] },
      { content: "x" },
      {},
      Object.assign(Object.create({ inherited: true }), { content: text }),
    ];
    for (const r of notPlain) expect(isPlainToolResult(r), JSON.stringify(r)).toBe(false);
  });
});

describe("on the wire, as a bare SDK server answers the same results", () => {
  it("2025-11-25: byte for byte", async () => {
    const ours = await rawLegacyPeer(createMcpServer(h.app.ctx, TOOLS, { workspace_id: LOCAL_WORKSPACE_ID }));
    const bare = await rawLegacyPeer(bareServer(results));
    for (const name of results.keys()) {
      const a = await ours("tools/call", { name, arguments: {} });
      const b = await bare("tools/call", { name, arguments: {} });
      expect(b.result, name).toBeDefined();
      expect(JSON.stringify(a.result), name).toBe(JSON.stringify(b.result));
    }
  });

  it("2026-07-28: byte for byte, resultType included, and the same _meta keys", async () => {
    for (const name of results.keys()) {
      const a = await modernCall(`${h.url}/mcp`, name, h.a.key);
      const b = await modernCall(bareUrl, name);
      expect(a.resultType, name).toBe("complete");
      expect(JSON.stringify(withoutMeta(a)), name).toBe(JSON.stringify(withoutMeta(b)));
      expect(Object.keys(a._meta ?? {}), name).toEqual(Object.keys(b._meta ?? {}));
    }
  });
});
