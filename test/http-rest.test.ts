// HTTP mode, REST side: the route table over the tool registry, the OpenAPI 3.1 document
// generated from the tools' zod schemas (valid, and every documented operation answers as
// documented), the error codes with their HTTP statuses, and REST == MCP for the same input.
import fs from "node:fs";
import path from "node:path";
import { Validator } from "@seriousme/openapi-schema-validator";
import { Ajv2020 } from "ajv/dist/2020.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HTTP_STATUS } from "../src/common/errors.js";
import { PROXY_OPERATIONS } from "../src/transports/http/openapi.js";
import { API_BASE, restRoutes } from "../src/transports/http/rest.js";
import { tools } from "../tools/index.js";
import { toolCalls } from "./support/calls.js";
import { bearer, connectClient, type HttpHarness, rawRequest, startHttpHarness } from "./support/http.js";
import { ROOT } from "./support/stdio.js";
import { type JsonSchema, synthObject, synthValue } from "./support/synth.js";

/** The parts of the OpenAPI document the tests read. */
interface OpenApiDoc {
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, JsonSchema> };
  [field: string]: unknown;
}
type Operation = {
  operationId: string;
  parameters?: Array<{ name: string; in: "path" | "query"; required: boolean; schema: JsonSchema }>;
  requestBody?: { content: { "application/json": { schema: { $ref: string } } } };
  responses: Record<string, { content?: { "application/json": { schema: Record<string, unknown> } } }>;
  security?: unknown[];
};

const HUBSPOT = { TENEX_HUBSPOT_CLIENT_ID: "hubspot-client", TENEX_HUBSPOT_CLIENT_SECRET: "hubspot-secret-value-1234567890" };
const registered = new Set(tools.map((t) => t.name));
const REST_ROUTES = restRoutes(tools);

