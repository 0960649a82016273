// The tool surface through a real MCP client. The registry meta-test: every tool in its own
// file, complete annotations, flat described schemas, a description that says when to use it,
// one snapshot file per tool, and a test that calls it. Then: bad arguments come back in the
// contract's shape, the server keeps answering, and pagination is exact while connectors are added.
import fs from "node:fs";
import path from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { InMemoryTransport } from "@modelcontextprotocol/sdk/inMemory.js";
import type { Tool } from "@modelcontextprotocol/sdk/types.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { ConnectorError } from "../src/common/errors.js";
import { createLogger } from "../src/common/log.js";
import { invokeTool } from "../src/transports/boundary.js";
import { buildOpenApi, PROXY_OPERATIONS } from "../src/transports/http/openapi.js";
import { bindingsOf, restRoutes } from "../src/transports/http/rest.js";
import { createMcpServer } from "../src/transports/mcp-server.js";
import { type AnyToolDefinition, defineTool, type ToolContext } from "../src/transports/tool.js";
import { toolRegistry, tools } from "../tools/index.js";
import { assertOutputContract } from "./support/calls.js";
import { type Harness, startHarness } from "./support/harness.js";
import { ROOT } from "./support/stdio.js";
import { expectToolSnapshot, toolSnapshotFile, toolSnapshotNames, UPDATE_TOOL_SNAPSHOTS } from "./support/tool-snapshots.js";

const HUBSPOT_ENV = {
  TENEX_HUBSPOT_CLIENT_ID: "client-id",
  TENEX_HUBSPOT_CLIENT_SECRET: "client-secret-value-never-shown",
  TENEX_HUBSPOT_AUTHORIZATION_URL: "http://127.0.0.1:1/auth",
  TENEX_HUBSPOT_TOKEN_URL: "http://127.0.0.1:1/token",
};

/** A test file calls a tool by name: h.call("x", …), h.ok("x", …), callTool({ name: "x" … }) and the like. */
const callsByName = (name: string) => new RegExp(String.raw`(\b(call|callError|callRaw|ok|fail)\(\s*|\bname:\s*)"${name}"`);

/** Every test file but this one (which names every tool). */
function testSources(): Array<{ file: string; text: string }> {
  const dir = path.join(ROOT, "test");
  return fs
    .readdirSync(dir, { recursive: true, encoding: "utf8" })
    .filter((f) => f.endsWith(".test.ts") && path.basename(f) !== "tools.test.ts")
    .map((f) => ({ file: f, text: fs.readFileSync(path.join(dir, f), "utf8") }));
}

describe("tool registry", () => {
  const names = tools.map((t) => t.name);
  let listed: Tool[];
  const listing = (name: string) => {
    const tool = listed.find((t) => t.name === name);
    expect(tool, `${name} is not in tools/list`).toBeTruthy();
    return tool!;
  };

  beforeAll(async () => {
    const t = await startHarness({ env: {} });
    try {
      listed = (await t.client.listTools()).tools;
    } finally {
      await t.close();
    }
  });

  it("has one file per tool, named after it, and lists exactly the registry in its order", () => {
    // `_` files (such as _params.ts) are shared helpers, not tools.
    const files = fs.readdirSync(path.join(ROOT, "tools")).filter((f) => f.endsWith(".ts") && f !== "index.ts" && !f.startsWith("_"));
    expect(files.map((f) => f.replace(/\.ts$/, "")).sort()).toEqual([...names].sort());
    expect(Object.keys(toolRegistry)).toEqual(names);
    expect(listed.map((t) => t.name)).toEqual(names);
  });

  it.each(names)("%s: all four annotation hints, flat object schemas, every input field described", (name) => {
    const tool = listing(name);
    for (const hint of ["readOnlyHint", "destructiveHint", "idempotentHint", "openWorldHint"] as const) {
      expect(typeof tool.annotations?.[hint], `${name} ${hint}`).toBe("boolean");
    }
    for (const s of [tool.inputSchema, tool.outputSchema!]) {
      expect(s.type).toBe("object");
      expect(s).not.toHaveProperty("anyOf");
      expect(s).not.toHaveProperty("oneOf");
    }
    // Unknown arguments are refused, not ignored.
    expect(tool.inputSchema.additionalProperties).toBe(false);
    for (const [k, v] of Object.entries(tool.inputSchema.properties ?? {})) {
      expect((v as { description?: unknown }).description, `${name}.${k} has no description`).toEqual(expect.any(String));
      expect((v as { description: string }).description.length, `${name}.${k}`).toBeGreaterThan(0);
    }
  });

  it.each(names)("%s: a description of 80 to 2048 characters that says when to use it", (name) => {
    const { description } = listing(name);
    expect(description?.length).toBeGreaterThan(80);
    expect(description?.length).toBeLessThanOrEqual(2048);
    expect(description).toMatch(/Use this (when|before|only)/);
  });

  it.each(names)("%s: its listing matches its file in test/__snapshots__/tools/", (name) => {
    expectToolSnapshot(listing(name));
  });

  it("has no snapshot file for a tool that is not in the registry", () => {
    if (UPDATE_TOOL_SNAPSHOTS)
      for (const stale of toolSnapshotNames().filter((n) => !names.includes(n))) fs.rmSync(toolSnapshotFile(stale));
    expect(toolSnapshotNames().sort()).toEqual([...names].sort());
  });

  it("has every tool called by name in at least one other test file", () => {
    const sources = testSources();
    const untested = names.filter((name) => !sources.some((s) => callsByName(name).test(s.text)));
    expect(untested).toEqual([]);
  });
});

