// Regression: reconnecting in place (start_connector_oauth with connector_id) is only for a
// connector that stopped working (expired, revoked, error). A connected one is refused and
// keeps working; so are pending and disabled ones. The allowed ones come back connected.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { consentOverHttp } from "./sandbox/consent.js";
import type { HubSpotSandbox } from "./sandbox/hubspot.js";
import { type Harness, startHubSpotHarness } from "./support/harness.js";

describe("reconnecting a connector in place", () => {
  let sandbox: HubSpotSandbox;
  let h: Harness;

  beforeAll(async () => {
    ({ sandbox, h } = await startHubSpotHarness());
  });
  afterAll(async () => {
    await h?.close();
    await sandbox?.close();
  });

  const reconnect = (connector_id: string) => h.callError("start_connector_oauth", { provider: "hubspot", connector_id });
  /** Reconnect, consent and follow the callback: the connector's status afterwards. */
  const reconnectFully = async (connector_id: string, login: string) => {
    const again = await h.ok("start_connector_oauth", { provider: "hubspot", connector_id });
    expect(again.connector_id).toBe(connector_id);
    const { callbackUrl, cookie } = await consentOverHttp(again.authorization_url, { login, redirectPrefix: h.redirectUri });
    expect((await fetch(callbackUrl, { headers: { cookie } })).status).toBe(200);
    return (await h.ok("get_connector_status", { connector_id })).status;
  };

  it("refuses a connected connector with invalid_state, and it keeps working", async () => {
    const { connector_id } = await h.connect("hubspot", { label: "Working CRM" }, "alice");
    const grantsBefore = await h.ctx.db.selectFrom("oauth_grants").select("state_hash").where("connector_id", "=", connector_id).execute();
    const err = await reconnect(connector_id);
    expect(err.code).toBe("invalid_state");
    expect(err.message).toContain("is connected and working");
    expect(err.message).toContain("start a new connector");
    expect(err.message).toContain("revoke_connector");

    const s = await h.ok("get_connector_status", { connector_id });
    expect(s).toMatchObject({ status: "connected", label: "Working CRM" });
    expect(s.recent_events?.map((e) => e.type)).not.toContain("reconnect_started");
    expect(await h.ctx.db.selectFrom("oauth_grants").select("state_hash").where("connector_id", "=", connector_id).execute()).toEqual(
      grantsBefore,
    );
    expect((await h.ok("test_connector", { connector_id })).ok).toBe(true);
  });

  it("refuses a pending and a disabled connector with invalid_state", async () => {
    const pending = await h.ok("start_connector_oauth", { provider: "hubspot" });
    const p = await reconnect(pending.connector_id);
    expect(p).toMatchObject({ code: "invalid_state" });
    expect(p.message).toContain("already waiting for consent");

    const { connector_id } = await h.connect("hubspot", {}, "dora");
    await h.ok("disable_connector", { connector_id });
    const d = await reconnect(connector_id);
    expect(d).toMatchObject({ code: "invalid_state" });
    expect(d.message).toContain("enable_connector");
    expect((await h.ok("get_connector_status", { connector_id })).status).toBe("disabled");
  });

  it("reconnects an expired, a revoked and an error connector, which come back connected under the same id", async () => {
    const expired = (await h.connect("hubspot", {}, "erin")).connector_id;
    sandbox.oauth.failNextTokenCalls(1, 400, { error: "invalid_grant" });
    await h.fail("refresh_connector", { connector_id: expired });
    expect((await h.ok("get_connector_status", { connector_id: expired })).status).toBe("expired");
    expect(await reconnectFully(expired, "erin")).toBe("connected");

    const revoked = (await h.connect("hubspot", {}, "rick")).connector_id;
    await h.ok("revoke_connector", { connector_id: revoked });
    expect(await reconnectFully(revoked, "rick")).toBe("connected");

    const start = await h.ok("start_connector_oauth", { provider: "hubspot" });
    const { callbackUrl, cookie } = await consentOverHttp(start.authorization_url, {
      login: "ed",
      deny: true,
      redirectPrefix: h.redirectUri,
    });
    await fetch(callbackUrl, { headers: { cookie } });
    expect((await h.ok("get_connector_status", { connector_id: start.connector_id })).status).toBe("error");
    expect(await reconnectFully(start.connector_id, "ed")).toBe("connected");
  });
});
