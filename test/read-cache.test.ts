// get_connector_status and list_connectors asked again while nothing changed are answered from
// the read cache (src/store/read-cache.ts, issue 14), and never stale: a write through this
// process, a commit through another connection (a second app on the same file), the link of a
// pending connector running out, and a transaction still open elsewhere are each seen exactly as
// without the cache. PostgreSQL has no cache.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GRANT_TTL_MS } from "../src/store/grants.js";
import { writeTransaction } from "../src/store/write-transaction.js";
import type { HubSpotSandbox } from "./sandbox/hubspot.js";
import { onPostgres } from "./support/database.js";
import { type Harness, movableClock, startHarness, startHubSpotHarness } from "./support/harness.js";

describe.skipIf(onPostgres)("reads asked again (SQLite: the read cache)", () => {
  let sandbox: HubSpotSandbox;
  let h: Harness;
  let other: Harness;
  const clock = movableClock(() => h);
  const stats = () => ({ ...h.ctx.reads!.stats });

  beforeAll(async () => {
    ({ sandbox, h } = await startHubSpotHarness());
    // A second app on the same database file: another connection, as another process would be.
    other = await startHarness({ env: sandbox.env, share: h, listen: false });
  });
  afterAll(async () => {
    await other?.close();
    await h?.close();
    await sandbox?.close();
  });

  it("answers a repeated get_connector_status from the cache, and a write through this process at once", async () => {
    const { connector_id } = await h.ok("start_connector_oauth", { provider: "hubspot", label: "first" });
    const before = stats();
    const a = await h.ok("get_connector_status", { connector_id });
    const b = await h.ok("get_connector_status", { connector_id });
    expect(b).toEqual(a);
    expect(stats()).toEqual({ hits: before.hits + 1, misses: before.misses + 1 });
    await h.ok("update_connector", { connector_id, label: "second" });
    expect((await h.ok("get_connector_status", { connector_id })).label).toBe("second");
  });

  it("sees a commit made through another connection at the next read", async () => {
    const { connector_id } = await h.ok("start_connector_oauth", { provider: "hubspot", label: "here" });
    await h.ok("get_connector_status", { connector_id });
    await h.ok("get_connector_status", { connector_id });
    await other.ok("update_connector", { connector_id, label: "there" });
    expect((await h.ok("get_connector_status", { connector_id })).label).toBe("there");
    const listed = await h.ok("list_connectors", { provider: "hubspot" });
    await other.ok("start_connector_oauth", { provider: "hubspot", label: "made there" });
    const again = await h.ok("list_connectors", { provider: "hubspot" });
    expect(again.connectors.length).toBe(listed.connectors.length + 1);
    expect(again.connectors[0]?.label).toBe("made there");
  });

  it("keeps a pending connector's answer only until its link runs out", async () => {
    const { connector_id } = await h.ok("start_connector_oauth", { provider: "hubspot" });
    clock.advance(GRANT_TTL_MS - 1_000);
    await h.ok("get_connector_status", { connector_id });
    const before = stats();
    expect((await h.ok("get_connector_status", { connector_id })).status).toBe("pending");
    expect(stats().hits).toBe(before.hits + 1);
    await h.ok("list_connectors", { status: "pending" });
    clock.advance(1_000);
    expect(await h.ok("get_connector_status", { connector_id })).toMatchObject({ status: "error", status_reason: "state_expired" });
    const pending = await h.ok("list_connectors", { status: "pending" });
    expect(pending.connectors.map((c) => c.id)).not.toContain(connector_id);
  });

  it("never reads what a transaction still open elsewhere in this process wrote", async () => {
    const { connector_id } = await h.ok("start_connector_oauth", { provider: "hubspot", label: "committed" });
    await h.ok("get_connector_status", { connector_id });
    let wrote!: () => void;
    const written = new Promise<void>((r) => (wrote = r));
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const tx = writeTransaction(h.ctx.db, async (trx) => {
      await trx.updateTable("connectors").set({ label: "never committed" }).where("id", "=", connector_id).execute();
      wrote();
      await gate;
      throw new Error("rolled back on purpose");
    }).catch((err: Error) => err.message);
    await written;
    const read = h.ok("get_connector_status", { connector_id });
    release();
    expect(await tx).toBe("rolled back on purpose");
    expect((await read).label).toBe("committed");
    expect((await h.ok("get_connector_status", { connector_id })).label).toBe("committed");
  });
});

describe.runIf(onPostgres)("reads asked again (PostgreSQL)", () => {
  it("has no read cache: every read goes to the database", async () => {
    const { sandbox, h } = await startHubSpotHarness();
    try {
      expect(h.ctx.reads).toBeUndefined();
    } finally {
      await h.close();
      await sandbox.close();
    }
  });
});