describe("tool calls", () => {
  let t: Harness;
  beforeAll(async () => {
    t = await startHarness({ env: HUBSPOT_ENV });
  });
  afterAll(async () => t?.close());

  const expectError = async (name: string, args: unknown, code: string, pattern?: RegExp) => {
    const res = await t.client.callTool({ name, arguments: args as Record<string, unknown> });
    expect(res.isError, JSON.stringify(res)).toBe(true);
    const sc = res.structuredContent as { error: { code: string; message: string } };
    expect(sc.error.code).toBe(code);
    if (pattern) expect(sc.error.message).toMatch(pattern);
    expect(JSON.parse((res.content as Array<{ text: string }>)[0]!.text)).toEqual(sc);
    return sc.error;
  };

  it("answers wrong-typed, missing, unknown and oversized arguments with invalid_input, and keeps serving", async () => {
    await expectError("get_connector_status", { connector_id: 42 }, "invalid_input", /connector_id/);
    await expectError("get_connector_status", {}, "invalid_input", /connector_id/);
    await expectError("list_connectors", { limit: 0 }, "invalid_input", /limit/);
    await expectError("list_connectors", { limit: "ten" }, "invalid_input", /limit/);
    await expectError("list_connectors", { status: "happy" }, "invalid_input", /status/);
    await expectError("list_connectors", { colour: "red" }, "invalid_input", /unknown argument/);
    await expectError("start_connector_oauth", { provider: "hubspot", label: "x".repeat(201) }, "invalid_input", /label/);
    await expectError(
      "start_connector_oauth",
      { provider: "hubspot", settings: { blob: "y".repeat(70_000) } },
      "invalid_input",
      /too large/,
    );
    await expectError("list_connectors", { cursor: "bm9wZQ" }, "invalid_input", /cursor/);
    const unknown = await expectError("no_such_tool", {}, "not_found", /Unknown tool "no_such_tool"/);
    // not_found of a tool, not of a connector.
    expect(unknown.message).toMatch(/no tool of that name/);
    expect(unknown.message).toMatch(/tools\/list/);
    expect((await t.call("list_providers", {})).providers).toHaveLength(9);
  });

  it("maps core refusals to their codes", async () => {
    await expectError("start_connector_oauth", { provider: "myspace" }, "unknown_provider");
    await expectError("start_connector_oauth", { provider: "gmail" }, "provider_not_configured", /TENEX_GMAIL_CLIENT_ID/);
    await expectError("start_connector_oauth", { provider: "sanity" }, "auth_type_unsupported", /submit_connector_key/);
    await expectError("start_connector_oauth", { provider: "hubspot", roles: ["sink"] }, "role_not_allowed", /source, crm_sink/);
    await expectError("start_connector_oauth", { provider: "hubspot", settings: { site_id: "x" } }, "invalid_input", /unknown field/);
    await expectError("get_connector_status", { connector_id: "con_missing" }, "not_found");
  });

  it("never shows the client secret in a result", async () => {
    const res = await t.callRaw("start_connector_oauth", { provider: "hubspot" });
    expect(JSON.stringify(res)).not.toContain(HUBSPOT_ENV.TENEX_HUBSPOT_CLIENT_SECRET);
    expect(JSON.stringify(await t.callRaw("list_providers"))).not.toContain(HUBSPOT_ENV.TENEX_HUBSPOT_CLIENT_SECRET);
  });

  it("pages through every connector exactly once, newest first, while connectors are being added", async () => {
    const before = new Set<string>();
    for (let i = 0; i < 23; i++) {
      const r = await t.call("start_connector_oauth", { provider: "hubspot", label: `existing ${i}` });
      before.add(r.connector_id);
    }
    const seen: string[] = [];
    const added: string[] = [];
    let cursor: string | null | undefined;
    let pages = 0;
    do {
      const page = await t.call("list_connectors", { limit: 4, provider: "hubspot", ...(cursor ? { cursor } : {}) });
      seen.push(...page.connectors.map((c) => c.id));
      cursor = page.next_cursor;
      pages++;
      // Others keep connecting while we page.
      const r = await t.call("start_connector_oauth", { provider: "hubspot", label: `added ${pages}` });
      added.push(r.connector_id);
    } while (cursor);
    expect(new Set(seen).size).toBe(seen.length);
    for (const id of before) expect(seen).toContain(id);
    for (const id of added) expect(seen).not.toContain(id);
    // Newest first: the first page starts with the connector created last before paging began.
    const all = await t.call("list_connectors", { limit: 100, provider: "hubspot" });
    const ids = all.connectors.map((c) => c.id);
    expect(ids[0]).toBe(added[added.length - 1]);
  });

  it("filters by role and status", async () => {
    const r = await t.call("start_connector_oauth", { provider: "hubspot", roles: ["source"], label: "source only" });
    const bySource = await t.call("list_connectors", { role: "source", limit: 100 });
    const byCrm = await t.call("list_connectors", { role: "crm_sink", limit: 100 });
    expect(bySource.connectors.map((c) => c.id)).toContain(r.connector_id);
    expect(byCrm.connectors.map((c) => c.id)).not.toContain(r.connector_id);
    const connected = await t.call("list_connectors", { status: "connected" });
    expect(connected.connectors).toEqual([]);
  });
});

