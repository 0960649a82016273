/**
 * Google Ads. OAuth 2.0 authorization code on Google's endpoints; PKCE supported (S256), used.
 * Redirect URI to register: `{base}/oauth/callback` (stdio: http://127.0.0.1:$TENEX_CALLBACK_PORT/oauth/callback).
 * Scopes: `openid email` (which Google account granted access) and `adwords`, the only Ads scope (read and write;
 * sensitive, so the app needs Google verification).
 * Register the app (an OAuth client in the Google Cloud project whose access level the API uses): https://developers.google.com/google-ads/api/docs/oauth/cloud-project
 * Quirks: `access_type=offline` and `prompt=consent` to get a refresh token; Testing-mode refresh tokens die after
 * 7 days; about 100 live refresh tokens per account per client. Developer tokens were retired in Sep 2026: the
 * `developer-token` header is sent only when TENEX_GOOGLE_ADS_DEVELOPER_TOKEN is set. `login-customer-id` (the
 * manager account, 10 digits, no hyphens) is sent when set.
 * API version: v26 (released 2026-10-14). Majors live about a year (v20 ended 2026-06-10, v21 2026-08-05, v22
 * 2026-10-07); a connector's `api_version` setting is refused once its version has sunset.
 */
import { z } from "zod";
import { type ConnectionView, defineProvider, type VersionEnd } from "../src/catalog/catalog.js";
import { googleOAuth } from "./shared/google.js";

const DEFAULT_API_VERSION = "v26";
const API_VERSION = /^v(\d+)$/;

/** Sunset dates from Google's sunset reminders (confirmed); v19's is the latest an older version ended. */
const SUNSET_SOURCE = "https://developers.google.com/google-ads/api/docs/sunset-dates";
const SUNSET: Record<number, string> = { 19: "2026-02-11", 20: "2026-06-10", 21: "2026-08-05", 22: "2026-10-07" };
/** Not yet announced: estimated as about a year after each 2026 release (the v20–v22 pattern). */
const ESTIMATED: Record<number, string> = { 23: "2027-02-10", 24: "2027-04-28", 25: "2027-08-04", 26: "2027-10-06" };

const versionEnd = (v: string): VersionEnd | undefined => {
  const major = Number(API_VERSION.exec(v)?.[1]);
  if (!Number.isFinite(major)) return undefined;
  const sunset = SUNSET[Math.max(major, 19)];
  if (sunset) return { ends: sunset, source: SUNSET_SOURCE, confirmed: true };
  const estimated = ESTIMATED[major];
  return estimated ? { ends: estimated, source: `${SUNSET_SOURCE} (not yet announced; estimated)`, confirmed: false } : undefined;
};
const CUSTOMER_ID = /^\d{10}$/;

const setting = (c: ConnectionView, key: string, pattern: RegExp): string | null => {
  const v = c.settings[key];
  return typeof v === "string" && pattern.test(v) ? v : null;
};

export default defineProvider({
  id: "google_ads",
  name: "Google Ads",
  docs_url: "https://developers.google.com/google-ads/api/docs/oauth/cloud-project",
  setup:
    "A Google Cloud OAuth client (Web application) in the project whose Google Ads API access level applies, with the redirect URI; `adwords` is a sensitive scope.",
  auth_types: ["oauth2"],
  roles: ["source"],
  oauth: googleOAuth(["openid", "email", "https://www.googleapis.com/auth/adwords"]),
  api: {
    base_url: "https://googleads.googleapis.com",
    docs_url: "https://developers.google.com/google-ads/api/rest/reference/rest",
    // developer-token comes from TENEX_GOOGLE_ADS_DEVELOPER_TOKEN and login-customer-id from settings (hooks.apiHeaders); a call may name another manager.
    request_headers: ["login-customer-id", "linked-customer-id"],
  },
  settings: z
    .object({
      customer_id: z
        .string()
        .regex(CUSTOMER_ID, "10 digits, no hyphens")
        .describe("Google Ads account to operate on: 10-digit customer ID without hyphens")
        .optional(),
      login_customer_id: z
        .string()
        .regex(CUSTOMER_ID, "10 digits, no hyphens")
        .describe("Manager (MCC) account used to reach customer_id: 10-digit ID without hyphens; sent as login-customer-id")
        .optional(),
      api_version: z
        .string()
        .regex(API_VERSION, "a major version such as v26")
        .describe(`Google Ads API major version; default ${DEFAULT_API_VERSION}`)
        .optional(),
    })
    .strict(),
  api_versions: [
    {
      version: DEFAULT_API_VERSION,
      ends: ESTIMATED[26]!,
      source: `${SUNSET_SOURCE} (v26 sunset not yet announced; estimated a year after release)`,
      confirmed: false,
      setting: "api_version",
      endOf: versionEnd,
    },
  ],
  test: {
    path: (c) => `/${setting(c, "api_version", API_VERSION) ?? DEFAULT_API_VERSION}/customers:listAccessibleCustomers`,
    account_fields: { customer_ids: "id" },
    account_id: "customer_ids",
  },
  hooks: {
    apiHeaders: (c) => {
      const headers: Record<string, string> = {};
      const developerToken = c.env.DEVELOPER_TOKEN;
      if (typeof developerToken === "string" && developerToken !== "") headers["developer-token"] = developerToken;
      const login = setting(c, "login_customer_id", CUSTOMER_ID);
      if (login) headers["login-customer-id"] = login;
      return headers;
    },
    accountFromTestRead: (body) => {
      const b = (typeof body === "object" && body !== null ? body : {}) as Record<string, unknown>;
      if (!Array.isArray(b.resourceNames)) return { customer_ids: null };
      return {
        customer_ids: b.resourceNames.flatMap((r) => {
          const m = typeof r === "string" ? /^customers\/(\d+)$/.exec(r) : null;
          return m?.[1] ? [m[1]] : [];
        }),
      };
    },
  },
});
