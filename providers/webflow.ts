/**
 * Webflow (CMS). OAuth 2.0 authorization code for an App with the "Data Client" building block; no PKCE
 * (not documented by Webflow). Also BYOK: a site token (one site) or a workspace token (all sites of a workspace).
 * Redirect URI to register: `{base}/oauth/callback` (stdio: http://127.0.0.1:$TENEX_CALLBACK_PORT/oauth/callback).
 * Scopes: `sites:read` (list and choose sites), `cms:read` and `cms:write` (collections and items). The requested
 * scopes must equal or be a subset of those configured on the app, or installation fails.
 * Register the app (Workspace settings → Apps & Integrations → App Development): https://developers.webflow.com/docs/register-an-app
 * Quirks: no refresh token and no documented expiry for OAuth tokens (treated as non-expiring); the authorization
 * code is single-use and valid 15 minutes; `/v2/token/introspect` works only for OAuth (Data Client) tokens, so a
 * pasted site/workspace token is checked with `/v2/sites`. Site tokens expire after 365 days unused, at most 5 per
 * site. Whether the token response carries `token_type` is unconfirmed, so a missing one is added (as for LinkedIn;
 * openid-client refuses a response without it). Revocation (`POST /oauth/revoke_authorization`, JSON body) is not
 * RFC 7009, hence the `revokeToken` hook.
 * API version: v2 (paths under /v2; Webflow publishes no end for it).
 */
import { z } from "zod";
import { defineProvider } from "../src/catalog/catalog.js";
import { ProviderHttpError } from "../src/catalog/provider-errors.js";
import { bearerTokenType } from "./shared/token-type.js";

const webflowId = z.string().regex(/^[A-Za-z0-9]{1,64}$/, "a Webflow ID (letters and digits)");

const strings = (v: unknown): string[] | null => (Array.isArray(v) ? v.filter((x): x is string => typeof x === "string") : null);

export default defineProvider({
  id: "webflow",
  name: "Webflow",
  docs_url: "https://developers.webflow.com/docs/register-an-app",
  setup:
    "A Webflow App with the Data Client building block (Workspace settings \u2192 Apps & Integrations \u2192 App Development) and the redirect URI; or a site/workspace API token (BYOK).",
  auth_types: ["oauth2", "api_key"],
  roles: ["source", "sink"],
  oauth: {
    authorization_url: "https://webflow.com/oauth/authorize",
    token_url: "https://api.webflow.com/oauth/access_token",
    revocation_url: "https://webflow.com/oauth/revoke_authorization",
    scopes: ["sites:read", "cms:read", "cms:write"],
    // Read-only extras on request; they must also be enabled on the Webflow App, or installation fails.
    allowed_extra_scopes: ["pages:read", "assets:read"],
    pkce: false,
    token_auth: "client_secret_post",
    refresh: "non_expiring",
  },
  api_key: {
    label: "Webflow site or workspace API token",
  },
  api: {
    base_url: "https://api.webflow.com",
    docs_url: "https://developers.webflow.com/data/reference/rest-introduction",
    extra_origins: ["https://api-cdn.webflow.com"],
  },
  settings: z
    .object({
      site_id: webflowId.describe("Webflow site to read from and write to by default").optional(),
      collection_ids: z.array(webflowId).max(50).describe("CMS collection IDs of that site to use by default").optional(),
    })
    .strict(),
  api_versions: [
    {
      version: "v2",
      ends: null,
      source: "https://developers.webflow.com/data/reference/rest-introduction (v1 was retired; no end announced for v2)",
      confirmed: false,
    },
  ],
  test: {
    path: "/v2/token/introspect",
    api_key_path: "/v2/sites",
    account_fields: { site_ids: "id", site_names: "name", workspace_ids: "id", application: "name" },
    account_id: "site_ids",
  },
  hooks: {
    fixTokenResponse: bearerTokenType,
    // Not RFC 7009: a JSON body with the client credentials and the access token.
    revokeToken: async (t, c) => {
      if (!c.revocation_url) throw new Error("no revocation endpoint");
      const res = await c.fetch(c.revocation_url, {
        method: "POST",
        headers: { "content-type": "application/json", accept: "application/json" },
        body: JSON.stringify({ client_id: c.client_id, client_secret: c.client_secret, access_token: t.access_token }),
        // A redirect would carry the client secret and token elsewhere: never followed, and not a success (3xx is not ok).
        redirect: "manual",
        signal: AbortSignal.timeout(15_000),
      });
      await res.body?.cancel();
      if (!res.ok) throw new ProviderHttpError("Webflow", res.status);
    },
    accountFromTestRead: (body) => {
      const b = (typeof body === "object" && body !== null ? body : {}) as Record<string, unknown>;
      // Site/workspace token: GET /v2/sites → { sites: [{ id, displayName, … }] }
      if (Array.isArray(b.sites)) {
        const sites = b.sites.filter((s): s is Record<string, unknown> => typeof s === "object" && s !== null);
        return {
          site_ids: sites.flatMap((s) => (typeof s.id === "string" ? [s.id] : [])),
          site_names: sites.flatMap((s) => (typeof s.displayName === "string" ? [s.displayName] : [])),
          workspace_ids: null,
          application: null,
        };
      }
      // OAuth token: GET /v2/token/introspect → { authorization: { authorizedTo: { siteIds, workspaceIds } }, application }
      const auth = (typeof b.authorization === "object" && b.authorization !== null ? b.authorization : {}) as Record<string, unknown>;
      const to = (typeof auth.authorizedTo === "object" && auth.authorizedTo !== null ? auth.authorizedTo : {}) as Record<string, unknown>;
      const app = (typeof b.application === "object" && b.application !== null ? b.application : {}) as Record<string, unknown>;
      return {
        site_ids: strings(to.siteIds),
        site_names: null,
        workspace_ids: strings(to.workspaceIds),
        application: typeof app.displayName === "string" ? app.displayName : null,
      };
    },
  },
});
