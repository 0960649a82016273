import http from "node:http";
import type { AddressInfo } from "node:net";
import { sql } from "kysely";
import { isLoopbackHost } from "../../catalog/catalog.js";
import { CALLBACK_PATH, serveCallback } from "../callback/listener.js";
import { newId } from "../../common/ids.js";
import { SERVER_VERSION } from "../mcp-server.js";
import type { ToolDefinition } from "../tool.js";
import { authenticateRequest, sendUnauthorized, type Caller } from "./auth.js";
import { HostAllowList } from "./hosts.js";
import { DEFAULT_SESSION_LIMITS, MCP_PATH, McpSessions, SSE_MESSAGES_PATH, SSE_PATH, type McpSessionLimits } from "./mcp.js";
import { buildOpenApi } from "./openapi.js";
import { parseJson, readBody, sendError, sendJson } from "./respond.js";
import { API_BASE, RestApi } from "./rest.js";
import type { GrantDeps } from "../../grants/deps.js";

export const HEALTH_PATH = "/healthz";
export const OPENAPI_PATH = `${API_BASE}/openapi.json`;

export interface HttpServerOptions {
  tools: ToolDefinition[];
  host: string;
  /** 0 picks a free port. */
  port: number;
  /** External base URL (TENEX_PUBLIC_URL): its host is allowed in Host/Origin. */
  publicUrl?: string | undefined;
  /** Extra allowed host names (TENEX_ALLOWED_HOSTS). */
  allowedHosts?: string[];
  /**
   * Key-free loopback mode: a request without an Authorization header acts for the local
   * workspace. Refused unless `host` is a loopback address. For local tools (and the MCP
   * conformance suite) that cannot send a header.
   */
  noAuthLoopback?: boolean;
  /** Largest request body accepted (default 1 MiB). */
  maxBodyBytes?: number;
  /** Time allowed to receive a request's headers / the whole request (defaults 15 s / 30 s). */
  headersTimeoutMs?: number;
  requestTimeoutMs?: number;
  /** How long shutdown waits for in-flight requests before cutting them (default 10 s). */
  shutdownGraceMs?: number;
  sessionLimits?: Partial<McpSessionLimits>;
  /** How often sessions are checked for revoked keys and idleness (default 15 s). */
  sweepIntervalMs?: number;
}

export interface HttpServer {
  /** Bind and start serving; resolves with the bound port. */
  listen(): Promise<number>;
  /** `http://host:port`, once listening. */
  url(): string;
  /** Open MCP sessions (both transports). */
  sessionCount(): number;
  /** Requests being served now, not counting long-lived SSE streams. */
  inFlight(): number;
  /**
   * Graceful shutdown: stop accepting, answer new requests on open connections with 503,
   * let in-flight requests finish (up to the grace period), then close the MCP sessions and
   * every connection. The caller closes the database afterwards.
   */
  close(): Promise<void>;
}

/** Long-lived streams are not "in flight": shutdown ends them instead of waiting. */
function isStream(req: http.IncomingMessage, path: string): boolean {
  return req.method === "GET" && (path === MCP_PATH || path === SSE_PATH);
}

/**
 * HTTP mode on one port: Streamable HTTP at /mcp, HTTP+SSE at /sse + /messages, the REST
 * API at /api/v1 (with its OpenAPI document), /oauth/callback and /healthz. Every MCP and
 * REST request carries `Authorization: Bearer tnx_…`, checked on every request; Host and
 * Origin are checked against an allow list.
 */
