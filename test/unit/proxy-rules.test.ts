// The proxy's catalog rules without any server: the origins each connection may reach (the
// provider's, the connection's own, an operator override alone), the headers the server adds from
// settings and configuration, the header allow lists, and redaction through a rolling window.
import { Readable } from "node:stream";
import { describe, expect, it } from "vitest";
import { definitions } from "../../providers/index.js";
import { buildCatalog, type ConnectionView } from "../../src/catalog/catalog.js";
import { proxyOrigins, proxyRequestHeaders, proxyTarget } from "../../src/catalog/proxy-rules.js";
import { RedactingStream, redactBytes, secretSet } from "../../src/catalog/redact.js";

const catalog = buildCatalog(definitions, {
  google_ads: { extra: { DEVELOPER_TOKEN: "dev-token-123456" } },
  hubspot: { api_base_url: "http://127.0.0.1:9999", extra: {} },
});
const view = (settings: Record<string, unknown> = {}, token_extras: Record<string, string> = {}): ConnectionView => ({
  settings,
  token_extras,
  env: {},
});

describe("proxy origins", () => {
  it("Sanity: the project host, its CDN host and the global host; Salesforce: the connection's instance_url only", () => {
    const sanity = catalog.get("sanity");
    expect(proxyOrigins(sanity, view({ project_id: "Abc123", dataset: "production" })).sort()).toEqual(
      ["https://abc123.api.sanity.io", "https://abc123.apicdn.sanity.io", "https://api.sanity.io"].sort(),
    );
    expect(proxyTarget(sanity, view({ project_id: "abc123" }), "/v2025-02-19/data/query/production").origin).toBe(
      "https://abc123.api.sanity.io",
    );
    expect(() => proxyTarget(sanity, view({ project_id: "abc123" }), "https://other.api.sanity.io/x")).toThrow(/allow list/);
    const sf = catalog.get("salesforce");
    const acme = view({}, { instance_url: "https://acme.my.salesforce.com" });
    expect(proxyTarget(sf, acme, "/services/data/v68.0/limits").href).toBe("https://acme.my.salesforce.com/services/data/v68.0/limits");
    expect(() => proxyTarget(sf, acme, "https://other.my.salesforce.com/services/data")).toThrow(/allow list/);
  });

  it("an _API_BASE_URL override replaces the whole allow list", () => {
    const hubspot = catalog.get("hubspot");
    expect(proxyOrigins(hubspot, view())).toEqual(["http://127.0.0.1:9999"]);
    expect(() => proxyTarget(hubspot, view(), "https://api.hubapi.com/crm/objects/2026-03/contacts")).toThrow(/allow list/);
  });

  it("keeps the query and appends the query object", () => {
    const t = proxyTarget(catalog.get("gmail"), view(), "/gmail/v1/users/me/messages?q=from%3Aada", {
      maxResults: 5,
      labelIds: ["A", "B"],
    });
    expect(t.href).toBe("https://gmail.googleapis.com/gmail/v1/users/me/messages?q=from%3Aada&maxResults=5&labelIds=A&labelIds=B");
  });
});

describe("request headers", () => {
  it("adds Google Ads developer-token from configuration and login-customer-id from settings; a call may name another manager", () => {
    const ads = catalog.get("google_ads");
    const v = { ...view({ login_customer_id: "1234567890" }), env: ads.env };
    const h = proxyRequestHeaders(ads, v, "tok-abcdefgh", {}, { strict: true });
    expect(h).toMatchObject({
      authorization: "Bearer tok-abcdefgh",
      "developer-token": "dev-token-123456",
      "login-customer-id": "1234567890",
    });
    expect(proxyRequestHeaders(ads, v, "tok-abcdefgh", { "login-customer-id": "9999999999" }, { strict: true })["login-customer-id"]).toBe(
      "9999999999",
    );
    expect(() => proxyRequestHeaders(ads, v, "t", { "developer-token": "mine" }, { strict: true })).toThrow(/not allowed/);
  });

  it("sends LinkedIn-Version from settings, with a default", () => {
    const li = catalog.get("linkedin_ads");
    const lower = (h: Record<string, string>) => h["linkedin-version"];
    expect(lower(proxyRequestHeaders(li, view({ linkedin_version: "202609" }), "t", {}, { strict: true }))).toBe("202609");
    expect(lower(proxyRequestHeaders(li, view(), "t", {}, { strict: true }))).toMatch(/^\d{6}$/);
    expect(lower(proxyRequestHeaders(li, view(), "t", { "LinkedIn-Version": "202610" }, { strict: true }))).toBe("202610");
  });

  it("never lets a caller set the credential; the lax form (raw proxy) drops what the strict one refuses", () => {
    const gmail = catalog.get("gmail");
    expect(() => proxyRequestHeaders(gmail, view(), "t", { Authorization: "Bearer x" }, { strict: true })).toThrow(/never passed/);
    const lax = proxyRequestHeaders(
      gmail,
      view(),
      "real-token",
      { authorization: "Bearer x", cookie: "a", "x-y": "1", accept: "text/plain" },
      {
        strict: false,
      },
    );
    expect(lax).toMatchObject({ authorization: "Bearer real-token", accept: "text/plain" });
    expect(lax.cookie).toBeUndefined();
    expect(lax["x-y"]).toBeUndefined();
  });
});

describe("redaction", () => {
  const secret = "ya29.a0AfB_secret-access-token-value";
  const secrets = secretSet([secret, "short", undefined, "1//refresh-token-value-0000"]);

  it("ignores values too short to be secrets and replaces every occurrence", () => {
    expect(secrets.map(String)).not.toContain("short");
    expect(redactBytes(Buffer.from(`a ${secret} b ${secret}`), secrets).toString()).toBe("a [redacted] b [redacted]");
  });

  it("catches a secret split across chunks at every split point, holding at most the window plus a chunk", async () => {
    const text = `head ${secret} middle 1//refresh-token-value-0000 tail`;
    for (let cut = 1; cut < text.length; cut++) {
      const stream = new RedactingStream(secrets);
      const out: Buffer[] = [];
      stream.on("data", (c: Buffer) => out.push(c));
      await new Promise<void>((resolve, reject) => {
        Readable.from([Buffer.from(text.slice(0, cut)), Buffer.from(text.slice(cut))])
          .pipe(stream)
          .on("end", resolve)
          .on("error", reject);
      });
      expect(Buffer.concat(out).toString(), `cut at ${cut}`).toBe("head [redacted] middle [redacted] tail");
      expect(stream.maxHeld).toBeLessThanOrEqual(text.length + secret.length);
    }
  });
});
