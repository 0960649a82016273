/**
 * HubSpot (CRM). OAuth 2.0 authorization code; PKCE accepted (optional), used.
 * Redirect URI to register: `{base}/oauth/callback` (stdio: http://127.0.0.1:$TENEX_CALLBACK_PORT/oauth/callback).
 * Scopes: `oauth` (added to every app) plus CRM contact/company/deal read and write, owners read.
 * Register the app (Projects-based developer platform): https://developers.hubspot.com/docs/apps/developer-platform/build-apps/authentication/oauth/oauth-quickstart-guide
 * Quirks: access tokens live 30 minutes; refresh tokens do not rotate; token endpoints are date-versioned (2026-03).
 * The 2026-03 revoke endpoint takes `token`, `client_id` and `client_secret` in the form body: the RFC 7009 shape
 * with client_secret_post, so it goes through openid-client's tokenRevocation (refresh token, then access token,
 * since revoking a HubSpot refresh token does not end access tokens already issued) and needs no hook.
 */
import { z } from "zod";
import { defineProvider } from "../src/catalog/catalog.js";

export default defineProvider({
  id: "hubspot",
  name: "HubSpot",
  docs_url: "https://developers.hubspot.com/docs/apps/developer-platform/build-apps/authentication/oauth/oauth-quickstart-guide",
  auth_types: ["oauth2"],
  roles: ["source", "crm_sink"],
  oauth: {
    authorization_url: "https://app.hubspot.com/oauth/authorize",
    token_url: "https://api.hubapi.com/oauth/2026-03/token",
    revocation_url: "https://api.hubapi.com/oauth/2026-03/token/revoke",
    scopes: [
      "oauth",
      "crm.objects.contacts.read",
      "crm.objects.contacts.write",
      "crm.objects.companies.read",
      "crm.objects.companies.write",
      "crm.objects.deals.read",
      "crm.objects.deals.write",
      "crm.objects.owners.read",
    ],
    pkce: true,
    token_auth: "client_secret_post",
    refresh: "refresh_token",
  },
  api: { base_url: "https://api.hubapi.com" },
  settings: z
    .object({
      default_objects: z
        .array(z.enum(["contacts", "companies", "deals", "tickets", "products", "line_items", "owners"]))
        .max(20)
        .describe("CRM object types this connector reads or writes by default")
        .optional(),
    })
    .strict(),
  test: {
    path: "/account-info/v3/details",
    account_fields: ["portal_id", "time_zone", "currency", "account_type"],
  },
  hooks: {
    accountFromTestRead: (body) => {
      const b = (body ?? {}) as Record<string, unknown>;
      return {
        portal_id: typeof b.portalId === "number" || typeof b.portalId === "string" ? b.portalId : null,
        time_zone: typeof b.timeZone === "string" ? b.timeZone : null,
        currency: typeof b.companyCurrency === "string" ? b.companyCurrency : null,
        account_type: typeof b.accountType === "string" ? b.accountType : null,
      };
    },
  },
});
