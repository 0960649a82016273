// The two statements of one rule: whether a pending connector's grant may still finish. The SQL
// test (store/grants.ts liveGrantAt, behind expireAbandonedGrants, which settles what it finds
// dead) and the test in code on the grants' times (grantsLiveUntil, which the status and list
// reads use, and whose instant the read cache keeps an answer until). For grants on each side of
// every boundary (link expiry, the callback's grace period), at a clock held still: the code's
// answer and its instant agree with the SQL, on SQLite and on PostgreSQL.
import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CALLBACK_GRACE_MS, expireAbandonedGrants, grantsLiveUntil } from "../src/store/grants.js";
import { LOCAL_WORKSPACE_ID } from "../src/store/workspaces.js";
import type { HubSpotSandbox } from "./sandbox/hubspot.js";
import { type Harness, startHubSpotHarness } from "./support/harness.js";

let sandbox: HubSpotSandbox;
let h: Harness;

beforeAll(async () => {
  ({ sandbox, h } = await startHubSpotHarness());
});
afterAll(async () => {
  await h?.close();
  await sandbox?.close();
});

const NOW = Date.parse("2030-01-01T12:00:00.000Z");
const at = (ms: number) => new Date(ms).toISOString();

interface Grant {
  used_at: number | null;
  expires_at: number;
}

/** Each case: the grants of one pending connector, and the instant the code should say they stop being live (undefined: dead now). */
const CASES: Array<{ what: string; grants: Grant[]; liveUntil: number | undefined }> = [
  { what: "unused, link ends in a second", grants: [{ used_at: null, expires_at: NOW + 1000 }], liveUntil: NOW + 1000 },
  { what: "unused, link ends a millisecond from now", grants: [{ used_at: null, expires_at: NOW + 1 }], liveUntil: NOW + 1 },
  { what: "unused, link ends now", grants: [{ used_at: null, expires_at: NOW }], liveUntil: undefined },
  { what: "unused, link ended", grants: [{ used_at: null, expires_at: NOW - 1 }], liveUntil: undefined },
  {
    what: "claimed inside the grace period",
    grants: [{ used_at: NOW - CALLBACK_GRACE_MS + 1000, expires_at: NOW - 5000 }],
    liveUntil: NOW + 1000,
  },
  {
    what: "claimed as the grace period starts",
    grants: [{ used_at: NOW - CALLBACK_GRACE_MS, expires_at: NOW + 60_000 }],
    liveUntil: undefined,
  },
  {
    what: "claimed before the grace period, link still valid",
    grants: [{ used_at: NOW - CALLBACK_GRACE_MS - 1, expires_at: NOW + 60_000 }],
    liveUntil: undefined,
  },
  {
    what: "two grants: the later instant counts",
    grants: [
      { used_at: null, expires_at: NOW + 1000 },
      { used_at: NOW - 1000, expires_at: NOW - 1 },
    ],
    liveUntil: NOW + CALLBACK_GRACE_MS - 1000,
  },
  {
    what: "two grants: a dead one and a live one",
    grants: [
      { used_at: null, expires_at: NOW - 1 },
      { used_at: null, expires_at: NOW + 5000 },
    ],
    liveUntil: NOW + 5000,
  },
];

/**
 * A pending connector made through the tools, its grant then given `grants`' times. A pending
 * connector cannot be started again, so a second grant is a copy of the first row (fresh hashes).
 */
async function pendingWith(grants: Grant[]): Promise<string> {
  const { connector_id } = await h.ok("start_connector_oauth", { provider: "hubspot" });
  const db = h.ctx.db;
  const first = await db.selectFrom("oauth_grants").selectAll().where("connector_id", "=", connector_id).executeTakeFirstOrThrow();
  for (const [i, g] of grants.entries()) {
    const times = { used_at: g.used_at === null ? null : at(g.used_at), expires_at: at(g.expires_at) };
    if (i === 0) await db.updateTable("oauth_grants").set(times).where("state_hash", "=", first.state_hash).execute();
    else
      await db
        .insertInto("oauth_grants")
        .values({
          ...first,
          ...times,
          scopes: typeof first.scopes === "string" ? first.scopes : JSON.stringify(first.scopes),
          state_hash: `${first.state_hash.slice(0, -2)}${String(i).padStart(2, "0")}`,
          connect_id_hash: null,
        })
        .execute();
  }
  const count = await db.selectFrom("oauth_grants").select("state_hash").where("connector_id", "=", connector_id).execute();
  expect(count.length, "the grants set up").toBe(grants.length);
  return connector_id;
}

describe("a pending connector's grant liveness, in SQL and in code", () => {
  it("agrees at every boundary, and the code's instant is where the SQL's answer turns", async () => {
    const frozen = (ms: number) => ({ ...h.ctx, clock: () => ms });
    for (const c of CASES) {
      const id = await pendingWith(c.grants);
      const code = (await grantsLiveUntil(h.ctx.db, [id], NOW)).get(id);
      expect(code, c.what).toBe(c.liveUntil);
      if (c.liveUntil !== undefined) {
        // Live a millisecond before the instant (the SQL settles nothing), dead at it (the SQL settles it).
        expect(await expireAbandonedGrants(frozen(c.liveUntil - 1), LOCAL_WORKSPACE_ID, [id]), c.what).toEqual([]);
        expect((await grantsLiveUntil(h.ctx.db, [id], c.liveUntil - 1)).get(id), c.what).toBe(c.liveUntil);
        expect((await grantsLiveUntil(h.ctx.db, [id], c.liveUntil)).has(id), c.what).toBe(false);
        expect(await expireAbandonedGrants(frozen(c.liveUntil), LOCAL_WORKSPACE_ID, [id]), c.what).toEqual([id]);
      } else {
        expect(await expireAbandonedGrants(frozen(NOW), LOCAL_WORKSPACE_ID, [id]), c.what).toEqual([id]);
      }
      const row = await h.ctx.db.selectFrom("connectors").select("status").where("id", "=", id).executeTakeFirstOrThrow();
      expect(row.status, c.what).toBe("error");
    }
    // Nothing else was touched: the only connectors settled are the ones above.
    const settled = await h.ctx.db
      .selectFrom("connectors")
      .select(sql<number>`count(*)`.as("n"))
      .where("status", "=", "error")
      .executeTakeFirstOrThrow();
    expect(Number(settled.n)).toBe(CASES.length);
  });
});
