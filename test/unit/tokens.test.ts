// Pure token decisions: how access is renewed, when a token is refreshed, when access ends, what
// is kept from a token response, and how a failed refresh grant is classified. No network.
import * as client from "openid-client";
import { beforeAll, describe, expect, it } from "vitest";
import { definitions } from "../../providers/index.js";
import { buildCatalog, type TokenSet } from "../../src/catalog/catalog.js";
import { openid } from "../../src/catalog/openid.js";
import { ProviderHttpError } from "../../src/catalog/provider-errors.js";
import {
  accessEndsAt,
  classifyGrantError,
  REFRESH_MARGIN_S,
  refreshMarginS,
  renewalOf,
  tokenSetFrom,
} from "../../src/credentials/tokens.js";

const catalog = buildCatalog(definitions, {});
const hubspot = catalog.get("hubspot"); // refresh_token
const webflow = catalog.get("webflow"); // non_expiring
const meta = catalog.get("meta_ads"); // none: consent again
const linkedin = catalog.get("linkedin_ads"); // refresh_token, optional
const salesforce = catalog.get("salesforce"); // tokenExtras
const sanity = catalog.get("sanity"); // API key only

const NOW_S = 1_800_000_000;
const tokens = (t: Partial<TokenSet> = {}): TokenSet => ({ access_token: "at", ...t });

describe("renewalOf", () => {
  it.each([
    ["a refresh-token provider with a refresh token", hubspot, tokens({ refresh_token: "rt" }), "refresh_token"],
    ["a refresh-token provider without one (consent again)", hubspot, tokens(), "reconsent"],
    ["LinkedIn without partner access (no refresh token)", linkedin, tokens(), "reconsent"],
    ["LinkedIn with a refresh token", linkedin, tokens({ refresh_token: "rt" }), "refresh_token"],
    ["a provider without refresh (Meta), even with a refresh token", meta, tokens({ refresh_token: "rt" }), "reconsent"],
    ["a provider whose tokens do not expire (Webflow)", webflow, tokens({ refresh_token: "rt" }), "non_expiring"],
    ["a provider without OAuth", sanity, tokens(), "non_expiring"],
  ] as const)("%s", (_what, provider, t, expected) => {
    expect(renewalOf(provider, t)).toBe(expected);
  });
});

describe("refreshMarginS", () => {
  it.each([
    ["no lifetime known", tokens(), REFRESH_MARGIN_S],
    ["no obtained_at", tokens({ expires_at: NOW_S + 3600 }), REFRESH_MARGIN_S],
    ["a 30-minute token: 5 minutes", tokens({ obtained_at: NOW_S, expires_at: NOW_S + 1800 }), 300],
    ["a 21-minute token: still 5 minutes", tokens({ obtained_at: NOW_S, expires_at: NOW_S + 21 * 60 }), 300],
    ["a 20-minute token: a quarter, 5 minutes", tokens({ obtained_at: NOW_S, expires_at: NOW_S + 20 * 60 }), 300],
    ["a 19-minute token: a quarter", tokens({ obtained_at: NOW_S, expires_at: NOW_S + 19 * 60 }), Math.floor((19 * 60) / 4)],
    ["a 2-second token: at least 1 s", tokens({ obtained_at: NOW_S, expires_at: NOW_S + 2 }), 1],
    ["a lifetime of 0: the default", tokens({ obtained_at: NOW_S, expires_at: NOW_S }), REFRESH_MARGIN_S],
    ["a negative lifetime: the default", tokens({ obtained_at: NOW_S, expires_at: NOW_S - 10 }), REFRESH_MARGIN_S],
  ])("%s", (_what, t, expected) => {
    expect(refreshMarginS(t)).toBe(expected);
  });
});

describe("accessEndsAt", () => {
  const iso = (s: number) => new Date(s * 1000).toISOString();
  it("is the refresh token's end when the provider refreshes and one was granted", () => {
    expect(accessEndsAt(hubspot, tokens({ refresh_token: "rt", expires_at: NOW_S + 1800, refresh_expires_at: NOW_S + 86_400 }))).toBe(
      iso(NOW_S + 86_400),
    );
    expect(accessEndsAt(hubspot, tokens({ refresh_token: "rt", expires_at: NOW_S + 1800 }))).toBeNull(); // refresh token without a known end
  });
  it("is the access token's end when it cannot be refreshed", () => {
    expect(accessEndsAt(meta, tokens({ expires_at: NOW_S + 5_184_000 }))).toBe(iso(NOW_S + 5_184_000));
    expect(accessEndsAt(linkedin, tokens({ expires_at: NOW_S + 100 }))).toBe(iso(NOW_S + 100));
    expect(accessEndsAt(meta, tokens())).toBeNull();
  });
  it("is unknown (null) for tokens that do not expire, and for providers without OAuth", () => {
    expect(accessEndsAt(webflow, tokens({ expires_at: NOW_S + 10 }))).toBeNull();
    expect(accessEndsAt(sanity, tokens({ expires_at: NOW_S + 10 }))).toBeNull();
  });
});

