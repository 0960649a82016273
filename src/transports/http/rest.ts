import type http from "node:http";
import { z } from "zod";
import { httpStatusOf } from "../../common/errors.js";
import type { GrantDeps } from "../../grants/deps.js";
import { invokeTool } from "../boundary.js";
import type { AnyToolDefinition, RestBinding, ToolContext, ToolDefinition } from "../tool.js";
import type { Caller } from "./auth.js";
import { parseJson, readBody, sendBodyError, sendError, sendJson } from "./respond.js";

export const API_BASE = "/api/v1";

/** Path parameters and the tool argument each one fills: `{id}` in a path is always the connector id. */
export const PATH_ARGUMENTS: Record<string, string> = { id: "connector_id" };

/**
 * One REST route: the route a tool declares (`rest` on its definition), with what follows from
 * it. Path parameters become tool arguments; the other arguments come from the query string
 * (GET, DELETE) or the JSON body (POST, PATCH). Input is checked by the tool's own zod schema and
 * the response body is the tool's structuredContent, so REST and tools cannot drift.
 */
export interface RestRoute extends RestBinding {
  tool: string;
  /** The OpenAPI operationId: the tool's name, or the route's own when the tool has several. */
  operation: string;
  /** Path parameter → tool argument. */
  params?: Record<string, string>;
  /** Where the remaining arguments come from. */
  from: "query" | "body";
  tag: "providers" | "connectors";
}

function routeOf(tool: AnyToolDefinition, rest: RestBinding): RestRoute {
  const names = [...rest.path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]!);
  const params: Record<string, string> = {};
  for (const name of names) {
    const arg = PATH_ARGUMENTS[name];
    if (!arg || !(arg in tool.inputSchema.shape))
      throw new Error(`${tool.name}: REST path ${rest.path} has {${name}}, which names no argument of the tool`);
    params[name] = arg;
  }
  return {
    ...rest,
    tool: tool.name,
    operation: rest.operation ?? tool.name,
    ...(names.length ? { params } : {}),
    from: rest.method === "GET" || rest.method === "DELETE" ? "query" : "body",
    tag: rest.path.startsWith("/providers") ? "providers" : "connectors",
  };
}

/**
 * The REST route table, derived from the tools' own route metadata (the registry, in its order).
 * A tool whose `rest` is null (offered over MCP only) has no route.
 */
export function restRoutes(tools: readonly AnyToolDefinition[]): RestRoute[] {
  return tools.flatMap((tool) => bindingsOf(tool).map((b) => routeOf(tool, b)));
}

/** Every route of these tools, with its tool. */
export function activeRoutes(tools: readonly ToolDefinition[]): Array<{ route: RestRoute; tool: ToolDefinition }> {
  return tools.flatMap((tool) => bindingsOf(tool).map((b) => ({ route: routeOf(tool, b), tool })));
}