describe("error boundary", () => {
  it("turns an unexpected error into internal with a log id, and logs the raw message only to the log", async () => {
    const t = await startHarness({ env: {} });
    const boom: AnyToolDefinition = defineTool({
      name: "boom",
      title: "Boom",
      description: "Fails on purpose.",
      inputSchema: z.object({}).strict(),
      outputSchema: z.object({ ok: z.boolean() }).strict(),
      annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
      rest: null, // a test tool, over MCP only
      handler: async () => {
        throw new Error("raw failure with Bearer abc.def.ghi inside");
      },
    });
    const server = createMcpServer(t.app.ctx, [...tools, boom], { workspace_id: "ws_local" });
    const [a, b] = InMemoryTransport.createLinkedPair();
    const client = new Client({ name: "c", version: "1" });
    await Promise.all([server.connect(a), client.connect(b)]);
    await client.listTools();
    const res = await client.callTool({ name: "boom", arguments: {} });
    const err = (res.structuredContent as { error: { code: string; message: string } }).error;
    expect(err.code).toBe("internal");
    expect(err.message).not.toContain("raw failure");
    const logId = /err_[0-9a-f]+/.exec(err.message)?.[0];
    expect(logId).toBeTruthy();
    const line = t.logs.find((l) => l.includes(logId!));
    expect(line).toContain("raw failure");
    expect(line).not.toContain("abc.def.ghi");
    await client.close();
    await t.close();
  });
});

describe("REST routes on the tool definitions", () => {
  it("every tool declares its REST route or an explicit null, with no two on one method and path", () => {
    for (const tool of tools) {
      expect(Object.hasOwn(tool, "rest"), `${tool.name} declares no rest route (give one, or rest: null with the reason)`).toBe(true);
      for (const binding of bindingsOf(tool)) expect(binding.path, tool.name).toMatch(/^\/[a-z{}/_]+$/);
    }
    const routes = restRoutes(tools);
    expect(routes.map((r) => r.tool)).toEqual(tools.flatMap((t) => bindingsOf(t).map(() => t.name)));
    // A tool with several routes names each operation apart (OpenAPI operationIds are unique).
    const operations = routes.map((r) => r.operation);
    expect(new Set(operations).size).toBe(operations.length);
    const keys = routes.map((r) => `${r.method} ${r.path}`);
    expect(new Set(keys).size).toBe(keys.length);
  });

  it("documents in OpenAPI exactly the tools given, so a tool left out (or with rest: null) has no operation", () => {
    const ids = (tools: AnyToolDefinition[]) =>
      Object.values(buildOpenApi(tools).paths as Record<string, Record<string, { operationId: string }>>).flatMap((ops) =>
        Object.values(ops).map((o) => o.operationId),
      );
    expect(ids(tools).sort()).toEqual([...restRoutes(tools).map((r) => r.operation), ...PROXY_OPERATIONS, "openapi", "healthz"].sort());
    expect(ids(tools)).toContain("call_connector_by_role");
    const withoutStatus = tools.filter((t) => t.name !== "get_connector_status");
    expect(ids(withoutStatus)).not.toContain("get_connector_status");
    const mcpOnly = tools.map((t) => (t.name === "resolve_connector" ? { ...t, rest: null } : t));
    expect(ids(mcpOnly)).not.toContain("resolve_connector");
    expect(restRoutes(mcpOnly).map((r) => r.tool)).not.toContain("resolve_connector");
  });

  it("refuses a route whose path parameter names no argument of its tool", () => {
    const listProviders = tools.find((t) => t.name === "list_providers")!;
    expect(() => restRoutes([{ ...listProviders, rest: { method: "GET", path: "/providers/{id}" } }])).toThrow(/\{id\}/);
  });
});

