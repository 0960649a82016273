// Regression (issue 12, finding 3): one workspace could create grants and connectors without end,
// grants were never purged, and settling many expired grants held the write lock in one
// transaction. Now: per-workspace quotas (TENEX_MAX_PENDING_GRANTS, TENEX_MAX_CONNECTORS) with
// `quota_exceeded`, checked under the write lock (concurrent starts cannot overshoot) and never
// counted across workspaces; expiry settled in batches with other writers in between; finished
// grants purged after their retention, a batch at a time.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GRANT_TTL_MS } from "../src/store/grants.js";
import { GRANT_RETENTION_MS, PURGE_BATCH } from "../src/store/quotas.js";
import { createWorkspace } from "../src/store/workspaces.js";
import { type FakeApi, startFakeApi } from "./sandbox/fake-api.js";
import { HUBSPOT_SCOPES } from "./sandbox/hubspot.js";
import { type ProviderSandbox, startProviderSandbox } from "./sandbox/provider.js";
import { type Harness, reservePort, startHarness } from "./support/harness.js";

const SANITY_KEY = "sk_quota_test_key_0123456789";
const sanityInput = { provider: "sanity", api_key: SANITY_KEY, settings: { project_id: "abc123", dataset: "production" } };

describe("per-workspace quotas on pending grants and connectors (two workspaces)", () => {
  let sandbox: ProviderSandbox;
  let sanityApi: FakeApi;
  let a: Harness;
  let b: Harness;

  beforeAll(async () => {
    const { port, redirectUri } = await reservePort();
    sandbox = await startProviderSandbox({ provider: "hubspot", redirectUri, scopes: HUBSPOT_SCOPES, routes: {} });
    sanityApi = await startFakeApi({
      "GET /v2025-02-19/data/query/production": (req) =>
        req.token === SANITY_KEY ? { json: { result: { _id: "doc1" }, ms: 1 } } : { status: 401, json: { error: "Unauthorized" } },
    });
    const env = { ...sandbox.env, TENEX_SANITY_API_BASE_URL: sanityApi.url, TENEX_MAX_PENDING_GRANTS: "3", TENEX_MAX_CONNECTORS: "6" };
    a = await startHarness({ env, port });
    const beta = await createWorkspace(a.ctx.db, "beta", new Date().toISOString());
    b = await startHarness({ env, share: a, workspaceId: beta.id, listen: false });
  });
  afterAll(async () => {
    await b?.close();
    await a?.close();
    await sandbox?.close();
    await sanityApi?.close();
  });

  const start = (h: Harness) => h.callRaw("start_connector_oauth", { provider: "hubspot" });

  it("lets exactly TENEX_MAX_PENDING_GRANTS of many concurrent starts through, and answers the rest quota_exceeded with what to do", async () => {
    const results = await Promise.all(Array.from({ length: 8 }, () => start(a)));
    const ok = results.filter((r) => !r.isError);
    const refused = results.filter((r) => r.isError).map((r) => r.structuredContent.error!);
    expect(ok).toHaveLength(3);
    expect(refused).toHaveLength(5);
    for (const e of refused) {
      expect(e.code).toBe("quota_exceeded");
      expect(e.message).toContain("3 OAuth grants waiting for consent");
      expect(e.message).toContain("TENEX_MAX_PENDING_GRANTS=3");
      expect(e.message).toMatch(/revoke_connector or delete_connector/);
    }
    // The refused starts left nothing behind.
    expect((await a.ok("list_connectors", {})).connectors).toHaveLength(3);
  });

  it("does not count one workspace's grants against another", async () => {
    for (let i = 0; i < 3; i++) await b.ok("start_connector_oauth", { provider: "hubspot" });
    expect((await b.fail("start_connector_oauth", { provider: "hubspot" })).code).toBe("quota_exceeded");
    expect((await a.fail("start_connector_oauth", { provider: "hubspot" })).code).toBe("quota_exceeded");
  });

  it("frees a slot when a pending connector is cancelled, and when its link expires", async () => {
    const pending = (await a.ok("list_connectors", { status: "pending" })).connectors;
    await a.ok("revoke_connector", { connector_id: pending[0]!.id });
    await a.ok("start_connector_oauth", { provider: "hubspot" }); // 4 connectors in A
    expect((await a.fail("start_connector_oauth", { provider: "hubspot" })).code).toBe("quota_exceeded");
    a.advance(GRANT_TTL_MS + 1_000); // A's links expire (B's clock does not move)
    await a.ok("start_connector_oauth", { provider: "hubspot" }); // 5
    await a.ok("start_connector_oauth", { provider: "hubspot" }); // 6
    expect((await b.fail("start_connector_oauth", { provider: "hubspot" })).code).toBe("quota_exceeded");
  });

  it("caps connectors per workspace (OAuth and BYOK alike) without calling the provider, and not another workspace's", async () => {
    const err = await a.fail("start_connector_oauth", { provider: "hubspot" });
    expect(err.code).toBe("quota_exceeded");
    expect(err.message).toContain("This workspace has 6 connectors");
    expect(err.message).toContain("TENEX_MAX_CONNECTORS=6");
    expect(err.message).toContain("delete_connector");
    const calls = sanityApi.calls.length;
    expect((await a.fail("submit_connector_key", sanityInput)).code).toBe("quota_exceeded");
    expect(sanityApi.calls.length).toBe(calls); // refused before the key was sent anywhere
    // B has 3 connectors: its key is checked and stored.
    expect((await b.ok("submit_connector_key", sanityInput)).status).toBe("connected");
    // Deleting one in A makes room again.
    const victim = (await a.ok("list_connectors", { status: "revoked" })).connectors[0];
    await a.ok("delete_connector", { connector_id: victim!.id });
    expect((await a.ok("submit_connector_key", sanityInput)).status).toBe("connected");
    expect((await a.fail("submit_connector_key", sanityInput)).code).toBe("quota_exceeded");
    expect(a.results.join("\n")).not.toContain(SANITY_KEY);
  });
});

