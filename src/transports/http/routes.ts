import type http from "node:http";
import { sql } from "kysely";
import type { GrantDeps } from "../../grants/deps.js";
import { type ConnectPages, isConnectPath } from "../callback/connect-page.js";
import { CALLBACK_PATH, serveCallback } from "../callback/listener.js";
import { SERVER_VERSION } from "../mcp-server.js";
import type { Caller } from "./auth.js";
import { type ConsentPages, isConsentPath } from "./authorization/consent.js";
import { type AuthorizationServer, isProtocolPath, REGISTER_PATH } from "./authorization/provider.js";
import { authorizationServerMetadata, metadataKind, protectedResourceMetadata, sendMetadata } from "./authorization/resource.js";
import { MCP_PATH, type McpSessions, SSE_MESSAGES_PATH, SSE_PATH } from "./mcp.js";
import { isProxyPath, serveProxy } from "./proxy.js";
import { parseJson, readBody, sendBodyError, sendError, sendJson } from "./respond.js";
import { API_BASE, type RestApi } from "./rest.js";
import { LOGIN_CALLBACK_PATH, LOGIN_PATH, LOGIN_SSO_PATH, LOGIN_WORKSPACE_PATH, LOGOUT_PATH, type SignIn } from "./signin.js";

export const HEALTH_PATH = "/healthz";
export const OPENAPI_PATH = `${API_BASE}/openapi.json`;

type Req = http.IncomingMessage;
type Res = http.ServerResponse;

/**
 * One entry of HTTP mode's route table. The server checks, in this order: the Host/Origin allow
 * list (unless `anyHost`), the method (`methods`, else 405 with Allow), the API key (`auth`), and
 * then calls the handler.
 */
export type HttpRoute = {
  name: string;
  matches: (path: string) => boolean;
  /** Allowed methods; absent when the handler answers other methods itself. */
  methods?: readonly string[];
  /** Served before the Host/Origin check: probes use the pod or container address. */
  anyHost?: boolean;
  /** Host is checked, Origin is not: OAuth endpoints browser-based MCP clients call from their own origin (CORS). */
  anyOrigin?: boolean;
} & (
  | { auth: true; handle: (req: Req, res: Res, url: URL, caller: Caller) => Promise<void> }
  | { auth: false; handle: (req: Req, res: Res, url: URL) => Promise<void> }
);

export interface RouteDeps {
  ctx: GrantDeps;
  sessions: McpSessions;
  rest: RestApi;
  /** The OpenAPI document, serialized once. */
  openapi: string;
  maxBodyBytes: number;
  /** Members' sign-in pages. */
  signIn: SignIn;
  /** The connect page, behind the member gate. */
  connect: ConnectPages;
  /** The OAuth authorization server for remote MCP clients, and its consent pages. */
  authorization: AuthorizationServer;
  consent: ConsentPages;
  /** Whether a dynamic registration from this request may go on (answers 429 itself when not). */
  registrationAllowed: (req: Req, res: Res) => boolean;
}

/** Read and parse a JSON body; answers the error itself (JSON-RPC shaped for `rpc`) and returns undefined on failure. */
async function jsonBody(req: Req, res: Res, maxBodyBytes: number, rpc: boolean): Promise<{ value: unknown } | undefined> {
  const body = await readBody(req, maxBodyBytes);
  if (!body.ok) {
    sendBodyError(res, body);
    return undefined;
  }
  const parsed = parseJson(body.text);
  if (!parsed.ok) {
    if (rpc) sendJson(res, 400, { jsonrpc: "2.0", error: { code: -32700, message: "Parse error: the body is not valid JSON" }, id: null });
    else sendError(res, "invalid_input", "The request body is not valid JSON.");
    return undefined;
  }
  return { value: parsed.value };
}

async function health(ctx: GrantDeps, res: Res): Promise<void> {
  try {
    await sql`select 1`.execute(ctx.db);
  } catch (err) {
    ctx.log.error("health check: the database does not answer", { error: err });
    return sendError(res, "unavailable", "The database does not answer.");
  }
  sendJson(res, 200, { status: "ok", version: SERVER_VERSION });
}

function openapi(req: Req, res: Res, doc: string): void {
  res.writeHead(200, {
    "content-type": "application/json; charset=utf-8",
    "cache-control": "no-cache",
    "content-length": Buffer.byteLength(doc),
  });
  res.end(req.method === "HEAD" ? undefined : doc);
}

const exact = (p: string) => (path: string) => path === p;

