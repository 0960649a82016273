// Every provider's quirk, each against a local stand-in: a real OAuth server (oidc-provider,
// reached through the TENEX_<P>_*_URL overrides) and a fake of the provider's API. One
// in-process server (SDK client over InMemoryTransport) serves all of them.
import crypto from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { getAccessToken } from "../src/credentials/refresh.js";
import { readSecret } from "../src/credentials/secrets.js";
import { getConnectorRow } from "../src/store/connectors.js";
import { LOCAL_WORKSPACE_ID } from "../src/store/workspaces.js";
import { HUBSPOT_SCOPES } from "./sandbox/hubspot.js";
import { issuedBy } from "./sandbox/oauth-server.js";
import { type ProviderSandbox, startProviderSandbox } from "./sandbox/provider.js";
import { type Harness, reservePort, startHarness } from "./support/harness.js";

const MIN = 60_000;
const DAY = 86_400_000;
const GMAIL_SCOPES = ["email", "https://www.googleapis.com/auth/gmail.metadata", "https://www.googleapis.com/auth/gmail.send"];

const sandboxes: Record<string, ProviderSandbox> = {};
let h: Harness;
let redirectUri: string;

// Switches the tests flip to make a stand-in behave like the real provider in one situation.
const google = { dropRefreshTokenOnCode: false };
const linkedin = { partner: false };
const metaLongLived = new Set<string>();
const webflowRevocations: unknown[] = [];
const metaRevocations: string[] = [];

const grants = (p: string, type: string) => sandboxes[p]!.oauth.tokenCalls.filter((c) => c.grant_type === type);
const lastBody = (p: string, type: string) =>
  issuedBy(
    grants(p, type)
      .filter((c) => c.status === 200)
      .at(-1),
  );
const apiCalls = (p: string, path: string) => sandboxes[p]!.api.calls.filter((c) => c.path === path);
const row = (id: string) => getConnectorRow(h.ctx.db, LOCAL_WORKSPACE_ID, id);
const tokensOf = async (id: string) => {
  const s = await readSecret(h.ctx, h.ctx.db, id);
  if (s?.secret.kind !== "oauth2") throw new Error("no oauth tokens");
  return s.secret.tokens;
};
const near = (iso: string | null | undefined, expectedMs: number, slackMs = 2 * MIN) =>
  Math.abs(Date.parse(iso ?? "") - expectedMs) < slackMs;

