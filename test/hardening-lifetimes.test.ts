// Regression (issue 12, finding 6): a huge `expires_in` made toISOString() throw inside the
// token-saving transaction (the rotated refresh token was lost and the connector expired for
// good), and in the callback the tokens obtained were neither stored nor revoked. A negative or
// non-numeric one was refused by openid-client, with the same loss. Now lifetimes are clamped
// before any date math, the tokens are stored whatever the lifetime said, and the odd field is
// logged without a secret.
import crypto from "node:crypto";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { isoFromEpochSeconds, MAX_LIFETIME_S, saneLifetime } from "../src/credentials/lifetimes.js";
import { readSecret } from "../src/credentials/secrets.js";
import { HUBSPOT_SCOPES } from "./sandbox/hubspot.js";
import { type ProviderSandbox, startProviderSandbox } from "./sandbox/provider.js";
import { type Harness, reservePort, startHarness } from "./support/harness.js";

const YEAR_MS = 365 * 86_400_000;

describe("odd token lifetimes from a provider", () => {
  let hubspot: ProviderSandbox;
  let meta: ProviderSandbox;
  let h: Harness;
  /** Fields merged into the next token responses of this grant type. */
  let odd: { grant: string; fields: Record<string, unknown> } | null = null;
  let metaExpiresIn: unknown = 5_183_944;
  const metaLongLived = new Set<string>();

  beforeAll(async () => {
    const { port, redirectUri } = await reservePort();
    hubspot = await startProviderSandbox({
      provider: "hubspot",
      redirectUri,
      scopes: HUBSPOT_SCOPES,
      routes: { "GET /account-info/2026-03/details": () => ({ json: { portalId: 4242, timeZone: "Europe/Berlin" } }) },
      oauth: {
        rotateRefreshToken: true, // every refresh hands out a new refresh token and retires the old one
        rewriteTokenResponse: (body, { grant_type }) => (odd && odd.grant === grant_type ? { ...body, ...odd.fields } : body),
      },
    });
    meta = await startProviderSandbox({
      provider: "meta_ads",
      redirectUri,
      scopes: ["ads_read"],
      extraValidTokens: metaLongLived,
      routes: { "GET /v26.0/me/adaccounts": () => ({ json: { data: [{ id: "act_42", name: "Acme Ads" }] } }) },
      oauth: {
        handleGetToken: () => {
          const token = `EAAL${crypto.randomBytes(24).toString("hex")}`;
          metaLongLived.add(token);
          return { status: 200, body: { access_token: token, token_type: "bearer", expires_in: metaExpiresIn } };
        },
      },
    });
    h = await startHarness({ env: { ...hubspot.env, ...meta.env }, port });
  });
  afterEach(() => {
    odd = null;
  });
  afterAll(async () => {
    await h?.close();
    await hubspot?.close();
    await meta?.close();
  });

  const tokensOf = async (id: string) => {
    const s = await readSecret(h.ctx, h.ctx.db, id);
    if (s?.secret.kind !== "oauth2") throw new Error("no oauth tokens");
    return s.secret.tokens;
  };
  const oddLines = () => h.logs.filter((l) => l.includes("odd token lifetime")).map((l) => JSON.parse(l) as Record<string, unknown>);
  const noSecretsLogged = async (id: string) => {
    const t = await tokensOf(id);
    const all = h.logs.join("\n");
    expect(all).not.toContain(t.access_token);
    if (t.refresh_token) expect(all).not.toContain(t.refresh_token);
  };

  it("a callback answered with expires_in and refresh_token_expires_in of 1e300 stores the tokens, with ten-year lifetimes", async () => {
    odd = { grant: "authorization_code", fields: { expires_in: 1e300, refresh_token_expires_in: 1e300 } };
    const before = oddLines().length;
    const { connector_id: id, page, status } = await h.connect("hubspot");
    expect(status).toBe(200);
    expect(page).toContain("Connected HubSpot");
    const c = await h.ok("get_connector_status", { connector_id: id });
    expect(c.status).toBe("connected");
    const ends = Date.parse(c.expires_at ?? "");
    expect(ends).toBeGreaterThan(Date.now() + 9 * YEAR_MS);
    expect(ends).toBeLessThanOrEqual(Date.now() + 10 * YEAR_MS + 60_000);
    const t = await tokensOf(id);
    expect(t.refresh_token).toBeTruthy();
    expect(t.expires_at! - t.obtained_at!).toBe(MAX_LIFETIME_S);
    const lines = oddLines().slice(before);
    expect(lines.map((l) => [l.field, l.problem, l.kept])).toEqual([
      ["expires_in", "too_large", "maximum"],
      ["refresh_token_expires_in", "too_large", "maximum"],
    ]);
    expect(lines[0]).toMatchObject({ connector_id: id, provider: "hubspot", during: "code exchange", value: 1e300 });
    expect((await h.ok("test_connector", { connector_id: id })).ok).toBe(true);
    await noSecretsLogged(id);
  });

  it.each([
    ["1e300", 1e300, "too_large"],
    ["-5", -5, "not_positive"],
    ['"soon"', "soon", "not_a_number"],
  ])("a refresh answered with expires_in %s keeps the rotated refresh token", async (_what, value, problem) => {
    const { connector_id: id } = await h.connect("hubspot");
    const first = (await tokensOf(id)).refresh_token;
    odd = { grant: "refresh_token", fields: { expires_in: value } };
    const before = oddLines().length;
    const r = await h.ok("refresh_connector", { connector_id: id });
    expect(r.refreshed).toBe(true);
    const rotated = (await tokensOf(id)).refresh_token;
    expect(rotated).toBeTruthy();
    expect(rotated).not.toBe(first);
    expect(oddLines().slice(before)).toEqual([
      expect.objectContaining({ connector_id: id, field: "expires_in", problem, during: "refresh" }),
    ]);
    // The stored (rotated) refresh token is the one the provider accepts now: the next refresh works.
    odd = null;
    expect((await h.ok("refresh_connector", { connector_id: id })).refreshed).toBe(true);
    expect((await h.ok("get_connector_status", { connector_id: id })).status).toBe("connected");
    await noSecretsLogged(id);
  });

  it("a provider hook's own huge lifetime (Meta's long-lived exchange) is clamped, and the tokens are stored", async () => {
    metaExpiresIn = 1e300;
    try {
      const { connector_id: id, status } = await h.connect("meta_ads");
      expect(status).toBe(200);
      const c = await h.ok("get_connector_status", { connector_id: id });
      expect(c.status).toBe("connected");
      expect(Date.parse(c.expires_at ?? "")).toBeLessThanOrEqual(Date.now() + 10 * YEAR_MS + 60_000);
      expect(metaLongLived.has((await tokensOf(id)).access_token)).toBe(true);
      expect(oddLines().at(-1)).toMatchObject({ connector_id: id, field: "expires_at", problem: "too_large", kept: "maximum" });
    } finally {
      metaExpiresIn = 5_183_944;
    }
  });

  it("the helpers never throw on what a provider may send", () => {
    for (const v of [1e300, -1, Number.NaN, Number.POSITIVE_INFINITY, "3600", "x", {}, null])
      expect(() => saneLifetime(v, "expires_in")).not.toThrow();
    expect(saneLifetime("3600", "expires_in")).toBe(3600);
    expect(saneLifetime(Number.POSITIVE_INFINITY, "expires_in")).toBe(MAX_LIFETIME_S);
    expect(isoFromEpochSeconds(1e300)).toBeNull();
    expect(isoFromEpochSeconds(Number.NaN)).toBeNull();
    expect(isoFromEpochSeconds(0)).toBe("1970-01-01T00:00:00.000Z");
  });
});
