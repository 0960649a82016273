// Regression: a pending connector whose authorization link expired does not stay pending
// forever. Reads settle it as error (status_reason state_expired), wait_for_connector ends at the
// link's expiry instead of its own timeout, answering the state_expired error code, a callback that is finishing is not raced (its grace period
// runs from its claim), and the
// settled connector can be reconnected in place. The harness clock stands in for time.
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { CALLBACK_GRACE_MS, GRANT_TTL_MS } from "../src/store/grants.js";
import { consentOverHttp } from "./sandbox/consent.js";
import type { HubSpotSandbox } from "./sandbox/hubspot.js";
import { type Harness, movableClock, startHubSpotHarness } from "./support/harness.js";

describe("a pending connector whose authorization link expired", () => {
  let sandbox: HubSpotSandbox;
  let h: Harness;
  const clock = movableClock(() => h);
  const advance = clock.advance;

  beforeAll(async () => {
    ({ sandbox, h } = await startHubSpotHarness());
  });
  afterEach(() => {
    sandbox.oauth.releaseGates();
  });
  afterAll(async () => {
    await h?.close();
    await sandbox?.close();
  });

  const start = () => h.ok("start_connector_oauth", { provider: "hubspot" });

  it("stays pending while the link is valid, then reads as error with status_reason state_expired (get and list)", async () => {
    const a = await start();
    const b = await start();
    advance(GRANT_TTL_MS - 5_000);
    expect((await h.ok("get_connector_status", { connector_id: a.connector_id })).status).toBe("pending");
    advance(10_000);

    const s = await h.ok("get_connector_status", { connector_id: a.connector_id });
    expect(s.status).toBe("error");
    expect(s.status_reason).toBe("state_expired");
    expect(s.status_detail).toMatch(/^The authorization link expired before the person finished signing in \(links last 10 minutes\)/);
    expect(s.status_detail).toContain(`start_connector_oauth (pass connector_id "${a.connector_id}"`);
    expect(s.recent_events?.[0]).toMatchObject({ type: "grant_expired" });

    const listed = await h.ok("list_connectors", { status: "pending" });
    expect(listed.connectors.map((c: { id: string }) => c.id)).not.toContain(b.connector_id);
    const errors = await h.ok("list_connectors", { status: "error" });
    expect(errors.connectors.map((c: { id: string }) => c.id)).toEqual(expect.arrayContaining([a.connector_id, b.connector_id]));
  });

  const expectStateExpired = async (err: { code: string; message: string }, connector_id: string) => {
    expect(err.code).toBe("state_expired");
    expect(err.message).toContain("expired before the person finished signing in");
    expect(err.message).toContain(`start_connector_oauth (pass connector_id "${connector_id}"`);
    // get_connector_status still shows the connector, with the reason.
    const s = await h.ok("get_connector_status", { connector_id });
    expect(s).toMatchObject({ status: "error", status_reason: "state_expired" });
  };

  it("ends wait_for_connector at the link's expiry, not at its own timeout, with the state_expired code", async () => {
    const { connector_id } = await start();
    advance(GRANT_TTL_MS - 1_000); // one second of the link left
    const err = await h.fail("wait_for_connector", { connector_id, timeout_seconds: 60 });
    await expectStateExpired(err, connector_id);
    // The link's expiry settled it: the wait ended as "settled", not at its own 60 s timeout.
    expect(h.logs.some((l) => l.includes(`"connector_id":"${connector_id}","end":"settled"`))).toBe(true);
  });

  it("answers wait_for_connector at once with state_expired when the link already expired", async () => {
    const { connector_id } = await start();
    advance(GRANT_TTL_MS + 1_000);
    await expectStateExpired(await h.fail("wait_for_connector", { connector_id, timeout_seconds: 60 }), connector_id);
  });

  it("does not race a callback that claimed the link before it expired and is still exchanging the code", async () => {
    const { connector_id, authorization_url } = await start();
    advance(GRANT_TTL_MS - 30_000); // the person signs in during the link's last half minute
    const { callbackUrl, cookie } = await consentOverHttp(authorization_url, { login: "late", redirectPrefix: h.redirectUri });
    const gate = sandbox.oauth.holdTokenRequests(); // the code exchange waits at the provider
    const callback = fetch(callbackUrl, { headers: { cookie } });
    await expect
      .poll(
        async () =>
          (await h.ctx.db.selectFrom("oauth_grants").select("used_at").where("connector_id", "=", connector_id).executeTakeFirst())
            ?.used_at ?? null,
        {
          timeout: 2000,
          interval: 10,
        },
      )
      .not.toBeNull();
    await expect.poll(() => gate.waiting()).toBe(1);
    advance(31_000); // the link expires while the code is being exchanged
    expect((await h.ok("get_connector_status", { connector_id })).status).toBe("pending");
    gate.release();
    expect((await callback).status).toBe(200);
    expect((await h.ok("get_connector_status", { connector_id })).status).toBe("connected");
  });

  it("settles a claimed grant whose callback never finished, once its grace period is over", async () => {
    const { connector_id, authorization_url } = await start();
    const { callbackUrl } = await consentOverHttp(authorization_url, { login: "gone", redirectPrefix: h.redirectUri });
    // The callback claimed the state, then its process died (simulated: the claim without the rest).
    const state = new URL(callbackUrl).searchParams.get("state")!;
    const { sha256Hex } = await import("../src/common/ids.js");
    advance(GRANT_TTL_MS - 30_000);
    await h.ctx.db
      .updateTable("oauth_grants")
      .set({ used_at: new Date(h.ctx.clock()).toISOString() })
      .where("state_hash", "=", sha256Hex(state))
      .execute();
    advance(31_000); // past the link's expiry, within the claim's grace period
    expect((await h.ok("get_connector_status", { connector_id })).status).toBe("pending");
    advance(CALLBACK_GRACE_MS);
    expect((await h.ok("get_connector_status", { connector_id })).status).toBe("error");
  });

  it("counts the grace period from the claim: a callback that died early does not hold the connector until the link's expiry", async () => {
    const { connector_id, authorization_url } = await start();
    const { callbackUrl } = await consentOverHttp(authorization_url, { login: "early", redirectPrefix: h.redirectUri });
    const state = new URL(callbackUrl).searchParams.get("state")!;
    const { sha256Hex } = await import("../src/common/ids.js");
    await h.ctx.db
      .updateTable("oauth_grants")
      .set({ used_at: new Date(h.ctx.clock()).toISOString() })
      .where("state_hash", "=", sha256Hex(state))
      .execute();
    advance(CALLBACK_GRACE_MS - 1_000);
    expect((await h.ok("get_connector_status", { connector_id })).status).toBe("pending");
    advance(2_000); // the link itself would last another 8 minutes, but it is used up
    expect((await h.ok("get_connector_status", { connector_id })).status).toBe("error");
  });

  it("can be reconnected in place after it expired", async () => {
    const { connector_id } = await start();
    advance(GRANT_TTL_MS + 1_000);
    expect((await h.ok("get_connector_status", { connector_id })).status).toBe("error");
    clock.reset();
    const again = await h.ok("start_connector_oauth", { provider: "hubspot", connector_id });
    expect(again.connector_id).toBe(connector_id);
    const { callbackUrl, cookie } = await consentOverHttp(again.authorization_url, { login: "back", redirectPrefix: h.redirectUri });
    expect((await fetch(callbackUrl, { headers: { cookie } })).status).toBe(200);
    expect((await h.ok("get_connector_status", { connector_id })).status).toBe("connected");
  });
});
