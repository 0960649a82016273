// A real OAuth 2.0 authorization server (oidc-provider 9) on 127.0.0.1, used as a stand-in
// for SaaS providers in end-to-end tests. See ../shared/oauth-test-notes.md (the team notes).
import { randomBytes } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";

export interface SandboxClient {
  client_id: string;
  client_secret: string;
  redirect_uris: string[];
  /** default 'client_secret_post'; 'client_secret_basic' is accepted too */
  token_endpoint_auth_method?: "client_secret_post" | "client_secret_basic";
}

export interface OAuthServerOptions {
  clients: SandboxClient[];
  /** Provider scopes to declare (unknown scopes are otherwise dropped silently). */
  scopes: string[];
  /** default false (HubSpot/Google keep the refresh token; Microsoft/Salesforce may rotate). */
  rotateRefreshToken?: boolean;
  /** access token lifetime in seconds, default 1800 */
  accessTokenTtl?: number;
  /** strip the RFC 9207 `iss` parameter from authorization responses (most real providers omit it) */
  omitIss?: boolean;
  /** Optional extra claims per account id (the account id is the login typed on the dev login page). */
  accounts?: Record<string, Record<string, unknown>>;
  /**
   * Reshape successful token responses the way a real provider sends them: add fields
   * (Salesforce `instance_url`, LinkedIn `refresh_token_expires_in`) or drop them (no
   * `expires_in`, no `token_type`, no `refresh_token` on a Google refresh). Recorded
   * tokenCalls carry the reshaped body, as the client received it.
   */
  rewriteTokenResponse?: (body: Record<string, unknown>, info: { grant_type: string }) => Record<string, unknown>;
  /**
   * Answer GET requests to the token endpoint (which oidc-provider does not serve), e.g.
   * Meta's `grant_type=fb_exchange_token` long-lived token exchange.
   */
  handleGetToken?: (params: URLSearchParams) => Promise<{ status: number; body: object }> | { status: number; body: object };
  /**
   * The issuer to act as (id_token `iss`, RFC 9207 `iss`, discovery), e.g. `https://test.salesforce.com` when a test
   * maps that host to this server; default: its own http://127.0.0.1:<port> origin, where it is always served.
   */
  issuer?: string;
  /** Account claims (from `accounts`) to put into the id_token under scope openid, e.g. Microsoft's `tid`. */
  idTokenClaims?: string[];
}

/** A token endpoint's JSON answer as the client received it: tokens on success, `error` on failure. */
export interface TokenBody {
  access_token?: string;
  refresh_token?: string;
  token_type?: string;
  expires_in?: number;
  scope?: string;
  error?: string;
  [field: string]: unknown;
}

/** The tokens a token call issued (its body, with the access token checked to be there). */
export type IssuedTokens = TokenBody & { access_token: string };

export function issuedBy(call: TokenCall | undefined): IssuedTokens {
  const body = call?.body;
  if (!body || typeof body.access_token !== "string") throw new Error(`no tokens were issued: ${JSON.stringify(call)}`);
  return { ...body, access_token: body.access_token };
}

export interface TokenCall {
  grant_type: string;
  client_id?: string;
  status: number;
  at: number;
  /** response body (JSON) as sent to the client */
  body?: TokenBody;
  /** the form parameters the client sent (code, code_verifier, refresh_token, client_secret, …) */
  request?: Record<string, unknown>;
  /** true when answered by failNextTokenCalls without reaching oidc-provider */
  injected?: boolean;
}

/** An injected error body, fixed or built from the form parameters the client sent. */
export type FailureBody = object | ((form: Record<string, string>) => object);

export interface RevocationCall {
  client_id?: string;
  token_type_hint?: string;
  status: number;
  at: number;
}

/** Requests held at the sandbox until release(); waiting() counts the ones held so far. */
export interface SandboxGate {
  waiting(): number;
  release(): void;
}

/** `first`: hold only the first n requests that arrive; later ones pass (default: all of them). */
export interface HoldOptions {
  first?: number;
}

