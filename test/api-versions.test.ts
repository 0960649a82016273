// API versions as dated data: the calendar guard (read from the app's injected clock), version settings refused
// once ended and flagged on connectors that already have them; and two token quirks guarded cheaply (Webflow's
// token response without token_type, LinkedIn refusing to revoke a refresh token).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { definitions } from "../providers/index.js";
import { buildCatalog } from "../src/catalog/catalog.js";
import { checkVersionSettings, versionsEndingWithin } from "../src/catalog/versions.js";
import { type ProviderSandbox, startProviderSandbox } from "./sandbox/provider.js";
import { type Harness, reservePort, startHarness } from "./support/harness.js";

const DAY = 86_400_000;
const META_KEY = "EAAL-system-user-token-for-tests-0123456789";

const sandboxes: Record<string, ProviderSandbox> = {};
let h: Harness;

beforeAll(async () => {
  const { port, redirectUri } = await reservePort();
  const metaKeys = new Set([META_KEY]);
  const adAccounts = () => ({ json: { data: [{ id: "act_42", name: "Acme Ads" }] } });
  [sandboxes.meta_ads, sandboxes.linkedin_ads, sandboxes.webflow] = await Promise.all([
    startProviderSandbox({
      provider: "meta_ads",
      redirectUri,
      scopes: ["ads_read"],
      extraValidTokens: metaKeys,
      routes: { "GET /v25.0/me/adaccounts": adAccounts, "GET /v26.0/me/adaccounts": adAccounts },
    }),
    startProviderSandbox({
      provider: "linkedin_ads",
      redirectUri,
      scopes: ["r_ads", "r_ads_reporting"],
      routes: { "GET /rest/adAccounts": () => ({ json: { elements: [{ id: 508, name: "Acme LinkedIn" }] } }) },
      oauth: {
        // A Marketing partner: a refresh token comes, token_type does not.
        rewriteTokenResponse: (body) => {
          delete body.token_type;
          body.refresh_token_expires_in = 365 * 24 * 3600;
          return body;
        },
      },
    }),
    startProviderSandbox({
      provider: "webflow",
      redirectUri,
      scopes: ["sites:read", "cms:read", "cms:write"],
      routes: {
        "GET /v2/token/introspect": () => ({
          json: { authorization: { authorizedTo: { siteIds: ["5f0c8c9e1c9d440000e8d8c3"] } }, application: { displayName: "tenex" } },
        }),
      },
      oauth: {
        rewriteTokenResponse: (body) => {
          delete body.token_type; // unconfirmed for Webflow; openid-client refuses such a response unless fixed
          delete body.expires_in;
          delete body.refresh_token;
          return body;
        },
      },
    }),
  ]);
  h = await startHarness({ env: Object.assign({}, ...Object.values(sandboxes).map((s) => s.env)), port });
});

afterAll(async () => {
  await h?.close();
  await Promise.all(Object.values(sandboxes).map((s) => s.close()));
});

