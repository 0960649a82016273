// The refresh engine against a real OAuth server (oidc-provider as HubSpot: 30-minute tokens,
// non-rotating refresh tokens) through the MCP client: single-flight, invalid_grant, 5xx
// retries, 401 retry, and the lease + version check between two apps on one database.
// Overlaps are made with the sandbox's gates (a token request held until released) and the
// harness clock, never with delays.
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { HUBSPOT_SCOPES } from "./sandbox/hubspot.js";
import { issuedBy } from "./sandbox/oauth-server.js";
import { type ProviderSandbox, startProviderSandbox } from "./sandbox/provider.js";
import { type Harness, movableClock, reservePort, startHarness } from "./support/harness.js";
import { freePort } from "./support/stdio.js";

const MIN = 60_000;

const hubspotRoutes = (sb: () => ProviderSandbox) => ({
  "GET /account-info/2026-03/details": async (req: { token?: string }) => {
    const info = await sb().oauth.validateAccessToken(req.token ?? "");
    return { json: { portalId: 4242, timeZone: "Europe/Berlin", companyCurrency: "EUR", accountType: "STANDARD", user: info?.accountId } };
  },
});

describe("refresh engine (HubSpot sandbox, in-process server over the SDK client)", () => {
  let sandbox: ProviderSandbox;
  let h: Harness;
  const extra: Harness[] = [];
  const clock = movableClock(() => h);
  const refreshGrants = () => sandbox.oauth.tokenCalls.filter((c) => c.grant_type === "refresh_token");

  beforeAll(async () => {
    const { port, redirectUri } = await reservePort();
    sandbox = await startProviderSandbox({
      provider: "hubspot",
      redirectUri,
      scopes: HUBSPOT_SCOPES,
      routes: hubspotRoutes(() => sandbox),
    });
    h = await startHarness({ env: sandbox.env, port });
  });
  afterEach(async () => {
    sandbox.oauth.releaseGates();
    while (extra.length) await extra.pop()!.close();
  });
  afterAll(async () => {
    await h?.close();
    await sandbox?.close();
  });

  const connect = async (login = "alice") => {
    const { connector_id, status } = await h.connect("hubspot", { roles: ["crm_sink"] }, login);
    expect(status).toBe(200);
    return connector_id;
  };

  it("50 concurrent test_connector calls on a token about to expire cause exactly one refresh grant", async () => {
    const id = await connect();
    const before = refreshGrants().length;
    clock.advance(27 * MIN); // a 30-minute HubSpot token with 3 minutes left
    // The refresh is held at the provider while the calls pile up behind it.
    const gate = sandbox.oauth.holdTokenRequests();
    const calls = Promise.all(Array.from({ length: 50 }, () => h.ok("test_connector", { connector_id: id })));
    await expect.poll(() => gate.waiting()).toBe(1);
    gate.release();
    const results = await calls;
    expect(results.every((r) => r.ok === true)).toBe(true);
    expect(refreshGrants().length - before).toBe(1);
    const status = await h.ok("get_connector_status", { connector_id: id });
    expect(status.health).toBe("healthy");
    const events = await h.ctx.db.selectFrom("connector_events").select("type").where("connector_id", "=", id).execute();
    expect(events.filter((e) => e.type === "refreshed")).toHaveLength(1);
    expect(events.filter((e) => e.type === "tested")).toHaveLength(50);
    // The new token is fresh: more calls do not refresh again.
    await h.ok("test_connector", { connector_id: id });
    expect(refreshGrants().length - before).toBe(1);
  });

  it("refresh_connector refreshes on demand and reports when the new token expires", async () => {
    const id = await connect();
    const before = refreshGrants().length;
    const r = await h.ok("refresh_connector", { connector_id: id });
    expect(r.refreshed).toBe(true);
    expect(Date.parse(r.access_expires_at ?? "") - h.ctx.clock()).toBeGreaterThan(29 * MIN);
    expect(r.connector.status).toBe("connected");
    expect(refreshGrants().length - before).toBe(1);
    expect(refreshGrants().at(-1)!.status).toBe(200);
  });

  it("a refresh refused with invalid_grant turns the connector expired with a consent-again detail", async () => {
    const id = await connect();
    sandbox.oauth.failNextTokenCalls(1, 400, { error: "invalid_grant", error_description: "grant revoked" });
    const err = await h.fail("refresh_connector", { connector_id: id });
    // Using a connector that is not connected (any more) is invalid_state, with its status_reason.
    expect(err.code).toBe("invalid_state");
    expect(err.retryable).toBeUndefined();
    expect(err.message).toContain("invalid_grant");
    expect(err.message).toContain("status_reason: expired");
    expect(err.message).toContain(`start_connector_oauth with connector_id "${id}"`);
    const c = await h.ok("get_connector_status", { connector_id: id });
    expect(c.status).toBe("expired");
    expect(c.status_reason).toBe("expired");
    expect(c.status_detail).toContain("consent again");
    expect(c.status_detail).toContain(`connector_id "${id}"`);
    expect(c.recent_events?.slice(0, 2).map((e) => e.type)).toEqual(["expired", "refresh_failed"]);
    // An expired connector refuses use until the person consents again.
    const refused = await h.fail("test_connector", { connector_id: id });
    expect(refused.code).toBe("invalid_state");
    expect(refused.message).toContain("status_reason: expired");
  });

  it("5xx from the token endpoint is retried with backoff; exhausted retries leave it connected but unhealthy, and a later success heals it", async () => {
    const id = await connect();
    let before = refreshGrants().length;
    sandbox.oauth.failNextTokenCalls(2, 503, { error: "temporarily_unavailable" });
    const r = await h.ok("refresh_connector", { connector_id: id });
    expect(r.refreshed).toBe(true);
    expect(refreshGrants().length - before).toBe(3);

    before = refreshGrants().length;
    sandbox.oauth.failNextTokenCalls(3, 502, { error: "bad_gateway" });
    const err = await h.fail("refresh_connector", { connector_id: id });
    expect(err).toMatchObject({ code: "provider_error", retryable: true });
    expect(refreshGrants().length - before).toBe(3);
    let c = await h.ok("get_connector_status", { connector_id: id });
    expect(c).toMatchObject({ status: "connected", health: "unhealthy", status_reason: "refresh_failing" });
    expect(c.status_detail).toContain("502");
    expect(c.recent_events?.[0]).toMatchObject({ type: "refresh_failed" });

    await h.ok("refresh_connector", { connector_id: id });
    c = await h.ok("get_connector_status", { connector_id: id });
    expect(c).toMatchObject({ status: "connected", health: "healthy" });
    expect(c.status_detail).toBeUndefined();
    expect(c.status_reason).toBeUndefined();
  });

  it("an unreachable token endpoint is retried, then leaves the connector connected but unhealthy", async () => {
    const id = await connect();
    const closed = `http://127.0.0.1:${await freePort()}/token`; // nothing listens there
    const offline = await startHarness({ env: { ...sandbox.env, TENEX_HUBSPOT_TOKEN_URL: closed }, share: h, listen: false });
    extra.push(offline);
    const err = await offline.fail("refresh_connector", { connector_id: id });
    expect(err).toMatchObject({ code: "provider_error", retryable: true });
    expect(err.message).toContain("network error");
    expect(offline.logs.filter((l) => l.includes("token refresh attempt failed"))).toHaveLength(3);
    const c = await h.ok("get_connector_status", { connector_id: id });
    expect(c).toMatchObject({ status: "connected", health: "unhealthy" });
    expect(c.recent_events?.[0]).toMatchObject({ type: "refresh_failed", detail: "transient: network error" });
  });

  it("enabling a connector that was expired when it was disabled keeps it expired", async () => {
    const id = await connect();
    sandbox.oauth.failNextTokenCalls(1, 400, { error: "invalid_grant" });
    await h.fail("refresh_connector", { connector_id: id });
    expect((await h.ok("disable_connector", { connector_id: id })).status).toBe("disabled");
    const e = await h.ok("enable_connector", { connector_id: id });
    expect(e.status).toBe("expired");
    expect(e.status_detail).toContain("consent again");
  });

  it("a 401 from the provider refreshes once and retries the call", async () => {
    const id = await connect();
    const before = refreshGrants().length;
    // The provider drops the access token early (HubSpot can): find it and destroy it.
    const issued = issuedBy(sandbox.oauth.tokenCalls.filter((c) => c.status === 200).at(-1));
    const at = await sandbox.oauth.provider.AccessToken.find(issued.access_token);
    await at.destroy();
    const r = await h.ok("test_connector", { connector_id: id });
    expect(r.ok).toBe(true);
    expect(refreshGrants().length - before).toBe(1);
  });

  it("two apps on one database: a refresh waits for the other app's lease and uses its token (one grant)", async () => {
    const id = await connect();
    const other = await startHarness({ env: sandbox.env, share: h, listen: false });
    extra.push(other);
    const before = refreshGrants().length;
    // Whichever app takes the lease first is held at the provider; the other waits for the lease.
    const gate = sandbox.oauth.holdTokenRequests();
    const both = Promise.all([h.ok("refresh_connector", { connector_id: id }), other.ok("refresh_connector", { connector_id: id })]);
    await expect.poll(() => gate.waiting()).toBe(1);
    // A read through each app's database connection queues behind that app's refresh reads. (A
    // refresh that read the token only after the release would make a second grant and fail below.)
    await Promise.all([h.ok("get_connector_status", { connector_id: id }), other.ok("get_connector_status", { connector_id: id })]);
    gate.release();
    const [a, b] = await both;
    expect(a.refreshed && b.refreshed).toBe(true);
    expect(refreshGrants().length - before).toBe(1);
    expect(a.access_expires_at).toBe(b.access_expires_at);
  });

  it("a refresh that gives up waiting for another process's lease answers conflict, retryable, and changes nothing", async () => {
    const id = await connect();
    const waiting = await startHarness({ env: { ...sandbox.env, TENEX_REFRESH_LEASE_SECONDS: "1" }, share: h, listen: false });
    extra.push(waiting);
    waiting.ctx.refresh.waitSlackMs = 0; // give up after one 1 s lease, not 6 s
    // Another process holds the lease (and keeps holding it: its lease runs far into the future).
    await h.ctx.db
      .updateTable("connector_secrets")
      .set({ lease_owner: "lease_elsewhere", lease_until: h.ctx.clock() + 3_600_000 })
      .where("connector_id", "=", id)
      .execute();
    const before = refreshGrants().length;
    const err = await waiting.fail("refresh_connector", { connector_id: id });
    expect(err).toMatchObject({ code: "conflict", retryable: true });
    expect(err.message).toContain("Another process has been refreshing");
    expect(refreshGrants().length).toBe(before);
    expect((await h.ok("get_connector_status", { connector_id: id })).status).toBe("connected");
    await h.ctx.db.updateTable("connector_secrets").set({ lease_owner: null, lease_until: null }).where("connector_id", "=", id).execute();
  });

  it("a slow refresher whose lease expired cannot overwrite the newer token stored by the one that took over", async () => {
    const id = await connect();
    const shortLease = { ...sandbox.env, TENEX_REFRESH_LEASE_SECONDS: "1" };
    const slow = await startHarness({ env: shortLease, share: h, listen: false });
    const fast = await startHarness({ env: shortLease, share: h, listen: false });
    extra.push(slow, fast);
    const before = refreshGrants().length;
    // The slow one takes the lease and its grant is held at the provider (only the first request is held)…
    const gate = sandbox.oauth.holdTokenRequests({ first: 1 });
    const slowCall = slow.callRaw("refresh_connector", { connector_id: id });
    await expect.poll(() => gate.waiting()).toBe(1);
    // …until, as the fast one's clock says, its 1 s lease has run out: the fast one takes over.
    fast.advance(2_000);
    const fastResult = await fast.ok("refresh_connector", { connector_id: id });
    expect(fastResult.refreshed).toBe(true);
    gate.release();
    const slowResult = await slowCall;
    expect(slowResult.isError).toBeFalsy();
    expect(refreshGrants().length - before).toBe(2);
    // The stored token is the fast one's: it works, and the slow one logged that it dropped its own.
    expect(slow.logs.some((l) => l.includes("refreshed token discarded"))).toBe(true);
    const secret = await h.ctx.db
      .selectFrom("connector_secrets")
      .select(["version", "lease_owner"])
      .where("connector_id", "=", id)
      .executeTakeFirstOrThrow();
    expect(secret.lease_owner).toBeNull();
    expect((await h.ok("test_connector", { connector_id: id })).ok).toBe(true);
  });

  it("a refresh answered after the connector was revoked revokes the tokens it was given and stores nothing", async () => {
    const id = await connect("rita");
    // The provider issues the new tokens, but its answer waits until the revoke has committed.
    const gate = sandbox.oauth.holdTokenResponses();
    const refreshing = h.callError("refresh_connector", { connector_id: id });
    await expect.poll(() => gate.waiting(), { message: "the refresh never reached the sandbox" }).toBe(1);
    const revocationsBefore = sandbox.oauth.revocationCalls.length;
    expect((await h.ok("revoke_connector", { connector_id: id })).connector.status).toBe("revoked");
    const byRevoke = sandbox.oauth.revocationCalls.length - revocationsBefore;
    expect(byRevoke).toBeGreaterThan(0);
    gate.release();
    expect((await refreshing).code).toBe("invalid_state");
    // The refresh's own tokens were revoked too (refresh token and access token).
    expect(sandbox.oauth.revocationCalls.length - revocationsBefore).toBe(byRevoke + 2);
    expect(
      await h.ctx.db.selectFrom("connector_secrets").select("connector_id").where("connector_id", "=", id).executeTakeFirst(),
    ).toBeUndefined();
    expect((await h.ok("get_connector_status", { connector_id: id })).status).toBe("revoked");
  });
});
