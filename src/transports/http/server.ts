import http from "node:http";
import type { AddressInfo } from "node:net";
import { isLoopbackHost } from "../../catalog/catalog.js";
import { newId } from "../../common/ids.js";
import type { GrantDeps } from "../../grants/deps.js";
import { ConnectPages } from "../callback/connect-page.js";
import type { ToolDefinition } from "../tool.js";
import { authenticateRequest, type Caller, principalOf, sendUnauthorized } from "./auth.js";
import { ConsentPages } from "./authorization/consent.js";
import { AuthorizationServer } from "./authorization/provider.js";
import { type ConnectSignIn, memberGate } from "./connect-gate.js";
import { HostAllowList } from "./hosts.js";
import { DEFAULT_SESSION_LIMITS, MCP_PATH, type McpSessionLimits, McpSessions, SSE_PATH } from "./mcp.js";
import { buildOpenApi } from "./openapi.js";
import { RateLimiter } from "./rate-limit.js";
import { sendError, sendJson } from "./respond.js";
import { RestApi } from "./rest.js";
import { type HttpRoute, httpRoutes, methodNotAllowed, OPENAPI_PATH } from "./routes.js";
import { SignIn, type SignInOptions } from "./signin.js";

export { HEALTH_PATH, OPENAPI_PATH } from "./routes.js";

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
  /** Requests per second per API key (per workspace without one), burst 4× (TENEX_RATE_LIMIT); 0 turns it off. Default 50. */
  rateLimit?: number;
  /** The rate limit's clock (default: the context's). */
  rateClock?: () => number;
  /** Members' sign-in: single sign-on when configured; cookies are Secure when `publicUrl` is https. */
  signIn?: Omit<SignInOptions, "secure">;
  /** Whether the connect page requires a signed-in member of the workspace (TENEX_CONNECT_SIGNIN; default `required`). */
  connectSignIn?: ConnectSignIn;
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
  /** Bytes the sessions' event stores keep for resumable streams, across sessions. */
  eventBytes(): number;
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
    throw new Error(
      `--no-auth-loopback is refused unless the server listens on a loopback address (127.0.0.1, ::1 or localhost), not "${opts.host}".`,
    );
  }
  return new TenexHttpServer(ctx, opts);
}

class TenexHttpServer implements HttpServer {
  private readonly allow: HostAllowList;
  private readonly sessions: McpSessions;
  private readonly limiter: RateLimiter;
  /** Dynamic client registrations per address: 10 an hour, a burst of 10. */
  private readonly registrations: RateLimiter;
  private readonly authorization: AuthorizationServer;
  private readonly routes: HttpRoute[];
  private readonly server: http.Server;
  private draining = false;
  private inFlightCount = 0;
  private drained: (() => void) | null = null;
  private boundPort = 0;
  private sweepTimer: NodeJS.Timeout | undefined;
  private closing: Promise<void> | null = null;

  constructor(
    private readonly ctx: GrantDeps,
    private readonly opts: HttpServerOptions,
  ) {
    const maxBodyBytes = opts.maxBodyBytes ?? 1024 * 1024;
    this.allow = HostAllowList.forServer({ publicUrl: opts.publicUrl, allowedHosts: opts.allowedHosts ?? [], bindHost: opts.host });
    this.sessions = new McpSessions(ctx, opts.tools, { ...DEFAULT_SESSION_LIMITS, ...opts.sessionLimits });
    this.limiter = new RateLimiter(opts.rateLimit ?? 50, opts.rateClock ?? (() => this.ctx.clock()));
    const rest = new RestApi(ctx, opts.tools, { maxBodyBytes });
    const openapi = JSON.stringify(buildOpenApi(opts.tools, { serverUrl: opts.publicUrl }));
    const signIn = new SignIn(ctx, { ...opts.signIn, secure: /^https:/i.test(opts.publicUrl ?? "") });
    const connect = new ConnectPages(ctx, memberGate(signIn, ctx.db, opts.connectSignIn ?? "required"), signIn.policy);
    // `{base}`: the public URL, else the address this server listens on (known after listen, like the redirect URI).
    this.authorization = new AuthorizationServer(ctx, { base: () => this.ctx.redirectUri.replace(/\/oauth\/callback$/, "") });
    this.registrations = new RateLimiter(10 / 3600, opts.rateClock ?? (() => this.ctx.clock()), 10);
    this.routes = httpRoutes({
      ctx,
      sessions: this.sessions,
      rest,
      openapi,
      maxBodyBytes,
      signIn,
      connect,
      authorization: this.authorization,
      consent: new ConsentPages(ctx, this.authorization, signIn),
      registrationAllowed: (req, res) => this.registrationAllowed(req, res),
    });
    this.server = http.createServer(
      {
        headersTimeout: opts.headersTimeoutMs ?? 15_000,
        requestTimeout: opts.requestTimeoutMs ?? 30_000,
        connectionsCheckingInterval: Math.min(opts.headersTimeoutMs ?? 15_000, 5_000),
      },
      (req, res) => this.onRequest(req, res),
    );
  }

