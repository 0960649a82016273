/**
 * Meta Ads (Facebook Marketing API). OAuth 2.0 authorization code through Facebook Login (for Business) with a
 * Business-type app; no PKCE (Meta's OIDC+PKCE variant is still in testing). Also BYOK: a Business Manager
 * system-user access token.
 * Redirect URI to register (Facebook Login → Settings → Valid OAuth Redirect URIs): `{base}/oauth/callback`
 * (stdio: http://127.0.0.1:$TENEX_CALLBACK_PORT/oauth/callback).
 * Scopes: `ads_read` (ad accounts and insights; needs App Review). `ads_management` would be needed for writes.
 * Register the app: https://developers.facebook.com/apps/
 * Quirks: there are no refresh tokens. The code exchange yields a short-lived token (hours), which is swapped at
 * once for a long-lived one (~60 days, `grant_type=fb_exchange_token`); when that expires the person must consent
 * again. Meta may invalidate tokens early without notice. Revocation is `DELETE /me/permissions`, not an RFC 7009
 * endpoint: the `revokeToken` hook.
 * API version: v26.0 for sign-in, token exchange, test reads and revocation (one pinned version). Marketing API
 * versions expire sooner than Graph versions (about a year after release: v24.0 ended 2026-11-10, v25.0 ends
 * 2027-02-23); a connector's `api_version` setting is refused once its version has ended.
 */
import { z } from "zod";
import { readBoundedJson, TOKEN_BODY_LIMIT } from "../src/catalog/bounded-body.js";
import { type ConnectionView, defineProvider, type TokenSet, type VersionEnd } from "../src/catalog/catalog.js";
import { ProviderHttpError } from "../src/catalog/provider-errors.js";

const DEFAULT_API_VERSION = "v26.0";
const API_VERSION = /^v(\d+)\.\d$/;

/** Meta's Marketing API version history (expiration dates). */
const VERSIONS_SOURCE = "https://developers.facebook.com/docs/marketing-api/marketing-api-changelog/versions";
/** Published expiration dates (confirmed), by major version. v21.0's is the latest an older version ended. */
const ENDED: Record<number, string> = { 21: "2025-09-09", 22: "2026-02-19", 23: "2026-06-09", 24: "2026-11-10", 25: "2027-02-23" };
/**
 * Not yet published ("TBD"): estimated as about a year after release, the pattern of v24.0 and v25.0
 * (v26.0 released 2026-07-29, v27.0 on 2026-11-04).
 */
const ESTIMATED: Record<number, string> = { 26: "2027-07-29", 27: "2027-11-04" };

const versionEnd = (v: string): VersionEnd | undefined => {
  const major = Number(API_VERSION.exec(v)?.[1]);
  if (!Number.isFinite(major)) return undefined;
  const confirmed = ENDED[Math.max(major, 21)];
  if (confirmed) return { ends: confirmed, source: VERSIONS_SOURCE, confirmed: true };
  const estimated = ESTIMATED[major];
  return estimated ? { ends: estimated, source: VERSIONS_SOURCE, confirmed: false } : undefined;
};

const apiVersion = (c: ConnectionView): string => {
  const v = c.settings.api_version;
  return typeof v === "string" && API_VERSION.test(v) ? v : DEFAULT_API_VERSION;
};

