/**
 * What a provider definition is: the zod schema every `providers/<id>.ts` is parsed with at
 * start (types come from it), and the shapes its hooks see.
 */
import { z } from "zod";

export const PROVIDER_IDS = [
  "gmail",
  "outlook",
  "webflow",
  "sanity",
  "google_ads",
  "linkedin_ads",
  "meta_ads",
  "hubspot",
  "salesforce",
] as const;
export type ProviderId = (typeof PROVIDER_IDS)[number];

export const ROLES = ["source", "sink", "crm_sink"] as const;
export type Role = (typeof ROLES)[number];

export const AUTH_TYPES = ["oauth2", "api_key"] as const;
export type AuthType = (typeof AUTH_TYPES)[number];

export type Json = string | number | boolean | null | Json[] | { [k: string]: Json };
export type AccountFacts = Record<string, Json>;

/**
 * What kind of value an account fact is: an identifier, an email address, a URL or a free-text name.
 * Each has a shape and a hard length cap (see catalog/scrub.ts); only a name may carry words.
 */
export const FACT_TYPES = ["id", "email", "url", "name"] as const;
export type FactType = (typeof FACT_TYPES)[number];

/** Tokens as we keep them (encrypted) after an exchange or refresh. */
export interface TokenSet {
  access_token: string;
  refresh_token?: string | undefined;
  token_type?: string | undefined;
  /** Epoch seconds; absent when the provider gave no lifetime. */
  expires_at?: number | undefined;
  /** Epoch seconds when the refresh token itself stops working, when known. */
  refresh_expires_at?: number | undefined;
  /** Epoch seconds when these tokens were obtained (sizes the refresh margin for short-lived tokens). */
  obtained_at?: number | undefined;
  scope?: string | undefined;
  /** Non-secret extras from the token response that the connector needs (e.g. Salesforce `instance_url`). */
  extras?: Record<string, Json> | undefined;
}

/** What a hook may read about one connector. */
export interface ConnectionView {
  settings: Record<string, unknown>;
  /** Non-secret extras kept from the token response (Salesforce `instance_url`, …). */
  token_extras: Record<string, Json>;
  /** Extra operator settings from `TENEX_<P>_<NAME>` variables, by NAME (e.g. `DEVELOPER_TOKEN`). */
  env: Record<string, string>;
}

export interface TokenHookContext {
  fetch: typeof fetch;
  client_id: string;
  client_secret: string;
  token_url: string;
  now: () => number;
}

/**
 * The OAuth endpoints one connection uses, as kept on its connector row from grant start: refresh
 * and revoke go to the host the grant started on. Only fields a template moved are set; the
 * provider's defaults fill the rest, and operator overrides (`TENEX_<P>_AUTHORIZATION_URL`, …) win.
 */
export interface ConnectionEndpoints {
  authorization_url?: string | undefined;
  token_url?: string | undefined;
  revocation_url?: string | undefined;
  /** The issuer the authorization response's `iss` and the id_token must carry (a sandbox, My Domain or tenant issuer). */
  issuer?: string | undefined;
  /** The tenant the consenting account must belong to (Outlook), as the provider's id (a GUID), once resolved. */
  tenant_id?: string | undefined;
}

/** What a provider's endpoint template makes of one connector's settings. */
export interface EndpointTemplate extends ConnectionEndpoints {
  /**
   * An OpenID discovery document to read at grant start (through the injected fetch): its `issuer`
   * becomes the connection's issuer (an Outlook tenant named by domain resolves to its GUID here).
   */
  discovery_url?: string | undefined;
  /** Scopes added to the request (Outlook with a tenant: `openid`, for the id_token whose tid is checked). */
  extra_scopes?: string[] | undefined;
}

/** What a tenant check sees of one connection: its settings and the endpoints its grant started on. */
export interface TenantCheck {
  settings: Record<string, unknown>;
  endpoints: ConnectionEndpoints | null;
}

/** The end of a pinned API version: when it stops working, and how sure we are. */
export interface VersionEnd {
  /** The day it stops working (YYYY-MM-DD, UTC); null when the provider publishes no end. */
  ends: string | null;
  /** Where the date comes from (a URL and the page's name). */
  source: string;
  /** True when a published schedule states the date; false when it is estimated from the provider's policy. */
  confirmed: boolean;
}

/** What a non-RFC 7009 revocation hook gets (Webflow, Meta). */
export interface RevokeHookContext {
  fetch: typeof fetch;
  client_id: string;
  client_secret: string;
  /** The revocation endpoint after operator overrides, when the provider declares one. */
  revocation_url?: string | undefined;
  /** The API origin of this connection (Meta revokes through the Graph API). */
  api_base_url: string;
  connection: ConnectionView;
}

