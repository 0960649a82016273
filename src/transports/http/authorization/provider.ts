/**
 * The OAuth 2.1 authorization server for remote MCP clients (HTTP mode), built on oidc-provider:
 * authorization code with PKCE S256 only, one resource (`{base}/mcp`, RFC 8707), one scope
 * (`mcp`), opaque access tokens stored sealed (so ending a grant or removing a member refuses the
 * very next request), rotating refresh tokens with a reuse grace (adapter.ts), dynamic client
 * registration (RFC 7591) and Client ID Metadata Documents. Its interaction pages are ours
 * (consent.ts): a member signs in, then allows or denies the client.
 *
 * The library (and koa, jose under it) loads on the first request that needs it: the token check
 * on /mcp and the metadata documents do not.
 *
 * Signing keys and cookie keys are kept sealed in the database (`server_keys`), so every instance
 * sharing it issues and accepts the same tokens and cookies.
 */
import crypto from "node:crypto";
import type http from "node:http";
import { isLoopbackHost } from "../../../catalog/catalog.js";
import type { GrantDeps } from "../../../grants/deps.js";
import { loadDatabaseValue } from "../../../grants/request-state.js";
import { memberById } from "../../../store/members.js";
import { purgeExpiredServerRecords } from "../../../store/oauth-server.js";
import { renderPage } from "../../callback/html.js";
import { sendPage } from "../pages.js";
import { adapterFactory, RefusedDocuments } from "./adapter.js";

export const AUTHORIZE_PATH = "/authorize";
export const TOKEN_PATH = "/token";
export const REGISTER_PATH = "/register";
export const REVOKE_PATH = "/revoke";
export const JWKS_PATH = "/jwks";
/** Our interaction pages: `/consent/{uid}`. */
export const CONSENT_PREFIX = "/consent/";

/** The one scope: everything a workspace key may do. */
export const MCP_SCOPE = "mcp";
export const ACCESS_TOKEN_SECONDS = 3600;
export const REFRESH_TOKEN_SECONDS = 30 * 24 * 3600;

/** The library's own routes we serve (the authorization endpoint resumes at `/authorize/{uid}`). */
export function isProtocolPath(path: string): boolean {
  return (
    path === AUTHORIZE_PATH ||
    path.startsWith(`${AUTHORIZE_PATH}/`) ||
    path === TOKEN_PATH ||
    path === REGISTER_PATH ||
    path === REVOKE_PATH ||
    path === JWKS_PATH
  );
}

export interface AuthorizationServerOptions {
  /** `{base}`: TENEX_PUBLIC_URL, or `http://{host}:{port}` without it (known once the server listens). The issuer. */
  base: () => string;
}

/** The parts of oidc-provider this server uses (it ships no types). */
export interface OidcProvider {
  callback(): (req: http.IncomingMessage, res: http.ServerResponse) => void;
  interactionDetails(req: http.IncomingMessage, res: http.ServerResponse): Promise<InteractionDetails>;
  interactionFinished(req: http.IncomingMessage, res: http.ServerResponse, result: object, opts?: object): Promise<void>;
  Client: { find(id: string): Promise<OidcClient | undefined> };
  Grant: new (init: { accountId: string; clientId: string }) => OidcGrant;
  proxy: boolean;
}
export interface InteractionDetails {
  uid: string;
  prompt: { name: string; details: Record<string, unknown> };
  params: Record<string, string | undefined>;
  grantId?: string;
}
export interface OidcClient {
  clientId: string;
  clientName?: string;
  redirectUris: string[];
  clientAuthMethod: string;
}
interface OidcGrant {
  addResourceScope(resource: string, scope: string): void;
  addOIDCScope(scope: string): void;
  save(): Promise<string>;
}
type ProviderModule = { default: new (issuer: string, config: object) => OidcProvider; errors: Record<string, new (d?: string) => Error> };

/** Load oidc-provider with its import-time notices (an "unsupported runtime" line on Node 20) sent to our log. */
async function loadLibrary(log: GrantDeps["log"]): Promise<ProviderModule> {
  const quiet = (...args: unknown[]) => log.debug("oidc-provider", { message: String(args[0]).slice(0, 300) });
  // biome-ignore lint/suspicious/noConsole: the library writes its import-time notices to the console; they go to our log instead
  const saved = { warn: console.warn, info: console.info };
  Object.assign(console, { warn: quiet, info: quiet });
  try {
    return (await import("oidc-provider")) as unknown as ProviderModule;
  } finally {
    Object.assign(console, saved);
  }
}

