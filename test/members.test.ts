// Members (issue 16): `members add/list/remove` as DESIGN.md's "Command line" says, emails unique
// per workspace (case-insensitive) and shared across workspaces, scrypt hashes that never show,
// and removal ending the member's sessions at once.
import { spawnSync } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hashPassword, verifyPassword } from "../src/credentials/passwords.js";
import { type OpenedDatabase, openDatabase } from "../src/store/db.js";
import { addMember, createSession, listMembers, membersByEmail, removeMember, sessionMember } from "../src/store/members.js";
import { createWorkspace } from "../src/store/workspaces.js";
import { testDatabase, testDatabaseEnv } from "./support/database.js";
import { CLI, ROOT, tempDir } from "./support/stdio.js";

const now = () => new Date().toISOString();

describe("password hashes", () => {
  it("are self-describing scrypt strings that verify only the right password", async () => {
    const hash = await hashPassword("correct horse battery");
    expect(hash).toMatch(/^scrypt\$N=32768,r=8,p=3\$[A-Za-z0-9_-]{22}\$[A-Za-z0-9_-]{43}$/);
    expect(hash).not.toContain("correct horse");
    expect(await verifyPassword("correct horse battery", hash)).toBe(true);
    expect(await verifyPassword("correct horse batterY", hash)).toBe(false);
    // Two hashes of one password differ (a random salt each).
    expect(await hashPassword("correct horse battery")).not.toBe(hash);
  });

  it("answer false for no hash or a malformed one (after doing the same work)", async () => {
    expect(await verifyPassword("anything at all", undefined)).toBe(false);
    expect(await verifyPassword("anything at all", null)).toBe(false);
    expect(await verifyPassword("anything at all", "scrypt$N=3,r=8,p=1$x$y")).toBe(false);
    expect(await verifyPassword("anything at all", "plain text")).toBe(false);
  });
});

describe("members in the store", () => {
  let database: OpenedDatabase;
  beforeAll(async () => {
    database = await openDatabase(testDatabase(tempDir("tenex-members-")));
  });
  afterAll(async () => {
    await database?.close();
  });

  it("keeps an email unique within a workspace whatever its case, and lets it join several", async () => {
    const a = await createWorkspace(database.db, "alpha", now());
    const b = await createWorkspace(database.db, "beta", now());
    const m = await addMember(database.db, { workspace_id: a.id, email: "Ann@Example.com", password_hash: null, now: now() });
    expect(m).toEqual({ id: expect.stringMatching(/^mem_/), workspace_id: a.id, email: "Ann@Example.com" });
    await expect(
      addMember(database.db, { workspace_id: a.id, email: "ann@example.COM", password_hash: null, now: now() }),
    ).rejects.toMatchObject({
      code: "conflict",
    });
    await addMember(database.db, { workspace_id: b.id, email: "ann@example.com", password_hash: null, now: now() });
    const both = await membersByEmail(database.db, "ANN@example.com");
    expect(both.map((r) => r.workspace_name)).toEqual(["alpha", "beta"]);
    await expect(
      addMember(database.db, { workspace_id: a.id, email: "not an email", password_hash: null, now: now() }),
    ).rejects.toMatchObject({
      code: "invalid_input",
    });
  });

  it("ends a removed member's sessions at once", async () => {
    const ws = await createWorkspace(database.db, "gamma", now());
    const m = await addMember(database.db, { workspace_id: ws.id, email: "bo@example.com", password_hash: null, now: now() });
    const t = Date.now();
    await createSession(database.db, { token: "session-one", member_id: m.id, workspace_id: ws.id, expires_at: t + 60_000, now: now() });
    await createSession(database.db, { token: "session-two", member_id: m.id, workspace_id: ws.id, expires_at: t + 60_000, now: now() });
    expect(await sessionMember(database.db, "session-one", t)).toMatchObject({ id: m.id, workspace_name: "gamma" });
    // Stored as hashes, never the cookie value.
    const rows = await database.db.selectFrom("member_sessions").select("id_hash").where("member_id", "=", m.id).execute();
    expect(rows.map((r) => r.id_hash)).not.toContain("session-one");
    // Expired: not signed in.
    expect(await sessionMember(database.db, "session-one", t + 60_000)).toBeUndefined();
    expect(await removeMember(database.db, m.id)).toMatchObject({ id: m.id, sessions_ended: 2 });
    expect(await sessionMember(database.db, "session-one", t)).toBeUndefined();
    expect(await sessionMember(database.db, "session-two", t)).toBeUndefined();
    expect(await listMembers(database.db, ws.id)).toEqual([]);
    await expect(removeMember(database.db, m.id)).rejects.toMatchObject({ code: "not_found" });
  });
});

