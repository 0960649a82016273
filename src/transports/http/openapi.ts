import { z } from "zod";
import { ERROR_CODES } from "../../common/errors.js";
import { SERVER_NAME, SERVER_VERSION } from "../mcp-server.js";
import type { ToolDefinition } from "../tool.js";
import { HTTP_ERROR_CODES, STATUS_FOR_CODE } from "./respond.js";
import { activeRoutes, API_BASE, REST_ROUTES, type RestRoute } from "./rest.js";

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
        out[k] = k === "$ref" && typeof x === "string" && x.startsWith("#/$defs/") ? `#/components/schemas/${rename(x.slice("#/$defs/".length))}` : rewrite(x);
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
        code: { type: "string", enum: [...ERROR_CODES, ...HTTP_ERROR_CODES] },
        message: { type: "string" },
        hint: { type: "string" },
        retryable: { type: "boolean" },
      },
    },
  },
};

const errorResponse = (description: string) => ({ description, content: { "application/json": { schema: { $ref: "#/components/schemas/Error" } } } });

function statusTable(): string {
  const rows = Object.entries(STATUS_FOR_CODE).map(([code, status]) => `| \`${code}\` | ${status} |`);
  return [
    "| error code | HTTP status |",
    "|---|---|",
    ...rows,
    "| `unauthorized` (missing, malformed, unknown or revoked key) | 401 |",
    "| `forbidden` (Host or Origin not allowed) | 403 |",
    "| `method_not_allowed` | 405 |",
    "| `payload_too_large` | 413 |",
    "| `unsupported_media_type` | 415 |",
    "| `unavailable` (shutting down, too many sessions) | 503 |",
  ].join("\n");
}

/**
 * The OpenAPI 3.1 document of the REST API, generated from the route table and the tools'
 * own zod schemas. Routes whose tool is not in the registry are left out.
 */
export function buildOpenApi(tools: ToolDefinition[], opts: { serverUrl?: string | undefined; routes?: RestRoute[] } = {}): Json {
  const components: Record<string, unknown> = { Error: ERROR_SCHEMA };
  const paths: Record<string, Json> = {};

  for (const { route, tool } of activeRoutes(tools, opts.routes ?? REST_ROUTES)) {
    const pathArgs = Object.values(route.params ?? {});
    const inputJson = schemaFor(tool.inputSchema, "input", `${tool.name}_input`, components) as Json & {
      properties?: Record<string, Json>;
      required?: string[];
    };
    const props = inputJson.properties ?? {};
    const required = new Set(inputJson.required ?? []);
    const parameters: Json[] = Object.entries(route.params ?? {}).map(([name, arg]) => ({
      name,
      in: "path",
      required: true,
      description: (props[arg]?.description as string | undefined) ?? arg,
      schema: { type: "string" },
    }));
    let requestBody: Json | undefined;
    if (route.from === "query") {
      for (const [name, schema] of Object.entries(props)) {
        if (pathArgs.includes(name)) continue;
        const { description, ...rest } = schema;
        parameters.push({ name, in: "query", required: required.has(name), ...(description ? { description } : {}), schema: rest });
      }
    } else {
      const mask = Object.fromEntries(pathArgs.map((a) => [a, true] as const));
      const bodySchema = pathArgs.length ? (tool.inputSchema as z.ZodObject).omit(mask as never) : tool.inputSchema;
      const name = `${tool.name}_body`;
      components[name] = schemaFor(bodySchema, "input", name, components);
      const bodyRequired = ((components[name] as Json).required as string[] | undefined)?.length ?? 0;
      requestBody = { required: bodyRequired > 0, content: { "application/json": { schema: { $ref: `#/components/schemas/${name}` } } } };
    }
    const outName = `${tool.name}_result`;
    components[outName] = schemaFor(tool.outputSchema, "output", outName, components);
    const success = String(route.status ?? 200);
    const responses: Json = {
      [success]: { description: `The result of the ${tool.name} tool.`, content: { "application/json": { schema: { $ref: `#/components/schemas/${outName}` } } } },
      "400": errorResponse("invalid_input (or another input error code): the arguments do not fit the schema or the rules."),
      "401": errorResponse("unauthorized: missing, malformed, unknown or revoked API key."),
      ...(route.params ? { "404": errorResponse("not_found: no such connector in this workspace.") } : {}),
      default: errorResponse("Any other error, with the status given by its code (see the table in the API description)."),
    };
    const fullPath = `${API_BASE}${route.path}`;
    paths[fullPath] ??= {};
    paths[fullPath][route.method.toLowerCase()] = {
      operationId: tool.name,
      summary: tool.title,
      description: `${tool.description}\n\nSame as the MCP tool \`${tool.name}\`.`,
      tags: [route.tag],
      ...(parameters.length ? { parameters } : {}),
      ...(requestBody ? { requestBody } : {}),
      responses,
    };
  }

  paths[`${API_BASE}/openapi.json`] = {
    get: {
      operationId: "openapi",
      summary: "This document",
      tags: ["meta"],
      security: [],
      responses: { "200": { description: "The OpenAPI 3.1 document of this API.", content: { "application/json": { schema: { type: "object" } } } } },
    },
  };
  paths["/healthz"] = {
    get: {
      operationId: "healthz",
      summary: "Liveness and database check",
      tags: ["meta"],
      security: [],
      responses: {
        "200": {
          description: "The server is up and its database answers.",
          content: {
            "application/json": {
              schema: { type: "object", required: ["status"], properties: { status: { type: "string", const: "ok" }, version: { type: "string" } } },
            },
          },
        },
        "503": errorResponse("unavailable: shutting down, or the database does not answer."),
      },
    },
  };

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
