/**
 * Rows of migration 0012: the authorization server's storage (`oauth_server_records`, sealed
 * payloads keyed by hashes; this module never sees plaintext) and the operator's record of MCP
 * clients allowed into workspaces (`mcp_client_grants`). Typed with `withTables`, so the module
 * stays self-contained.
 */
import { ConnectorError } from "../common/errors.js";
import { newId } from "../common/ids.js";
import type { DB } from "./db.js";
import { writeTransaction } from "./write-transaction.js";

export interface ServerRecordRow {
  key_hash: string;
  model: string;
  grant_id: string | null;
  uid_hash: string | null;
  payload: string;
  expires_at: number | null;
  consumed_at: number | null;
}

/** What `clients list` shows. */
export interface ClientGrantRow {
  id: string;
  grant_id: string;
  client_id: string;
  client_name: string | null;
  redirect_host: string | null;
  workspace_id: string;
  member_id: string;
  member_email: string;
  created_at: string;
  revoked_at: string | null;
  revoked_why: string | null;
}

type Tables = {
  oauth_server_records: ServerRecordRow;
  mcp_client_grants: ClientGrantRow;
};

const tables = (db: DB) => db.withTables<Tables>();

export async function upsertServerRecord(db: DB, row: ServerRecordRow): Promise<void> {
  await tables(db)
    .insertInto("oauth_server_records")
    .values(row)
    .onConflict((oc) =>
      oc.column("key_hash").doUpdateSet({
        payload: row.payload,
        grant_id: row.grant_id,
        uid_hash: row.uid_hash,
        expires_at: row.expires_at,
        consumed_at: row.consumed_at,
      }),
    )
    .execute();
}

/** The row under `keyHash` unless it has expired. */
export async function findServerRecord(db: DB, keyHash: string, nowMs: number): Promise<ServerRecordRow | undefined> {
  const row = await tables(db).selectFrom("oauth_server_records").selectAll().where("key_hash", "=", keyHash).executeTakeFirst();
  if (!row || (row.expires_at !== null && row.expires_at <= nowMs)) return undefined;
  return row;
}

export async function findServerRecordByUid(db: DB, model: string, uidHash: string, nowMs: number): Promise<ServerRecordRow | undefined> {
  const row = await tables(db)
    .selectFrom("oauth_server_records")
    .selectAll()
    .where("uid_hash", "=", uidHash)
    .where("model", "=", model)
    .executeTakeFirst();
  if (!row || (row.expires_at !== null && row.expires_at <= nowMs)) return undefined;
  return row;
}

/** Mark a record used, keeping the time of its first use (a reuse grace counts from there). */
export async function consumeServerRecord(db: DB, keyHash: string, nowMs: number): Promise<void> {
  await tables(db)
    .updateTable("oauth_server_records")
    .set({ consumed_at: nowMs })
    .where("key_hash", "=", keyHash)
    .where("consumed_at", "is", null)
    .execute();
}

export async function deleteServerRecord(db: DB, keyHash: string): Promise<void> {
  await tables(db).deleteFrom("oauth_server_records").where("key_hash", "=", keyHash).execute();
}

/** Set or clear a record's expiry (a registered client that was used is kept). */
export async function setServerRecordExpiry(db: DB, keyHash: string, expiresAt: number | null): Promise<void> {
  await tables(db).updateTable("oauth_server_records").set({ expires_at: expiresAt }).where("key_hash", "=", keyHash).execute();
}

/** Delete expired rows; returns how many. */
export async function purgeExpiredServerRecords(db: DB, nowMs: number): Promise<number> {
  const res = await tables(db).deleteFrom("oauth_server_records").where("expires_at", "<=", nowMs).executeTakeFirst();
  return Number(res.numDeletedRows);
}

/** Delete every record of these grants and mark the operator's records revoked with why (the first reason wins). */
async function endGrants(db: DB, grantIds: string[], why: string, now: string): Promise<void> {
  await tables(db).deleteFrom("oauth_server_records").where("grant_id", "in", grantIds).execute();
  await tables(db)
    .updateTable("mcp_client_grants")
    .set({ revoked_at: now, revoked_why: why })
    .where("grant_id", "in", grantIds)
    .where("revoked_at", "is", null)
    .execute();
}

/**
 * End a grant: every token, code and the grant itself are deleted, and the operator's record is
 * marked revoked with why (first reason wins). Returns the operator's record when there was one.
 */
