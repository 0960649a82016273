import type http from "node:http";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { InMemoryTransport } from "@modelcontextprotocol/sdk/inMemory.js";
import type { Server } from "@modelcontextprotocol/sdk/server/index.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { z } from "zod";
import { ERROR_CODES, type ErrorCode } from "../../common/errors.js";
import { createMcpServer, SERVER_NAME, SERVER_VERSION } from "../mcp-server.js";
import type { ToolDefinition } from "../tool.js";
import type { Caller } from "./auth.js";
import { parseJson, readBody, sendError, sendJson, STATUS_FOR_CODE } from "./respond.js";
import type { GrantDeps } from "../../grants/deps.js";

export const API_BASE = "/api/v1";

/**
 * One REST route: an HTTP method and path mapped onto one tool of the registry. Path
 * parameters become tool arguments; the other arguments come from the query string (GET,
 * DELETE) or the JSON body (POST, PATCH). Input is checked by the tool's own zod schema and
 * the response body is the tool's structuredContent, so REST and tools cannot drift.
 */
export interface RestRoute {
  method: "GET" | "POST" | "PATCH" | "DELETE";
  /** OpenAPI-style template under /api/v1, e.g. `/connectors/{id}`. */
  path: string;
  tool: string;
  /** Path parameter → tool argument. */
  params?: Record<string, string>;
  /** Where the remaining arguments come from. */
  from: "query" | "body";
  /** Success status; 200 unless the call creates something. */
  status?: 200 | 201;
  tag: "providers" | "connectors";
}

const ID = { id: "connector_id" };
const action = (name: string, tool: string): RestRoute => ({ method: "POST", path: `/connectors/{id}/${name}`, tool, params: ID, from: "body", tag: "connectors" });

/**
 * The route table. Entries whose tool is not in the registry are skipped, so routes light up
 * as tools are added.
 */
export const REST_ROUTES: RestRoute[] = [
  { method: "GET", path: "/providers", tool: "list_providers", from: "query", tag: "providers" },
  { method: "GET", path: "/connectors", tool: "list_connectors", from: "query", tag: "connectors" },
  { method: "POST", path: "/connectors/oauth", tool: "start_connector_oauth", from: "body", status: 201, tag: "connectors" },
  { method: "POST", path: "/connectors/keys", tool: "submit_connector_key", from: "body", status: 201, tag: "connectors" },
  { method: "GET", path: "/connectors/{id}", tool: "get_connector_status", params: ID, from: "query", tag: "connectors" },
  { method: "PATCH", path: "/connectors/{id}", tool: "update_connector", params: ID, from: "body", tag: "connectors" },
  { method: "DELETE", path: "/connectors/{id}", tool: "delete_connector", params: ID, from: "query", tag: "connectors" },
  { method: "GET", path: "/connectors/{id}/wait", tool: "wait_for_connector", params: ID, from: "query", tag: "connectors" },
  { method: "POST", path: "/connectors/{id}/primary", tool: "set_primary_connector", params: ID, from: "body", tag: "connectors" },
  action("test", "test_connector"),
  action("refresh", "refresh_connector"),
  action("revoke", "revoke_connector"),
  action("disable", "disable_connector"),
  action("enable", "enable_connector"),
  { method: "GET", path: "/resolve", tool: "resolve_connector", from: "query", tag: "connectors" },
];

/** The routes whose tool this server has, with the tool. */
export function activeRoutes(tools: ToolDefinition[], routes: RestRoute[] = REST_ROUTES): Array<{ route: RestRoute; tool: ToolDefinition }> {
  const byName = new Map(tools.map((t) => [t.name, t]));
  return routes.flatMap((route) => {
    const tool = byName.get(route.tool);
    return tool ? [{ route, tool }] : [];
  });
}

type JsonSchema = { type?: string | string[]; properties?: Record<string, JsonSchema>; required?: string[]; items?: JsonSchema };