const url = z.string().url();
const fn = <T>(name: string) => z.custom<T>((v) => typeof v === "function", { message: `${name} must be a function` });

const zodObject = z.custom<z.ZodObject>((v) => v instanceof z.ZodObject, {
  message: "settings must be a zod object schema",
});

export const oauthSchema = z
  .object({
    authorization_url: url,
    token_url: url,
    revocation_url: url.optional(),
    /** Issuer expected in an RFC 9207 `iss` authorization-response parameter; default: the origin of authorization_url. */
    issuer: z.string().optional(),
    /** The scopes every grant asks for: what the provider needs to work (always kept, whatever the agent asks). */
    scopes: z.array(z.string().min(1)),
    /** Scopes an agent may ask for on top of `scopes`; any other scope is refused with invalid_input. */
    allowed_extra_scopes: z.array(z.string().min(1)).default([]),
    scope_separator: z.string().default(" "),
    authorization_params: z.record(z.string(), z.string()).default({}),
    pkce: z.boolean(),
    token_auth: z.enum(["client_secret_post", "client_secret_basic"]).default("client_secret_post"),
    /** How the provider renews access: a refresh-token grant, a non-refreshable token, or a token that never expires. */
    refresh: z.enum(["refresh_token", "none", "non_expiring"]),
    /** When a provider grants refresh tokens only to some apps (LinkedIn partners), refresh runs only when one was granted. */
    refresh_token_optional: z.boolean().default(false),
    /** The provider may refuse to revoke a refresh token (LinkedIn): then the access token is revoked and that is recorded. */
    refresh_revocation_optional: z.boolean().default(false),
    /**
     * Endpoints templated from one connector's settings (Salesforce login_host, Outlook tenant); undefined keeps
     * the defaults above. The settings were checked by the provider's settings schema first: that schema is the
     * SSRF boundary (allow lists of hosts, never free URLs).
     */
    connection_endpoints: fn<(settings: Record<string, unknown>) => EndpointTemplate | undefined>("oauth.connection_endpoints").optional(),
  })
  .strict();

const isoDay = z.string().regex(/^\d{4}-\d{2}-\d{2}$/, "YYYY-MM-DD");

/** The API version a provider pins, dated: a test fails 60 days before any of them ends. */
export const apiVersionSchema = z
  .object({
    /** The version this server uses by default (in paths or headers), as list_providers shows it. */
    version: z.string().min(1),
    ends: isoDay.nullable(),
    source: z.string().min(1),
    confirmed: z.boolean(),
    /** The per-connector setting that picks another version (api_version, linkedin_version). */
    setting: z.string().optional(),
    /** When a version a connector sets ends, when known (undefined: no schedule for it). */
    endOf: fn<(version: string) => VersionEnd | undefined>("api_version.endOf").optional(),
  })
  .strict();
export type ApiVersion = z.output<typeof apiVersionSchema>;

export const apiKeySchema = z
  .object({
    /** What the person pastes, for the tool description. */
    label: z.string().min(1),
    /** Settings the key needs to be usable (Sanity: project_id and dataset). */
    required_settings: z.array(z.string()).default([]),
  })
  .strict();

const testReadSchema = z
  .object({
    method: z.enum(["GET", "POST"]).default("GET"),
    /** Path below the API base, or a function of the connection (API versions, ids from settings). */
    path: z.union([z.string().startsWith("/"), fn<(c: ConnectionView) => string>("test.path")]),
    /** For an API-key connection when its lightest read differs (Webflow site tokens cannot introspect). */
    api_key_path: z.union([z.string().startsWith("/"), fn<(c: ConnectionView) => string>("test.api_key_path")]).optional(),
    body: z.unknown().optional(),
    /** Non-secret account fields this read yields, each with its type; a field not declared here is dropped. */
    account_fields: z.record(z.string(), z.enum(FACT_TYPES)).refine((f) => Object.keys(f).length > 0, "at least one field"),
    /**
     * The account field that identifies the provider account for good (a portal, an org, a mailbox's
     * user id): reconnect in place refuses a consent whose value shares nothing with the connector's.
     */
    account_id: z.string().min(1).optional(),
  })
  .strict()
  .refine((t) => t.account_id === undefined || t.account_id in t.account_fields, {
    path: ["account_id"],
    message: "must name one of account_fields",
  });