/** HTTP mode's routes, first match wins: /healthz, /oauth/callback, the OpenAPI document, the two MCP transports and the REST API. */
export function httpRoutes(d: RouteDeps): HttpRoute[] {
  return [
    { name: "health", matches: exact(HEALTH_PATH), anyHost: true, auth: false, handle: (_req, res) => health(d.ctx, res) },
    { name: "callback", matches: exact(CALLBACK_PATH), auth: false, handle: (req, res) => serveCallback(d.ctx, req, res, d.signIn.policy) },
    {
      name: "connect",
      matches: isConnectPath,
      methods: ["GET", "HEAD", "POST"],
      auth: false,
      handle: (req, res, url) => d.connect.serve(req, res, url.pathname),
    },
    // Before the Host check: what a client is told after a 401 should not depend on how it reached us.
    {
      name: "oauth-metadata",
      matches: (path) => metadataKind(path) !== undefined,
      methods: ["GET", "HEAD", "OPTIONS"],
      anyHost: true,
      auth: false,
      handle: async (req, res, url) => {
        const issuer = d.authorization.issuer;
        sendMetadata(
          req,
          res,
          metadataKind(url.pathname) === "resource" ? protectedResourceMetadata(issuer) : authorizationServerMetadata(issuer),
        );
      },
    },
    {
      // /authorize, /token, /register, /revoke, /jwks: the library's routes (clients call the last four from their own origin).
      name: "oauth-server",
      matches: isProtocolPath,
      anyOrigin: true,
      auth: false,
      handle: async (req, res, url) => {
        if (url.pathname === REGISTER_PATH && req.method === "POST" && !d.registrationAllowed(req, res)) return;
        await d.authorization.serveProtocol(req, res);
      },
    },
    {
      name: "oauth-consent",
      matches: isConsentPath,
      methods: ["GET", "POST"],
      auth: false,
      handle: (req, res, url) => d.consent.serve(req, res, url),
    },
    {
      name: "login",
      matches: exact(LOGIN_PATH),
      methods: ["GET", "POST"],
      auth: false,
      handle: (req, res, url) => (req.method === "POST" ? d.signIn.loginPost(req, res) : d.signIn.loginPage(req, res, url)),
    },
    {
      name: "login-workspace",
      matches: exact(LOGIN_WORKSPACE_PATH),
      methods: ["POST"],
      auth: false,
      handle: (req, res) => d.signIn.chooseWorkspace(req, res),
    },
    {
      name: "login-sso",
      matches: exact(LOGIN_SSO_PATH),
      methods: ["GET"],
      auth: false,
      handle: (req, res, url) => d.signIn.ssoStart(req, res, url),
    },
    {
      name: "login-callback",
      matches: exact(LOGIN_CALLBACK_PATH),
      methods: ["GET"],
      auth: false,
      handle: (req, res, url) => d.signIn.ssoCallback(req, res, url),
    },
    {
      name: "logout",
      matches: exact(LOGOUT_PATH),
      methods: ["GET", "POST"],
      auth: false,
      handle: (req, res) => (req.method === "POST" ? d.signIn.logoutPost(req, res) : d.signIn.logoutPage(req, res)),
    },
    {
      name: "openapi",
      matches: exact(OPENAPI_PATH),
      methods: ["GET", "HEAD"],
      auth: false,
      handle: async (req, res) => openapi(req, res, d.openapi),
    },
    {
      name: "mcp",
      matches: exact(MCP_PATH),
      methods: ["POST", "GET", "DELETE"],
      auth: true,
      handle: async (req, res, _url, caller) => {
        const parsed = req.method === "POST" ? await jsonBody(req, res, d.maxBodyBytes, true) : { value: undefined };
        if (parsed) await d.sessions.handleStreamable(req, res, caller, parsed.value);
      },
    },
    {
      name: "sse",
      matches: exact(SSE_PATH),
      methods: ["GET"],
      auth: true,
      handle: (_req, res, _url, caller) => d.sessions.openSse(res, caller),
    },
    {
      name: "sse-messages",
      matches: exact(SSE_MESSAGES_PATH),
      methods: ["POST"],
      auth: true,
      handle: async (req, res, _url, caller) => {
        const parsed = await jsonBody(req, res, d.maxBodyBytes, false);
        if (parsed) await d.sessions.postSse(req, res, caller, parsed.value);
      },
    },
    {
      // The raw proxy for flows: any of GET, POST, PUT, PATCH, DELETE (the handler refuses others), streamed.
      name: "proxy",
      matches: isProxyPath,
      auth: true,
      handle: (req, res, _url, caller) => serveProxy(d.ctx, req, res, caller),
    },
    {
      name: "rest",
      matches: (path) => path.startsWith(`${API_BASE}/`) && d.rest.matches(path),
      auth: true,
      handle: (req, res, url, caller) => d.rest.handle(req, res, caller, url),
    },
  ];
}

/** 405 for a route's other methods: "Use GET.", "Use POST, GET or DELETE." */
export function methodNotAllowed(res: Res, methods: readonly string[]): void {
  const shown = methods.filter((m) => m !== "HEAD");
  const list = shown.length > 1 ? `${shown.slice(0, -1).join(", ")} or ${shown.at(-1)}` : shown[0];
  sendError(res, "method_not_allowed", `Use ${list}.`, { allow: shown.join(", ") });
}