/** The JSON types of a tool's input properties, to turn query strings into numbers, booleans and arrays. */
function propertyTypes(tool: ToolDefinition): Map<string, string> {
  const schema = z.toJSONSchema(tool.inputSchema, { target: "draft-2020-12", io: "input" }) as JsonSchema;
  const out = new Map<string, string>();
  for (const [k, v] of Object.entries(schema.properties ?? {})) {
    const t = Array.isArray(v.type) ? v.type.find((x) => x !== "null") : v.type;
    if (t) out.set(k, t);
  }
  return out;
}

function coerceQuery(query: URLSearchParams, types: Map<string, string>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key of new Set(query.keys())) {
    const values = query.getAll(key);
    const type = types.get(key);
    if (type === "array") {
      out[key] = values.flatMap((v) => v.split(",")).filter((v) => v !== "");
      continue;
    }
    const v = values.length === 1 ? values[0]! : values;
    if (typeof v === "string" && (type === "integer" || type === "number") && /^-?\d+(\.\d+)?$/.test(v)) out[key] = Number(v);
    else if (typeof v === "string" && type === "boolean" && (v === "true" || v === "false")) out[key] = v === "true";
    else out[key] = v;
  }
  return out;
}

interface CompiledRoute {
  route: RestRoute;
  tool: ToolDefinition;
  pattern: RegExp;
  names: string[];
  types: Map<string, string>;
}

function compile(route: RestRoute, tool: ToolDefinition): CompiledRoute {
  const names: string[] = [];
  const source = route.path
    .split("/")
    .map((seg) => {
      const p = /^\{(\w+)\}$/.exec(seg);
      if (!p) return seg.replace(/[.*+?^$()|[\]\\{}]/g, "\\$&");
      names.push(p[1]!);
      return "([^/]+)";
    })
    .join("/");
  return { route, tool, pattern: new RegExp(`^${source}$`), names, types: propertyTypes(tool) };
}

/**
 * Calls tools through the same MCP server (dispatch, validation, error boundary) that MCP
 * clients use, over an in-memory transport: one client per workspace, created on first use.
 */
export class ToolInvoker {
  private readonly pairs = new Map<string, { ready: Promise<{ client: Client; server: Server }>; active: number }>();

  constructor(
    private readonly ctx: GrantDeps,
    private readonly tools: ToolDefinition[],
    private readonly maxWorkspaces = 64,
  ) {}

  private pair(workspaceId: string): { ready: Promise<{ client: Client; server: Server }>; active: number } {
    let entry = this.pairs.get(workspaceId);
    if (entry) {
      // Most recently used last.
      this.pairs.delete(workspaceId);
      this.pairs.set(workspaceId, entry);
      return entry;
    }
    const ready = (async () => {
      const server = createMcpServer(this.ctx, this.tools, { workspace_id: workspaceId });
      const client = new Client({ name: `${SERVER_NAME}-rest`, version: SERVER_VERSION });
      const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
      await server.connect(serverSide);
      await client.connect(clientSide);
      return { client, server };
    })();
    entry = { ready, active: 0 };
    ready.catch(() => this.pairs.delete(workspaceId));
    this.pairs.set(workspaceId, entry);
    // Over the bound, let go of the least recently used idle pairs (never one with a call running).
    for (const [id, e] of this.pairs) {
      if (this.pairs.size <= this.maxWorkspaces) break;
      if (e.active > 0 || e === entry) continue;
      this.pairs.delete(id);
      void e.ready.then((x) => x.client.close()).catch(() => undefined);
    }
    return entry;
  }

  async call(workspaceId: string, name: string, args: Record<string, unknown>, signal: AbortSignal): Promise<CallToolResult> {
    const entry = this.pair(workspaceId);
    entry.active++;
    try {
      const { client } = await entry.ready;
      // wait_for_connector may wait up to 300 s; the tools bound their own provider calls.
      return (await client.callTool({ name, arguments: args }, undefined, { signal, timeout: 330_000 })) as CallToolResult;
    } finally {
      entry.active--;
    }
  }

  async close(): Promise<void> {
    const all = [...this.pairs.values()];
    this.pairs.clear();
    await Promise.all(all.map((e) => e.ready.then((x) => x.client.close()).catch(() => undefined)));
  }
}

