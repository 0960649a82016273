// The row codec: connector rows are parsed (text from SQLite, parsed values from PostgreSQL) and
// checked; a corrupt row fails loudly instead of reading as `{}`. Also the 0003 migration's
// backfill of status_reason from the old status_detail prefixes, on a real SQLite database.
import SQLite from "better-sqlite3";
import { Kysely, type Migration, Migrator, SqliteDialect } from "kysely";
import { describe, expect, it } from "vitest";
import {
  CorruptRowError,
  connectorPatch,
  connectorToRow,
  decodeCursor,
  encodeCursor,
  type NewConnector,
  rowToConnector,
  rowToConnectorBySchema,
  toPublic,
} from "../../src/store/connectors.js";
import { grantScopes, grantTtlText } from "../../src/store/grants.js";
import * as m0001 from "../../src/store/migrations/0001_initial.js";
import * as m0002 from "../../src/store/migrations/0002_lifecycle.js";
import * as m0003 from "../../src/store/migrations/0003_status_reason.js";

const connector: NewConnector = {
  id: "con_1",
  workspace_id: "ws_local",
  provider: "hubspot",
  label: "Sales",
  auth_type: "oauth2",
  status: "connected",
  status_reason: null,
  status_detail: null,
  roles: ["source", "crm_sink"],
  settings: { default_objects: ["contacts"] },
  account: { portal_id: 4242, email: "a@example.com" },
  scopes: ["crm.objects.contacts.read"],
  health: "healthy",
  last_checked_at: "2026-12-01T00:00:00.000Z",
  expires_at: null,
  created_at: "2026-12-01T00:00:00.000Z",
  updated_at: "2026-12-01T00:00:00.000Z",
};
const stored = { ...connectorToRow(connector), seq: 7, status_before_disable: null };

describe("row codec", () => {
  it("round-trips a connector through its columns (SQLite: JSON as text)", () => {
    expect(stored.roles).toBe('["source","crm_sink"]');
    expect(rowToConnector(stored)).toEqual({ ...connector, seq: 7, status_before_disable: null, oauth_endpoints: null });
  });

  it("round-trips the OAuth endpoints a grant started on (migration 0005), and refuses unknown fields in them", () => {
    const endpoints = { authorization_url: "https://test.salesforce.com/services/oauth2/authorize", issuer: "https://test.salesforce.com" };
    const row = { ...connectorToRow({ ...connector, oauth_endpoints: endpoints }), seq: 7, status_before_disable: null };
    expect(row.oauth_endpoints).toBe(JSON.stringify(endpoints));
    expect(rowToConnector(row).oauth_endpoints).toEqual(endpoints);
    expect(connectorPatch({ oauth_endpoints: null })).toEqual({ oauth_endpoints: null });
    expect(() => rowToConnector({ ...row, oauth_endpoints: '{"api":"https://evil.example"}' })).toThrow(/oauth_endpoints/);
  });

  it("reads JSON columns a PostgreSQL driver hands back already parsed", () => {
    const pg = { ...stored, roles: ["source"], settings: {}, account: { email: "a@example.com" }, scopes: [] };
    expect(rowToConnector(pg)).toMatchObject({ roles: ["source"], settings: {}, account: { email: "a@example.com" }, scopes: [] });
  });

  it.each([
    ["text that is not JSON", { settings: "{not json" }, /settings: not JSON/],
    ["a JSON value of the wrong shape", { roles: '{"source":true}' }, /roles: /],
    ["an object column holding an array", { settings: '["a"]' }, /settings: not a JSON object/],
    ["an object column holding null", { account: "null" }, /account: not a JSON object/],
    ["an unknown role", { roles: '["boss"]' }, /roles\.0: /],
    ["an unknown status", { status: "gone" }, /status: /],
    ["an unknown status_reason", { status_reason: "because" }, /status_reason: /],
  ])("fails loudly on a corrupt row: %s", (_what, patch, message) => {
    const bad = { ...stored, ...patch };
    expect(() => rowToConnector(bad)).toThrow(CorruptRowError);
    expect(() => rowToConnector(bad)).toThrow(message);
    expect(() => rowToConnector(bad)).toThrow(/connectors row con_1 is corrupt/);
  });

  it("decodes a row without zod exactly as the schema does, and leaves every row it does not accept to the schema", () => {
    const variants: Record<string, unknown>[] = [
      stored,
      { ...stored, oauth_endpoints: null },
      { ...stored, status: "error", status_reason: "refresh_failing", status_detail: "Reconnect.", expires_at: "2027-01-01T00:00:00.000Z" },
      { ...stored, status: "disabled", status_before_disable: "connected", last_checked_at: null, health: "unknown" },
      { ...stored, roles: "[]", scopes: "[]", settings: "{}", account: '{"nested":{"a":[1,null,true]}}' },
      { ...stored, roles: ["sink"], settings: {}, account: { email: "a@example.com" }, scopes: ["x"] }, // PostgreSQL: parsed
      { ...stored, oauth_endpoints: '{"issuer":"https://login.example"}' }, // the schema's path
      { ...stored, extra_column: "dropped" },
    ];
    for (const row of variants) {
      expect(rowToConnector(row), JSON.stringify(row)).toStrictEqual(rowToConnectorBySchema(row));
      expect(Object.keys(rowToConnector(row))).toEqual(Object.keys(rowToConnectorBySchema(row)));
    }
    const corrupt: Record<string, unknown>[] = [
      { ...stored, seq: "7" },
      { ...stored, seq: Number.NaN },
      { ...stored, label: null },
      { ...stored, auth_type: "password" },
      { ...stored, health: "fine" },
      { ...stored, status_before_disable: "gone" },
      { ...stored, status_reason: undefined },
      { ...stored, expires_at: 0 },
      { ...stored, created_at: undefined },
      { ...stored, scopes: "[1]" },
      { ...stored, scopes: "{" },
      { ...stored, roles: '"source"' },
      { ...stored, account: "[]" },
      { ...stored, settings: null },
    ];
    for (const row of corrupt) {
      expect(() => rowToConnectorBySchema(row), JSON.stringify(row)).toThrow(CorruptRowError);
      expect(() => rowToConnector(row), JSON.stringify(row)).toThrow(CorruptRowError);
    }
  });

  it("encodes only the JSON fields a patch carries", () => {
    expect(connectorPatch({ roles: ["sink"], label: "X", health: "unknown" })).toEqual({
      roles: '["sink"]',
      label: "X",
      health: "unknown",
    });
    expect(connectorPatch({ expires_at: null })).toEqual({ expires_at: null });
  });

  it("shows status_reason and status_detail in the public object only when set", () => {
    const row = rowToConnector(stored);
    const plain = toPublic(row, ["source"]);
    expect(plain).not.toHaveProperty("status_reason");
    expect(plain).not.toHaveProperty("status_detail");
    expect(toPublic({ ...row, status: "expired", status_reason: "expired", status_detail: "Ended." }, [])).toMatchObject({
      status_reason: "expired",
      status_detail: "Ended.",
    });
  });

  it("checks a grant's scopes and cursors the same way", () => {
    expect(grantScopes({ state_hash: "abc", scopes: '["a","b"]' as never })).toEqual(["a", "b"]);
    expect(() => grantScopes({ state_hash: "abc", scopes: '"a"' as never })).toThrow(CorruptRowError);
    expect(decodeCursor(encodeCursor(42))).toBe(42);
    for (const bad of ["", "bm90IGpzb24", encodeCursor(0), Buffer.from('{"s":1.5}').toString("base64url")]) {
      expect(() => decodeCursor(bad), bad).toThrow(expect.objectContaining({ code: "invalid_input" }));
    }
  });

  it("words the grant's lifetime from the constant", () => {
    expect(grantTtlText()).toBe("10 minutes");
    expect(grantTtlText(60_000)).toBe("1 minute");
  });
});