export async function endGrant(db: DB, grantId: string, why: string, now: string): Promise<ClientGrantRow | undefined> {
  return writeTransaction(db, async (trx) => {
    await endGrants(trx, [grantId], why, now);
    return tables(trx).selectFrom("mcp_client_grants").selectAll().where("grant_id", "=", grantId).executeTakeFirst();
  });
}

/** Record that a member allowed a client into their workspace (the consent page's Allow). */
export async function recordClientGrant(db: DB, g: Omit<ClientGrantRow, "id" | "revoked_at" | "revoked_why">): Promise<ClientGrantRow> {
  const row: ClientGrantRow = { id: newId("mcg"), ...g, revoked_at: null, revoked_why: null };
  await tables(db)
    .insertInto("mcp_client_grants")
    .values(row)
    .onConflict((oc) => oc.column("grant_id").doNothing())
    .execute();
  return (await tables(db).selectFrom("mcp_client_grants").selectAll().where("grant_id", "=", g.grant_id).executeTakeFirst()) ?? row;
}

export async function listClientGrants(db: DB, workspaceId?: string): Promise<ClientGrantRow[]> {
  let q = tables(db).selectFrom("mcp_client_grants").selectAll();
  if (workspaceId) q = q.where("workspace_id", "=", workspaceId);
  return q.orderBy("created_at").orderBy("id").execute();
}

/** `clients revoke ID`: `not_found` for an unknown id; revoking twice keeps the first time. */
export async function revokeClientGrant(db: DB, id: string, why: string, now: string): Promise<ClientGrantRow> {
  const row = await tables(db).selectFrom("mcp_client_grants").select("grant_id").where("id", "=", id).executeTakeFirst();
  if (!row) throw new ConnectorError("not_found", `No client grant "${id}". List them with \`tenex-connectors clients list\`.`);
  const ended = await endGrant(db, row.grant_id, why, now);
  if (!ended) throw new ConnectorError("not_found", `No client grant "${id}".`);
  return ended;
}

/** End every live grant of a member (removing a member does, inside its transaction); returns how many. */
export async function endMemberGrants(db: DB, memberId: string, why: string, now: string): Promise<number> {
  const rows = await tables(db)
    .selectFrom("mcp_client_grants")
    .select("grant_id")
    .where("member_id", "=", memberId)
    .where("revoked_at", "is", null)
    .execute();
  const grantIds = rows.map((r) => r.grant_id);
  if (grantIds.length > 0) await endGrants(db, grantIds, why, now);
  return grantIds.length;
}

/** Grants among `grantIds` that were ended (the session sweep closes their open streams). */
export async function endedGrantIds(db: DB, grantIds: string[]): Promise<Set<string>> {
  if (grantIds.length === 0) return new Set();
  const live = await tables(db)
    .selectFrom("mcp_client_grants")
    .select("grant_id")
    .where("grant_id", "in", grantIds)
    .where("revoked_at", "is", null)
    .execute();
  const liveSet = new Set(live.map((r) => r.grant_id));
  return new Set(grantIds.filter((g) => !liveSet.has(g)));
}

/**
 * An access token's record with the live grant behind it: undefined when the token is unknown
 * or expired, its grant was ended, or its member was removed. One indexed read.
 */
export async function liveAccessRecord(
  db: DB,
  keyHash: string,
  nowMs: number,
): Promise<{ payload: string; workspace_id: string; member_id: string; grant_id: string; client_id: string } | undefined> {
  const row = await db
    .withTables<Tables>()
    .selectFrom("oauth_server_records as r")
    .innerJoin("mcp_client_grants as g", "g.grant_id", "r.grant_id")
    .innerJoin("members as m", "m.id", "g.member_id")
    .select(["r.payload", "r.expires_at", "g.workspace_id", "g.member_id", "g.grant_id", "g.client_id"])
    .where("r.key_hash", "=", keyHash)
    .where("r.model", "=", "AccessToken")
    .where("g.revoked_at", "is", null)
    .executeTakeFirst();
  if (!row || row.expires_at === null || row.expires_at <= nowMs) return undefined;
  return {
    payload: row.payload,
    workspace_id: row.workspace_id,
    member_id: row.member_id,
    grant_id: row.grant_id,
    client_id: row.client_id,
  };
}
