// Regression (issue 12, finding 12): reconnecting in place (start_connector_oauth with
// connector_id) refuses a consent from another provider account than the connector had. The
// grant fails with status_reason account_mismatch, the tokens just issued are revoked at the
// provider and never stored, the connector keeps its old tokens and account, and the page, the
// detail and wait_for_connector (conflict) say to start a new connector for the other account.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { definitions } from "../providers/index.js";
import { parseProvider } from "../src/catalog/definition.js";
import { consentOverHttp } from "./sandbox/consent.js";
import { type HubSpotSandbox, portalIdFor } from "./sandbox/hubspot.js";
import { type Harness, startHubSpotHarness } from "./support/harness.js";

describe("finding 12: reconnect in place keeps the provider account", () => {
  let sandbox: HubSpotSandbox;
  let h: Harness;

  beforeAll(async () => {
    ({ sandbox, h } = await startHubSpotHarness());
  });
  afterAll(async () => {
    await h?.close();
    await sandbox?.close();
  });

  const secretOf = async (connector_id: string) =>
    (await h.ctx.db.selectFrom("connector_secrets").selectAll().where("connector_id", "=", connector_id).executeTakeFirst()) ?? null;

  /** Connect as `login`, then make the connector expired (its refresh refused), ready to reconnect. */
  const expiredConnector = async (login: string) => {
    const { connector_id } = await h.connect("hubspot", {}, login);
    sandbox.oauth.failNextTokenCalls(1, 400, { error: "invalid_grant" });
    await h.fail("refresh_connector", { connector_id });
    expect((await h.ok("get_connector_status", { connector_id })).status).toBe("expired");
    return connector_id;
  };
  const reconnectAs = async (connector_id: string, login: string) => {
    const again = await h.ok("start_connector_oauth", { provider: "hubspot", connector_id });
    const { callbackUrl, cookie } = await consentOverHttp(again.authorization_url, { login, redirectPrefix: h.redirectUri });
    const res = await fetch(callbackUrl, { headers: { cookie } });
    return { status: res.status, page: await res.text() };
  };

  it("every OAuth provider declares which account fact is its stable id", () => {
    for (const raw of definitions) {
      const def = parseProvider(raw);
      if (def.auth_types.includes("oauth2")) expect(def.test.account_id, def.id).toBeDefined();
    }
  });

  it("refuses another account: account_mismatch, new tokens revoked and not stored, old tokens and account kept", async () => {
    const connector_id = await expiredConnector("acct-alice");
    const before = await h.ok("get_connector_status", { connector_id });
    expect(before.account.portal_id).toBe(portalIdFor("acct-alice"));
    const secretBefore = await secretOf(connector_id);
    expect(secretBefore).not.toBeNull();
    const revocationsBefore = sandbox.oauth.revocationCalls.length;

    const { page } = await reconnectAs(connector_id, "acct-mallory");
    expect(page).toContain("start a new connector");

    const after = await h.ok("get_connector_status", { connector_id });
    expect(after).toMatchObject({ status: "error", status_reason: "account_mismatch" });
    expect(after.status_detail).toContain(String(portalIdFor("acct-mallory")));
    expect(after.status_detail).toContain("without connector_id");
    expect(after.account.portal_id).toBe(portalIdFor("acct-alice"));
    expect(await secretOf(connector_id)).toEqual(secretBefore);
    expect(sandbox.oauth.revocationCalls.length).toBeGreaterThan(revocationsBefore);

    const err = await h.fail("wait_for_connector", { connector_id, timeout_seconds: 1 });
    expect(err.code).toBe("conflict");
    expect(err.message).toContain("start a new connector");
  });

  it("the same account reconnects as before, even after a refused other account", async () => {
    const connector_id = await expiredConnector("acct-bob");
    await reconnectAs(connector_id, "acct-eve");
    expect((await h.ok("get_connector_status", { connector_id })).status_reason).toBe("account_mismatch");
    const { status } = await reconnectAs(connector_id, "acct-bob");
    expect(status).toBe(200);
    const s = await h.ok("get_connector_status", { connector_id });
    expect(s).toMatchObject({ status: "connected" });
    expect(s.account.portal_id).toBe(portalIdFor("acct-bob"));
    expect((await h.ok("test_connector", { connector_id })).ok).toBe(true);
  });

  it("refuses a reconnect whose first test read fails (no account to compare): new tokens revoked, old tokens and account kept", async () => {
    const connector_id = await expiredConnector("acct-carol");
    const secretBefore = await secretOf(connector_id);
    const revocationsBefore = sandbox.oauth.revocationCalls.length;

    sandbox.failNextAccountReads(1);
    const { page } = await reconnectAs(connector_id, "acct-carol");
    expect(page).toContain("could not check");

    const after = await h.ok("get_connector_status", { connector_id });
    expect(after).toMatchObject({ status: "error", status_reason: "provider_error" });
    expect(after.status_detail).toContain("first test read with the new tokens failed");
    expect(after.status_detail).toContain(`connector_id "${connector_id}"`);
    expect(after.account.portal_id).toBe(portalIdFor("acct-carol"));
    expect(await secretOf(connector_id)).toEqual(secretBefore);
    expect(sandbox.oauth.revocationCalls.length).toBeGreaterThan(revocationsBefore);

    // Once the read works, the same account reconnects.
    expect((await reconnectAs(connector_id, "acct-carol")).status).toBe(200);
    expect(await h.ok("get_connector_status", { connector_id })).toMatchObject({ status: "connected" });
  });

  it("a new connector whose first test read fails still connects (nothing to compare), with the warning", async () => {
    sandbox.failNextAccountReads(1);
    const { connector_id } = await h.connect("hubspot", {}, "acct-dave");
    const s = await h.ok("get_connector_status", { connector_id });
    expect(s).toMatchObject({ status: "connected", health: "unhealthy" });
  });
});