export const providerSchema = z
  .object({
    id: z.enum(PROVIDER_IDS),
    name: z.string().min(1),
    /** Where an operator registers the OAuth app or creates the key. */
    docs_url: url,
    /** What an operator registers or creates, and where, in a sentence or two (the README's provider table). */
    setup: z.string().min(1),
    auth_types: z.array(z.enum(AUTH_TYPES)).min(1),
    roles: z.array(z.enum(ROLES)).min(1),
    oauth: oauthSchema.optional(),
    api_key: apiKeySchema.optional(),
    api: z
      .object({
        base_url: url,
        headers: z.record(z.string(), z.string()).default({}),
        /** The provider's API reference, named in call_connector's description. */
        docs_url: url,
        /**
         * Other origins (https, no path) a proxied call may reach besides the API base (Webflow's CDN host).
         * The connection's own hosts come from hooks.apiBaseUrl and hooks.extraApiOrigins.
         */
        extra_origins: z.array(url.refine((v) => new URL(v).origin === v, "an origin: scheme and host, no path")).default([]),
        /**
         * Request headers (lower-case) a proxied call may pass on top of the common ones (accept, content-type,
         * if-match, …): linkedin-version, login-customer-id, x-restli-protocol-version, …
         */
        request_headers: z.array(z.string().regex(/^[a-z0-9-]+$/, "a lower-case header name")).default([]),
      })
      .strict(),
    settings: zodObject,
    /** The API version(s) the provider pins; none for an unversioned or never-ending API. */
    api_versions: z.array(apiVersionSchema).default([]),
    test: testReadSchema,
    hooks: z
      .object({
        /** Adjust a raw token-endpoint JSON body before openid-client reads it (LinkedIn: no token_type). */
        fixTokenResponse: fn<(body: Record<string, unknown>) => Record<string, unknown>>("hooks.fixTokenResponse").optional(),
        /**
         * Revoke a grant at a provider whose revocation is not RFC 7009 (Webflow: JSON body with the access token;
         * Meta: DELETE /me/permissions). Throws when the provider refused or could not be reached.
         */
        revokeToken: fn<(t: TokenSet, c: RevokeHookContext) => Promise<void>>("hooks.revokeToken").optional(),
        /**
         * Check the consenting account's tenant from the id_token claims openid-client validated against the
         * connection's issuer (undefined: no id_token came); a sentence when it does not match (status_reason
         * tenant_mismatch), null when it does or the connection pins no tenant.
         */
        checkTenant: fn<(claims: Record<string, unknown> | undefined, c: TenantCheck) => string | null>("hooks.checkTenant").optional(),
        /** Runs after every code exchange (Meta: swap for a long-lived token). */
        afterTokenExchange: fn<(t: TokenSet, c: TokenHookContext) => Promise<TokenSet>>("hooks.afterTokenExchange").optional(),
        /** Keep these non-secret fields of the token response (Salesforce `instance_url`, `id`). */
        tokenExtras: z.array(z.string()).optional(),
        /** The API origin of one connection when it is not fixed (Salesforce instance_url, Sanity project host). */
        apiBaseUrl: fn<(c: ConnectionView) => string>("hooks.apiBaseUrl").optional(),
        /** More origins this connection's proxied calls may reach (Sanity: the project's apicdn host). */
        extraApiOrigins: fn<(c: ConnectionView) => string[]>("hooks.extraApiOrigins").optional(),
        /** Extra headers on every API call (LinkedIn-Version, Google Ads developer-token, login-customer-id). */
        apiHeaders: fn<(c: ConnectionView) => Record<string, string>>("hooks.apiHeaders").optional(),
        /** Non-secret account facts from the test read's JSON body. */
        accountFromTestRead: fn<(body: unknown, c: ConnectionView) => AccountFacts>("hooks.accountFromTestRead"),
      })
      .strict(),
  })
  .strict()
  .superRefine((p, ctx) => {
    if (p.auth_types.includes("oauth2") && !p.oauth) {
      ctx.addIssue({ code: "custom", path: ["oauth"], message: "required when auth_types includes oauth2" });
    }
    if (p.auth_types.includes("api_key") && !p.api_key) {
      ctx.addIssue({ code: "custom", path: ["api_key"], message: "required when auth_types includes api_key" });
    }
  });

export type ProviderInput = z.input<typeof providerSchema>;
export type ProviderDefinition = z.output<typeof providerSchema>;

/** Identity helper so provider files get types while staying plain data. */
export function defineProvider(def: ProviderInput): ProviderInput {
  return def;
}

/** Parse one definition, naming the provider and the field when it is broken. */
export function parseProvider(raw: unknown): ProviderDefinition {
  const result = providerSchema.safeParse(raw, { jitless: true });
  if (!result.success) {
    const id = typeof raw === "object" && raw !== null && "id" in raw ? String((raw as { id: unknown }).id) : "(unknown)";
    const issues = result.error.issues.map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`).join("; ");
    throw new Error(`provider definition "${id}" is invalid: ${issues}`);
  }
  return result.data;
}