describe("tokenSetFrom", () => {
  const res = (r: Record<string, unknown>) =>
    ({ token_type: "bearer", access_token: "at2", ...r }) as unknown as client.TokenEndpointResponse;
  const nowMs = NOW_S * 1000;

  it("keeps what a first exchange returned, with lifetimes as epoch seconds", () => {
    const t = tokenSetFrom(hubspot, res({ refresh_token: "rt", expires_in: 1800, refresh_token_expires_in: 86_400, scope: "a b" }), nowMs);
    expect(t).toEqual({
      access_token: "at2",
      refresh_token: "rt",
      token_type: "bearer",
      expires_at: NOW_S + 1800,
      refresh_expires_at: NOW_S + 86_400,
      scope: "a b",
      extras: {},
      obtained_at: NOW_S,
    });
  });

  it("keeps the previous refresh token, its end, scope and extras when a refresh returns none", () => {
    const previous = tokens({
      refresh_token: "rt-old",
      refresh_expires_at: NOW_S + 500,
      scope: "a",
      extras: { instance_url: "https://x.my.salesforce.com" },
    });
    const t = tokenSetFrom(salesforce, res({}), nowMs, previous);
    expect(t).toMatchObject({
      refresh_token: "rt-old",
      refresh_expires_at: NOW_S + 500,
      scope: "a",
      extras: { instance_url: "https://x.my.salesforce.com" },
    });
    expect(t.expires_at).toBeUndefined();
  });

  it("a rotated refresh token drops the previous one's end unless a new one is given", () => {
    const previous = tokens({ refresh_token: "rt-old", refresh_expires_at: NOW_S + 500 });
    expect(tokenSetFrom(hubspot, res({ refresh_token: "rt-new" }), nowMs, previous)).toMatchObject({
      refresh_token: "rt-new",
      refresh_expires_at: undefined,
    });
  });

  it("keeps only the provider's declared non-secret extras, and only scalar values", () => {
    const t = tokenSetFrom(
      salesforce,
      res({
        instance_url: "https://x.my.salesforce.com",
        id: "https://login/id/1",
        issued_at: "1",
        signature: "secret-ish",
        nested: { a: 1 },
      }),
      nowMs,
    );
    expect(t.extras).toEqual({ instance_url: "https://x.my.salesforce.com", id: "https://login/id/1", issued_at: "1" });
    expect(tokenSetFrom(hubspot, res({ instance_url: "https://x" }), nowMs).extras).toEqual({});
  });
});

describe("classifyGrantError", () => {
  // In the server an openid-client error exists only once a grant step loaded the module through openid().
  beforeAll(async () => {
    await openid();
  });
  const bodyError = (status: number, error: string) =>
    new client.ResponseBodyError("refused", { cause: { error }, response: new Response(null, { status }) });

  it.each([
    ["invalid_grant: the grant is gone", bodyError(400, "invalid_grant"), "invalid_grant", "400 invalid_grant"],
    ["a 5xx is transient", bodyError(503, "server_error"), "transient", "503 server_error"],
    ["429 is transient", bodyError(429, "slow_down"), "transient", "429 slow_down"],
    [
      "temporarily_unavailable is transient whatever the status",
      bodyError(400, "temporarily_unavailable"),
      "transient",
      "400 temporarily_unavailable",
    ],
    ["another 4xx is permanent (app configuration)", bodyError(401, "invalid_client"), "permanent", "401 invalid_client"],
    ["a provider's made-up code is only `other`", bodyError(400, "please send your secret"), "permanent", "400 other"],
    ["a hook's HTTP error keeps its status", new ProviderHttpError("Meta", 500), "transient", "HTTP 500"],
    [
      "an unusable answer (library error) is permanent",
      new client.ClientError("bad", { code: "OAUTH_INVALID_RESPONSE" } as never),
      "permanent",
      "invalid response (OAUTH_INVALID_RESPONSE)",
    ],
    ["a network failure is transient", new TypeError("fetch failed"), "transient", "network error"],
    ["a timeout is transient", Object.assign(new Error("t"), { name: "TimeoutError" }), "transient", "timed out"],
  ])("%s", (_what, err, kind, text) => {
    expect(classifyGrantError(err)).toEqual({ kind, text });
  });
});
