import { describe, expect, it } from "vitest";
import { definitions } from "../providers/index.js";
import { loadConfig } from "../src/app/config.js";
import { buildCatalog, PROVIDER_IDS } from "../src/catalog/catalog.js";

describe("provider catalog", () => {
  it("loads all nine providers from their definitions", () => {
    const catalog = buildCatalog(definitions, {});
    expect(
      catalog
        .list()
        .map((p) => p.id)
        .sort(),
    ).toEqual([...PROVIDER_IDS].sort());
    for (const p of catalog.list()) {
      if (p.def.auth_types.includes("oauth2")) {
        expect(p.oauth?.authorization_url, p.id).toMatch(/^https:\/\//);
        expect(p.oauth?.token_url, p.id).toMatch(/^https:\/\//);
      }
      expect(p.configured).toBe(false);
    }
    expect(catalog.get("sanity").def.auth_types).toEqual(["api_key"]);
    expect(catalog.get("gmail").oauth?.authorization_params).toMatchObject({ access_type: "offline", prompt: "consent" });
  });

  it("stops at a broken definition and names the provider and the field", () => {
    const broken = definitions.map((d) => (d.id === "hubspot" ? { ...d, oauth: { ...d.oauth!, token_url: "not a url" } } : d));
    expect(() => buildCatalog(broken, {})).toThrow(/provider definition "hubspot" is invalid: oauth\.token_url/);
    const noRoles = definitions.map((d) => (d.id === "webflow" ? { ...d, roles: [] } : d));
    expect(() => buildCatalog(noRoles, {})).toThrow(/"webflow" is invalid: roles/);
    const missing = definitions.filter((d) => d.id !== "salesforce");
    expect(() => buildCatalog(missing, {})).toThrow(/"salesforce" is missing/);
  });

  it("applies TENEX_<P>_ overrides and credentials from the environment", () => {
    const config = loadConfig({
      TENEX_HUBSPOT_CLIENT_ID: "id",
      TENEX_HUBSPOT_CLIENT_SECRET: "secret",
      TENEX_HUBSPOT_AUTHORIZATION_URL: "http://127.0.0.1:9999/auth",
      TENEX_HUBSPOT_TOKEN_URL: "http://localhost:9999/token",
      TENEX_HUBSPOT_API_BASE_URL: "http://[::1]:9998/",
      TENEX_GOOGLE_ADS_DEVELOPER_TOKEN: "dev-token",
    });
    const catalog = buildCatalog(definitions, config.providers);
    const hs = catalog.get("hubspot");
    expect(hs.configured).toBe(true);
    expect(hs.oauth?.authorization_url).toBe("http://127.0.0.1:9999/auth");
    expect(hs.oauth?.token_url).toBe("http://localhost:9999/token");
    expect(hs.api_base_url_override).toBe("http://[::1]:9998");
    expect(catalog.get("google_ads").env).toEqual({ DEVELOPER_TOKEN: "dev-token" });
  });

  it("refuses plain-http endpoints unless the host is loopback", () => {
    const config = loadConfig({ TENEX_HUBSPOT_TOKEN_URL: "http://token.example.com/token" });
    expect(() => buildCatalog(definitions, config.providers)).toThrow(/TENEX_HUBSPOT_TOKEN_URL must use https/);
    const api = loadConfig({ TENEX_SALESFORCE_API_BASE_URL: "http://10.0.0.5/" });
    expect(() => buildCatalog(definitions, api.providers)).toThrow(/TENEX_SALESFORCE_API_BASE_URL must use https/);
  });

  it("refuses an unknown provider with unknown_provider", () => {
    expect(() => buildCatalog(definitions, {}).get("myspace")).toThrow(expect.objectContaining({ code: "unknown_provider" }));
  });
});