/** A tool's routes: none, one, or several (call_connector: by connector id, and by role). */
export function bindingsOf(tool: AnyToolDefinition): readonly RestBinding[] {
  if (!tool.rest) return [];
  return Array.isArray(tool.rest) ? tool.rest : [tool.rest as RestBinding];
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

/** A request's tool arguments, or undefined when an error was answered already. */
type Arguments = Record<string, unknown> | undefined;

/** The REST API under /api/v1: a thin mapping from HTTP onto the tool boundary. */
export class RestApi {
  private readonly compiled: CompiledRoute[];

  constructor(
    private readonly ctx: GrantDeps,
    tools: ToolDefinition[],
    private readonly opts: { maxBodyBytes: number },
  ) {
    // Literal segments win over parameters (/connectors/oauth before /connectors/{id}).
    this.compiled = activeRoutes(tools)
      .map(({ route, tool }) => compile(route, tool))
      .sort((a, b) => a.names.length - b.names.length);
  }

  /** True when some route's path matches (whatever the method). */
  matches(pathname: string): boolean {
    const sub = pathname.slice(API_BASE.length);
    return this.compiled.some((c) => c.pattern.test(sub));
  }

  /**
   * Error messages are written for agents and name tools ("Use list_connectors …"); a REST caller
   * is told the route instead ("Use GET /api/v1/connectors …"). Tools without a route keep their name.
   */
  inRestTerms(message: string): string {
    return message.replace(/\b[a-z]+(?:_[a-z]+)+\b/g, (word) => {
      const hit = this.compiled.find((c) => c.tool.name === word);
      return hit ? `${hit.route.method} ${API_BASE}${hit.route.path}` : word;
    });
  }

  async handle(req: http.IncomingMessage, res: http.ServerResponse, caller: Caller, url: URL): Promise<void> {
    const sub = url.pathname.slice(API_BASE.length);
    const candidates = this.compiled.filter((c) => c.pattern.test(sub));
    const hit = candidates.find((c) => c.route.method === req.method);
    if (!hit) {
      const allow = [...new Set(candidates.map((c) => c.route.method))].join(", ");
      return sendError(res, "method_not_allowed", `${req.method} is not allowed here; use ${allow}.`, { allow });
    }
    const fromPath = this.pathArguments(hit, sub, res);
    if (!fromPath) return;
    const rest =
      hit.route.from === "body"
        ? await this.bodyArguments(req, res, Math.max(this.opts.maxBodyBytes, hit.tool.maxArgumentsBytes ?? 0))
        : coerceQuery(url.searchParams, hit.types);
    if (!rest) return;
    for (const k of Object.keys(fromPath)) {
      if (k in rest) return sendError(res, "invalid_input", `${k} is taken from the path; do not send it again.`);
    }
    await this.run(hit, { ...rest, ...fromPath }, caller, res);
  }

  private pathArguments(hit: CompiledRoute, sub: string, res: http.ServerResponse): Arguments {
    const m = hit.pattern.exec(sub)!;
    const out: Record<string, unknown> = {};
    try {
      hit.names.forEach((n, i) => {
        out[hit.route.params?.[n] ?? n] = decodeURIComponent(m[i + 1]!);
      });
    } catch {
      sendError(res, "invalid_input", "The path is not validly percent-encoded.");
      return undefined;
    }
    return out;
  }

  private async bodyArguments(req: http.IncomingMessage, res: http.ServerResponse, limit: number): Promise<Arguments> {
    const type = req.headers["content-type"] ?? "";
    const body = await readBody(req, limit);
    if (!body.ok) {
      sendBodyError(res, body);
      return undefined;
    }
    if (body.text.trim() !== "" && !/^application\/json\b/i.test(type)) {
      sendError(res, "unsupported_media_type", "Send the request body as application/json.");
      return undefined;
    }
    const parsed = parseJson(body.text);
    if (!parsed.ok) {
      sendError(res, "invalid_input", "The request body is not valid JSON.");
      return undefined;
    }
    const value = parsed.value ?? {};
    if (typeof value !== "object" || value === null || Array.isArray(value)) {
      sendError(res, "invalid_input", "The request body must be a JSON object.");
      return undefined;
    }
    return value as Record<string, unknown>;
  }

  /**
   * Run the tool through the boundary with a REST ToolContext: no elicitation or browser (the
   * response carries the authorization URL), progress a no-op, and a signal that aborts when
   * the client hangs up. The result maps onto HTTP: the route's status, or the error code's.
   */
  private async run(hit: CompiledRoute, args: Record<string, unknown>, caller: Caller, res: http.ServerResponse): Promise<void> {
    const abort = new AbortController();
    const onClose = () => {
      if (!res.writableFinished) abort.abort();
    };
    res.once("close", onClose);
    try {
      const toolCtx: ToolContext = {
        ...this.ctx,
        workspace_id: caller.workspace_id,
        key_id: caller.key_id,
        signal: abort.signal,
        progress: async () => undefined,
      };
      const result = await invokeTool(hit.tool, args, toolCtx);
      // The client hung up: the call was cancelled and there is nobody to answer.
      if (abort.signal.aborted) return;
      if (result.isError) {
        const error = { ...result.structuredContent.error, message: this.inRestTerms(result.structuredContent.error.message) };
        return sendJson(res, httpStatusOf(error.code), { ...result.structuredContent, error });
      }
      sendJson(res, hit.route.status ?? 200, result.structuredContent);
    } finally {
      res.off("close", onClose);
    }
  }
}