describe("migration 0003: status_reason backfilled from the old status_detail prefixes", () => {
  it("moves each prefix into the column and leaves the sentence", async () => {
    const sqlite = new SQLite(":memory:");
    const db = new Kysely<any>({ dialect: new SqliteDialect({ database: sqlite }) });
    const migrations: Record<string, Migration> = { "0001_initial": m0001, "0002_lifecycle": m0002, "0003_status_reason": m0003 };
    const migrator = new Migrator({ db, provider: { getMigrations: async () => migrations } });
    expect((await migrator.migrateTo("0002_lifecycle")).error).toBeUndefined();
    const rows: Array<[string, string, string | null]> = [
      ["a", "error", "consent_denied: the person declined access at HubSpot."],
      ["b", "error", "provider_error: HubSpot refused the authorization (other)."],
      ["c", "error", "state_expired: the authorization link expired before the person finished."],
      ["d", "expired", "expired: HubSpot refused the refresh token (invalid_grant)."],
      ["e", "connected", "refresh_failing: HubSpot could not refresh the access token (HTTP 502)."],
      ["f", "revoked", "revoked: revoked at HubSpot"],
      ["g", "disabled", "disabled (was connected); enable_connector makes it usable again"],
      ["h", "connected", "connected, but the test read failed: HTTP 401"],
      ["i", "error", "stateXexpired: not a prefix of ours"],
      ["j", "connected", null],
    ];
    for (const [id, status, detail] of rows) {
      await db
        .insertInto("connectors")
        .values({
          id,
          workspace_id: "ws_local",
          provider: "hubspot",
          label: id,
          auth_type: "oauth2",
          status,
          status_detail: detail,
          created_at: "t",
          updated_at: "t",
        })
        .execute();
    }
    expect((await migrator.migrateToLatest()).error).toBeUndefined();
    const after = await db.selectFrom("connectors").select(["id", "status_reason", "status_detail"]).orderBy("id").execute();
    expect(after).toEqual([
      { id: "a", status_reason: "consent_denied", status_detail: "The person declined access at HubSpot." },
      { id: "b", status_reason: "provider_error", status_detail: "HubSpot refused the authorization (other)." },
      { id: "c", status_reason: "state_expired", status_detail: "The authorization link expired before the person finished." },
      { id: "d", status_reason: "expired", status_detail: "HubSpot refused the refresh token (invalid_grant)." },
      { id: "e", status_reason: "refresh_failing", status_detail: "HubSpot could not refresh the access token (HTTP 502)." },
      { id: "f", status_reason: "revoked", status_detail: "Revoked at HubSpot" },
      { id: "g", status_reason: "disabled", status_detail: "disabled (was connected); enable_connector makes it usable again" },
      { id: "h", status_reason: null, status_detail: "connected, but the test read failed: HTTP 401" },
      { id: "i", status_reason: null, status_detail: "stateXexpired: not a prefix of ours" },
      { id: "j", status_reason: null, status_detail: null },
    ]);
    expect((await migrator.migrateDown()).error).toBeUndefined();
    await db.destroy();
  });
});