  private onRequest(req: http.IncomingMessage, res: http.ServerResponse): void {
    const started = Date.now();
    let url: URL;
    try {
      url = new URL(req.url ?? "/", "http://request.invalid");
    } catch {
      sendError(res, "invalid_input", "The request target is not a valid path.");
      return;
    }
    if (this.draining) {
      sendError(res, "unavailable", "The server is shutting down; retry against another instance or in a moment.", {
        connection: "close",
        "retry-after": "5",
      });
      return;
    }
    if (!isStream(req, url.pathname)) {
      this.inFlightCount++;
      res.once("close", () => {
        this.inFlightCount--;
        if (this.inFlightCount === 0) this.drained?.();
      });
    }
    res.once("close", () => {
      this.ctx.log.debug("http request", { method: req.method, path: url.pathname, status: res.statusCode, ms: Date.now() - started });
    });
    this.dispatch(req, res, url).catch((err: unknown) => {
      const logId = newId("err", 6);
      this.ctx.log.error("http request failed", {
        log_id: logId,
        method: req.method,
        path: url.pathname,
        error: err,
        stack: err instanceof Error ? err.stack : undefined,
      });
      if (!res.headersSent)
        sendError(res, "internal", `An internal error occurred. The operator can find it in the server log under ${logId}.`);
      else res.end();
    });
  }

  /** The route table's checks, in order: Host/Origin, method, key; then the route's handler. */
  private async dispatch(req: http.IncomingMessage, res: http.ServerResponse, url: URL): Promise<void> {
    const path = url.pathname;
    const route = this.routes.find((r) => r.matches(path));
    if (!route?.anyHost) {
      if (!this.allow.allowsHostHeader(req.headers.host)) {
        return sendError(res, "forbidden", "This Host is not allowed. An operator can add it to TENEX_ALLOWED_HOSTS.");
      }
      if (!route?.anyOrigin && !this.allow.allowsOrigin(req.headers.origin)) {
        return sendError(res, "forbidden", "This Origin is not allowed. An operator can add its host to TENEX_ALLOWED_HOSTS.");
      }
    }
    if (!route)
      return sendError(res, "not_found", `Nothing at ${req.method} ${path.slice(0, 100)}. The REST API is described at ${OPENAPI_PATH}.`);
    if (route.methods && !route.methods.includes(req.method ?? "")) return methodNotAllowed(res, route.methods);
    if (!route.auth) return route.handle(req, res, url);
    const caller = await this.authenticate(req, res);
    if (caller && !this.limited(res, caller)) await route.handle(req, res, url, caller);
  }

  /** Answer 429 `rate_limited` with Retry-After when the caller's key has used its burst. */
  private limited(res: http.ServerResponse, caller: Caller): boolean {
    const wait = this.limiter.take(principalOf(caller) ?? `workspace:${caller.workspace_id}`);
    if (wait === 0) return false;
    this.ctx.log.debug("request rate limited", { workspace_id: caller.workspace_id, retry_after: wait });
    sendError(
      res,
      "rate_limited",
      `Too many requests with this API key: at most ${this.limiter.perSecond} a second (bursts of ${this.limiter.burst}). Retry after ${wait} s and slow down; an operator can raise TENEX_RATE_LIMIT.`,
      { "retry-after": String(wait) },
    );
    return true;
  }

  /** Dynamic registration is open to anyone: limited per address, and unused registrations are purged (authorization/adapter.ts). */
  private registrationAllowed(req: http.IncomingMessage, res: http.ServerResponse): boolean {
    const wait = this.registrations.take(`register:${req.socket.remoteAddress ?? "unknown"}`);
    if (wait === 0) return true;
    this.ctx.log.info("client registration rate limited", { address: req.socket.remoteAddress, retry_after: wait });
    sendJson(
      res,
      429,
      { error: "temporary_unavailable", error_description: `Too many client registrations from this address; retry after ${wait} s.` },
      { "retry-after": String(wait) },
    );
    return false;
  }

  private async authenticate(req: http.IncomingMessage, res: http.ServerResponse): Promise<Caller | null> {
    const outcome = await authenticateRequest(this.ctx, req, {
      anonymousLocal: this.opts.noAuthLoopback ?? false,
      resource: () => this.authorization.resource,
    });
    if (outcome.ok) return outcome.caller;
    // A session whose key was just revoked: end its open streams now rather than at the next sweep.
    const sid = req.headers["mcp-session-id"];
    if (outcome.reason === "invalid" && typeof sid === "string" && this.sessions.has(sid)) this.sweep();
    sendUnauthorized(res, outcome.reason, this.authorization.issuer);
    return null;
  }

  private sweep(): void {
    this.limiter.prune();
    this.registrations.prune();
    void this.sessions.sweep().catch((err: unknown) => this.ctx.log.warn("session sweep failed", { error: err }));
    void this.authorization.sweep().catch((err: unknown) => this.ctx.log.warn("oauth record sweep failed", { error: err }));
  }

  listen(): Promise<number> {
    return new Promise<number>((resolve, reject) => {
      this.server.once("error", reject);
      this.server.listen(this.opts.port, this.opts.host, () => {
        this.server.off("error", reject);
        this.boundPort = (this.server.address() as AddressInfo).port;
        this.sweepTimer = setInterval(() => this.sweep(), this.opts.sweepIntervalMs ?? 15_000);
        this.sweepTimer.unref();
        resolve(this.boundPort);
      });
    });
  }

  url(): string {
    return `http://${this.opts.host.includes(":") ? `[${this.opts.host}]` : this.opts.host}:${this.boundPort}`;
  }

  sessionCount(): number {
    return this.sessions.size;
  }

  inFlight(): number {
    return this.inFlightCount;
  }

  eventBytes(): number {
    return this.sessions.eventBudget.used;
  }

  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    this.draining = true;
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    const stopped = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeIdleConnections();
    if (this.inFlightCount > 0) {
      await new Promise<void>((resolve) => {
        this.drained = resolve;
        setTimeout(resolve, this.opts.shutdownGraceMs ?? 10_000).unref();
      });
    }
    if (this.inFlightCount > 0)
      this.ctx.log.warn("shutdown grace period over; cutting in-flight requests", { in_flight: this.inFlightCount });
    await this.sessions.closeAll();
    this.server.closeAllConnections();
    await stopped;
  }
}