describe("`members` on the command line", () => {
  let dir: string;
  let env: Record<string, string>;
  const cli = (args: string[], input?: string) =>
    spawnSync(process.execPath, [CLI, ...args], { env, cwd: ROOT, encoding: "utf8", ...(input === undefined ? {} : { input }) });

  beforeAll(() => {
    dir = tempDir("tenex-members-cli-");
    env = { PATH: process.env.PATH ?? "", ...testDatabaseEnv(dir, "cli.db") };
    const r = cli(["workspaces", "create", "sales"]);
    expect(r.status, r.stderr).toBe(0);
  });

  it("adds with a password from stdin, lists, and removes; stdout carries only the result", async () => {
    const add = cli(["members", "add", "--workspace", "sales", "--email", "Dee@Example.com", "--password-stdin"], "a long enough secret\n");
    expect(add.status, add.stderr).toBe(0);
    const member = JSON.parse(add.stdout);
    expect(Object.keys(member).sort()).toEqual(["email", "id", "workspace_id"]);
    expect(member).toMatchObject({
      id: expect.stringMatching(/^mem_/),
      email: "Dee@Example.com",
      workspace_id: expect.stringMatching(/^ws_/),
    });
    expect(add.stdout + add.stderr).not.toContain("a long enough secret");

    // The hash in the database is scrypt's, and verifies the password piped in (its final line break dropped).
    const database = await openDatabase(env.TENEX_DB!);
    try {
      const row = await database.db.selectFrom("members").select("password_hash").where("id", "=", member.id).executeTakeFirstOrThrow();
      expect(row.password_hash).toMatch(/^scrypt\$/);
      expect(await verifyPassword("a long enough secret", row.password_hash)).toBe(true);
    } finally {
      await database.close();
    }

    const sso = cli(["members", "add", "--workspace", "sales", "--email", "eve@example.com"]);
    expect(sso.status, sso.stderr).toBe(0);
    const dup = cli(["members", "add", "--workspace", "sales", "--email", "DEE@example.com"]);
    expect(dup.status).toBe(1);
    expect(dup.stdout).toBe("");
    expect(dup.stderr).toContain("already a member");

    const list = cli(["members", "list", "--workspace", "sales"]);
    expect(list.status, list.stderr).toBe(0);
    const listed = JSON.parse(list.stdout);
    expect(listed.map((m: { email: string }) => m.email)).toEqual(["Dee@Example.com", "eve@example.com"]);
    expect(listed.map((m: { has_password: boolean }) => m.has_password)).toEqual([true, false]);
    expect(list.stdout).not.toContain("scrypt");

    const rm = cli(["members", "remove", member.id]);
    expect(rm.status, rm.stderr).toBe(0);
    expect(JSON.parse(rm.stdout)).toEqual(member);
    const again = cli(["members", "remove", member.id]);
    expect(again.status).toBe(1);
    expect(again.stdout).toBe("");
    expect(again.stderr).toContain("No member");
  }, 90_000); // seven CLI processes, one after another (two hash a password): slow on a loaded 2-core machine

  it("refuses a short password and usage mistakes on stderr", () => {
    const short = cli(["members", "add", "--workspace", "sales", "--email", "fay@example.com", "--password-stdin"], "short\n");
    expect(short.status).toBe(1);
    expect(short.stdout).toBe("");
    expect(short.stderr).toContain("at least 12 characters");
    expect(short.stderr).not.toContain("short\n");
    const usage = cli(["members", "add", "--email", "fay@example.com"]);
    expect(usage.status).toBe(2);
    expect(usage.stdout).toBe("");
    const unknown = cli(["members", "list", "--workspace", "nowhere"]);
    expect(unknown.status).toBe(1);
    expect(unknown.stderr).toContain('No workspace "nowhere"');
  }, 60_000); // three CLI processes
});
