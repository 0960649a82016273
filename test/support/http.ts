// HTTP mode under test: the real app (SQLite file, vault, catalog) and the real HTTP server
// on a loopback port, two workspaces with one key each, and SDK clients over both HTTP
// transports carrying the Bearer key.
import http from "node:http";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { SSEClientTransport } from "@modelcontextprotocol/sdk/client/sse.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { type App, createApp, redirectUriFor } from "../../src/app/app.js";
import { loadConfig } from "../../src/app/config.js";
import { createLogger } from "../../src/common/log.js";
import { createApiKey, createWorkspace } from "../../src/store/workspaces.js";
import { createHttpServer, type HttpServer, type HttpServerOptions } from "../../src/transports/http/server.js";
import type { ToolDefinition } from "../../src/transports/tool.js";
import { tools as registry } from "../../tools/index.js";
import { testDatabaseEnv } from "./database.js";
import { freePort, tempDir } from "./stdio.js";

export interface Tenant {
  workspace_id: string;
  key: string;
  key_id: string;
}

export interface HttpHarness {
  app: App;
  server: HttpServer;
  url: string;
  port: number;
  dir: string;
  a: Tenant;
  b: Tenant;
  logs: string[];
  close(): Promise<void>;
}

export async function startHttpHarness(
  opts: {
    env?: Record<string, string>;
    server?: Partial<HttpServerOptions>;
    tools?: ToolDefinition[];
    publicUrl?: boolean;
    port?: number;
    /** The app's clock (expiry, grace windows); default Date.now. */
    clock?: () => number;
  } = {},
): Promise<HttpHarness> {
  const dir = tempDir("tenex-http-");
  const port = opts.port ?? (await freePort());
  const env: Record<string, string> = {
    ...testDatabaseEnv(dir),
    TENEX_LOG_LEVEL: "debug",
    ...(opts.publicUrl ? { TENEX_PUBLIC_URL: `http://127.0.0.1:${port}` } : {}),
    ...opts.env,
  };
  const config = loadConfig(env, dir);
  const logs: string[] = [];
  const app = await createApp(config, {
    mode: "http",
    log: createLogger({ level: "debug", write: (l) => logs.push(l) }),
    ...(opts.clock ? { clock: opts.clock } : {}),
  });
  app.ctx.redirectUri = redirectUriFor(config, "http", port);
  const now = new Date().toISOString();
  const tenant = async (name: string): Promise<Tenant> => {
    const ws = await createWorkspace(app.ctx.db, name, now);
    const k = await createApiKey(app.ctx.db, ws.id, now);
    return { workspace_id: ws.id, key: k.key, key_id: k.id };
  };
  const a = await tenant("alpha");
  const b = await tenant("beta");
  const server = createHttpServer(app.ctx, {
    tools: opts.tools ?? registry,
    host: "127.0.0.1",
    port,
    publicUrl: config.public_url,
    allowedHosts: config.allowed_hosts,
    // These tests follow connect links without a member signed in (their subject is elsewhere);
    // test/people-connect.test.ts covers the default, `required`.
    connectSignIn: "optional",
    ...opts.server,
  });
  await server.listen();
  return {
    app,
    server,
    url: server.url(),
    port,
    dir,
    a,
    b,
    logs,
    close: async () => {
      await server.close();
      await app.close();
    },
  };
}

export const bearer = (key: string) => ({ Authorization: `Bearer ${key}` });

/** An SDK Client over Streamable HTTP (`/mcp`) or HTTP+SSE (`/sse`), sending the key on every request. */
export async function connectClient(
  baseUrl: string,
  key: string | null,
  kind: "streamable" | "sse" = "streamable",
): Promise<{ client: Client; transport: StreamableHTTPClientTransport | SSEClientTransport }> {
  const requestInit: RequestInit = key ? { headers: bearer(key) } : {};
  const transport =
    kind === "streamable"
      ? new StreamableHTTPClientTransport(new URL(`${baseUrl}/mcp`), { requestInit })
      : new SSEClientTransport(new URL(`${baseUrl}/sse`), { requestInit });
  const client = new Client({ name: "tenex-http-test", version: "1.0.0" });
  await client.connect(transport);
  return { client, transport };
}

export interface RawResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
  json<T = any>(): T;
}

/** node:http request, for headers fetch will not let a caller set (Host) or exact bodies. */
export function rawRequest(
  url: string,
  opts: { method?: string; headers?: Record<string, string>; body?: string | Buffer } = {},
): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: opts.method ?? "GET", headers: opts.headers ?? {} }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => {
        const body = Buffer.concat(chunks).toString("utf8");
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body, json: () => JSON.parse(body) });
      });
      res.on("error", reject);
    });
    req.on("error", reject);
    if (opts.body !== undefined) req.write(opts.body);
    req.end();
  });
}

export { freePort, tempDir };
