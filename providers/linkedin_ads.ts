/**
 * LinkedIn Ads (Marketing API). OAuth 2.0 authorization code (3-legged); no PKCE in the standard web flow.
 * Redirect URI to register (app → Auth → Authorized redirect URLs): `{base}/oauth/callback`
 * (stdio: http://127.0.0.1:$TENEX_CALLBACK_PORT/oauth/callback).
 * Scopes: `r_ads` (read ad accounts and campaigns) and `r_ads_reporting` (analytics). The app needs the Advertising
 * API product; the member also needs a role on the ad account (VIEWER is enough to read).
 * Register the app: https://www.linkedin.com/developers/apps
 * Quirks: the token response has no `token_type` (openid-client refuses it), so one is added; discovery's issuer
 * does not match its URL, so endpoints are declared by hand. Access tokens live 60 days; refresh tokens are granted
 * only to approved Marketing Developer Platform partners (365 days from first consent, not extended by refreshing),
 * so refresh runs only when one was granted. Every call needs `LinkedIn-Version: YYYYMM` (no default; versions live
 * at least a year) and `X-Restli-Protocol-Version: 2.0.0`. Revocation (`/oauth/v2/revoke`) appears only in
 * third-party code and may refuse refresh tokens: then the access token is revoked and the refusal recorded.
 * API version: LinkedIn-Version 202607; each monthly version is supported at least a year (202603 sunsets
 * 2027-03-16); a connector's `linkedin_version` setting is refused once its version has ended.
 */
import { z } from "zod";
import { defineProvider, type VersionEnd } from "../src/catalog/catalog.js";
import { bearerTokenType } from "./shared/token-type.js";

const DEFAULT_LINKEDIN_VERSION = "202607";
const LINKEDIN_VERSION = /^(\d{4})(\d{2})$/;

/** LinkedIn's Marketing API versioning: each version is supported at least one year; the Migrations page dates 202603's sunset. */
const VERSIONING_SOURCE = "https://learn.microsoft.com/en-us/linkedin/marketing/versioning";
const PUBLISHED: Record<string, string> = { "202603": "2027-03-16" };

/** A version's sunset: published when seen, else estimated as the 15th of the same month a year later. */
const versionEnd = (v: string): VersionEnd | undefined => {
  const m = LINKEDIN_VERSION.exec(v);
  if (!m) return undefined;
  const published = PUBLISHED[v];
  if (published)
    return { ends: published, source: "https://learn.microsoft.com/en-us/linkedin/marketing/integrations/migrations", confirmed: true };
  return { ends: `${Number(m[1]) + 1}-${m[2]}-15`, source: `${VERSIONING_SOURCE} (at least one year of support)`, confirmed: false };
};

export default defineProvider({
  id: "linkedin_ads",
  name: "LinkedIn Ads",
  docs_url: "https://www.linkedin.com/developers/apps",
  setup:
    "A LinkedIn developer app with the Advertising API product and the redirect URI (Auth \u2192 Authorized redirect URLs); refresh tokens only for Marketing partners.",
  auth_types: ["oauth2"],
  roles: ["source"],
  oauth: {
    authorization_url: "https://www.linkedin.com/oauth/v2/authorization",
    token_url: "https://www.linkedin.com/oauth/v2/accessToken",
    revocation_url: "https://www.linkedin.com/oauth/v2/revoke",
    scopes: ["r_ads", "r_ads_reporting"],
    pkce: false,
    token_auth: "client_secret_post",
    refresh: "refresh_token",
    refresh_token_optional: true,
    refresh_revocation_optional: true,
  },
  api: {
    base_url: "https://api.linkedin.com",
    docs_url: "https://learn.microsoft.com/en-us/linkedin/marketing/",
    // LinkedIn-Version defaults to the linkedin_version setting (hooks.apiHeaders); a call may ask for another.
    request_headers: ["linkedin-version", "x-restli-protocol-version", "x-restli-method"],
  },
  settings: z
    .object({
      ad_account_id: z
        .string()
        .regex(/^\d{1,20}$/, "the numeric ID (the digits of urn:li:sponsoredAccount:<id>)")
        .describe("Ad account to read by default: the numeric ID from urn:li:sponsoredAccount:<id>")
        .optional(),
      linkedin_version: z
        .string()
        .regex(LINKEDIN_VERSION, "YYYYMM, e.g. 202607")
        .describe(`LinkedIn-Version header, YYYYMM; default ${DEFAULT_LINKEDIN_VERSION}`)
        .optional(),
    })
    .strict(),
  api_versions: [
    {
      version: DEFAULT_LINKEDIN_VERSION,
      ends: versionEnd(DEFAULT_LINKEDIN_VERSION)!.ends,
      source: `${VERSIONING_SOURCE} (202607 + at least one year; estimated)`,
      confirmed: false,
      setting: "linkedin_version",
      endOf: versionEnd,
    },
  ],
  test: {
    path: "/rest/adAccounts?q=search",
    account_fields: { ad_account_ids: "id", ad_account_names: "name" },
    account_id: "ad_account_ids",
  },
  hooks: {
    fixTokenResponse: bearerTokenType,
    apiHeaders: (c) => {
      const v = c.settings.linkedin_version;
      return {
        "LinkedIn-Version": typeof v === "string" && LINKEDIN_VERSION.test(v) ? v : DEFAULT_LINKEDIN_VERSION,
        "X-Restli-Protocol-Version": "2.0.0",
      };
    },
    accountFromTestRead: (body) => {
      const b = (typeof body === "object" && body !== null ? body : {}) as Record<string, unknown>;
      if (!Array.isArray(b.elements)) return { ad_account_ids: null, ad_account_names: null };
      const accounts = b.elements.filter((e): e is Record<string, unknown> => typeof e === "object" && e !== null);
      return {
        ad_account_ids: accounts.flatMap((a) => (typeof a.id === "number" || typeof a.id === "string" ? [String(a.id)] : [])),
        ad_account_names: accounts.flatMap((a) => (typeof a.name === "string" ? [a.name] : [])),
      };
    },
  },
});
