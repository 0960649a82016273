// Remote MCP clients (issue 17), the operator's view on the command line: `clients list
// [--workspace W]` shows which MCP client a member allowed into which workspace and when;
// `clients revoke ID` ends that grant and deletes its tokens; `members remove ID` ends the
// member's client grants too. The built CLI runs against a database this test also opens.
import { spawnSync } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type OpenedDatabase, openDatabase } from "../src/store/db.js";
import { addMember } from "../src/store/members.js";
import { type ClientGrantRow, recordClientGrant, type ServerRecordRow, upsertServerRecord } from "../src/store/oauth-server.js";
import { findWorkspace } from "../src/store/workspaces.js";
import { recordKey } from "../src/transports/http/authorization/adapter.js";
import { testDatabaseEnv } from "./support/database.js";
import { CLI, ROOT, tempDir } from "./support/stdio.js";

let env: Record<string, string>;
let database: OpenedDatabase;
const cli = (args: string[]) => spawnSync(process.execPath, [CLI, ...args], { env, cwd: ROOT, encoding: "utf8" });

const SHOWN = [
  "client_id",
  "client_name",
  "created_at",
  "id",
  "member_email",
  "member_id",
  "redirect_host",
  "revoked_at",
  "revoked_why",
  "workspace_id",
];

let sales: { id: string };
let ops: { id: string };

/** A member and a grant they made, as the consent page's Allow records it. */
async function grant(workspaceId: string, email: string, clientName: string, grantId: string, at: string) {
  const member = await addMember(database.db, { workspace_id: workspaceId, email, password_hash: null, now: at });
  const row = await recordClientGrant(database.db, {
    grant_id: grantId,
    client_id: `mcpc_for_${clientName.toLowerCase().replace(/\W/g, "")}`,
    client_name: clientName,
    redirect_host: "claude.ai",
    workspace_id: workspaceId,
    member_id: member.id,
    member_email: email,
    created_at: at,
  });
  return { member, row };
}

/** A stored token of a grant (its payload is opaque to the store; a placeholder will do). */
async function tokenRecord(model: string, id: string, grantId: string): Promise<string> {
  const keyHash = recordKey(model, id);
  const row: ServerRecordRow = {
    key_hash: keyHash,
    model,
    grant_id: grantId,
    uid_hash: null,
    payload: "sealed-placeholder",
    expires_at: Date.now() + 3600_000,
    consumed_at: null,
  };
  await upsertServerRecord(database.db, row);
  return keyHash;
}

const recordsOf = async (grantId: string) =>
  database.db
    .withTables<{ oauth_server_records: ServerRecordRow }>()
    .selectFrom("oauth_server_records")
    .select("key_hash")
    .where("grant_id", "=", grantId)
    .execute();

const grantRow = (id: string) =>
  database.db
    .withTables<{ mcp_client_grants: ClientGrantRow }>()
    .selectFrom("mcp_client_grants")
    .selectAll()
    .where("id", "=", id)
    .executeTakeFirstOrThrow();

beforeAll(async () => {
  env = { PATH: process.env.PATH ?? "", ...testDatabaseEnv(tempDir("tenex-clients-cli-"), "cli.db") };
  for (const name of ["sales", "ops"]) {
    const r = cli(["workspaces", "create", name]);
    expect(r.status, r.stderr).toBe(0);
  }
  database = await openDatabase(env.TENEX_DB!);
  sales = await findWorkspace(database.db, "sales");
  ops = await findWorkspace(database.db, "ops");
}, 60_000);
afterAll(async () => {
  await database?.close();
});

