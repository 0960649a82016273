import { z } from "zod";
import { ERROR_CODES, HTTP_STATUS, httpStatusOf, TRANSPORT_ERROR_CODES } from "../../common/errors.js";
import { SERVER_NAME, SERVER_VERSION } from "../mcp-server.js";
import type { ToolDefinition } from "../tool.js";
import { API_BASE, activeRoutes, type RestRoute } from "./rest.js";

type Json = Record<string, unknown>;

/**
 * A zod schema as an OpenAPI 3.1 schema object (JSON Schema 2020-12). Definitions that zod
 * puts in `$defs` (recursive JSON values) move to components, with their refs rewritten:
 * inside an OpenAPI document `#/$defs/…` would point at the document root.
 */
function schemaFor(schema: z.ZodType, io: "input" | "output", prefix: string, components: Record<string, unknown>): Json {
  const raw = z.toJSONSchema(schema, { target: "draft-2020-12", io }) as Json;
  const { $schema: _drop, $defs, ...rest } = raw as Json & { $defs?: Record<string, unknown> };
  const rename = (name: string) => `${prefix}_${name.replace(/[^A-Za-z0-9_.-]/g, "")}`;
  const rewrite = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(rewrite);
    if (v && typeof v === "object") {
      const out: Json = {};
      for (const [k, x] of Object.entries(v)) {
        out[k] =
          k === "$ref" && typeof x === "string" && x.startsWith("#/$defs/")
            ? `#/components/schemas/${rename(x.slice("#/$defs/".length))}`
            : rewrite(x);
      }
      return out;
    }
    return v;
  };
  for (const [name, def] of Object.entries($defs ?? {})) components[rename(name)] = rewrite(def);
  return rewrite(rest) as Json;
}

const ERROR_SCHEMA = {
  type: "object",
  required: ["error"],
  additionalProperties: false,
  properties: {
    error: {
      type: "object",
      required: ["code", "message"],
      properties: {
        code: { type: "string", enum: [...ERROR_CODES, ...TRANSPORT_ERROR_CODES] },
        message: { type: "string" },
        retryable: { type: "boolean" },
      },
    },
  },
};

const errorResponse = (description: string) => ({
  description,
  content: { "application/json": { schema: { $ref: "#/components/schemas/Error" } } },
});

/** The error code → HTTP status table, printed from HTTP_STATUS (also used for the README). */
export function statusTable(): string {
  const byStatus = new Map<number, string[]>();
  for (const [code, { status, note }] of Object.entries(HTTP_STATUS)) {
    byStatus.set(status, [...(byStatus.get(status) ?? []), `\`${code}\`${note ? ` (${note})` : ""}`]);
  }
  const rows = [...byStatus].sort(([a], [b]) => a - b).map(([status, codes]) => `| ${codes.join(", ")} | ${status} |`);
  return ["| code | HTTP status |", "|---|---|", ...rows].join("\n");
}

type InputJson = Json & { properties?: Record<string, Json>; required?: string[] };

/** Path and query parameters, and the JSON body, of one route: together, exactly the tool's input. */
function requestOf(
  route: RestRoute,
  tool: ToolDefinition,
  components: Record<string, unknown>,
): { parameters: Json[]; requestBody?: Json } {
  const pathArgs = Object.values(route.params ?? {});
  const inputJson = schemaFor(tool.inputSchema, "input", `${tool.name}_input`, components) as InputJson;
  const props = inputJson.properties ?? {};
  const required = new Set(inputJson.required ?? []);
  const parameters: Json[] = Object.entries(route.params ?? {}).map(([name, arg]) => ({
    name,
    in: "path",
    required: true,
    description: (props[arg]?.description as string | undefined) ?? arg,
    schema: { type: "string" },
  }));
  if (route.from === "query") {
    for (const [name, schema] of Object.entries(props)) {
      if (pathArgs.includes(name)) continue;
      const { description, ...rest } = schema;
      parameters.push({ name, in: "query", required: required.has(name), ...(description ? { description } : {}), schema: rest });
    }
    return { parameters };
  }
  const mask = Object.fromEntries(pathArgs.map((a) => [a, true] as const));
  const bodySchema = pathArgs.length ? (tool.inputSchema as z.ZodObject).omit(mask as never) : tool.inputSchema;
  const name = `${route.operation}_body`;
  components[name] = schemaFor(bodySchema, "input", name, components);
  const bodyRequired = ((components[name] as Json).required as string[] | undefined)?.length ?? 0;
  return {
    parameters,
    requestBody: { required: bodyRequired > 0, content: { "application/json": { schema: { $ref: `#/components/schemas/${name}` } } } },
  };
}

/** The responses of one route: its success, the errors every route can give, and `default` for the rest. */
function responsesOf(route: RestRoute, tool: ToolDefinition, components: Record<string, unknown>): Json {
  const outName = `${tool.name}_result`;
  components[outName] = schemaFor(tool.outputSchema, "output", outName, components);
  return {
    [String(route.status ?? 200)]: {
      description: `The result of the ${tool.name} tool.`,
      content: { "application/json": { schema: { $ref: `#/components/schemas/${outName}` } } },
    },
    [httpStatusOf("invalid_input")]: errorResponse(
      "invalid_input (or another input error code): the arguments do not fit the schema or the rules.",
    ),
    [httpStatusOf("unauthorized")]: errorResponse("unauthorized: missing, malformed, unknown or revoked API key."),
    ...(route.params ? { [httpStatusOf("not_found")]: errorResponse("not_found: no such connector in this workspace.") } : {}),
    default: errorResponse("Any other error, with the status given by its code (see the table in the API description)."),
  };
}