beforeAll(async () => {
  const reserved = await reservePort();
  redirectUri = reserved.redirectUri;
  const start = async (p: string, opts: Omit<Parameters<typeof startProviderSandbox>[0], "provider" | "redirectUri">) => {
    sandboxes[p] = await startProviderSandbox({ provider: p, redirectUri, ...opts });
  };
  await Promise.all([
    start("gmail", {
      scopes: GMAIL_SCOPES,
      routes: {
        "GET /gmail/v1/users/me/profile": async (req) => ({
          json: {
            emailAddress: `${(await sandboxes.gmail!.oauth.validateAccessToken(req.token ?? ""))?.accountId}@example.com`,
            historyId: "4711",
          },
        }),
      },
      // Google sends no refresh token on a refresh, and none on a re-consent without a consent screen.
      oauth: {
        rewriteTokenResponse: (body, { grant_type }) => {
          if (grant_type === "refresh_token" || (grant_type === "authorization_code" && google.dropRefreshTokenOnCode))
            delete body.refresh_token;
          return body;
        },
      },
    }),
    start("outlook", {
      scopes: ["User.Read", "Mail.ReadBasic", "Mail.Send"],
      routes: { "GET /v1.0/me": () => ({ json: { id: "u-1", displayName: "Alice", mail: "alice@contoso.example" } }) },
      oauth: { rotateRefreshToken: true }, // Microsoft returns a new refresh token on every use
      revocationUrl: null, // and offers no revocation endpoint
    }),
    start("salesforce", {
      scopes: ["api", "refresh_token"],
      apiBaseOverride: false, // the API host must come from instance_url
      routes: {
        "GET /services/oauth2/userinfo": () => ({
          json: { email: "alice@acme.example", preferred_username: "alice@acme", organization_id: "00D1", user_id: "0051" },
        }),
      },
      oauth: {
        rewriteTokenResponse: (body, { grant_type }) => {
          delete body.expires_in; // Salesforce sends no lifetime
          if (grant_type === "authorization_code") body.instance_url = sandboxes.salesforce!.api.url;
          return body; // refresh responses here carry no instance_url: the stored one must survive
        },
      },
    }),
    start("meta_ads", {
      scopes: ["ads_read"],
      extraValidTokens: metaLongLived,
      routes: {
        "GET /v26.0/me/adaccounts": () => ({ json: { data: [{ id: "act_42", name: "Acme Ads" }] } }),
        "DELETE /v26.0/me/permissions": (req) => {
          metaRevocations.push(req.token ?? "");
          return { json: { success: true } };
        },
      },
      oauth: {
        // Meta's long-lived token exchange: GET /oauth/access_token?grant_type=fb_exchange_token&…
        handleGetToken: async (params) => {
          const sb = sandboxes.meta_ads!;
          const short = await sb.oauth.validateAccessToken(params.get("fb_exchange_token") ?? "");
          if (params.get("grant_type") !== "fb_exchange_token" || params.get("client_secret") !== sb.clientSecret || !short) {
            return { status: 400, body: { error: { message: "Invalid OAuth access token.", type: "OAuthException", code: 190 } } };
          }
          const longLived = `EAAL${crypto.randomBytes(24).toString("hex")}`;
          metaLongLived.add(longLived);
          return { status: 200, body: { access_token: longLived, token_type: "bearer", expires_in: 5183944 } };
        },
      },
    }),
    start("hubspot", {
      scopes: HUBSPOT_SCOPES,
      routes: { "GET /account-info/2026-03/details": () => ({ json: { portalId: 4242, timeZone: "Europe/Berlin" } }) },
    }),
    start("linkedin_ads", {
      scopes: ["r_ads", "r_ads_reporting"],
      routes: { "GET /rest/adAccounts": () => ({ json: { elements: [{ id: 508, name: "Acme LinkedIn" }] } }) },
      oauth: {
        accessTokenTtl: 60 * 24 * 3600, // 60 days
        rewriteTokenResponse: (body) => {
          delete body.token_type; // LinkedIn omits it; openid-client refuses such a response unless fixed
          if (!linkedin.partner)
            delete body.refresh_token; // refresh tokens only for Marketing partners
          else body.refresh_token_expires_in = 365 * 24 * 3600;
          return body;
        },
      },
    }),
    start("webflow", {
      scopes: ["sites:read", "cms:read", "cms:write"],
      validateTokens: false,
      revocationUrl: (api) => `${api.url}/oauth/revoke_authorization`,
      routes: {
        "GET /v2/token/introspect": async (req) =>
          (await sandboxes.webflow!.oauth.validateAccessToken(req.token ?? ""))
            ? {
                json: {
                  authorization: { authorizedTo: { siteIds: ["5f0c8c9e1c9d440000e8d8c3"], workspaceIds: [] } },
                  application: { displayName: "tenex" },
                },
              }
            : { status: 401, json: { message: "Request not authorized" } },
        "GET /v2/sites": (req) =>
          req.token === "wf-site-token-0123456789abcdef"
            ? { json: { sites: [{ id: "5f0c8c9e1c9d440000e8d8c3", displayName: "Acme site" }] } }
            : { status: 401, json: { message: "Request not authorized", code: "not_authorized" } },
        "POST /oauth/revoke_authorization": (req) => {
          webflowRevocations.push(req.body);
          return { json: { didRevoke: true } };
        },
      },
      oauth: {
        rewriteTokenResponse: (body) => {
          delete body.expires_in; // Webflow tokens do not expire…
          delete body.refresh_token; // …and come without a refresh token
          return body;
        },
      },
    }),
    start("google_ads", {
      scopes: ["email", "https://www.googleapis.com/auth/adwords"],
      routes: {
        "GET /v26/customers:listAccessibleCustomers": () => ({ json: { resourceNames: ["customers/1234567890", "customers/9876543210"] } }),
      },
    }),
  ]);
  const env = Object.assign({}, ...Object.values(sandboxes).map((s) => s.env), { TENEX_GOOGLE_ADS_DEVELOPER_TOKEN: "dev-token-for-tests" });
  h = await startHarness({ env, port: reserved.port });
});

