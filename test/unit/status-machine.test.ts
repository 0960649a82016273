// The connector state machine: every allowed and every refused move of the table, the rules read
// from it (reconnect, use, disable, enable), and transition() on a real in-memory database.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ConnectorChange, ConnectorEvents } from "../../src/common/events.js";
import { createLogger } from "../../src/common/log.js";
import { getConnectorRow, type NewConnector } from "../../src/store/connectors.js";
import { type OpenedDatabase, openDatabase, type StoreDeps } from "../../src/store/db.js";
import { STATUSES, type Status } from "../../src/store/schema.js";
import {
  assertUsable,
  createConnector,
  emitChange,
  type From,
  MOVES,
  type MoveName,
  mayMove,
  RECONNECTABLE,
  transition,
} from "../../src/store/status.js";
import { LOCAL_WORKSPACE_ID } from "../../src/store/workspaces.js";
import { newConnectorRow } from "../support/rows.js";

const FROM: From[] = ["new", ...STATUSES];

/** The table as a reader should understand it, written out in full. */
const ALLOWED: Record<MoveName, Array<[From, Status]>> = {
  start: [["new", "pending"]],
  submit_key: [["new", "connected"]],
  reconnect: [
    ["expired", "pending"],
    ["revoked", "pending"],
    ["error", "pending"],
  ],
  settle: [
    ["pending", "connected"],
    ["pending", "error"],
  ],
  expire: [["connected", "expired"]],
  check: [["connected", "connected"]],
  disable: [
    ["pending", "disabled"],
    ["connected", "disabled"],
    ["error", "disabled"],
    ["expired", "disabled"],
  ],
  enable: [
    ["disabled", "connected"],
    ["disabled", "expired"],
    ["disabled", "error"],
    ["disabled", "pending"],
  ],
  revoke: [
    ["pending", "revoked"],
    ["connected", "revoked"],
    ["error", "revoked"],
    ["expired", "revoked"],
    ["disabled", "revoked"],
  ],
};

describe("the move table", () => {
  it("names exactly the moves written out here", () => {
    expect(Object.keys(MOVES).sort()).toEqual(Object.keys(ALLOWED).sort());
  });

  for (const move of Object.keys(ALLOWED) as MoveName[]) {
    it(`${move}: allows exactly its moves and refuses every other (from, to)`, () => {
      const allowed = new Set(ALLOWED[move].map(([f, t]) => `${f}->${t}`));
      for (const from of FROM) {
        for (const to of STATUSES) {
          expect(mayMove(move, from, to), `${move} ${from} -> ${to}`).toBe(allowed.has(`${from}->${to}`));
        }
        expect(mayMove(move, from), `${move} from ${from}`).toBe(ALLOWED[move].some(([f]) => f === from));
      }
    });
  }

  it("reconnecting in place, using, disabling and enabling read from the same table", () => {
    expect([...RECONNECTABLE].sort()).toEqual(["error", "expired", "revoked"]);
    for (const s of STATUSES) {
      const row = { id: "con_1", label: "L", status: s, status_reason: null, auth_type: "oauth2" as const };
      if (s === "connected") expect(() => assertUsable(row, "use")).not.toThrow();
      else expect(() => assertUsable(row, "use"), s).toThrow(expect.objectContaining({ code: "invalid_state" }));
    }
    expect(mayMove("disable", "revoked")).toBe(false);
    expect(mayMove("enable", "connected")).toBe(false);
  });

  it("says why a connector is not usable, with its status_reason and what to do", () => {
    const expired = {
      id: "con_1",
      label: "Sales",
      status: "expired" as const,
      status_reason: "expired" as const,
      auth_type: "oauth2" as const,
    };
    expect(() => assertUsable(expired, "use")).toThrow(
      /Cannot use connector con_1 \(Sales\): it has expired; ask the person to consent again: call start_connector_oauth with connector_id "con_1".*\(status_reason: expired\)\./,
    );
    const key = { ...expired, status: "revoked" as const, status_reason: "revoked" as const, auth_type: "api_key" as const };
    expect(() => assertUsable(key, "test")).toThrow(/submit a new key with submit_connector_key.*\(status_reason: revoked\)/);
    const disabled = { ...expired, status: "disabled" as const, status_reason: "disabled" as const };
    expect(() => assertUsable(disabled, "use")).toThrow(/call enable_connector first \(status_reason: disabled\)/);
  });
});

