/**
 * HubSpot (CRM). OAuth 2.0 authorization code; PKCE accepted (optional), used.
 * Redirect URI to register: `{base}/oauth/callback` (stdio: http://127.0.0.1:$TENEX_CALLBACK_PORT/oauth/callback).
 * Scopes: `oauth` (added to every app) plus CRM contact/company/deal read and write, owners read.
 * Register the app (Projects-based developer platform): https://developers.hubspot.com/docs/apps/developer-platform/build-apps/authentication/oauth/oauth-quickstart-guide
 * Quirks: access tokens live 30 minutes; refresh tokens do not rotate; token endpoints are date-versioned (2026-03).
 * The 2026-03 revoke endpoint takes `token`, `client_id` and `client_secret` in the form body: the RFC 7009 shape
 * with client_secret_post, so it goes through openid-client's tokenRevocation (refresh token, then access token,
 * since revoking a HubSpot refresh token does not end access tokens already issued) and needs no hook.
 * API version: the date-based 2026-03 (token endpoints and the `/account-info/2026-03/details` test read). HubSpot
 * releases a version every March and September; each is unsupported 18 months after it went GA (2026-03: GA on
 * 2026-03-30). Legacy v1–v4 paths lose support in 2027.
 */
import { z } from "zod";
import { defineProvider } from "../src/catalog/catalog.js";

export default defineProvider({
  id: "hubspot",
  name: "HubSpot",
  docs_url: "https://developers.hubspot.com/docs/apps/developer-platform/build-apps/authentication/oauth/oauth-quickstart-guide",
  setup: "An app on HubSpot's Projects-based developer platform with the redirect URI and the CRM scopes.",
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
    // Tickets, and products and line items (e-commerce), on request: object types default_objects may name.
    allowed_extra_scopes: ["tickets", "e-commerce"],
    pkce: true,
    token_auth: "client_secret_post",
    refresh: "refresh_token",
  },
  api: { base_url: "https://api.hubapi.com", docs_url: "https://developers.hubspot.com/docs/api-reference/overview" },
  settings: z
    .object({
      default_objects: z
        .array(z.enum(["contacts", "companies", "deals", "tickets", "products", "line_items", "owners"]))
        .max(20)
        .describe("CRM object types this connector reads or writes by default")
        .optional(),
    })
    .strict(),
  api_versions: [
    // https://developers.hubspot.com/docs/developer-tooling/platform/versioning : "Unsupported: 18 months after a
    // version originally went into GA"; 2026-03 went GA on 2026-03-30 (https://developers.hubspot.com/docs/api-reference/legacy/migration-guide).
    {
      version: "2026-03",
      ends: "2027-09-30",
      source: "https://developers.hubspot.com/docs/developer-tooling/platform/versioning (18 months after GA)",
      confirmed: true,
    },
  ],
  test: {
    path: "/account-info/2026-03/details",
    account_fields: { portal_id: "id", time_zone: "id", currency: "id", account_type: "id" },
    account_id: "portal_id",
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