afterAll(async () => {
  await h?.close();
  await Promise.all(Object.values(sandboxes).map((s) => s.close()));
});

describe("Google (Gmail)", () => {
  it("asks for offline access with a consent screen, and a refresh without a refresh token keeps the stored one", async () => {
    const { connector_id: id, provider_url, page } = await h.connect("gmail");
    const au = new URL(provider_url);
    expect(au.searchParams.get("access_type")).toBe("offline");
    expect(au.searchParams.get("prompt")).toBe("consent");
    expect(page).toContain("Connected Gmail as alice@example.com");
    const original = (await tokensOf(id)).refresh_token;
    expect(original).toBeTruthy();
    for (let i = 0; i < 2; i++) {
      const r = await h.ok("refresh_connector", { connector_id: id });
      expect(r.refreshed).toBe(true);
      expect(lastBody("gmail", "refresh_token").refresh_token).toBeUndefined();
      expect((await tokensOf(id)).refresh_token).toBe(original);
    }
  });

  it("a re-consent that returns no refresh token keeps the stored one", async () => {
    const { connector_id: id } = await h.connect("gmail", { label: "Inbox" });
    const original = (await tokensOf(id)).refresh_token;
    // Only a connector that stopped working is reconnected in place: Google refused one refresh.
    sandboxes.gmail!.oauth.failNextTokenCalls(1, 400, { error: "invalid_grant" });
    await h.fail("refresh_connector", { connector_id: id });
    expect((await row(id)).status).toBe("expired");
    google.dropRefreshTokenOnCode = true;
    try {
      const again = await h.connect("gmail", { connector_id: id });
      expect(again.connector_id).toBe(id);
      expect(again.status).toBe(200);
    } finally {
      google.dropRefreshTokenOnCode = false;
    }
    expect(lastBody("gmail", "authorization_code").refresh_token).toBeUndefined();
    const tokens = await tokensOf(id);
    expect(tokens.refresh_token).toBe(original);
    expect(tokens.access_token).toBe(lastBody("gmail", "authorization_code").access_token);
    const c = await h.ok("get_connector_status", { connector_id: id });
    expect(c).toMatchObject({ status: "connected", label: "Inbox" });
    expect(c.recent_events?.map((e) => e.type)).toContain("reconnect_started");
    expect((await h.ok("refresh_connector", { connector_id: id })).refreshed).toBe(true);
  });
});

describe("Microsoft (Outlook)", () => {
  it("requests offline_access and keeps the newest refresh token Microsoft rotates on every use", async () => {
    const { connector_id: id, provider_url } = await h.connect("outlook");
    expect(new URL(provider_url).searchParams.get("scope")!.split(" ")).toContain("offline_access");
    const seen = new Set([(await tokensOf(id)).refresh_token]);
    for (let i = 0; i < 2; i++) {
      await h.ok("refresh_connector", { connector_id: id });
      const rt = (await tokensOf(id)).refresh_token;
      expect(seen.has(rt)).toBe(false); // rotated, and the new one is what we kept (reusing an old one would fail)
      seen.add(rt);
    }
    expect((await h.ok("test_connector", { connector_id: id })).account).toMatchObject({
      email: "alice@contoso.example",
      display_name: "Alice",
    });
    // Microsoft has no revocation endpoint: the tokens are wiped here and the result says so.
    const r = await h.ok("revoke_connector", { connector_id: id });
    expect(r.provider_revocation).toBe("not_offered");
    expect(r.connector.status_detail).toContain("account settings");
  });
});