function operationOf(route: RestRoute, tool: ToolDefinition, components: Record<string, unknown>): Json {
  const { parameters, requestBody } = requestOf(route, tool, components);
  return {
    operationId: route.operation,
    summary: tool.title,
    description: `${tool.description}\n\nSame as the MCP tool \`${tool.name}\`.`,
    tags: [route.tag],
    ...(parameters.length ? { parameters } : {}),
    ...(requestBody ? { requestBody } : {}),
    responses: responsesOf(route, tool, components),
  };
}

/** The raw proxy's operations (REST only, not a tool): one per method it passes. */
export const PROXY_OPERATIONS = ["get", "post", "put", "patch", "delete"].map((m) => `proxy_${m}`);

function proxyPath(): Record<string, Json> {
  const op = (method: string): Json => ({
    operationId: `proxy_${method}`,
    summary: `Raw proxy: ${method.toUpperCase()} through a connector`,
    description:
      "For flows that want the provider's bytes: the request goes to the connector's provider with the credential added, under the same " +
      "rules as call_connector (allowed hosts, the provider's request header allow list; other request headers are dropped; body at most 1 MiB; " +
      "a 401 refreshes once and retries once; redirects are not followed). The provider's status, allowed headers (content-type, rate-limit " +
      "headers, retry-after, link, etag, location) and body are streamed back as they come. Our secrets are redacted in headers and in " +
      "text/JSON bodies (a rolling window); binary bodies pass through unchanged. A body past TENEX_PROXY_STREAM_MAX_BYTES (default 100 MiB) " +
      "is cut off by resetting the connection.",
    tags: ["connectors"],
    parameters: [
      { name: "id", in: "path", required: true, description: "The connector id, con_…", schema: { type: "string" } },
      {
        name: "path",
        in: "path",
        required: true,
        description: "The path below the provider's API base (slashes included), with its query string",
        schema: { type: "string" },
      },
    ],
    ...(method === "get" || method === "delete"
      ? {}
      : { requestBody: { required: false, content: { "*/*": { schema: { type: "string", format: "binary" } } } } }),
    responses: {
      "200": { description: "The provider's answer, whatever its status (2xx to 5xx), streamed.", content: { "*/*": { schema: {} } } },
      [httpStatusOf("invalid_input")]: errorResponse("invalid_input: a host, path or method the proxy refuses."),
      [httpStatusOf("not_found")]: errorResponse("not_found: no such connector in this workspace."),
      [httpStatusOf("invalid_state")]: errorResponse("invalid_state: the connector is not connected (the message says what to do)."),
      [httpStatusOf("provider_error")]: errorResponse("provider_error: the provider could not be reached or did not answer within 30 s."),
      default: errorResponse("Any other error, with the status given by its code."),
    },
  });
  return {
    [`${API_BASE}/connectors/{id}/proxy/{path}`]: Object.fromEntries(["get", "post", "put", "patch", "delete"].map((m) => [m, op(m)])),
  };
}

/** The two operations that are not tools: this document and the health check. */
function metaPaths(): Record<string, Json> {
  const healthBody = {
    type: "object",
    required: ["status"],
    properties: { status: { type: "string", const: "ok" }, version: { type: "string" } },
  };
  return {
    [`${API_BASE}/openapi.json`]: {
      get: {
        operationId: "openapi",
        summary: "This document",
        tags: ["meta"],
        security: [],
        responses: {
          "200": { description: "The OpenAPI 3.1 document of this API.", content: { "application/json": { schema: { type: "object" } } } },
        },
      },
    },
    "/healthz": {
      get: {
        operationId: "healthz",
        summary: "Liveness and database check",
        tags: ["meta"],
        security: [],
        responses: {
          "200": { description: "The server is up and its database answers.", content: { "application/json": { schema: healthBody } } },
          [httpStatusOf("unavailable")]: errorResponse("unavailable: shutting down, or the database does not answer."),
        },
      },
    },
  };
}

/**
 * The OpenAPI 3.1 document of the REST API, generated from the tools' route metadata and their
 * own zod schemas; the error statuses come from the one table (HTTP_STATUS).
 */
export function buildOpenApi(tools: ToolDefinition[], opts: { serverUrl?: string | undefined } = {}): Json {
  const components: Record<string, unknown> = { Error: ERROR_SCHEMA };
  const paths: Record<string, Json> = {};
  for (const { route, tool } of activeRoutes(tools)) {
    const fullPath = `${API_BASE}${route.path}`;
    paths[fullPath] ??= {};
    paths[fullPath][route.method.toLowerCase()] = operationOf(route, tool, components);
  }
  Object.assign(paths, proxyPath(), metaPaths());
  return {
    openapi: "3.1.0",
    jsonSchemaDialect: "https://json-schema.org/draft/2020-12/schema",
    info: {
      title: `${SERVER_NAME} REST API`,
      version: SERVER_VERSION,
      description:
        "The connectors module over plain HTTP: the same core, tools and workspace API keys as the MCP endpoints. " +
        "Every operation is one MCP tool (its operationId); the request is the tool's input and the response its structured result. " +
        "Errors are `{ error: { code, message } }` with the tools' codes:\n\n" +
        statusTable(),
    },
    ...(opts.serverUrl ? { servers: [{ url: opts.serverUrl }] } : {}),
    security: [{ bearer: [] }],
    tags: [
      { name: "providers", description: "The catalog of SaaS providers" },
      { name: "connectors", description: "This workspace's connected accounts" },
      { name: "meta", description: "The API itself" },
    ],
    paths,
    components: {
      schemas: components,
      securitySchemes: { bearer: { type: "http", scheme: "bearer", description: "A workspace API key, tnx_…" } },
    },
  };
}