export interface OAuthServer {
  issuer: string;
  url(path: string): string;
  provider: any;
  tokenCalls: TokenCall[];
  revocationCalls: RevocationCall[];
  endpoints: {
    authorization_url: string;
    token_url: string;
    revocation_url: string;
    introspection_url: string;
  };
  validateAccessToken(token: string): Promise<{ accountId: string; scopes: string[]; clientId: string } | null>;
  /** Answer the next n token requests with this error; `body` may be built from the request's form (to echo it). */
  failNextTokenCalls(n: number, status: number, body: FailureBody): void;
  /** Hold revocation requests until release(). */
  holdRevocations(opts?: HoldOptions): SandboxGate;
  /** Answer the next n revocation requests with this error, like failNextTokenCalls. */
  failNextRevocations(n: number, status: number, body: FailureBody): void;
  /**
   * Delay every token request this long before the grant is processed: a slow provider for the
   * bench. Tests order events with the gates below instead.
   */
  setTokenDelay(ms: number): void;
  /** Hold token requests before the grant is processed until release(). */
  holdTokenRequests(opts?: HoldOptions): SandboxGate;
  /** Hold token responses after the grant was processed (and recorded in tokenCalls) until release(). */
  holdTokenResponses(opts?: HoldOptions): SandboxGate;
  /** Release every gate still held (for afterEach: a failed test must not leave requests hanging). */
  releaseGates(): void;
  close(): Promise<void>;
}

// ---------------------------------------------------------------------------------------
// oidc-provider prints warnings that are expected in a test sandbox. Drop exactly those
// (and its "you SHOULD change" notices); everything else, errors included, passes through.
const QUIET_PATTERNS = [
  "Unsupported runtime",
  "devInteractions is enabled",
  "in-memory adapter is used",
  "development-only signing keys are used",
];
let consoleFiltered = false;
function quietOidcProviderWarnings(): void {
  if (consoleFiltered) return;
  consoleFiltered = true;
  const origWarn = console.warn.bind(console);
  const origInfo = console.info.bind(console);
  console.warn = (...args: unknown[]) => {
    const first = typeof args[0] === "string" ? args[0] : "";
    if (first.includes("oidc-provider WARNING:") && QUIET_PATTERNS.some((p) => first.includes(p))) return;
    origWarn(...args);
  };
  console.info = (...args: unknown[]) => {
    const first = typeof args[0] === "string" ? args[0] : "";
    if (first.includes("oidc-provider NOTICE:") && first.includes("you SHOULD change")) return;
    origInfo(...args);
  };
}

let providerModule: Promise<any> | undefined;
function loadProvider(): Promise<any> {
  // Dynamic import: oidc-provider warns about the runtime at module evaluation time, so the
  // filter must be in place first.
  quietOidcProviderWarnings();
  providerModule ??= import("oidc-provider").then((m: any) => m.default ?? m.Provider);
  return providerModule;
}

function readRawBody(req: import("node:http").IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}