describe("Salesforce", () => {
  it("logs in through the overridden endpoints and uses instance_url from the token response as the API host", async () => {
    const sb = sandboxes.salesforce!;
    const { connector_id: id, provider_url } = await h.connect("salesforce");
    expect(new URL(provider_url).origin).toBe(sb.oauth.issuer);
    const c = await h.ok("get_connector_status", { connector_id: id });
    expect(c.account).toMatchObject({ instance_url: sb.api.url, email: "alice@acme.example" });
    expect(apiCalls("salesforce", "/services/oauth2/userinfo").length).toBeGreaterThan(0);
    expect(c.expires_at).toBeUndefined();
    expect((await tokensOf(id)).expires_at).toBeUndefined(); // no expires_in
  });

  it("without expires_in a 401 triggers the refresh, and instance_url survives a refresh response that lacks it", async () => {
    const sb = sandboxes.salesforce!;
    const { connector_id: id } = await h.connect("salesforce");
    const before = grants("salesforce", "refresh_token").length;
    await (await sb.oauth.provider.AccessToken.find((await tokensOf(id)).access_token)).destroy(); // the session ended
    const r = await h.ok("test_connector", { connector_id: id });
    expect(r.ok).toBe(true);
    expect(r.account.instance_url).toBe(sb.api.url);
    expect(grants("salesforce", "refresh_token").length - before).toBe(1);
    expect(lastBody("salesforce", "refresh_token").instance_url).toBeUndefined();
    expect((await tokensOf(id)).extras?.instance_url).toBe(sb.api.url);
  });

  it("a token of unknown lifetime that has not been verified for a while is probed before use", async () => {
    const sb = sandboxes.salesforce!;
    const { connector_id: id } = await h.connect("salesforce");
    const before = grants("salesforce", "refresh_token").length;
    // Recently verified: handed out as is.
    await getAccessToken(h.ctx, await row(id));
    expect(grants("salesforce", "refresh_token").length).toBe(before);
    await (await sb.oauth.provider.AccessToken.find((await tokensOf(id)).access_token)).destroy();
    h.advance(20 * MIN);
    try {
      const cred = await getAccessToken(h.ctx, await row(id));
      expect(cred.refreshed).toBe(true);
      expect(grants("salesforce", "refresh_token").length - before).toBe(1);
      expect(await sb.oauth.validateAccessToken(cred.token)).not.toBeNull();
    } finally {
      h.advance(-20 * MIN);
    }
  });
});

describe("Meta Ads", () => {
  it("swaps the code for a long-lived token, tracks its expiry, and cannot refresh", async () => {
    const { connector_id: id } = await h.connect("meta_ads");
    expect(grants("meta_ads", "fb_exchange_token").at(-1)!.status).toBe(200);
    const tokens = await tokensOf(id);
    expect(metaLongLived.has(tokens.access_token)).toBe(true);
    expect(tokens.refresh_token).toBeUndefined();
    const c = await h.ok("get_connector_status", { connector_id: id });
    expect(c).toMatchObject({ status: "connected", health: "healthy", account: { ad_account_ids: ["act_42"] } });
    expect(near(c.expires_at, Date.now() + 5183944 * 1000)).toBe(true);

    const soon = await h.ok("list_connectors", { expiring_within_days: 61, provider: "meta_ads" });
    expect(soon.connectors.map((x) => x.id)).toContain(id);
    const notYet = await h.ok("list_connectors", { expiring_within_days: 30, provider: "meta_ads" });
    expect(notYet.connectors.map((x) => x.id)).not.toContain(id);

    const r = await h.ok("refresh_connector", { connector_id: id });
    expect(r.refreshed).toBe(false);
    expect(r.detail).toContain("no refresh token");
    expect(near(r.access_expires_at, Date.parse(c.expires_at ?? ""), 1000)).toBe(true);
    expect(grants("meta_ads", "refresh_token")).toHaveLength(0);
  });

  it("turns expired once the long-lived token's time is up", async () => {
    const { connector_id: id } = await h.connect("meta_ads");
    h.advance(61 * DAY);
    try {
      const t = await h.ok("test_connector", { connector_id: id }); // a failed check is a result, not an error
      expect(t.ok).toBe(false);
      expect(t.error).toContain("consent again");
      const c = await h.ok("get_connector_status", { connector_id: id });
      expect(c.status).toBe("expired");
      expect(c.status_detail).toContain("consent again");
      expect((await h.fail("test_connector", { connector_id: id })).code).toBe("invalid_state"); // now it is known
      expect(metaLongLived.size).toBeGreaterThan(0);
    } finally {
      h.advance(-61 * DAY);
    }
  });

  it("revokes through its own hook (DELETE /me/permissions), then wipes the token", async () => {
    const { connector_id: id } = await h.connect("meta_ads");
    const token = (await tokensOf(id)).access_token;
    const r = await h.ok("revoke_connector", { connector_id: id });
    expect(r.provider_revocation).toBe("revoked");
    expect(metaRevocations).toContain(token);
    expect(r.connector.status).toBe("revoked");
    expect(await readSecret(h.ctx, h.ctx.db, id)).toBeUndefined();
  });
});

