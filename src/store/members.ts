/**
 * Workspace members and their sign-in sessions (migration 0010). A session is stored as the
 * sha256 of its cookie value; removing a member removes their sessions in the same transaction,
 * so a removed member's browser is signed out at its next request.
 */
import { ConnectorError } from "../common/errors.js";
import { newId, sha256Hex } from "../common/ids.js";
import type { DB } from "./db.js";
import { endMemberGrants } from "./oauth-server.js";
import { writeTransaction } from "./write-transaction.js";

/** What `members add` and `members list` show: never the password hash. */
export interface MemberInfo {
  id: string;
  workspace_id: string;
  email: string;
}

/** A member found for sign-in, with the workspace's name and the stored hash (null: no password). */
export interface MemberForSignIn extends MemberInfo {
  workspace_name: string;
  password_hash: string | null;
}

const EMAIL_RE = /^[^\s@]+@[^\s@]+\.[^\s@]+$|^[^\s@]+@localhost$/;

/** The comparison key of an email: trimmed and lower-cased. */
export function emailKey(email: string): string {
  return email.trim().toLowerCase();
}

export function checkEmail(email: string): string {
  const clean = email.trim();
  if (clean.length > 254 || !EMAIL_RE.test(clean))
    throw new ConnectorError("invalid_input", `"${clean.slice(0, 80)}" is not an email address.`);
  return clean;
}

/** Add a member; `conflict` when the email (in any case) is already a member of the workspace. */
export async function addMember(
  db: DB,
  m: { workspace_id: string; email: string; password_hash: string | null; now: string },
): Promise<MemberInfo> {
  const email = checkEmail(m.email);
  const row = {
    id: newId("mem", 8),
    workspace_id: m.workspace_id,
    email,
    email_key: emailKey(email),
    password_hash: m.password_hash,
    created_at: m.now,
  };
  return writeTransaction(db, async (trx) => {
    const existing = await trx
      .selectFrom("members")
      .select("id")
      .where("workspace_id", "=", row.workspace_id)
      .where("email_key", "=", row.email_key)
      .executeTakeFirst();
    if (existing) throw new ConnectorError("conflict", `${email} is already a member of this workspace (${existing.id}).`);
    await trx.insertInto("members").values(row).execute();
    return { id: row.id, workspace_id: row.workspace_id, email: row.email };
  });
}

/** A workspace's members, oldest first. */
export async function listMembers(db: DB, workspaceId: string): Promise<Array<MemberInfo & { created_at: string; has_password: boolean }>> {
  const rows = await db
    .selectFrom("members")
    .select(["id", "workspace_id", "email", "created_at", "password_hash"])
    .where("workspace_id", "=", workspaceId)
    .orderBy("created_at")
    .orderBy("id")
    .execute();
  return rows.map((r) => ({
    id: r.id,
    workspace_id: r.workspace_id,
    email: r.email,
    created_at: r.created_at,
    has_password: r.password_hash !== null,
  }));
}

/** Whether a workspace has any member (the connect page asks). */
export async function hasMembers(db: DB, workspaceId: string): Promise<boolean> {
  return (await db.selectFrom("members").select("id").where("workspace_id", "=", workspaceId).limit(1).executeTakeFirst()) !== undefined;
}

/**
 * Remove a member and end, at once and in one transaction, their sign-in sessions and the OAuth
 * grants of the MCP clients they allowed (every token of those grants stops working); `not_found`
 * for an unknown id.
 */
export async function removeMember(
  db: DB,
  memberId: string,
  now: string = new Date().toISOString(),
): Promise<MemberInfo & { sessions_ended: number; client_grants_ended: number }> {
  return writeTransaction(db, async (trx) => {
    const row = await trx.selectFrom("members").select(["id", "workspace_id", "email"]).where("id", "=", memberId).executeTakeFirst();
    if (!row)
      throw new ConnectorError("not_found", `No member "${memberId}". List them with \`tenex-connectors members list --workspace W\`.`);
    const ended = await trx.deleteFrom("member_sessions").where("member_id", "=", memberId).executeTakeFirst();
    const grants = await endMemberGrants(trx, memberId, "member_removed", now);
    await trx.deleteFrom("members").where("id", "=", memberId).execute();
    return { ...row, sessions_ended: Number(ended.numDeletedRows), client_grants_ended: grants };
  });
}

/** Every membership of an email (case-insensitive), with each workspace's name. */
export async function membersByEmail(db: DB, email: string): Promise<MemberForSignIn[]> {
  return db
    .selectFrom("members")
    .innerJoin("workspaces", "workspaces.id", "members.workspace_id")
    .select(["members.id", "members.workspace_id", "members.email", "members.password_hash", "workspaces.name as workspace_name"])
    .where("members.email_key", "=", emailKey(email))
    .orderBy("workspaces.name")
    .execute();
}

/** One member with its workspace's name, or undefined. */
export async function memberById(db: DB, memberId: string): Promise<(MemberInfo & { workspace_name: string }) | undefined> {
  return db
    .selectFrom("members")
    .innerJoin("workspaces", "workspaces.id", "members.workspace_id")
    .select(["members.id", "members.workspace_id", "members.email", "workspaces.name as workspace_name"])
    .where("members.id", "=", memberId)
    .executeTakeFirst();
}

/** Store a new session for a member; the caller holds the cookie value, the database its hash. */
export async function createSession(
  db: DB,
  s: { token: string; member_id: string; workspace_id: string; expires_at: number; now: string },
): Promise<void> {
  await db
    .insertInto("member_sessions")
    .values({
      id_hash: sha256Hex(s.token),
      member_id: s.member_id,
      workspace_id: s.workspace_id,
      expires_at: s.expires_at,
      created_at: s.now,
    })
    .execute();
}

/** The member a session cookie signs in, or undefined when it is unknown, expired, or its member is gone. */
export async function sessionMember(db: DB, token: string, nowMs: number): Promise<(MemberInfo & { workspace_name: string }) | undefined> {
  return db
    .selectFrom("member_sessions")
    .innerJoin("members", "members.id", "member_sessions.member_id")
    .innerJoin("workspaces", "workspaces.id", "members.workspace_id")
    .select(["members.id", "members.workspace_id", "members.email", "workspaces.name as workspace_name"])
    .where("member_sessions.id_hash", "=", sha256Hex(token))
    .where("member_sessions.expires_at", ">", nowMs)
    .executeTakeFirst();
}

/** End one session (sign out); expired sessions are swept at the same time. */
export async function endSession(db: DB, token: string, nowMs: number): Promise<void> {
  await db.deleteFrom("member_sessions").where("id_hash", "=", sha256Hex(token)).execute();
  await db.deleteFrom("member_sessions").where("expires_at", "<=", nowMs).execute();
}
