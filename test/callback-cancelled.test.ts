// Regression: a revoke, disable or delete while the callback exchanges the code is not undone.
// The token endpoint holds the exchange; the connector is cancelled meanwhile; the callback
// then stores nothing, changes nothing, revokes the tokens it just obtained at the provider and
// shows a "connection cancelled" page (409), never a 500.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readSecret } from "../src/credentials/secrets.js";
import { consentOverHttp } from "./sandbox/consent.js";
import type { HubSpotSandbox } from "./sandbox/hubspot.js";
import { type IssuedTokens, issuedBy } from "./sandbox/oauth-server.js";
import { type Harness, startHubSpotHarness } from "./support/harness.js";

describe("a connector cancelled while the person signs in", () => {
  let sandbox: HubSpotSandbox;
  let h: Harness;

  beforeAll(async () => {
    ({ sandbox, h } = await startHubSpotHarness());
  });
  afterAll(async () => {
    await h?.close();
    await sandbox?.close();
  });

  /** Start a grant, consent, and send the callback with the token endpoint held; resolves once the callback has claimed the state. */
  const callbackInFlight = async (login: string) => {
    const start = await h.ok("start_connector_oauth", { provider: "hubspot" });
    const id = start.connector_id;
    const { callbackUrl, cookie } = await consentOverHttp(start.authorization_url, { login, redirectPrefix: h.redirectUri });
    const gate = sandbox.oauth.holdTokenRequests();
    const tokenCallsBefore = sandbox.oauth.tokenCalls.length;
    const response = fetch(callbackUrl, { headers: { cookie } }).then(async (r) => ({ status: r.status, page: await r.text() }));
    await expect
      .poll(
        async () =>
          (await h.ctx.db.selectFrom("oauth_grants").select("used_at").where("connector_id", "=", id).executeTakeFirst())?.used_at ?? null,
        { timeout: 2000, interval: 10 },
      )
      .not.toBeNull();
    return {
      id,
      /** The callback's answer, and the tokens the provider issued in its exchange. */
      finish: async () => {
        gate.release();
        const res = await response;
        const issued = sandbox.oauth.tokenCalls
          .slice(tokenCallsBefore)
          .find((c) => c.grant_type === "authorization_code" && c.status === 200);
        expect(issued, "the exchange happened after the cancellation").toBeTruthy();
        return { ...res, issued: issuedBy(issued) };
      },
    };
  };

  const expectCancelledPage = (res: { status: number; page: string }) => {
    expect(res.status).toBe(409);
    expect(res.page).toContain("<h1>HubSpot was not connected</h1>");
    expect(res.page).toContain("cancelled (revoked, disabled or deleted) while you were signing in");
    expect(res.page).toContain("nothing was connected");
    expect(res.page).toContain("revoked at HubSpot again");
  };

  /** The provider no longer honours what it issued in the cancelled exchange. */
  const expectRevokedAtProvider = async (issued: IssuedTokens) => {
    expect(await sandbox.oauth.validateAccessToken(issued.access_token)).toBeNull();
    const rt = await sandbox.oauth.provider.RefreshToken.find(issued.refresh_token);
    expect(rt ?? null).toBeNull();
  };

  it("revoke: stays revoked, no tokens stored, the new tokens revoked at the provider", async () => {
    const { id, finish } = await callbackInFlight("rita");
    const revoked = await h.ok("revoke_connector", { connector_id: id });
    expect(revoked.connector.status).toBe("revoked");
    const res = await finish();
    expectCancelledPage(res);

    const s = await h.ok("get_connector_status", { connector_id: id });
    expect(s.status).toBe("revoked");
    expect(s.recent_events?.[0]).toMatchObject({ type: "grant_cancelled" });
    expect(s.recent_events?.[0]?.detail).toContain("revoked at HubSpot");
    expect(await readSecret(h.ctx, h.ctx.db, id)).toBeUndefined();
    await expectRevokedAtProvider(res.issued);
    expect((await h.fail("test_connector", { connector_id: id })).code).toBe("invalid_state");
  });

  it("disable: stays disabled with no tokens, the new tokens revoked at the provider", async () => {
    const { id, finish } = await callbackInFlight("dora");
    expect((await h.ok("disable_connector", { connector_id: id })).status).toBe("disabled");
    const res = await finish();
    expectCancelledPage(res);

    const s = await h.ok("get_connector_status", { connector_id: id });
    expect(s.status).toBe("disabled");
    expect(await readSecret(h.ctx, h.ctx.db, id)).toBeUndefined();
    await expectRevokedAtProvider(res.issued);
  });

  it("delete: no 500, no foreign key error, nothing stored, the new tokens revoked at the provider", async () => {
    const { id, finish } = await callbackInFlight("dina");
    expect(await h.ok("delete_connector", { connector_id: id })).toMatchObject({ deleted: true });
    const res = await finish();
    expectCancelledPage(res);

    expect((await h.fail("get_connector_status", { connector_id: id })).code).toBe("not_found");
    const secrets = await h.ctx.db.selectFrom("connector_secrets").select("connector_id").where("connector_id", "=", id).execute();
    expect(secrets).toEqual([]);
    await expectRevokedAtProvider(res.issued);
    expect(h.logs.some((l) => l.includes("callback failed") || l.includes("FOREIGN KEY"))).toBe(false);
  });

  it("revoke: tokens a callback stores while revoke_connector talks to the provider are revoked too", async () => {
    // A connector that stopped working (expired, tokens kept) is being reconnected…
    const { connector_id: id } = await h.connect("hubspot", {}, "otto");
    sandbox.oauth.failNextTokenCalls(1, 400, { error: "invalid_grant" });
    await h.fail("refresh_connector", { connector_id: id });
    const again = await h.ok("start_connector_oauth", { provider: "hubspot", connector_id: id });
    const { callbackUrl, cookie } = await consentOverHttp(again.authorization_url, { login: "otto", redirectPrefix: h.redirectUri });
    // …when revoke_connector starts revoking the old tokens at the provider, which holds the request.
    const gate = sandbox.oauth.holdRevocations();
    const revoking = h.ok("revoke_connector", { connector_id: id });
    try {
      await expect.poll(() => gate.waiting(), { timeout: 2000, interval: 10 }).toBeGreaterThan(0);
      // The callback finishes meanwhile: the connector is still pending, so it connects.
      const calls = sandbox.oauth.tokenCalls.length;
      const res = await fetch(callbackUrl, { headers: { cookie } });
      expect(res.status).toBe(200);
      const issued = issuedBy(sandbox.oauth.tokenCalls.slice(calls).find((c) => c.grant_type === "authorization_code"));
      expect(await sandbox.oauth.validateAccessToken(issued.access_token)).not.toBeNull();
      gate.release();
      const revoked = await revoking;
      expect(revoked.connector.status).toBe("revoked");
      expect(await readSecret(h.ctx, h.ctx.db, id)).toBeUndefined();
      await expectRevokedAtProvider(issued);
    } finally {
      gate.release();
    }
  });

  it("a callback that is not cancelled still connects (the guard does not get in the way)", async () => {
    const { id, finish } = await callbackInFlight("nina");
    const res = await finish();
    expect(res.status).toBe(200);
    expect(res.page).toContain("Connected HubSpot");
    expect((await h.ok("get_connector_status", { connector_id: id })).status).toBe("connected");
    expect(await sandbox.oauth.validateAccessToken(res.issued.access_token)).not.toBeNull();
    expect(await sandbox.oauth.provider.RefreshToken.find(res.issued.refresh_token)).toBeTruthy();
  });
});