describe("HubSpot", () => {
  it("refreshes its 30-minute tokens only when they come within the margin of expiry, and revokes by RFC 7009", async () => {
    const { connector_id: id } = await h.connect("hubspot");
    const before = grants("hubspot", "refresh_token").length;
    h.advance(24 * MIN);
    try {
      await h.ok("test_connector", { connector_id: id });
      expect(grants("hubspot", "refresh_token").length).toBe(before); // 6 minutes left: not yet
      h.advance(2 * MIN);
      await h.ok("test_connector", { connector_id: id });
      expect(grants("hubspot", "refresh_token").length - before).toBe(1); // 4 minutes left: refreshed
    } finally {
      h.advance(-26 * MIN);
    }
    const revBefore = sandboxes.hubspot!.oauth.revocationCalls.length;
    const r = await h.ok("revoke_connector", { connector_id: id });
    expect(r.provider_revocation).toBe("revoked");
    const calls = sandboxes.hubspot!.oauth.revocationCalls.slice(revBefore);
    expect(calls.map((c) => c.token_type_hint)).toEqual(["refresh_token", "access_token"]);
    expect(calls.every((c) => c.status === 200)).toBe(true);
  });
});

describe("LinkedIn Ads", () => {
  it("fixes the token response without token_type, sends LinkedIn-Version, and without a refresh token reports when access ends", async () => {
    const { connector_id: id, status } = await h.connect("linkedin_ads", { settings: { linkedin_version: "202601" } });
    expect(status).toBe(200);
    expect(lastBody("linkedin_ads", "authorization_code").token_type).toBeUndefined();
    const c = await h.ok("get_connector_status", { connector_id: id });
    expect(c).toMatchObject({ status: "connected", account: { ad_account_ids: ["508"] } });
    const call = apiCalls("linkedin_ads", "/rest/adAccounts").at(-1)!;
    expect(call.headers["linkedin-version"]).toBe("202601");
    expect(call.headers["x-restli-protocol-version"]).toBe("2.0.0");
    expect(near(c.expires_at, Date.now() + 60 * DAY)).toBe(true);
    const r = await h.ok("refresh_connector", { connector_id: id });
    expect(r.refreshed).toBe(false);
    expect(grants("linkedin_ads", "refresh_token")).toHaveLength(0);
    h.advance(61 * DAY);
    try {
      expect((await h.ok("list_connectors", { status: "connected", expiring_within_days: 1 })).connectors.map((x) => x.id)).toContain(id);
      await h.fail("refresh_connector", { connector_id: id });
      expect((await h.ok("get_connector_status", { connector_id: id })).status).toBe("expired");
    } finally {
      h.advance(-61 * DAY);
    }
  });

  it("refreshes when LinkedIn granted a refresh token (partners), and the refresh token's own end is the expiry", async () => {
    linkedin.partner = true;
    try {
      const { connector_id: id } = await h.connect("linkedin_ads");
      const c = await h.ok("get_connector_status", { connector_id: id });
      expect(near(c.expires_at, Date.now() + 365 * DAY)).toBe(true);
      const r = await h.ok("refresh_connector", { connector_id: id });
      expect(r.refreshed).toBe(true);
      expect(lastBody("linkedin_ads", "refresh_token").token_type).toBeUndefined();
      expect(apiCalls("linkedin_ads", "/rest/adAccounts").at(-1)!.headers["linkedin-version"]).toBe("202607"); // the default
    } finally {
      linkedin.partner = false;
    }
  });
});

