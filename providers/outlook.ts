/**
 * Outlook (Microsoft Graph, Microsoft identity platform v2.0). OAuth 2.0 authorization code; PKCE recommended, used.
 * Register: Microsoft Entra admin center → App registrations → New registration, platform "Web" (not "SPA"),
 * redirect URI `{base}/oauth/callback` (stdio: http://127.0.0.1:$TENEX_CALLBACK_PORT/oauth/callback), a client secret
 * (they expire after at most 24 months), and the delegated permissions below.
 * Docs: https://learn.microsoft.com/en-us/entra/identity-platform/quickstart-register-app
 * Single- or multi-tenant: the portal's default, "Accounts in this organizational directory only", is a
 * single-tenant app. It fails on the `common` endpoints (AADSTS50194): give such connectors the setting `tenant`
 * (the directory's GUID or a verified domain). A multi-tenant app ("Accounts in any organizational directory", with
 * or without personal accounts) works without it; `tenant: organizations` restricts sign-in to work/school accounts
 * and `consumers` to personal ones (Microsoft's endpoints enforce both).
 * With a GUID or domain tenant the endpoints become `https://login.microsoftonline.com/{tenant}/oauth2/v2.0/…`, the
 * tenant's discovery document names its issuer (a domain resolves to the GUID there), `openid` is requested, and
 * the id_token (checked against that issuer) must carry the tenant's `tid`: an account of another tenant is refused
 * (status_reason tenant_mismatch) and its tokens are not kept. Changing `tenant` on a connector needs a reconnect.
 * Scopes: `offline_access` (refresh token), `User.Read` (the `/me` test read), `Mail.ReadBasic` (read mail without
 * bodies or attachments; cannot search) and `Mail.Send`. Tenant admins may have to consent for their users.
 * Quirks: the `common` discovery issuer is templated (`{tenantid}`), so without a tenant no issuer is declared and
 * `openid` is not requested. No revocation endpoint exists. Access tokens live 60–90 minutes; every refresh returns
 * a new refresh token (keep the newest).
 * API version: Microsoft Graph v1.0 (no end announced).
 */
import { z } from "zod";
import { defineProvider, type TenantCheck } from "../src/catalog/catalog.js";

const MICROSOFT_LOGIN = "https://login.microsoftonline.com";
const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const DOMAIN = /^[a-z0-9-]+(\.[a-z0-9-]+)+$/i;
/** Tenants that name one directory (a GUID or a verified domain): the consenting account must belong to it. */
const pinnedTenant = (v: unknown): string | null => (typeof v === "string" && (GUID.test(v) || DOMAIN.test(v)) ? v.toLowerCase() : null);
/** The GUID in a tenant's v2.0 issuer, `https://login.microsoftonline.com/{guid}/v2.0`. */
const issuerTenant = (issuer: string | undefined): string | null =>
  /^https:\/\/login\.microsoftonline\.com\/([0-9a-f-]{36})\/v2\.0$/i.exec(issuer ?? "")?.[1]?.toLowerCase() ?? null;

/** The tenant an id_token must carry for this connection; a sentence when it does not (or null). */
const checkTenant = (claims: Record<string, unknown> | undefined, c: TenantCheck): string | null => {
  const pinned = pinnedTenant(c.settings.tenant);
  if (!pinned) return null;
  const expected = issuerTenant(c.endpoints?.issuer) ?? (GUID.test(pinned) ? pinned : null);
  if (!claims) return "Microsoft returned no id_token, so the account's tenant could not be checked";
  const tid = typeof claims.tid === "string" ? claims.tid.toLowerCase() : null;
  if (!expected) return "the tenant's id could not be resolved from its discovery document";
  if (tid !== expected) return `the account's tenant is ${tid ?? "not stated"}, not ${expected}`;
  return null;
};

export default defineProvider({
  id: "outlook",
  name: "Outlook",
  docs_url: "https://learn.microsoft.com/en-us/entra/identity-platform/quickstart-register-app",
  setup:
    "An Entra app registration (platform Web) with the redirect URI and a client secret. Single-tenant (the portal's default) needs each connector's `tenant`; multi-tenant works on `common`.",
  auth_types: ["oauth2"],
  roles: ["source", "sink"],
  oauth: {
    authorization_url: "https://login.microsoftonline.com/common/oauth2/v2.0/authorize",
    token_url: "https://login.microsoftonline.com/common/oauth2/v2.0/token",
    scopes: ["offline_access", "User.Read", "Mail.ReadBasic", "Mail.Send"],
    // Reading whole messages and the mailbox's settings (send-as addresses) on request; never Mail.ReadWrite or Files.*.
    allowed_extra_scopes: ["Mail.Read", "MailboxSettings.Read"],
    authorization_params: { response_mode: "query" },
    pkce: true,
    token_auth: "client_secret_post",
    refresh: "refresh_token",
    connection_endpoints: (settings) => {
      const tenant = typeof settings.tenant === "string" ? settings.tenant.toLowerCase() : "common";
      if (tenant === "common") return undefined;
      const base = `${MICROSOFT_LOGIN}/${encodeURIComponent(tenant)}`;
      const endpoints = { authorization_url: `${base}/oauth2/v2.0/authorize`, token_url: `${base}/oauth2/v2.0/token` };
      // organizations / consumers: Microsoft's endpoint restricts the accounts; its issuer is templated, nothing to pin.
      if (!pinnedTenant(tenant)) return endpoints;
      return { ...endpoints, discovery_url: `${base}/v2.0/.well-known/openid-configuration`, extra_scopes: ["openid"] };
    },
  },
  api: {
    base_url: "https://graph.microsoft.com",
    docs_url: "https://learn.microsoft.com/en-us/graph/api/overview",
    request_headers: ["prefer", "consistencylevel"],
  },
  api_versions: [
    {
      version: "v1.0",
      ends: null,
      source: "https://learn.microsoft.com/en-us/graph/versioning-and-support (v1.0 is the GA endpoint; no end announced)",
      confirmed: false,
    },
  ],
  settings: z
    .object({
      sender_address: z
        .string()
        .email()
        .max(320)
        .describe("Mailbox or alias to send from (needs Send As / Send on Behalf rights); default: the signed-in user")
        .optional(),
      default_folder: z
        .string()
        .min(1)
        .max(255)
        .describe("Mail folder to read by default: a well-known name (inbox, sentitems, …) or a folder ID")
        .optional(),
      tenant: z
        .string()
        .regex(
          /^(common|organizations|consumers|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|[a-z0-9-]+(\.[a-z0-9-]+)+)$/i,
          "common, organizations, consumers, a tenant GUID or a verified domain",
        )
        .describe("Microsoft Entra tenant the account must belong to: common, organizations, consumers, a tenant GUID or domain")
        .optional(),
    })
    .strict(),
  test: {
    path: "/v1.0/me?$select=id,displayName,mail,userPrincipalName",
    account_fields: { email: "email", display_name: "name", user_id: "id" },
    account_id: "user_id",
  },
  hooks: {
    checkTenant,
    accountFromTestRead: (body) => {
      const b = (typeof body === "object" && body !== null ? body : {}) as Record<string, unknown>;
      const mail = typeof b.mail === "string" && b.mail !== "" ? b.mail : null;
      const upn = typeof b.userPrincipalName === "string" && b.userPrincipalName !== "" ? b.userPrincipalName : null;
      return {
        email: mail ?? upn,
        display_name: typeof b.displayName === "string" ? b.displayName : null,
        user_id: typeof b.id === "string" ? b.id : null,
      };
    },
  },
});