export function createHttpServer(ctx: GrantDeps, opts: HttpServerOptions): HttpServer {
  if (opts.noAuthLoopback && !isLoopbackHost(opts.host)) {
    throw new Error(`--no-auth-loopback is refused unless the server listens on a loopback address (127.0.0.1, ::1 or localhost), not "${opts.host}".`);
  }
  const maxBodyBytes = opts.maxBodyBytes ?? 1024 * 1024;
  const graceMs = opts.shutdownGraceMs ?? 10_000;
  const allow = HostAllowList.forServer({ publicUrl: opts.publicUrl, allowedHosts: opts.allowedHosts ?? [], bindHost: opts.host });
  const sessions = new McpSessions(ctx, opts.tools, { ...DEFAULT_SESSION_LIMITS, ...opts.sessionLimits });
  const rest = new RestApi(ctx, opts.tools, { maxBodyBytes });
  const openapi = JSON.stringify(buildOpenApi(opts.tools, { serverUrl: opts.publicUrl }));

  let draining = false;
  let inFlight = 0;
  let drained: (() => void) | null = null;
  let boundPort = 0;

  const authenticate = async (req: http.IncomingMessage, res: http.ServerResponse): Promise<Caller | null> => {
    const outcome = await authenticateRequest(ctx.db, req, { anonymousLocal: opts.noAuthLoopback ?? false });
    if (outcome.ok) return outcome.caller;
    // A session whose key was just revoked: end its open streams now rather than at the next sweep.
    const sid = req.headers["mcp-session-id"];
    if (outcome.reason === "invalid" && typeof sid === "string" && sessions.has(sid)) {
      void sessions.sweep().catch((err: unknown) => ctx.log.warn("session sweep failed", { error: err }));
    }
    sendUnauthorized(res, outcome.reason);
    return null;
  };

  /** Read and parse a JSON body; answers the error itself and returns undefined on failure. */
  const jsonBody = async (req: http.IncomingMessage, res: http.ServerResponse, rpc: boolean): Promise<{ value: unknown } | undefined> => {
    const body = await readBody(req, maxBodyBytes);
    if (!body.ok) {
      if (body.status === 413) sendError(res, 413, "payload_too_large", body.message, { connection: "close" });
      else sendError(res, 400, "invalid_input", body.message);
      return undefined;
    }
    const parsed = parseJson(body.text);
    if (!parsed.ok) {
      if (rpc) sendJson(res, 400, { jsonrpc: "2.0", error: { code: -32700, message: "Parse error: the body is not valid JSON" }, id: null });
      else sendError(res, 400, "invalid_input", "The request body is not valid JSON.");
      return undefined;
    }
    return { value: parsed.value };
  };

  const route = async (req: http.IncomingMessage, res: http.ServerResponse, url: URL): Promise<void> => {
    const path = url.pathname;
    if (path === HEALTH_PATH) {
      // Exempt from the Host check: probes use the pod or container address; it reveals nothing.
      try {
        await sql`select 1`.execute(ctx.db);
      } catch (err) {
        ctx.log.error("health check: the database does not answer", { error: err });
        return sendError(res, 503, "unavailable", "The database does not answer.");
      }
      return sendJson(res, 200, { status: "ok", version: SERVER_VERSION });
    }
    if (!allow.allowsHostHeader(req.headers.host)) {
      return sendError(res, 403, "forbidden", "This Host is not allowed. An operator can add it to TENEX_ALLOWED_HOSTS.");
    }
    if (!allow.allowsOrigin(req.headers.origin)) {
      return sendError(res, 403, "forbidden", "This Origin is not allowed. An operator can add its host to TENEX_ALLOWED_HOSTS.");
    }
    if (path === CALLBACK_PATH) return serveCallback(ctx, req, res);
    if (path === OPENAPI_PATH) {
      if (req.method !== "GET" && req.method !== "HEAD") return sendError(res, 405, "method_not_allowed", "Use GET.", { allow: "GET" });
      res.writeHead(200, { "content-type": "application/json; charset=utf-8", "cache-control": "no-cache", "content-length": Buffer.byteLength(openapi) });
      res.end(req.method === "HEAD" ? undefined : openapi);
      return;
    }
    if (path === MCP_PATH) {
      if (!["GET", "POST", "DELETE"].includes(req.method ?? "")) return sendError(res, 405, "method_not_allowed", "Use POST, GET or DELETE.", { allow: "GET, POST, DELETE" });
      const caller = await authenticate(req, res);
      if (!caller) return;
      let body: unknown;
      if (req.method === "POST") {
        const parsed = await jsonBody(req, res, true);
        if (!parsed) return;
        body = parsed.value;
      }
      return sessions.handleStreamable(req, res, caller, body);
    }
    if (path === SSE_PATH) {
      if (req.method !== "GET") return sendError(res, 405, "method_not_allowed", "Use GET.", { allow: "GET" });
      const caller = await authenticate(req, res);
      if (!caller) return;
      return sessions.openSse(res, caller);
    }
    if (path === SSE_MESSAGES_PATH) {
      if (req.method !== "POST") return sendError(res, 405, "method_not_allowed", "Use POST.", { allow: "POST" });
      const caller = await authenticate(req, res);
      if (!caller) return;
      const parsed = await jsonBody(req, res, false);
      if (!parsed) return;
      return sessions.postSse(req, res, caller, parsed.value);
    }
    if (path.startsWith(`${API_BASE}/`) && rest.matches(path)) {
      const caller = await authenticate(req, res);
      if (!caller) return;
      return rest.handle(req, res, caller, url);
    }
    return sendError(res, 404, "not_found", `Nothing at ${req.method} ${path.slice(0, 100)}. The REST API is described at ${OPENAPI_PATH}.`);
  };

  const server = http.createServer(
    {
      headersTimeout: opts.headersTimeoutMs ?? 15_000,
      requestTimeout: opts.requestTimeoutMs ?? 30_000,
      connectionsCheckingInterval: Math.min(opts.headersTimeoutMs ?? 15_000, 5_000),
    },
    (req, res) => {
      const started = Date.now();
      let url: URL;
      try {
        url = new URL(req.url ?? "/", "http://request.invalid");
      } catch {
        return sendError(res, 400, "invalid_input", "The request target is not a valid path.");
      }
      if (draining) {
        return sendError(res, 503, "unavailable", "The server is shutting down; retry against another instance or in a moment.", { connection: "close", "retry-after": "5" });
      }
      const counted = !isStream(req, url.pathname);
      if (counted) {
        inFlight++;
        res.once("close", () => {
          inFlight--;
          if (inFlight === 0) drained?.();
        });
      }
      res.once("close", () => {
        ctx.log.debug("http request", { method: req.method, path: url.pathname, status: res.statusCode, ms: Date.now() - started });
      });
      route(req, res, url).catch((err: unknown) => {
        const logId = newId("err", 6);
        ctx.log.error("http request failed", { log_id: logId, method: req.method, path: url.pathname, error: err, stack: err instanceof Error ? err.stack : undefined });
        if (!res.headersSent) sendError(res, 500, "internal", `An internal error occurred. The operator can find it in the server log under ${logId}.`);
        else res.end();
      });
    },
  );

  let sweepTimer: NodeJS.Timeout | undefined;
  let closing: Promise<void> | null = null;

  return {
    listen: () =>
      new Promise<number>((resolve, reject) => {
        server.once("error", reject);
        server.listen(opts.port, opts.host, () => {
          server.off("error", reject);
          boundPort = (server.address() as AddressInfo).port;
          sweepTimer = setInterval(() => void sessions.sweep().catch((err: unknown) => ctx.log.warn("session sweep failed", { error: err })), opts.sweepIntervalMs ?? 15_000);
          sweepTimer.unref();
          resolve(boundPort);
        });
      }),
    url: () => `http://${opts.host.includes(":") ? `[${opts.host}]` : opts.host}:${boundPort}`,
    sessionCount: () => sessions.size,
    inFlight: () => inFlight,
    close: () => {
      closing ??= (async () => {
        draining = true;
        if (sweepTimer) clearInterval(sweepTimer);
        const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeIdleConnections();
        if (inFlight > 0) {
          await new Promise<void>((resolve) => {
            drained = resolve;
            setTimeout(resolve, graceMs).unref();
          });
        }
        if (inFlight > 0) ctx.log.warn("shutdown grace period over; cutting in-flight requests", { in_flight: inFlight });
        await sessions.closeAll();
        await rest.invoker.close();
        server.closeAllConnections();
        await stopped;
      })();
      return closing;
    },
  };
}
