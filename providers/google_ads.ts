/**
 * Google Ads. OAuth 2.0 authorization code on Google's endpoints; PKCE supported (S256), used.
 * Redirect URI to register: `{base}/oauth/callback` (stdio: http://127.0.0.1:$TENEX_CALLBACK_PORT/oauth/callback).
 * Scopes: `openid email` (which Google account granted access) and `adwords`, the only Ads scope (read and write;
 * sensitive, so the app needs Google verification).
 * Register the app (an OAuth client in the Google Cloud project whose access level the API uses): https://developers.google.com/google-ads/api/docs/oauth/cloud-project
 * Quirks: `access_type=offline` and `prompt=consent` to get a refresh token; Testing-mode refresh tokens die after
 * 7 days; about 100 live refresh tokens per account per client. Developer tokens were retired in Sep 2026: the
 * `developer-token` header is sent only when TENEX_GOOGLE_ADS_DEVELOPER_TOKEN is set. `login-customer-id` (the
 * manager account, 10 digits, no hyphens) is sent when set. Majors live about a year; keep api_version current.
 */
import { z } from "zod";
import { googleOAuth } from "./shared/google.js";
import { defineProvider, type ConnectionView } from "../src/catalog/catalog.js";

const DEFAULT_API_VERSION = "v26";
const API_VERSION = /^v\d+$/;
const CUSTOMER_ID = /^\d{10}$/;

const setting = (c: ConnectionView, key: string, pattern: RegExp): string | null => {
  const v = c.settings[key];
  return typeof v === "string" && pattern.test(v) ? v : null;
};

export default defineProvider({
  id: "google_ads",
  name: "Google Ads",
  docs_url: "https://developers.google.com/google-ads/api/docs/oauth/cloud-project",
  auth_types: ["oauth2"],
  roles: ["source"],
  oauth: googleOAuth(["openid", "email", "https://www.googleapis.com/auth/adwords"]),
  api: { base_url: "https://googleads.googleapis.com" },
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
  test: {
    path: (c) => `/${setting(c, "api_version", API_VERSION) ?? DEFAULT_API_VERSION}/customers:listAccessibleCustomers`,
    account_fields: ["customer_ids"],
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
