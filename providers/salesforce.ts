/**
 * Salesforce (CRM). OAuth 2.0 web-server (authorization code) flow with an External Client App (ECA; new Connected
 * Apps cannot be created since Spring '26); PKCE supported and required for partner apps, used.
 * Register: Setup → External Client App Manager → New External Client App, with OAuth enabled, the callback URL
 * `{base}/oauth/callback` (stdio: http://127.0.0.1:$TENEX_CALLBACK_PORT/oauth/callback), the scopes below and PKCE.
 * A **Local** ECA works only in the org that created it: to connect other orgs (customers', or your sandboxes in
 * other orgs) the ECA must be **Packaged** (distribution state "Packaged") and installed in each org.
 * Docs: https://help.salesforce.com/s/articleView?id=xcloud.external_client_apps.htm&type=5
 * Scopes: `api` (REST access as the user; what they may do comes from their profile), `refresh_token` (offline
 * access) and `openid` (identity; the id_token is checked against the issuer of the host the grant signs in on).
 * Where each connector signs in: setting `login_host` = `production` (login.salesforce.com, the default),
 * `sandbox` (test.salesforce.com), or the org's My Domain URL (`https://<name>.my.salesforce.com`, a sandbox's
 * `https://<name>--<sandbox>.sandbox.my.salesforce.com`, or an Experience Cloud `https://<name>.my.site.com`).
 * Authorization, token and revocation endpoints and the issuer move with it, and the connector keeps the host its
 * grant started on (refresh and revoke go there); changing login_host needs a reconnect. Only https URLs on those
 * Salesforce domains are accepted (no other host, port, userinfo, path or IP literal): the server sends its client
 * secret there. TENEX_SALESFORCE_AUTHORIZATION_URL / _TOKEN_URL / _REVOCATION_URL still override every connector.
 * Quirks: the API host differs per org: it is `instance_url` from the token response (kept as a token extra, and
 * accepted only on Salesforce domains); the base URL below is only a placeholder. The token response has no
 * `expires_in` (access lasts the session timeout): a 401 is the signal to refresh. Refresh-token rotation and a
 * 30-day idle TTL may be enabled per app.
 * API version: v68.0 (Winter '27); Salesforce supports each version at least three years.
 */
import { z } from "zod";
import { type ConnectionView, defineProvider, isLoopbackHost, type VersionEnd } from "../src/catalog/catalog.js";
import { allowedSignInOrigin } from "../src/catalog/endpoints.js";

const PLACEHOLDER_BASE = "https://login.salesforce.com";
const LOGIN_HOSTS: Record<string, string> = { sandbox: "https://test.salesforce.com" };
/** My Domain hosts (sandboxes' `*.sandbox.my.salesforce.com` included) and Experience Cloud sites. */
const MY_DOMAIN_SUFFIXES = [".my.salesforce.com", ".my.site.com"];
/** Hosts an org's API (instance_url) may live on. */
const INSTANCE_SUFFIXES = [".salesforce.com", ".force.com", ".my.site.com", ".salesforce.mil"];

const myDomainUrl = z
  .string()
  .max(253)
  .refine(
    (v) => allowedSignInOrigin(v, MY_DOMAIN_SUFFIXES) !== null,
    "an https My Domain URL such as https://acme.my.salesforce.com (no path, port or userinfo)",
  );

/** The sign-in origin a login_host setting names; null for production (the default endpoints). */
const loginOrigin = (v: unknown): string | null => {
  if (typeof v !== "string" || v === "production") return null;
  return LOGIN_HOSTS[v] ?? allowedSignInOrigin(v, MY_DOMAIN_SUFFIXES);
};

/** The org's API origin from the token response's instance_url, when it is on a Salesforce domain (or loopback, for test servers). */
const instanceUrl = (c: ConnectionView): string | null => {
  const v = c.token_extras.instance_url;
  if (typeof v !== "string") return null;
  try {
    const u = new URL(v);
    if (u.username || u.password || u.port) return isLoopbackHost(u.hostname) ? u.origin : null;
    if (u.protocol === "https:" && INSTANCE_SUFFIXES.some((s) => u.hostname.endsWith(s))) return u.origin;
    if ((u.protocol === "http:" || u.protocol === "https:") && isLoopbackHost(u.hostname)) return u.origin;
  } catch {
    // not a URL
  }
  return null;
};

const API_VERSION = /^v?(\d+)\.\d$/;
/**
 * Versions 7.0–30.0 are retired (21.0–30.0 "as of the Summer '25 release"; the day is estimated as that release's
 * last production wave): https://help.salesforce.com/s/articleView?id=000354473&type=1 . No later retirement is
 * scheduled; 31.0 and up are supported.
 */
const versionEnd = (v: string): VersionEnd | undefined => {
  const major = Number(API_VERSION.exec(v)?.[1]);
  if (!(major <= 30)) return undefined;
  return { ends: "2025-06-14", source: "https://help.salesforce.com/s/articleView?id=000354473&type=1", confirmed: false };
};

export default defineProvider({
  id: "salesforce",
  name: "Salesforce",
  docs_url: "https://help.salesforce.com/s/articleView?id=xcloud.external_client_apps.htm&type=5",
  setup:
    "An External Client App (Setup \u2192 External Client App Manager) with OAuth, PKCE and the callback URL; it must be **Packaged** and installed in each org it connects (a Local ECA works only in its own org). Per connector `login_host`: production, sandbox or a My Domain URL.",
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
    // Every endpoint and the issuer move with login_host; the settings schema above is the allow list.
    connection_endpoints: (settings) => {
      const origin = loginOrigin(settings.login_host);
      if (!origin) return undefined;
      return {
        authorization_url: `${origin}/services/oauth2/authorize`,
        token_url: `${origin}/services/oauth2/token`,
        revocation_url: `${origin}/services/oauth2/revoke`,
        issuer: origin,
      };
    },
  },
  api: {
    // The calls of a connection go to its instance_url (hooks.apiBaseUrl), never to this placeholder once connected.
    base_url: PLACEHOLDER_BASE,
    docs_url: "https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/",
    request_headers: ["sforce-query-options", "sforce-auto-assign"],
  },
  settings: z
    .object({
      login_host: z
        .union([z.enum(["production", "sandbox"]), myDomainUrl])
        .describe(
          "Where the org signs in: production (default), sandbox, or its My Domain URL (https://<domain>.my.salesforce.com); fixed once connected",
        )
        .optional(),
      api_version: z
        .string()
        .regex(API_VERSION, "a version such as v68.0")
        .describe("REST API version for your calls, e.g. v68.0 (Winter '27)")
        .optional(),
    })
    .strict(),
  api_versions: [
    // Winter '27 (Oct 2026). Salesforce supports each version at least 3 years from its first release and gives a
    // year's notice (API End-of-Life Policy): estimated end, Oct 2029.
    // https://developer.salesforce.com/docs/revenue/subscription-management/guide/api-end-of-life.html
    {
      version: "v68.0",
      ends: "2029-10-01",
      source:
        "https://developer.salesforce.com/docs/revenue/subscription-management/guide/api-end-of-life.html (API End-of-Life Policy: at least 3 years)",
      confirmed: false,
      setting: "api_version",
      endOf: versionEnd,
    },
  ],
  test: {
    path: "/services/oauth2/userinfo",
    account_fields: { email: "email", username: "id", organization_id: "id", user_id: "id", instance_url: "url" },
    account_id: "organization_id",
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