/** The REST API under /api/v1: a thin mapping from HTTP onto the tool registry. */
export class RestApi {
  private readonly compiled: CompiledRoute[];
  readonly invoker: ToolInvoker;

  constructor(
    ctx: GrantDeps,
    tools: ToolDefinition[],
    private readonly opts: { maxBodyBytes: number },
  ) {
    // Literal segments win over parameters (/connectors/oauth before /connectors/{id}).
    this.compiled = activeRoutes(tools)
      .map(({ route, tool }) => compile(route, tool))
      .sort((a, b) => a.names.length - b.names.length);
    this.invoker = new ToolInvoker(ctx, tools);
  }

  /** True when some route's path matches (whatever the method). */
  matches(pathname: string): boolean {
    const sub = pathname.slice(API_BASE.length);
    return this.compiled.some((c) => c.pattern.test(sub));
  }

  async handle(req: http.IncomingMessage, res: http.ServerResponse, caller: Caller, url: URL): Promise<void> {
    const sub = url.pathname.slice(API_BASE.length);
    const candidates = this.compiled.filter((c) => c.pattern.test(sub));
    const hit = candidates.find((c) => c.route.method === req.method);
    if (!hit) {
      const allow = [...new Set(candidates.map((c) => c.route.method))].join(", ");
      return sendError(res, 405, "method_not_allowed", `${req.method} is not allowed here; use ${allow}.`, { allow });
    }
    const { route, tool } = hit;
    const m = hit.pattern.exec(sub)!;
    const fromPath: Record<string, string> = {};
    try {
      hit.names.forEach((n, i) => {
        fromPath[route.params?.[n] ?? n] = decodeURIComponent(m[i + 1]!);
      });
    } catch {
      return sendError(res, 400, "invalid_input", "The path is not validly percent-encoded.");
    }

    let rest: Record<string, unknown>;
    if (route.from === "body") {
      const type = req.headers["content-type"] ?? "";
      const body = await readBody(req, this.opts.maxBodyBytes);
      if (!body.ok) return sendError(res, body.status, body.status === 413 ? "payload_too_large" : "invalid_input", body.message, { connection: "close" });
      if (body.text.trim() !== "" && !/^application\/json\b/i.test(type)) {
        return sendError(res, 415, "unsupported_media_type", "Send the request body as application/json.");
      }
      const parsed = parseJson(body.text);
      if (!parsed.ok) return sendError(res, 400, "invalid_input", "The request body is not valid JSON.");
      const value = parsed.value ?? {};
      if (typeof value !== "object" || value === null || Array.isArray(value)) return sendError(res, 400, "invalid_input", "The request body must be a JSON object.");
      rest = value as Record<string, unknown>;
    } else {
      rest = coerceQuery(url.searchParams, hit.types);
    }
    for (const k of Object.keys(fromPath)) {
      if (k in rest) return sendError(res, 400, "invalid_input", `${k} is taken from the path; do not send it again.`);
    }

    const abort = new AbortController();
    const onClose = () => {
      if (!res.writableFinished) abort.abort();
    };
    res.once("close", onClose);
    try {
      let result: CallToolResult;
      try {
        result = await this.invoker.call(caller.workspace_id, tool.name, { ...rest, ...fromPath }, abort.signal);
      } catch (err) {
        // The client hung up: the call was cancelled and there is nobody to answer.
        if (abort.signal.aborted) return;
        throw err;
      }
      if (abort.signal.aborted) return;
      const sc = (result.structuredContent ?? {}) as Record<string, unknown>;
      if (result.isError) {
        const error = (sc.error ?? { code: "internal", message: "The tool failed without an error object." }) as { code: string };
        const code = (ERROR_CODES as readonly string[]).includes(error.code) ? (error.code as ErrorCode) : "internal";
        return sendJson(res, STATUS_FOR_CODE[code], { error });
      }
      sendJson(res, route.status ?? 200, sc);
    } finally {
      res.off("close", onClose);
    }
  }
}