describe("the version calendar", () => {
  it("no pinned API version ends within 60 days of today (the app's clock)", () => {
    const soon = versionsEndingWithin(h.ctx.catalog.list(), h.ctx.clock(), 60);
    expect(soon, "bump these versions (and their dates and sources) in providers/*.ts").toEqual([]);
  });

  it("the guard fires for a version 60 days before its end", () => {
    const catalog = buildCatalog(definitions, {});
    const meta = catalog.get("meta_ads").def.api_versions[0]!;
    const sixtyDaysBefore = Date.parse(`${meta.ends}T00:00:00Z`) - 60 * DAY;
    expect(versionsEndingWithin(catalog.list(), sixtyDaysBefore, 60)).toContainEqual(
      expect.objectContaining({ provider: "meta_ads", version: meta.version, days_left: 60 }),
    );
    expect(versionsEndingWithin(catalog.list(), sixtyDaysBefore - DAY, 60).map((v) => v.provider)).not.toContain("meta_ads");
  });

  it("every pinned version says where its date comes from, and list_providers shows it", async () => {
    for (const p of h.ctx.catalog.list()) for (const v of p.def.api_versions) expect(v.source, p.id).toMatch(/^https:\/\//);
    const { providers } = await h.ok("list_providers", {});
    const byId = Object.fromEntries(providers.map((p) => [p.id, p]));
    expect(byId.meta_ads).toMatchObject({ api_version: "v26.0" });
    expect(byId.hubspot).toMatchObject({ api_version: "2026-03", api_version_ends: "2027-09-30" });
    expect(byId.salesforce?.api_version).toBe("v68.0");
  });
});

describe("version settings", () => {
  it.each([
    ["meta_ads", { api_version: "v24.0" }, "2026-11-10"],
    ["linkedin_ads", { linkedin_version: "202503" }, "2026-03-15"],
  ])("start_connector_oauth refuses %s with a version that has ended", async (provider, settings, ends) => {
    const err = await h.fail("start_connector_oauth", { provider, settings });
    expect(err.code).toBe("invalid_input");
    expect(err.message).toContain(`stopped working on ${ends}`);
  });

  it("Google Ads versions follow Google's sunset dates (confirmed), newer ones an estimate", () => {
    const ads = h.ctx.catalog.get("google_ads");
    expect(() => checkVersionSettings(ads, { api_version: "v21" }, h.ctx.clock())).toThrow(/stopped working on 2026-08-05 \(per /);
    expect(() => checkVersionSettings(ads, { api_version: "v26" }, h.ctx.clock())).not.toThrow();
    expect(() => checkVersionSettings(ads, { api_version: "v26" }, Date.parse("2027-10-06T00:00:00Z"))).toThrow(/estimated from/);
  });

  it("submit_connector_key refuses an ended version, and update_connector refuses moving to one", async () => {
    expect(
      (await h.fail("submit_connector_key", { provider: "meta_ads", api_key: META_KEY, settings: { api_version: "v23.0" } })).code,
    ).toBe("invalid_input");
    const c = await h.ok("submit_connector_key", { provider: "meta_ads", api_key: META_KEY, settings: { api_version: "v25.0" } });
    const err = await h.fail("update_connector", { connector_id: c.id, settings: { api_version: "v24.0" } });
    expect(err.code).toBe("invalid_input");
    expect(err.message).toContain("v24.0");
    expect((await h.ok("get_connector_status", { connector_id: c.id })).settings).toEqual({ api_version: "v25.0" });
  });

  it("a connector whose version has since ended is flagged by test_connector (status_detail), without calling the provider", async () => {
    const c = await h.ok("submit_connector_key", {
      provider: "meta_ads",
      api_key: META_KEY,
      label: "Old version",
      settings: { api_version: "v25.0" },
    });
    const calls = sandboxes.meta_ads!.api.calls.length;
    h.advance(Date.parse("2027-02-24T00:00:00Z") - h.ctx.clock());
    try {
      const r = await h.ok("test_connector", { connector_id: c.id });
      expect(r.ok).toBe(false);
      expect(r.error).toContain("api_version v25.0");
      expect(r.error).toContain("2027-02-23");
      expect(sandboxes.meta_ads!.api.calls.length).toBe(calls);
      const s = await h.ok("get_connector_status", { connector_id: c.id });
      expect(s).toMatchObject({ status: "connected", health: "unhealthy" });
      expect(s.status_detail).toContain("api_version v25.0");
      // Removing the setting (back to the pinned version) is the remedy the detail names.
      await h.ok("update_connector", { connector_id: c.id, settings: { api_version: null } });
      expect((await h.ok("test_connector", { connector_id: c.id })).ok).toBe(true);
    } finally {
      h.advance(-(h.ctx.clock() - Date.now()));
    }
  });
});

describe("token quirks", () => {
  it("a Webflow token response without token_type connects", async () => {
    const { connector_id: id, page } = await h.connect("webflow");
    expect(sandboxes.webflow!.oauth.tokenCalls.at(-1)!.body).not.toHaveProperty("token_type");
    expect(page).toContain("Connected Webflow");
    expect((await h.ok("get_connector_status", { connector_id: id })).status).toBe("connected");
  });

  it("LinkedIn refusing to revoke the refresh token still revokes the access token, and says so", async () => {
    const sb = sandboxes.linkedin_ads!;
    const { connector_id: id } = await h.connect("linkedin_ads");
    sb.oauth.failNextRevocations(1, 400, { error: "unsupported_token_type" });
    const before = sb.oauth.revocationCalls.length;
    const r = await h.ok("revoke_connector", { connector_id: id });
    expect(r.provider_revocation).toBe("revoked");
    expect(r.connector.status_detail).toContain("refused to revoke the refresh token");
    expect(sb.oauth.revocationCalls.slice(before).map((c) => [c.token_type_hint, c.status])).toEqual([
      ["refresh_token", 400],
      ["access_token", 200],
    ]);
  });
});