describe("HTTP mode: REST API and its OpenAPI document", () => {
  let h: HttpHarness;
  let doc: OpenApiDoc;
  let ajv: InstanceType<typeof Ajv2020>;

  const call = (method: string, path: string, opts: { body?: unknown; key?: string | null; headers?: Record<string, string> } = {}) =>
    rawRequest(`${h.url}${path}`, {
      method,
      headers: {
        ...(opts.key === null ? {} : bearer(opts.key ?? h.a.key)),
        ...(opts.body !== undefined ? { "content-type": "application/json" } : {}),
        ...opts.headers,
      },
      ...(opts.body !== undefined ? { body: typeof opts.body === "string" ? opts.body : JSON.stringify(opts.body) } : {}),
    });

  beforeAll(async () => {
    h = await startHttpHarness({ env: HUBSPOT, publicUrl: true });
    const res = await call("GET", `${API_BASE}/openapi.json`, { key: null });
    expect(res.status).toBe(200);
    doc = res.json();
    ajv = new Ajv2020({ strict: false, allErrors: true });
    ajv.addSchema(doc, "openapi.json");
  });
  afterAll(async () => {
    await h?.close();
  });

  const operations = (): Array<{ path: string; method: string; op: Operation }> =>
    Object.entries(doc.paths).flatMap(([path, ops]) =>
      Object.entries(ops).map(([method, op]) => ({ path, method: method.toUpperCase(), op })),
    );

  /** Validate a response body against the documented schema of its status (or `default`). */
  const checkDocumented = (path: string, method: string, op: Operation, status: number, body: unknown) => {
    const key = String(status) in op.responses ? String(status) : "default";
    expect(op.responses[key], `${method} ${path} answered ${status}, which is not documented`).toBeDefined();
    const ptr = `openapi.json#/paths/${path.replace(/~/g, "~0").replace(/\//g, "~1")}/${method.toLowerCase()}/responses/${key}/content/application~1json/schema`;
    const validate = ajv.getSchema(ptr);
    expect(validate, ptr).toBeTruthy();
    const ok = validate!(body);
    expect(ok, `${method} ${path} ${status}: ${JSON.stringify(validate!.errors)} for ${JSON.stringify(body).slice(0, 400)}`).toBe(true);
  };

  it("serves a valid OpenAPI 3.1 document whose schemas all compile", async () => {
    const validator = new Validator();
    const result = await validator.validate(structuredClone(doc));
    expect(result.errors ?? [], JSON.stringify(result.errors)).toEqual([]);
    expect(result.valid).toBe(true);
    expect(validator.version).toBe("3.1");
    // Every schema is valid JSON Schema 2020-12 (the document's dialect) and its refs resolve.
    for (const [name, schema] of Object.entries(doc.components.schemas)) {
      expect(ajv.validateSchema(schema), `${name}: ${JSON.stringify(ajv.errors)}`).toBe(true);
      expect(() => ajv.compile({ $ref: `openapi.json#/components/schemas/${name}` }), name).not.toThrow();
    }
  });

  it("documents exactly the routes whose tool is registered, with the tool's own input, and the others are not served", async () => {
    for (const route of REST_ROUTES) {
      const path = `${API_BASE}${route.path}`;
      const op = doc.paths[path]?.[route.method.toLowerCase()];
      if (!registered.has(route.tool)) {
        expect(op, `${route.method} ${path} documented without its tool`).toBeUndefined();
        const res = await call(
          route.method,
          path.replace("{id}", "con_x"),
          route.method === "GET" || route.method === "DELETE" ? {} : { body: {} },
        );
        expect([404, 405], `${route.method} ${path}`).toContain(res.status);
        continue;
      }
      expect(op, `${route.method} ${path}`).toBeDefined();
      expect(op!.operationId).toBe(route.operation);
      // Path + query + body arguments are exactly the tool's input properties.
      const tool = tools.find((t) => t.name === route.tool)!;
      const inputProps = Object.keys(tool.inputSchema.shape).sort();
      const fromPath = Object.values(route.params ?? {});
      const fromQuery = (op!.parameters ?? []).filter((p) => p.in === "query").map((p) => p.name);
      const bodyRef = op!.requestBody?.content["application/json"].schema.$ref;
      const fromBody = bodyRef ? Object.keys(doc.components.schemas[bodyRef.split("/").pop()!]?.properties ?? {}) : [];
      expect([...fromPath, ...fromQuery, ...fromBody].sort(), route.tool).toEqual(inputProps);
    }
    for (const { path, method, op } of operations()) {
      if (!path.startsWith(API_BASE) || op.operationId === "openapi" || PROXY_OPERATIONS.includes(op.operationId)) continue;
      const route = REST_ROUTES.find((r) => r.operation === op.operationId);
      expect(route && registered.has(route.tool), `${method} ${path}`).toBe(true);
    }
  });

  it("answers every documented operation as documented", async () => {
    const started = await call("POST", `${API_BASE}/connectors/oauth`, { body: { provider: "hubspot", label: "walk" } });
    expect(started.status).toBe(201);
    const connectorId = started.json().connector_id as string;
    const hints = { connector_id: connectorId, provider: "hubspot", role: "crm_sink" };
    const order = { GET: 0, PATCH: 1, POST: 2, DELETE: 3 } as Record<string, number>;
    // The raw proxy's operations stream provider bytes; test/proxy-http.test.ts walks them against a fake provider.
    const ops = operations()
      .filter(({ op }) => !PROXY_OPERATIONS.includes(op.operationId))
      .sort((x, y) => order[x.method]! - order[y.method]!);
    const answered: Record<string, number> = {};
    for (const { path, method, op } of ops) {
      let url = path.replace("{id}", encodeURIComponent(connectorId));
      const query = new URLSearchParams();
      const queryParams = (op.parameters ?? []).filter((p) => p.in === "query");
      const querySchema = {
        properties: Object.fromEntries(queryParams.map((p) => [p.name, p.schema])),
        required: queryParams.filter((p) => p.required).map((p) => p.name),
      };
      for (const [k, v] of Object.entries(synthObject(querySchema, hints))) query.set(k, Array.isArray(v) ? v.join(",") : String(v));
      if ([...query.keys()].length) url += `?${query}`;
      let body: unknown;
      if (op.requestBody) {
        const ref = op.requestBody.content["application/json"].schema.$ref.split("/").pop()!;
        // With connector_id, starting a grant reconnects in place, which a pending connector refuses: start a new one.
        const { connector_id: _reconnect, ...startHints } = hints;
        body = synthValue(doc.components.schemas[ref]!, "", path === `${API_BASE}/connectors/oauth` ? startHints : hints);
      }
      const res = await call(method, url, { ...(body !== undefined ? { body } : {}), ...(op.security?.length === 0 ? { key: null } : {}) });
      const json = res.json();
      checkDocumented(path, method, op, res.status, json);
      if (res.status >= 400)
        expect(HTTP_STATUS[json.error.code as keyof typeof HTTP_STATUS]?.status ?? res.status, `${method} ${path}`).toBe(res.status);
      answered[`${method} ${path}`] = res.status;
    }
    // The routes that can succeed with a pending connector did.
    expect(answered[`GET ${API_BASE}/providers`]).toBe(200);
    expect(answered[`GET ${API_BASE}/connectors`]).toBe(200);
    expect(answered[`POST ${API_BASE}/connectors/oauth`]).toBe(201);
    expect(answered[`GET ${API_BASE}/connectors/{id}`]).toBe(200);
    expect(answered[`GET ${API_BASE}/openapi.json`]).toBe(200);
    expect(answered["GET /healthz"]).toBe(200);
    expect(Object.keys(answered).length).toBe(ops.length);
  });

  it("answers errors with the tools' codes and the documented HTTP statuses", async () => {
    const cases: Array<[string, string, unknown, number, string]> = [
      ["GET", `${API_BASE}/connectors?limit=0`, undefined, 400, "invalid_input"],
      ["GET", `${API_BASE}/connectors?limit=abc`, undefined, 400, "invalid_input"],
      ["GET", `${API_BASE}/connectors?bogus=1`, undefined, 400, "invalid_input"],
      ["GET", `${API_BASE}/connectors?cursor=not-ours`, undefined, 400, "invalid_input"],
      ["GET", `${API_BASE}/connectors/con_doesnotexist`, undefined, 404, "not_found"],
      ["GET", `${API_BASE}/connectors/%E0%A4%A`, undefined, 400, "invalid_input"],
      ["POST", `${API_BASE}/connectors/oauth`, { provider: "salesforce" }, 409, "provider_not_configured"],
      ["POST", `${API_BASE}/connectors/oauth`, { provider: "myspace" }, 400, "unknown_provider"],
      ["POST", `${API_BASE}/connectors/oauth`, { provider: "sanity" }, 400, "auth_type_unsupported"],
      ["POST", `${API_BASE}/connectors/oauth`, { provider: "hubspot", roles: ["sink"] }, 400, "role_not_allowed"],
      ["POST", `${API_BASE}/connectors/oauth`, { provider: "hubspot", extra: 1 }, 400, "invalid_input"],
      ["POST", `${API_BASE}/connectors/oauth`, "[1,2]", 400, "invalid_input"],
      ["POST", `${API_BASE}/connectors/oauth`, "{oops", 400, "invalid_input"],
      ["PUT", `${API_BASE}/connectors`, undefined, 405, "method_not_allowed"],
      ["GET", `${API_BASE}/nothing-here`, undefined, 404, "not_found"],
    ];
    for (const [method, path, body, status, code] of cases) {
      const res = await call(method, path, body === undefined ? {} : { body });
      expect(res.status, `${method} ${path} ${JSON.stringify(body)}`).toBe(status);
      expect(res.json().error.code, `${method} ${path}`).toBe(code);
      expect(typeof res.json().error.message).toBe("string");
    }
    const plain = await call("POST", `${API_BASE}/connectors/oauth`, {
      body: "provider=hubspot",
      headers: { "content-type": "text/plain" },
    });
    expect(plain.status).toBe(415);
    const put = await call("PUT", `${API_BASE}/connectors`);
    expect(put.headers.allow).toBe("GET");
  });

  it("gives the same result as the MCP tool for the same input", async () => {
    const mcp = await connectClient(h.url, h.a.key);
    try {
      const tools = toolCalls(mcp.client);
      const viaMcp = await tools.call("list_providers", { role: "source" });
      const viaRest = await call("GET", `${API_BASE}/providers?role=source`);
      expect(viaRest.json()).toEqual(viaMcp);

      const id = (await tools.call("start_connector_oauth", { provider: "hubspot", roles: ["crm_sink"] })).connector_id;
      const status = await tools.call("get_connector_status", { connector_id: id });
      expect((await call("GET", `${API_BASE}/connectors/${id}`)).json()).toEqual(status);
    } finally {
      await mcp.client.close();
    }
  });

  it("pages connectors with the tool's cursor through query parameters", async () => {
    for (let i = 0; i < 3; i++)
      expect((await call("POST", `${API_BASE}/connectors/oauth`, { body: { provider: "hubspot", label: `page ${i}` } })).status).toBe(201);
    const first = (await call("GET", `${API_BASE}/connectors?limit=2&provider=hubspot&status=pending`)).json();
    expect(first.connectors).toHaveLength(2);
    expect(first.next_cursor).toEqual(expect.any(String));
    const second = (
      await call("GET", `${API_BASE}/connectors?limit=2&provider=hubspot&status=pending&cursor=${encodeURIComponent(first.next_cursor)}`)
    ).json();
    const ids = [...first.connectors, ...second.connectors].map((c: { id: string }) => c.id);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it("keeps every REST method and path of the contract, each on its tool", () => {
    expect(REST_ROUTES.map((r) => `${r.method} ${r.path} ${r.tool}${r.status === 201 ? " 201" : ""}`).sort()).toEqual(
      [
        "GET /providers list_providers",
        "GET /connectors list_connectors",
        "POST /connectors/oauth start_connector_oauth 201",
        "POST /connectors/keys submit_connector_key 201",
        "GET /connectors/{id} get_connector_status",
        "PATCH /connectors/{id} update_connector",
        "DELETE /connectors/{id} delete_connector",
        "GET /connectors/{id}/wait wait_for_connector",
        "POST /connectors/{id}/primary set_primary_connector",
        "POST /connectors/{id}/test test_connector",
        "POST /connectors/{id}/refresh refresh_connector",
        "POST /connectors/{id}/revoke revoke_connector",
        "POST /connectors/{id}/disable disable_connector",
        "POST /connectors/{id}/enable enable_connector",
        "GET /resolve resolve_connector",
        "POST /connectors/{id}/call call_connector",
        "POST /call call_connector",
      ].sort(),
    );
  });

  it("lists every route of the route table, with its tool, in the README", () => {
    const rows = fs
      .readFileSync(path.join(ROOT, "README.md"), "utf8")
      .split("\n")
      .filter((l) => l.startsWith("| `"));
    for (const route of REST_ROUTES) {
      const head = `\`${route.method} ${API_BASE}${route.path}`;
      const row = rows.find((r) => (r.includes(`${head}\``) || r.includes(`${head}?`)) && r.includes(`\`${route.tool}\``));
      expect(row, `${route.method} ${route.path} → ${route.tool}`).toBeDefined();
    }
  });
});