describe("transition() on a real database", () => {
  let opened: OpenedDatabase;
  let ctx: StoreDeps;
  const changes: ConnectorChange[] = [];
  let n = 0;

  beforeAll(async () => {
    opened = await openDatabase(":memory:");
    ctx = {
      db: opened.db,
      clock: () => Date.parse("2026-12-01T00:00:00Z"),
      log: createLogger({ write: () => undefined }),
      events: new ConnectorEvents(),
    };
    ctx.events.on("change", (c) => changes.push(c));
  });
  afterAll(async () => {
    await opened?.close();
  });

  const fresh = (status: "pending" | "connected"): NewConnector => newConnectorRow(`con_${++n}`, status);

  it("creates a connector only at a status its move allows", async () => {
    const c = fresh("pending");
    const change = await createConnector(ctx.db, ctx, c, { move: "start", events: [{ type: "created" }] });
    expect(change).toEqual({ workspace_id: LOCAL_WORKSPACE_ID, connector_id: c.id, status: "pending", from: "new" });
    await expect(createConnector(ctx.db, ctx, fresh("pending"), { move: "submit_key", events: [] })).rejects.toThrow(
      /not allowed from new to pending/,
    );
  });

  it("writes status, reason, detail and patch, records the event, and returns the change", async () => {
    const c = fresh("pending");
    await createConnector(ctx.db, ctx, c, { move: "start", events: [] });
    const change = await transition(ctx.db, ctx, c, {
      move: "settle",
      to: "error",
      reason: "consent_denied",
      detail: "The person declined.",
      patch: { health: "unhealthy", scopes: ["a"] },
      events: [{ type: "consent_denied" }],
    });
    expect(change).toMatchObject({ connector_id: c.id, from: "pending", status: "error" });
    const row = await getConnectorRow(ctx.db, LOCAL_WORKSPACE_ID, c.id);
    expect(row).toMatchObject({
      status: "error",
      status_reason: "consent_denied",
      status_detail: "The person declined.",
      health: "unhealthy",
      scopes: ["a"],
    });
    const events = await ctx.db.selectFrom("connector_events").select("type").where("connector_id", "=", c.id).execute();
    expect(events.map((e) => e.type)).toEqual(["consent_denied"]);
  });

  it("is guarded on the status the caller read: a writer that moved the row first wins, the second gets null and records nothing", async () => {
    const c = fresh("pending");
    await createConnector(ctx.db, ctx, c, { move: "start", events: [] });
    const first = await transition(ctx.db, ctx, c, {
      move: "revoke",
      to: "revoked",
      reason: "revoked",
      detail: "Revoked.",
      events: [{ type: "revoked" }],
    });
    expect(first).not.toBeNull();
    const late = await transition(ctx.db, ctx, c, {
      move: "settle",
      to: "connected",
      reason: null,
      detail: null,
      events: [{ type: "connected" }],
    });
    expect(late).toBeNull();
    const row = await getConnectorRow(ctx.db, LOCAL_WORKSPACE_ID, c.id);
    expect(row.status).toBe("revoked");
    const events = await ctx.db.selectFrom("connector_events").select("type").where("connector_id", "=", c.id).execute();
    expect(events.map((e) => e.type)).toEqual(["revoked"]);
  });

  it("checks the extra condition in the same UPDATE", async () => {
    const c = fresh("connected");
    await createConnector(ctx.db, ctx, c, { move: "submit_key", events: [] });
    const healed = await transition(ctx.db, ctx, c, {
      move: "check",
      to: "connected",
      reason: null,
      detail: null,
      where: (eb) => eb("status_reason", "=", "refresh_failing"),
    });
    expect(healed).toBeNull(); // nothing was failing
  });

  it("refuses a move the table does not have, before writing anything", async () => {
    const c = fresh("connected");
    await createConnector(ctx.db, ctx, c, { move: "submit_key", events: [] });
    await expect(transition(ctx.db, ctx, c, { move: "reconnect", to: "pending", reason: null, detail: null })).rejects.toThrow(
      /"reconnect" is not allowed from connected to pending/,
    );
    expect((await getConnectorRow(ctx.db, LOCAL_WORKSPACE_ID, c.id)).status).toBe("connected");
  });

  it("emits a change once, and nothing for a refused guard or a move that kept the status", () => {
    changes.length = 0;
    emitChange(ctx, null);
    emitChange(ctx, { workspace_id: "w", connector_id: "c", status: "connected", from: "connected" });
    emitChange(ctx, { workspace_id: "w", connector_id: "c", status: "error", from: "pending" });
    emitChange(ctx, { workspace_id: "w", connector_id: "c", status: "deleted" });
    expect(changes).toEqual([
      { workspace_id: "w", connector_id: "c", status: "error" },
      { workspace_id: "w", connector_id: "c", status: "deleted" },
    ]);
  });
});