function clientIdFromBasic(header: string | undefined): string | undefined {
  if (!header?.toLowerCase().startsWith("basic ")) return undefined;
  try {
    const decoded = Buffer.from(header.slice(6).trim(), "base64").toString("utf8");
    const i = decoded.indexOf(":");
    return decodeURIComponent(i >= 0 ? decoded.slice(0, i) : decoded);
  } catch {
    return undefined;
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Gate {
  promise: Promise<void>;
  waiting: number;
  limit: number;
  release(): void;
}

async function passGate(gate: Gate | undefined): Promise<void> {
  if (!gate || gate.waiting >= gate.limit) return;
  gate.waiting++;
  await gate.promise;
}

function holdGate<K extends string>(gates: Partial<Record<K, Gate>>, name: K, opts: HoldOptions = {}): SandboxGate {
  let open = () => {};
  const gate: Gate = {
    promise: new Promise<void>((r) => (open = r)),
    waiting: 0,
    limit: opts.first ?? Infinity,
    release: () => {
      if (gates[name] === gate) delete gates[name];
      open();
    },
  };
  gates[name] = gate;
  return { waiting: () => gate.waiting, release: gate.release };
}

export async function startOAuthServer(opts: OAuthServerOptions): Promise<OAuthServer> {
  const Provider = await loadProvider();

  const server: Server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const local = `http://127.0.0.1:${port}`;
  const issuer = opts.issuer ?? local;

  const accounts = opts.accounts ?? {};
  const redirectUris = opts.clients.flatMap((c) => c.redirect_uris);

  const provider = new Provider(issuer, {
    clients: opts.clients.map((c) => ({
      client_id: c.client_id,
      client_secret: c.client_secret,
      redirect_uris: c.redirect_uris,
      grant_types: ["authorization_code", "refresh_token"],
      response_types: ["code"],
      token_endpoint_auth_method: c.token_endpoint_auth_method ?? "client_secret_post",
    })),
    clientAuthMethods: ["client_secret_post", "client_secret_basic"],
    scopes: ["openid", "offline_access", ...opts.scopes],
    claims: { openid: ["sub", ...(opts.idTokenClaims ?? [])], email: ["email"] },
    // Scope claims go to the id_token too (by default oidc-provider keeps them for userinfo in the code flow).
    ...(opts.idTokenClaims ? { conformIdTokenClaims: false } : {}),
    async findAccount(_ctx: unknown, sub: string) {
      return {
        accountId: sub,
        async claims() {
          return { sub, email: `${sub}@example.com`, ...(accounts[sub] ?? {}) };
        },
      };
    },
    cookies: { keys: [randomBytes(32).toString("base64url")] },
    pkce: { required: () => false },
    features: {
      devInteractions: { enabled: true },
      revocation: {
        enabled: true,
        // default policy minus its "SHOULD change" notice
        allowedPolicy: async (_ctx: unknown, client: any, token: any) => {
          if (token.clientId !== client.clientId) return false;
          return true;
        },
      },
      introspection: { enabled: true, allowedPolicy: async () => true },
    },
    issueRefreshToken: async (_ctx: unknown, client: any) => client.grantTypeAllowed("refresh_token"),
    rotateRefreshToken: opts.rotateRefreshToken ?? false,
    expiresWithSession: () => false,
    clientBasedCORS: () => false,
    ttl: {
      AccessToken: opts.accessTokenTtl ?? 1800,
      AuthorizationCode: 60,
      RefreshToken: 30 * 24 * 3600,
      Grant: 30 * 24 * 3600,
      Session: 24 * 3600,
      Interaction: 3600,
      IdToken: 3600,
    },
    renderError: async (ctx: any, out: Record<string, unknown>) => {
      ctx.type = "html";
      ctx.body = `<!DOCTYPE html><html><body><h1>oops</h1><pre>${JSON.stringify(out)
        .replace(/&/g, "&amp;")
        .replace(/</g, "&lt;")}</pre></body></html>`;
    },
  });

  const tokenCalls: TokenCall[] = [];
  const revocationCalls: RevocationCall[] = [];
  let failQueue: Array<{ status: number; body: FailureBody }> = [];
  let revocationFailQueue: Array<{ status: number; body: FailureBody }> = [];
  const revocationPath: string = provider.pathFor("revocation", { mountPath: "" }); // served at the root, whatever the issuer's path
  /** Requests held until a test releases them: revocations (before they run), token answers (after the grant). */
  const gates: { revocation?: Gate; tokenRequest?: Gate; tokenResponse?: Gate } = {};
  let tokenDelay = 0;

  // Discover the real endpoint paths from the provider itself.
  const discoveryPath = "/.well-known/openid-configuration";
  const tokenPath: string = provider.pathFor("token", { mountPath: "" }); // '/token' by default

  provider.use(async (ctx: any, next: () => Promise<void>) => {
    const isTokenRequest = ctx.method === "POST" && ctx.path === tokenPath;
    if (isTokenRequest && tokenDelay > 0) await sleep(tokenDelay);
    if (isTokenRequest) await passGate(gates.tokenRequest);

    if (ctx.method === "GET" && ctx.path === tokenPath && opts.handleGetToken) {
      const params = new URLSearchParams(ctx.querystring);
      const out = await opts.handleGetToken(params);
      ctx.status = out.status;
      ctx.set("Cache-Control", "no-store");
      ctx.type = "application/json";
      ctx.body = out.body;
      tokenCalls.push({
        grant_type: params.get("grant_type") ?? "",
        client_id: params.get("client_id") ?? undefined,
        status: out.status,
        at: Date.now(),
        body: out.body as TokenBody,
        request: Object.fromEntries(params),
      });
      return;
    }

    if (isTokenRequest && failQueue.length > 0) {
      const failure = failQueue.shift()!;
      const raw = await readRawBody(ctx.req);
      const params = new URLSearchParams(raw);
      const form = Object.fromEntries(params);
      const body = typeof failure.body === "function" ? failure.body(form) : failure.body;
      ctx.status = failure.status;
      ctx.set("Cache-Control", "no-store");
      ctx.type = "application/json";
      ctx.body = body;
      tokenCalls.push({
        grant_type: params.get("grant_type") ?? "",
        client_id: params.get("client_id") ?? clientIdFromBasic(ctx.get("authorization")),
        status: failure.status,
        at: Date.now(),
        body: body as TokenBody,
        request: form,
        injected: true,
      });
      return;
    }

    if (ctx.method === "POST" && ctx.path === revocationPath) await passGate(gates.revocation);

    if (ctx.method === "POST" && ctx.path === revocationPath && revocationFailQueue.length > 0) {
      const failure = revocationFailQueue.shift()!;
      const params = new URLSearchParams(await readRawBody(ctx.req));
      const form = Object.fromEntries(params);
      ctx.status = failure.status;
      ctx.set("Cache-Control", "no-store");
      ctx.type = "application/json";
      ctx.body = typeof failure.body === "function" ? failure.body(form) : failure.body;
      revocationCalls.push({
        client_id: params.get("client_id") ?? clientIdFromBasic(ctx.get("authorization")),
        token_type_hint: params.get("token_type_hint") ?? undefined,
        status: failure.status,
        at: Date.now(),
      });
      return;
    }

    await next();

    const route = ctx.oidc?.route;
    if (route === "token" && opts.rewriteTokenResponse && ctx.status === 200 && ctx.body && typeof ctx.body === "object") {
      const grantType = String(ctx.oidc.params?.grant_type ?? ctx.oidc.body?.grant_type ?? "");
      ctx.body = opts.rewriteTokenResponse({ ...(ctx.body as Record<string, unknown>) }, { grant_type: grantType });
    }
    if (route === "token") {
      tokenCalls.push({
        grant_type: String(ctx.oidc.params?.grant_type ?? ctx.oidc.body?.grant_type ?? ""),
        client_id: ctx.oidc.client?.clientId ?? ctx.oidc.body?.client_id ?? clientIdFromBasic(ctx.get("authorization")),
        status: ctx.status,
        at: Date.now(),
        body: ctx.body as TokenBody,
        request: { ...(ctx.oidc.body ?? {}) },
      });
    } else if (route === "revocation") {
      revocationCalls.push({
        client_id: ctx.oidc.client?.clientId ?? ctx.oidc.body?.client_id,
        token_type_hint: ctx.oidc.params?.token_type_hint ?? ctx.oidc.body?.token_type_hint,
        status: ctx.status,
        at: Date.now(),
      });
    }

    if (route === "token") await passGate(gates.tokenResponse);

    if (opts.omitIss && ctx.status >= 300 && ctx.status < 400) {
      const location = ctx.response.get("Location");
      if (location) {
        try {
          const u = new URL(location);
          const bare = `${u.origin}${u.pathname}`;
          if (redirectUris.includes(bare) && u.searchParams.has("iss")) {
            u.searchParams.delete("iss");
            ctx.set("Location", u.href);
          }
        } catch {
          /* relative redirects are the provider's own pages */
        }
      }
    }
  });

  server.on("request", provider.callback());

  const res = await fetch(`${local}${discoveryPath}`);
  if (!res.ok) throw new Error(`oidc-provider discovery failed: ${res.status}`);
  const meta = (await res.json()) as Record<string, string>;
  if (meta.issuer !== issuer) throw new Error(`issuer mismatch: ${meta.issuer} !== ${issuer}`);
  const endpoints = {
    authorization_url: meta.authorization_endpoint!,
    token_url: meta.token_endpoint!,
    revocation_url: meta.revocation_endpoint!,
    introspection_url: meta.introspection_endpoint!,
  };
  if (new URL(endpoints.token_url).pathname !== tokenPath) {
    throw new Error(`token endpoint path ${endpoints.token_url} differs from expected ${tokenPath}`);
  }

  return {
    issuer,
    url: (path: string) => new URL(path, `${local}/`).href,
    provider,
    tokenCalls,
    revocationCalls,
    endpoints,
    async validateAccessToken(token: string) {
      if (!token) return null;
      try {
        const at = await provider.AccessToken.find(token);
        if (!at || at.isExpired) return null;
        return {
          accountId: at.accountId as string,
          scopes: String(at.scope ?? "")
            .split(" ")
            .filter(Boolean),
          clientId: at.clientId as string,
        };
      } catch {
        return null;
      }
    },
    failNextTokenCalls(n: number, status: number, body: FailureBody) {
      for (let i = 0; i < n; i++) failQueue.push({ status, body });
    },
    holdRevocations(opts?: HoldOptions) {
      return holdGate(gates, "revocation", opts);
    },
    failNextRevocations(n: number, status: number, body: FailureBody) {
      for (let i = 0; i < n; i++) revocationFailQueue.push({ status, body });
    },
    setTokenDelay(ms: number) {
      tokenDelay = ms;
    },
    holdTokenRequests(opts?: HoldOptions) {
      return holdGate(gates, "tokenRequest", opts);
    },
    holdTokenResponses(opts?: HoldOptions) {
      return holdGate(gates, "tokenResponse", opts);
    },
    releaseGates() {
      for (const gate of Object.values(gates)) gate?.release();
    },
    async close() {
      for (const gate of Object.values(gates)) gate?.release();
      failQueue = [];
      revocationFailQueue = [];
      server.closeAllConnections?.();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