export default defineProvider({
  id: "meta_ads",
  name: "Meta Ads",
  docs_url: "https://developers.facebook.com/apps/",
  setup:
    "A Business-type Meta app with Facebook Login for Business (Valid OAuth Redirect URIs) and App Review for `ads_read`; or a Business Manager system-user token (BYOK).",
  auth_types: ["oauth2", "api_key"],
  roles: ["source"],
  oauth: {
    authorization_url: `https://www.facebook.com/${DEFAULT_API_VERSION}/dialog/oauth`,
    token_url: `https://graph.facebook.com/${DEFAULT_API_VERSION}/oauth/access_token`,
    scopes: ["ads_read"],
    scope_separator: ",",
    pkce: false,
    token_auth: "client_secret_post",
    refresh: "none",
  },
  api_key: {
    label: "System user access token",
  },
  api: { base_url: "https://graph.facebook.com", docs_url: "https://developers.facebook.com/docs/marketing-api/reference" },
  settings: z
    .object({
      ad_account_id: z
        .string()
        .regex(/^act_\d+$/, "act_ followed by digits")
        .describe("Ad account to read by default, as act_<id>")
        .optional(),
      business_id: z
        .string()
        .regex(/^\d+$/, "digits")
        .describe("Business (Business Manager) ID that owns the ad accounts, when they belong to a business")
        .optional(),
      api_version: z
        .string()
        .regex(API_VERSION, "a Graph version such as v26.0")
        .describe(`Graph/Marketing API version; default ${DEFAULT_API_VERSION}`)
        .optional(),
    })
    .strict(),
  api_versions: [
    {
      version: DEFAULT_API_VERSION,
      ends: ESTIMATED[26]!,
      source: `${VERSIONS_SOURCE} (v26.0: "TBD"; estimated a year after its release)`,
      confirmed: false,
      setting: "api_version",
      endOf: versionEnd,
    },
  ],
  test: {
    path: (c) => `/${apiVersion(c)}/me/adaccounts?fields=id,account_id,name,currency,account_status`,
    account_fields: { ad_account_ids: "id", ad_account_names: "name" },
    account_id: "ad_account_ids",
  },
  hooks: {
    afterTokenExchange: async (t: TokenSet, c): Promise<TokenSet> => {
      const url = new URL(c.token_url);
      url.searchParams.set("grant_type", "fb_exchange_token");
      url.searchParams.set("client_id", c.client_id);
      url.searchParams.set("client_secret", c.client_secret);
      url.searchParams.set("fb_exchange_token", t.access_token);
      let res: Response;
      try {
        // The URL carries the client secret: a redirect is never followed (and a 3xx is no token).
        res = await c.fetch(url, {
          method: "GET",
          headers: { accept: "application/json" },
          redirect: "manual",
          signal: AbortSignal.timeout(15_000),
        });
      } catch {
        // The URL carries the client secret and token: never let it reach an error message.
        throw new Error("Meta long-lived token exchange failed: network error");
      }
      // Read within the token-answer cap: a provider streaming without end is a provider_error, not memory.
      const parsed = await readBoundedJson(res, TOKEN_BODY_LIMIT, "Meta's long-lived token exchange");
      const body = typeof parsed === "object" && parsed !== null && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : null;
      if (!res.ok || body === null || typeof body.access_token !== "string" || body.access_token === "") {
        const err = body && typeof body.error === "object" && body.error !== null ? (body.error as Record<string, unknown>) : {};
        // Only the status and Meta's numeric code travel on: its message text may echo the request.
        throw new ProviderHttpError("Meta's long-lived token exchange", res.status, err.code);
      }
      const expiresIn = typeof body.expires_in === "number" ? body.expires_in : Number(body.expires_in);
      return {
        access_token: body.access_token,
        token_type: typeof body.token_type === "string" ? body.token_type : (t.token_type ?? "bearer"),
        expires_at: Number.isFinite(expiresIn) && expiresIn > 0 ? Math.floor(c.now() / 1000) + expiresIn : undefined,
        scope: t.scope,
        extras: t.extras,
      };
    },
    // No RFC 7009 endpoint: removing the app's permissions ends the grant.
    revokeToken: async (t, c) => {
      const res = await c.fetch(`${c.api_base_url}/${apiVersion(c.connection)}/me/permissions`, {
        method: "DELETE",
        headers: { authorization: `Bearer ${t.access_token}`, accept: "application/json" },
        // Never follow a redirect with the Bearer token; a 3xx is not ok, so not revoked.
        redirect: "manual",
        signal: AbortSignal.timeout(15_000),
      });
      await res.body?.cancel();
      if (!res.ok) throw new ProviderHttpError("Meta", res.status);
    },
    accountFromTestRead: (body) => {
      const b = (typeof body === "object" && body !== null ? body : {}) as Record<string, unknown>;
      if (!Array.isArray(b.data)) return { ad_account_ids: null, ad_account_names: null };
      const accounts = b.data.filter((a): a is Record<string, unknown> => typeof a === "object" && a !== null);
      return {
        ad_account_ids: accounts.flatMap((a) => (typeof a.id === "string" ? [a.id] : [])),
        ad_account_names: accounts.flatMap((a) => (typeof a.name === "string" ? [a.name] : [])),
      };
    },
  },
});