describe("invokeTool (the boundary, without any transport)", () => {
  const logs: string[] = [];
  const ctx = {
    log: createLogger({ level: "debug", write: (l) => logs.push(l) }),
    workspace_id: "ws_x",
    signal: new AbortController().signal,
    progress: async () => undefined,
  } as unknown as ToolContext;
  const echo = defineTool({
    name: "echo",
    title: "Echo",
    description: "Echoes, or fails as asked.",
    inputSchema: z
      .object({ n: z.number().int().describe("a number"), fail: z.enum(["connector", "raw", "shape"]).optional().describe("how to fail") })
      .strict(),
    outputSchema: z.object({ n: z.number(), workspace_id: z.string() }).strict(),
    annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
    rest: null, // a test tool
    handler: async (input, c) => {
      if (input.fail === "connector") throw new ConnectorError("conflict", "Two of them; pick one.", { retryable: true });
      if (input.fail === "raw") throw new Error("raw text with tnx_secretsecretsecretsecret0000");
      if (input.fail === "shape") return { n: "not a number", workspace_id: c.workspace_id } as never;
      return { n: input.n, workspace_id: c.workspace_id };
    },
  });

  it("returns structuredContent and the same JSON as text", async () => {
    const res = await invokeTool(echo, { n: 3 }, ctx);
    expect(res).toEqual({
      content: [{ type: "text", text: JSON.stringify({ n: 3, workspace_id: "ws_x" }) }],
      structuredContent: { n: 3, workspace_id: "ws_x" },
    });
  });

  it("answers bad arguments with invalid_input, a ConnectorError with its code, and anything else with internal and a log id only", async () => {
    const error = async (args: unknown) => {
      const res = await invokeTool(echo, args, ctx);
      expect(res.isError).toBe(true);
      expect(JSON.parse(res.content[0]!.text)).toEqual(res.structuredContent);
      return (res.structuredContent as { error: { code: string; message: string; retryable?: boolean } }).error;
    };
    expect(await error({ n: "x" })).toEqual({ code: "invalid_input", message: expect.stringMatching(/^Invalid arguments for echo: n:/) });
    expect(await error([1])).toEqual({ code: "invalid_input", message: expect.stringMatching(/not an array/) });
    expect(await error({ n: 1, fail: "connector" })).toEqual({ code: "conflict", message: "Two of them; pick one.", retryable: true });
    for (const fail of ["raw"]) {
      const err = await error({ n: 1, fail });
      expect(err.code).toBe("internal");
      expect(err.message).not.toMatch(/raw text|tnx_|not a number/);
      const logId = /err_[0-9a-f]+/.exec(err.message)![0];
      expect(logs.find((l) => l.includes(logId))).toBeTruthy();
    }
    expect(logs.join("\n")).not.toContain("tnx_secretsecret");
  });

  it("leaves the output unparsed, and the contract check every test's tool call runs catches a result that breaks its schema", async () => {
    const schemas = new Map([["echo", echo.outputSchema]]);
    const good = await invokeTool(echo, { n: 3 }, ctx);
    expect(() => assertOutputContract("echo", good.structuredContent, false, schemas)).not.toThrow();
    const bad = await invokeTool(echo, { n: 1, fail: "shape" }, ctx);
    expect(bad.isError).toBeUndefined();
    expect(() => assertOutputContract("echo", bad.structuredContent, false, schemas)).toThrow(
      /echo's result does not match its output schema/,
    );
    // A key the schema does not declare would be stripped by a parse: the check refuses it rather than let it reach a client.
    const loose = new Map([["echo", z.object({ n: z.number() })]]);
    expect(() => assertOutputContract("echo", { n: 1, secret: "x" }, false, loose)).toThrow(/changes when parsed/);
    expect(() => assertOutputContract("echo", { error: { code: "nope", message: "m" } }, true, schemas)).toThrow(/error schema/);
  });
});