describe("`clients` on the command line", () => {
  it("lists every grant as JSON (without the library's grant id), or one workspace's with --workspace", async () => {
    const a = await grant(sales.id, "ann@sales.example", "Claude", "grant-list-a", "2026-01-01T10:00:00.000Z");
    const b = await grant(ops.id, "olu@ops.example", "ChatGPT", "grant-list-b", "2026-01-02T10:00:00.000Z");
    const all = cli(["clients", "list"]);
    expect(all.status, all.stderr).toBe(0);
    const listed = JSON.parse(all.stdout) as Record<string, unknown>[];
    const mine = listed.filter((r) => r.id === a.row.id || r.id === b.row.id);
    expect(mine).toHaveLength(2);
    for (const r of mine) expect(Object.keys(r).sort()).toEqual(SHOWN);
    expect(all.stdout).not.toContain("grant-list-a");
    expect(mine[0]).toEqual({
      id: a.row.id,
      client_id: "mcpc_for_claude",
      client_name: "Claude",
      redirect_host: "claude.ai",
      workspace_id: sales.id,
      member_id: a.member.id,
      member_email: "ann@sales.example",
      created_at: "2026-01-01T10:00:00.000Z",
      revoked_at: null,
      revoked_why: null,
    });
    expect(mine[1]).toMatchObject({ id: b.row.id, client_name: "ChatGPT", workspace_id: ops.id, member_id: b.member.id, revoked_at: null });

    for (const w of ["sales", sales.id]) {
      const one = cli(["clients", "list", "--workspace", w]);
      expect(one.status, one.stderr).toBe(0);
      const rows = JSON.parse(one.stdout) as Record<string, unknown>[];
      expect(rows.map((r) => r.id)).toContain(a.row.id);
      expect(rows.map((r) => r.id)).not.toContain(b.row.id);
      expect(rows.every((r) => r.workspace_id === sales.id)).toBe(true);
    }
    const nowhere = cli(["clients", "list", "--workspace", "nowhere"]);
    expect(nowhere.status).toBe(1);
    expect(nowhere.stderr).toContain('No workspace "nowhere"');
  }, 60_000);

  it("revokes a grant: revoked_at and revoked_why set, its token records deleted, other grants' kept; revoking again keeps the first time", async () => {
    const target = await grant(sales.id, "rae@sales.example", "Cursor", "grant-revoke", "2026-01-03T10:00:00.000Z");
    const other = await grant(sales.id, "sam@sales.example", "VS Code", "grant-keep", "2026-01-03T11:00:00.000Z");
    await tokenRecord("AccessToken", "at-of-revoked-grant", "grant-revoke");
    await tokenRecord("RefreshToken", "rt-of-revoked-grant", "grant-revoke");
    const kept = await tokenRecord("AccessToken", "at-of-other-grant", "grant-keep");
    expect(await recordsOf("grant-revoke")).toHaveLength(2);

    const before = Date.now();
    const r = cli(["clients", "revoke", target.row.id]);
    expect(r.status, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out).toEqual({ id: target.row.id, client_id: "mcpc_for_cursor", workspace_id: sales.id, revoked_at: expect.any(String) });
    const row = await grantRow(target.row.id);
    expect(row.revoked_why).toBe("revoked_by_operator");
    expect(row.revoked_at).toBe(out.revoked_at);
    expect(Date.parse(row.revoked_at!)).toBeGreaterThanOrEqual(before - 1000);
    expect(await recordsOf("grant-revoke")).toEqual([]);
    expect((await recordsOf("grant-keep")).map((x) => x.key_hash)).toEqual([kept]);
    expect((await grantRow(other.row.id)).revoked_at).toBeNull();

    const listed = JSON.parse(cli(["clients", "list", "--workspace", "sales"]).stdout) as Record<string, unknown>[];
    expect(listed.find((x) => x.id === target.row.id)).toMatchObject({ revoked_at: out.revoked_at, revoked_why: "revoked_by_operator" });

    const again = cli(["clients", "revoke", target.row.id]);
    expect(again.status, again.stderr).toBe(0);
    expect(JSON.parse(again.stdout).revoked_at).toBe(out.revoked_at);
  }, 60_000);

  it("refuses an unknown ID with a clear message on stderr, and usage mistakes", () => {
    const unknown = cli(["clients", "revoke", "mcg_no_such_grant"]);
    expect(unknown.status).not.toBe(0);
    expect(unknown.stdout).toBe("");
    expect(unknown.stderr).toContain('No client grant "mcg_no_such_grant"');
    expect(unknown.stderr).toContain("clients list");
    const missing = cli(["clients", "revoke"]);
    expect(missing.status).toBe(2);
    expect(missing.stdout).toBe("");
    const sub = cli(["clients", "purge"]);
    expect(sub.status).toBe(2);
    expect(sub.stderr).toContain('unknown clients command "purge"');
  }, 60_000);
});

describe("`members remove` and client grants", () => {
  it("ends every live grant of the removed member and says so on stderr", async () => {
    const first = await grant(ops.id, "max@ops.example", "Claude", "grant-member-1", "2026-01-04T10:00:00.000Z");
    const second = await recordClientGrant(database.db, {
      grant_id: "grant-member-2",
      client_id: "https://client.example.test/doc.json",
      client_name: "Doc Client",
      redirect_host: "client.example.test",
      workspace_id: ops.id,
      member_id: first.member.id,
      member_email: "max@ops.example",
      created_at: "2026-01-04T11:00:00.000Z",
    });
    await tokenRecord("AccessToken", "at-of-member-1", "grant-member-1");
    await tokenRecord("RefreshToken", "rt-of-member-2", "grant-member-2");

    const r = cli(["members", "remove", first.member.id]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toContain("2 MCP client grant(s) ended");
    for (const id of [first.row.id, second.id]) {
      const row = await grantRow(id);
      expect(row.revoked_at).not.toBeNull();
      expect(row.revoked_why).toBe("member_removed");
    }
    expect(await recordsOf("grant-member-1")).toEqual([]);
    expect(await recordsOf("grant-member-2")).toEqual([]);
  }, 60_000);
});