describe("settling expired grants in batches, and purging finished grants", () => {
  const N = 250;
  let sandbox: ProviderSandbox;
  let h: Harness;

  beforeAll(async () => {
    const { port, redirectUri } = await reservePort();
    sandbox = await startProviderSandbox({ provider: "hubspot", redirectUri, scopes: HUBSPOT_SCOPES, routes: {} });
    h = await startHarness({ env: { ...sandbox.env, TENEX_MAX_PENDING_GRANTS: "1000" }, port });
    for (let i = 0; i < N; i++) await h.ok("start_connector_oauth", { provider: "hubspot" });
  });
  afterAll(async () => {
    await h?.close();
    await sandbox?.close();
  });

  const grantRows = async () =>
    Number(
      (
        await h.ctx.db
          .selectFrom("oauth_grants")
          .select((eb) => eb.fn.countAll<number>().as("n"))
          .executeTakeFirstOrThrow()
      ).n,
    );

  it("lets another writer in between batches while many expired grants settle", async () => {
    h.advance(GRANT_TTL_MS + 1_000);
    const order: string[] = [];
    let settled = 0;
    let write: Promise<unknown> | undefined;
    const onChange = (c: { status: string }) => {
      if (c.status !== "error") return;
      settled++;
      // Queued as soon as the first batch committed: it must not wait for the whole expiry.
      write ??= h.ctx.db
        .updateTable("workspaces")
        .set({ name: "local" })
        .where("id", "=", "ws_local")
        .execute()
        .then(() => order.push(`write after ${settled}`));
    };
    h.ctx.events.on("change", onChange);
    try {
      await h.ok("list_connectors", { status: "error", limit: 1 }); // a read settles what is due
      await write;
    } finally {
      h.ctx.events.off("change", onChange);
    }
    expect(settled).toBe(N);
    expect(order).toHaveLength(1);
    const after = Number(order[0]!.replace("write after ", ""));
    expect(after).toBeLessThan(N);
    expect(after).toBeGreaterThanOrEqual(1);
    const pending = await h.ctx.db.selectFrom("connectors").select("id").where("status", "=", "pending").execute();
    expect(pending).toHaveLength(0);
    const reasons = await h.ctx.db.selectFrom("connectors").select("status_reason").distinct().execute();
    expect(reasons.map((r) => r.status_reason)).toEqual(["state_expired"]);
  });

  it("keeps finished grants for the retention period, then purges them a batch per grant start", async () => {
    expect(await grantRows()).toBe(N);
    await h.ok("start_connector_oauth", { provider: "hubspot" });
    expect(await grantRows()).toBe(N + 1); // expired, but within the retention: kept
    h.advance(GRANT_RETENTION_MS);
    await h.ok("start_connector_oauth", { provider: "hubspot" });
    expect(await grantRows()).toBe(N + 2 - PURGE_BATCH);
    await h.ok("start_connector_oauth", { provider: "hubspot" });
    expect(await grantRows()).toBe(N + 3 - 2 * PURGE_BATCH);
    await h.ok("start_connector_oauth", { provider: "hubspot" });
    // The old ones are gone; the four new ones (one of them past its link, not past the retention) stay.
    expect(await grantRows()).toBe(4);
    // A connector whose grant was purged still reads as it was settled.
    const listed = await h.ok("list_connectors", { status: "error", limit: 1 });
    expect(listed.connectors[0]?.status_reason).toBe("state_expired");
  });
});
