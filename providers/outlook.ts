/**
 * Outlook (Microsoft Graph, Microsoft identity platform v2.0). OAuth 2.0 authorization code; PKCE recommended, used.
 * Redirect URI to register (platform "Web", not "SPA"): `{base}/oauth/callback`
 * (stdio: http://127.0.0.1:$TENEX_CALLBACK_PORT/oauth/callback).
 * Scopes: `offline_access` (refresh token), `User.Read` (the `/me` test read), `Mail.ReadBasic` (read mail without
 * bodies or attachments; cannot search) and `Mail.Send`. Tenant admins may have to consent for their users.
 * Register the app: https://learn.microsoft.com/en-us/entra/identity-platform/quickstart-register-app
 * Quirks: endpoints use the `common` tenant (work/school and personal accounts); its discovery issuer is templated
 * (`{tenantid}`), so no issuer is declared and `openid` is not requested. No revocation endpoint exists.
 * Access tokens live 60–90 minutes; every refresh returns a new refresh token (keep the newest). Client secrets
 * expire after at most 24 months.
 */
import { z } from "zod";
import { defineProvider } from "../src/catalog/catalog.js";

export default defineProvider({
  id: "outlook",
  name: "Outlook",
  docs_url: "https://learn.microsoft.com/en-us/entra/identity-platform/quickstart-register-app",
  auth_types: ["oauth2"],
  roles: ["source", "sink"],
  oauth: {
    authorization_url: "https://login.microsoftonline.com/common/oauth2/v2.0/authorize",
    token_url: "https://login.microsoftonline.com/common/oauth2/v2.0/token",
    scopes: ["offline_access", "User.Read", "Mail.ReadBasic", "Mail.Send"],
    authorization_params: { response_mode: "query" },
    pkce: true,
    token_auth: "client_secret_post",
    refresh: "refresh_token",
  },
  api: { base_url: "https://graph.microsoft.com" },
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
    account_fields: ["email", "display_name", "user_id"],
  },
  hooks: {
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
