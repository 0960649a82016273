/**
 * Salesforce (CRM). OAuth 2.0 web-server (authorization code) flow with an External Client App (new Connected
 * Apps cannot be created since Spring '26); PKCE supported and required for partner apps, used.
 * Redirect URI to register (ECA → OAuth Settings → Callback URL): `{base}/oauth/callback`
 * (stdio: http://127.0.0.1:$TENEX_CALLBACK_PORT/oauth/callback).
 * Scopes: `api` (REST access as the user; what they may do comes from their profile), `refresh_token` (offline
 * access) and `openid` (identity; the id_token is checked against issuer https://login.salesforce.com).
 * Register the app (Setup → External Client App Manager → New External Client App): https://help.salesforce.com/s/articleView?id=xcloud.external_client_apps.htm&type=5
 * Quirks: the API host differs per org: it is `instance_url` from the token response, kept as a token extra;
 * the base URL below is only a placeholder. The token response has no `expires_in` (access lasts the session
 * timeout): a 401 is the signal to refresh. Refresh-token rotation and a 30-day idle TTL may be enabled per app.
 * Sandboxes log in at test.salesforce.com and My Domains at https://{domain}.my.salesforce.com: point
 * TENEX_SALESFORCE_AUTHORIZATION_URL / _TOKEN_URL / _REVOCATION_URL there.
 */
import { z } from "zod";
import { defineProvider, isLoopbackHost, type ConnectionView } from "../src/catalog/catalog.js";

const PLACEHOLDER_BASE = "https://login.salesforce.com";

const myDomainUrl = z
  .string()
  .url()
  .refine((v) => {
    try {
      const u = new URL(v);
      return (
        u.protocol === "https:" &&
        u.hostname.endsWith(".my.salesforce.com") &&
        u.port === "" &&
        u.username === "" &&
        u.password === "" &&
        (u.pathname === "/" || u.pathname === "") &&
        u.search === "" &&
        u.hash === ""
      );
    } catch {
      return false;
    }
  }, "an https My Domain URL such as https://acme.my.salesforce.com");

/** The org's API origin from the token response's instance_url, when it is a usable URL. */
const instanceUrl = (c: ConnectionView): string | null => {
  const v = c.token_extras.instance_url;
  if (typeof v !== "string") return null;
  try {
    const u = new URL(v);
    if (u.protocol === "https:" || (u.protocol === "http:" && isLoopbackHost(u.hostname))) return u.origin;
  } catch {
    // not a URL
  }
  return null;
};

export default defineProvider({
  id: "salesforce",
  name: "Salesforce",
  docs_url: "https://help.salesforce.com/s/articleView?id=xcloud.external_client_apps.htm&type=5",
  auth_types: ["oauth2"],
  roles: ["source", "crm_sink"],
  oauth: {
    authorization_url: "https://login.salesforce.com/services/oauth2/authorize",
    token_url: "https://login.salesforce.com/services/oauth2/token",
    revocation_url: "https://login.salesforce.com/services/oauth2/revoke",
    issuer: "https://login.salesforce.com",
    scopes: ["api", "refresh_token", "openid"],
    authorization_params: { prompt: "consent" },
    pkce: true,
    token_auth: "client_secret_post",
    refresh: "refresh_token",
  },
  api: { base_url: PLACEHOLDER_BASE },
  settings: z
    .object({
      login_host: z
        .union([z.enum(["production", "sandbox"]), myDomainUrl])
        .describe("Where the org logs in: production, sandbox, or its My Domain URL (https://<domain>.my.salesforce.com)")
        .optional(),
      api_version: z
        .string()
        .regex(/^v?\d+\.\d$/, "a version such as v66.0")
        .describe("REST API version, e.g. v66.0 (Spring '26)")
        .optional(),
    })
    .strict(),
  test: {
    path: "/services/oauth2/userinfo",
    account_fields: ["email", "username", "organization_id", "user_id", "instance_url"],
  },
  hooks: {
    tokenExtras: ["instance_url", "id", "issued_at"],
    apiBaseUrl: (c) => instanceUrl(c) ?? PLACEHOLDER_BASE,
    accountFromTestRead: (body, c) => {
      const b = (typeof body === "object" && body !== null ? body : {}) as Record<string, unknown>;
      return {
        email: typeof b.email === "string" ? b.email : null,
        username: typeof b.preferred_username === "string" ? b.preferred_username : null,
        organization_id: typeof b.organization_id === "string" ? b.organization_id : null,
        user_id: typeof b.user_id === "string" ? b.user_id : null,
        instance_url: instanceUrl(c),
      };
    },
  },
});