const ENTITIES: Record<string, string> = { "&amp;": "&", "&lt;": "<", "&gt;": ">", "&quot;": '"', "&#39;": "'", "&#x27;": "'" };
function unescapeHtml(s: string): string {
  return s.replace(/&(?:amp|lt|gt|quot|#39|#x27);/g, (e) => ENTITIES[e] ?? e);
}

export class AuthorizationServer {
  /** Client metadata documents refused lately (not fetched again for a minute; the error page says why). */
  readonly refused: RefusedDocuments;
  private provider: Promise<OidcProvider> | undefined;
  private handler: ((req: http.IncomingMessage, res: http.ServerResponse) => void) | undefined;

  constructor(
    private readonly ctx: GrantDeps,
    private readonly opts: AuthorizationServerOptions,
  ) {
    this.refused = new RefusedDocuments(ctx.clock);
  }

  /** The issuer: `{base}`. */
  get issuer(): string {
    return this.opts.base().replace(/\/+$/, "");
  }

  /** The one resource tokens are for: `{base}/mcp`. */
  get resource(): string {
    return `${this.issuer}/mcp`;
  }

  /** Development and tests: the server itself is on loopback, so loopback client metadata documents are fetched. */
  private get local(): boolean {
    return isLoopbackHost(new URL(this.issuer).hostname);
  }

  /** The library, configured; built once per process on first use. */
  oidc(): Promise<OidcProvider> {
    this.provider ??= this.build().catch((err: unknown) => {
      this.provider = undefined;
      throw err;
    });
    return this.provider;
  }

  private async build(): Promise<OidcProvider> {
    const { ctx, resource, issuer } = this;
    const lib = await loadLibrary(ctx.log);
    const keyDeps = { db: ctx.db, vault: ctx.vault, clock: ctx.clock };
    const signingJwk = await loadDatabaseValue(keyDeps, "oauth_signing_jwk", "the OAuth signing key", () =>
      JSON.stringify({
        ...crypto.generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey.export({ format: "jwk" }),
        use: "sig",
        alg: "ES256",
      }),
    );
    const cookieKey = await loadDatabaseValue(keyDeps, "oauth_cookie_key", "the OAuth cookie key", () =>
      crypto.randomBytes(32).toString("base64url"),
    );
    const secure = issuer.startsWith("https:");
    const InvalidTarget = lib.errors.InvalidTarget as new (d?: string) => Error;
    const InvalidClientMetadata = lib.errors.InvalidClientMetadata as new (d?: string) => Error;
    const Adapter = adapterFactory({
      db: ctx.db,
      vault: ctx.vault,
      clock: ctx.clock,
      log: ctx.log,
      cimd: { allowLoopback: this.local },
      refused: this.refused,
    });
    const cookieOpts = { httpOnly: true, sameSite: "lax", secure, signed: true };
    const provider = new lib.default(issuer, {
      adapter: Adapter,
      clients: [],
      jwks: { keys: [JSON.parse(signingJwk)] },
      cookies: {
        keys: [cookieKey],
        names: { session: "tnx_oauth_session", interaction: "tnx_oauth_interaction", resume: "tnx_oauth_resume" },
        long: cookieOpts,
        short: cookieOpts,
      },
      routes: {
        authorization: AUTHORIZE_PATH,
        token: TOKEN_PATH,
        registration: REGISTER_PATH,
        revocation: REVOKE_PATH,
        jwks: JWKS_PATH,
      },
      // `mcp` is the resource's scope (getResourceServerInfo); listed here too, since clients also put it in
      // their registration's `scope` and the library checks that against this list.
      scopes: ["openid", "offline_access", MCP_SCOPE],
      claims: { openid: ["sub"] },
      responseTypes: ["code"],
      pkce: { required: () => true },
      clientDefaults: {
        grant_types: ["authorization_code", "refresh_token"],
        response_types: ["code"],
        token_endpoint_auth_method: "none",
        id_token_signed_response_alg: "ES256",
      },
      clientAuthMethods: ["none", "client_secret_post", "client_secret_basic"],
      // The library lets a web client register any http redirect URI; ours follow the rule a metadata document's
      // do (cimd.ts): plain http only on a loopback host, else the authorization code travels in clear text.
      // (`redirect_uris` is listed so the library calls the validator for it, on every client it builds.)
      extraClientMetadata: {
        properties: ["redirect_uris"],
        validator: (_ctx: unknown, key: string, value: unknown) => {
          if (key !== "redirect_uris" || !Array.isArray(value)) return;
          for (const uri of value) {
            const u = typeof uri === "string" ? URL.parse(uri) : null;
            if (u?.protocol === "http:" && !isLoopbackHost(u.hostname)) {
              throw new InvalidClientMetadata("redirect_uris may use plain http only with a loopback host (127.0.0.1, [::1] or localhost)");
            }
          }
        },
      },
      enabledJWA: { idTokenSigningAlgValues: ["ES256"] },
      async findAccount(_ctx: unknown, id: string) {
        const member = await memberById(ctx.db, id);
        return member ? { accountId: member.id, claims: async () => ({ sub: member.id }) } : undefined;
      },
      // Every authorization shows the consent page (the member, the client and the workspace are named each time):
      // only the grant the consent page just made counts, never one remembered from an earlier visit.
      loadExistingGrant: async (kctx: {
        oidc: { result?: { consent?: { grantId?: string } }; provider: { Grant: { find(id: string): Promise<unknown> } } };
      }) => {
        const id = kctx.oidc.result?.consent?.grantId;
        return id ? kctx.oidc.provider.Grant.find(id) : undefined;
      },
      interactions: { url: (_ctx: unknown, interaction: { uid: string }) => `${CONSENT_PREFIX}${interaction.uid}` },
      issueRefreshToken: async (_ctx: unknown, client: { grantTypeAllowed(t: string): boolean }) =>
        client.grantTypeAllowed("refresh_token"),
      rotateRefreshToken: true,
      expiresWithSession: async () => false,
      // Browser-based clients: CORS for the origins of a public client's redirect URIs.
      clientBasedCORS: (_ctx: unknown, origin: string, client: OidcClient) =>
        origin !== "null" && client.redirectUris.some((u) => URL.parse(u)?.origin === origin),
      ttl: {
        AccessToken: ACCESS_TOKEN_SECONDS,
        AuthorizationCode: 60,
        RefreshToken: REFRESH_TOKEN_SECONDS,
        Grant: 365 * 24 * 3600,
        Interaction: 600,
        Session: 8 * 3600,
        IdToken: 3600,
      },
      features: {
        devInteractions: { enabled: false },
        dPoP: { enabled: false },
        pushedAuthorizationRequests: { enabled: false },
        rpInitiatedLogout: { enabled: false },
        userinfo: { enabled: false },
        introspection: { enabled: false },
        registration: {
          enabled: true,
          initialAccessToken: false,
          issueRegistrationAccessToken: false,
          idFactory: () => `mcpc_${crypto.randomBytes(16).toString("base64url")}`,
          secretFactory: async () => crypto.randomBytes(32).toString("base64url"),
        },
        revocation: {
          enabled: true,
          allowedPolicy: async (_ctx: unknown, client: OidcClient, token: { clientId: string }) => token.clientId === client.clientId,
        },
        resourceIndicators: {
          enabled: true,
          defaultResource: async () => resource,
          useGrantedResource: async () => true,
          getResourceServerInfo: async (_ctx: unknown, indicator: string) => {
            if (indicator !== resource) throw new InvalidTarget(`this server issues tokens only for ${resource}`);
            return { scope: MCP_SCOPE, audience: resource, accessTokenTTL: ACCESS_TOKEN_SECONDS, accessTokenFormat: "opaque" };
          },
        },
      },
      renderError: async (kctx: { type: string; body: string; status: number }, out: { error?: string; error_description?: string }) => {
        kctx.type = "html";
        kctx.body = renderPage({
          tone: "error",
          title: "Sign-in request refused",
          heading: "This sign-in request cannot go on",
          // The library hands over its text HTML-escaped already: undo that once (renderPage escapes).
          paragraphs: [unescapeHtml(out.error_description ?? out.error ?? "The request was not valid.")],
          next: ["Go back to your MCP client and start connecting again."],
        });
      },
    });
    // Behind a TLS-terminating proxy (an https public URL), the library trusts X-Forwarded-Proto for its Secure cookies.
    provider.proxy = secure;
    return provider;
  }

  /** The library's own routes: /authorize, /token, /register, /revoke, /jwks. */
  async serveProtocol(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const provider = await this.oidc();
    this.handler ??= provider.callback();
    const handle = this.handler;
    await new Promise<void>((resolve) => {
      res.once("close", resolve);
      handle(req, res);
    });
  }

  /** An error page of ours, for the interaction routes. */
  sendError(res: http.ServerResponse, status: number, heading: string, text: string): void {
    sendPage(
      res,
      status,
      renderPage({
        tone: "error",
        title: heading,
        heading,
        paragraphs: [text],
        next: ["Go back to your MCP client and start connecting again."],
      }),
    );
  }

  /** Purge expired records (tokens, codes, unused registrations, cached documents). */
  async sweep(): Promise<void> {
    const n = await purgeExpiredServerRecords(this.ctx.db, this.ctx.clock());
    if (n > 0) this.ctx.log.debug("oauth records purged", { count: n });
  }
}
