// store/compiled.ts: a query compiled once runs with new values bound by name, the same rows as
// the builder's query, one compilation per list length and per combination of optional values;
// rows read as arrays (rowsAsArrays) come back as the same objects.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { compiledQuery, type Slots } from "../../src/store/compiled.js";
import { type OpenedDatabase, openDatabase } from "../../src/store/db.js";
import { LOCAL_WORKSPACE_ID } from "../../src/store/workspaces.js";

let opened: OpenedDatabase;
const compiles: string[] = [];

beforeAll(async () => {
  opened = await openDatabase(":memory:");
  const now = "2026-01-01T00:00:00.000Z";
  for (const [i, type] of ["created", "connected", "tested", "refreshed"].entries()) {
    await opened.db
      .insertInto("connector_events")
      .values({ connector_id: i < 3 ? "con_a" : "con_b", workspace_id: LOCAL_WORKSPACE_ID, type, detail: null, created_at: now })
      .execute();
  }
});
afterAll(async () => opened.close());

type P = { workspaceId: string; ids: string[]; type: string | undefined; limit: number };
const events = compiledQuery((db, s: Slots<P>) => {
  compiles.push("compiled");
  let q = db
    .selectFrom("connector_events")
    .select(["connector_id", "type"])
    .where("workspace_id", "=", s.v("workspaceId"))
    .where("connector_id", "in", s.list("ids"));
  const type = s.opt("type");
  if (type) q = q.where("type", "=", type);
  return q.orderBy("id", "asc").limit(s.v("limit"));
});

describe("compiledQuery", () => {
  it("binds each run's values by name and returns what the builder's query returns", async () => {
    compiles.length = 0;
    const run = (p: P) => events(opened.db, p);
    const builder = (p: P) => {
      let q = opened.db
        .selectFrom("connector_events")
        .select(["connector_id", "type"])
        .where("workspace_id", "=", p.workspaceId)
        .where("connector_id", "in", p.ids);
      if (p.type) q = q.where("type", "=", p.type);
      return q.orderBy("id", "asc").limit(p.limit).execute();
    };
    const cases: P[] = [
      { workspaceId: LOCAL_WORKSPACE_ID, ids: ["con_a"], type: undefined, limit: 10 },
      { workspaceId: LOCAL_WORKSPACE_ID, ids: ["con_b"], type: undefined, limit: 10 },
      { workspaceId: LOCAL_WORKSPACE_ID, ids: ["con_a"], type: undefined, limit: 2 },
      { workspaceId: "ws_other", ids: ["con_a"], type: undefined, limit: 10 },
      { workspaceId: LOCAL_WORKSPACE_ID, ids: ["con_a", "con_b"], type: undefined, limit: 10 },
      { workspaceId: LOCAL_WORKSPACE_ID, ids: ["con_b", "con_a"], type: "refreshed", limit: 10 },
      { workspaceId: LOCAL_WORKSPACE_ID, ids: ["con_a", "con_b"], type: "tested", limit: 10 },
    ];
    for (const p of cases) expect(await run(p)).toEqual(await builder(p));
    expect((await run(cases[0]!)).map((r) => r.type)).toEqual(["created", "connected", "tested"]);
    expect(await run(cases[3]!)).toEqual([]);
    // one list length without a type, one list length of two without, and with one
    expect(compiles).toHaveLength(3);
  });

  it("reads rows as arrays on request and returns the same objects, every column in order, and none when nothing matches", async () => {
    const all = (rowsAsArrays: boolean) =>
      compiledQuery(
        (db, s: Slots<{ workspaceId: string; limit: number }>) =>
          db
            .selectFrom("connector_events")
            .selectAll()
            .where("workspace_id", "=", s.v("workspaceId"))
            .orderBy("id", "desc")
            .limit(s.v("limit")),
        { rowsAsArrays },
      );
    const [asArrays, asObjects] = [all(true), all(false)];
    for (const p of [
      { workspaceId: LOCAL_WORKSPACE_ID, limit: 10 },
      { workspaceId: LOCAL_WORKSPACE_ID, limit: 1 },
      { workspaceId: "ws_other", limit: 10 },
    ]) {
      const [a, o] = [await asArrays(opened.db, p), await asObjects(opened.db, p)];
      expect(a).toEqual(o);
      expect(a.map((r) => Object.keys(r))).toEqual(o.map((r) => Object.keys(r)));
    }
    expect(await asArrays(opened.db, { workspaceId: LOCAL_WORKSPACE_ID, limit: 10 })).toHaveLength(4);
    expect(await asArrays(opened.db, { workspaceId: "ws_other", limit: 10 })).toEqual([]);
  });

  it("refuses a query that takes a value without its slot (it would keep the first run's value)", async () => {
    const frozen = compiledQuery((db, _s: Slots<{ workspaceId: string }>) =>
      db.selectFrom("connector_events").select("type").where("workspace_id", "=", LOCAL_WORKSPACE_ID),
    );
    await expect(frozen(opened.db, { workspaceId: LOCAL_WORKSPACE_ID })).rejects.toThrow(/"workspaceId" is not used through its slot/);
  });
});