describe("Webflow", () => {
  it("never refreshes its non-expiring tokens, and revokes with its own JSON request", async () => {
    const { connector_id: id } = await h.connect("webflow");
    const c = await h.ok("get_connector_status", { connector_id: id });
    expect(c).toMatchObject({ status: "connected", account: { site_ids: ["5f0c8c9e1c9d440000e8d8c3"], application: "tenex" } });
    expect(c.expires_at).toBeUndefined();
    const calls = sandboxes.webflow!.oauth.tokenCalls.length;
    h.advance(400 * DAY);
    try {
      expect((await h.ok("test_connector", { connector_id: id })).ok).toBe(true);
      const r = await h.ok("refresh_connector", { connector_id: id });
      expect(r.refreshed).toBe(false);
      expect(r.detail).toContain("do not expire");
    } finally {
      h.advance(-400 * DAY);
    }
    expect(sandboxes.webflow!.oauth.tokenCalls.length).toBe(calls);
    const token = (await tokensOf(id)).access_token;
    const rev = await h.ok("revoke_connector", { connector_id: id });
    expect(rev.provider_revocation).toBe("revoked");
    expect(webflowRevocations.at(-1)).toEqual({
      client_id: sandboxes.webflow!.clientId,
      client_secret: sandboxes.webflow!.clientSecret,
      access_token: token,
    });
  });

  it("accepts a site token (BYOK), checked with GET /v2/sites", async () => {
    const c = await h.ok("submit_connector_key", {
      provider: "webflow",
      api_key: "wf-site-token-0123456789abcdef",
      settings: { site_id: "5f0c8c9e1c9d440000e8d8c3" },
    });
    expect(c).toMatchObject({
      auth_type: "api_key",
      status: "connected",
      account: { site_ids: ["5f0c8c9e1c9d440000e8d8c3"], site_names: ["Acme site"] },
    });
    const r = await h.ok("refresh_connector", { connector_id: c.id });
    expect(r.refreshed).toBe(false);
  });
});

describe("Google Ads", () => {
  it("sends developer-token when the operator set one, and login-customer-id from the connector's settings", async () => {
    const { connector_id: id, provider_url } = await h.connect("google_ads", {
      settings: { login_customer_id: "9876543210", customer_id: "1234567890" },
    });
    expect(new URL(provider_url).searchParams.get("access_type")).toBe("offline");
    let call = apiCalls("google_ads", "/v26/customers:listAccessibleCustomers").at(-1)!;
    expect(call.headers["developer-token"]).toBe("dev-token-for-tests");
    expect(call.headers["login-customer-id"]).toBe("9876543210");
    expect((await h.ok("get_connector_status", { connector_id: id })).account.customer_ids).toEqual(["1234567890", "9876543210"]);

    // The same database served without TENEX_GOOGLE_ADS_DEVELOPER_TOKEN: no header.
    const env = Object.assign({}, ...Object.values(sandboxes).map((s) => s.env));
    const bare = await startHarness({ env, share: h, listen: false });
    try {
      expect((await bare.ok("test_connector", { connector_id: id })).ok).toBe(true);
      call = apiCalls("google_ads", "/v26/customers:listAccessibleCustomers").at(-1)!;
      expect(call.headers["developer-token"]).toBeUndefined();
      expect(call.headers["login-customer-id"]).toBe("9876543210");
    } finally {
      await bare.close();
    }
  });
});
