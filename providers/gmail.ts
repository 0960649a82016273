/**
 * Gmail (Google). OAuth 2.0 authorization code with a "Web application" client; PKCE supported (S256), used.
 * Redirect URI to register: `{base}/oauth/callback` (stdio: http://127.0.0.1:$TENEX_CALLBACK_PORT/oauth/callback).
 * Scopes: `openid email` (account email, and a send-only connection can still be identified), `gmail.metadata`
 * (labels and headers, no bodies; restricted scope) and `gmail.send` (sensitive scope). Restricted scopes need
 * Google app verification and a CASA assessment before production.
 * Register the app: https://console.cloud.google.com/apis/credentials
 * Quirks: a refresh token is issued only with `access_type=offline` and a consent screen, hence `prompt=consent`;
 * in Testing publishing status refresh tokens die after 7 days; about 100 live refresh tokens per account per
 * client (a new one silently invalidates the oldest). The test read (`users.getProfile`) is refused under
 * `gmail.send` alone, so keep `gmail.metadata` (or a broader read scope) in the scope list.
 * Allowed extra scopes (an agent may ask for them): `gmail.readonly`, `gmail.labels`, `gmail.compose`; never
 * `https://mail.google.com/` (full mailbox access, deletion included) nor another Google API's scope.
 * API version: Gmail API v1 (no end announced).
 */
import { z } from "zod";
import { defineProvider } from "../src/catalog/catalog.js";
import { googleOAuth } from "./shared/google.js";

export default defineProvider({
  id: "gmail",
  name: "Gmail",
  docs_url: "https://console.cloud.google.com/apis/credentials",
  setup:
    "A Google Cloud OAuth client of type Web application (APIs & Services \u2192 Credentials) with the redirect URI; `gmail.metadata` is a restricted scope (verification and a CASA assessment before production).",
  auth_types: ["oauth2"],
  roles: ["source", "sink"],
  oauth: googleOAuth(
    ["openid", "email", "https://www.googleapis.com/auth/gmail.metadata", "https://www.googleapis.com/auth/gmail.send"],
    [
      "https://www.googleapis.com/auth/gmail.readonly",
      "https://www.googleapis.com/auth/gmail.labels",
      "https://www.googleapis.com/auth/gmail.compose",
    ],
  ),
  api: {
    base_url: "https://gmail.googleapis.com",
    docs_url: "https://developers.google.com/workspace/gmail/api/reference/rest",
  },
  settings: z
    .object({
      sender_alias: z
        .string()
        .email()
        .max(320)
        .describe("A send-as address of this mailbox to send from (users.settings.sendAs); default: the account address")
        .optional(),
      default_labels: z
        .array(z.string().min(1).max(225))
        .max(50)
        .describe("Gmail label IDs to read from or apply by default (e.g. INBOX, Label_12)")
        .optional(),
    })
    .strict(),
  api_versions: [
    {
      version: "v1",
      ends: null,
      source: "https://developers.google.com/workspace/gmail/api/reference/rest (v1; no end announced)",
      confirmed: false,
    },
  ],
  test: {
    path: "/gmail/v1/users/me/profile",
    account_fields: { email: "email", history_id: "id" },
    account_id: "email",
  },
  hooks: {
    accountFromTestRead: (body) => {
      const b = (typeof body === "object" && body !== null ? body : {}) as Record<string, unknown>;
      const history = b.historyId;
      return {
        email: typeof b.emailAddress === "string" ? b.emailAddress : null,
        history_id: typeof history === "string" || typeof history === "number" ? String(history) : null,
      };
    },
  },
});
