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
 * again. Meta may invalidate tokens early without notice. Marketing API versions expire sooner than Graph versions:
 * use v24.0 or later. Revocation is `DELETE /me/permissions`, not an RFC 7009 endpoint: the `revokeToken` hook.
 */
import { z } from "zod";
import { defineProvider, type ConnectionView, type TokenSet } from "../src/catalog/catalog.js";
import { ProviderHttpError } from "../src/catalog/provider-errors.js";

const DEFAULT_API_VERSION = "v24.0";
const API_VERSION = /^v\d+\.\d$/;

const apiVersion = (c: ConnectionView): string => {
  const v = c.settings.api_version;
  return typeof v === "string" && API_VERSION.test(v) ? v : DEFAULT_API_VERSION;
};

export default defineProvider({
  id: "meta_ads",
  name: "Meta Ads",
  docs_url: "https://developers.facebook.com/apps/",
  auth_types: ["oauth2", "api_key"],
  roles: ["source"],
  oauth: {
    authorization_url: "https://www.facebook.com/v24.0/dialog/oauth",
    token_url: "https://graph.facebook.com/v24.0/oauth/access_token",
    scopes: ["ads_read"],
    scope_separator: ",",
    pkce: false,
    token_auth: "client_secret_post",
    refresh: "none",
  },
  api_key: {
    label: "System user access token",
  },
  api: { base_url: "https://graph.facebook.com" },
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
        .regex(API_VERSION, "a Graph version such as v24.0")
        .describe(`Graph/Marketing API version; default ${DEFAULT_API_VERSION}`)
        .optional(),
    })
    .strict(),
  test: {
    path: (c) => `/${apiVersion(c)}/me/adaccounts?fields=id,account_id,name,currency,account_status`,
    account_fields: ["ad_account_ids", "ad_account_names"],
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
        res = await c.fetch(url, { method: "GET", headers: { accept: "application/json" }, signal: AbortSignal.timeout(15_000) });
      } catch {
        // The URL carries the client secret and token: never let it reach an error message.
        throw new Error("Meta long-lived token exchange failed: network error");
      }
      const body = (await res.json().catch(() => null)) as Record<string, unknown> | null;
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
