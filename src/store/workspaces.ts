import crypto from "node:crypto";
import { ConnectorError } from "../common/errors.js";
import { newId, sha256Hex } from "../common/ids.js";
import type { DB, StoreDeps } from "./db.js";
import { cancelGrantsOfKey } from "./grants.js";
import { emitChange } from "./status.js";
import { writeTransaction } from "./write-transaction.js";

export const LOCAL_WORKSPACE_ID = "ws_local";
const KEY_RE = /^tnx_[A-Za-z0-9_-]{43,}$/;

export async function createWorkspace(db: DB, name: string, now: string): Promise<{ id: string; name: string }> {
  const clean = name.trim();
  if (!/^[\w.-]{1,64}$/.test(clean))
    throw new ConnectorError("invalid_input", "A workspace name is 1-64 letters, digits, '.', '_' or '-'.");
  // Names and ids share one argument (--workspace ID_OR_NAME): a name must never read as an id.
  if (/^ws_/i.test(clean))
    throw new ConnectorError("invalid_input", `A workspace name cannot start with "ws_": that prefix is for workspace ids.`);
  const existing = await db.selectFrom("workspaces").select("id").where("name", "=", clean).executeTakeFirst();
  if (existing) throw new ConnectorError("conflict", `A workspace named "${clean}" already exists (${existing.id}).`);
  const ws = { id: newId("ws", 8), name: clean, created_at: now };
  await db.insertInto("workspaces").values(ws).execute();
  return { id: ws.id, name: ws.name };
}

/** Every workspace, oldest first: `tenex-connectors workspaces list`. */
export async function listWorkspaces(db: DB): Promise<Array<{ id: string; name: string; created_at: string }>> {
  return db.selectFrom("workspaces").select(["id", "name", "created_at"]).orderBy("created_at").orderBy("id").execute();
}

/** A workspace by id, else by name (ids win, so a name from before names were checked cannot shadow an id). */
export async function findWorkspace(db: DB, idOrName: string): Promise<{ id: string; name: string }> {
  const ws =
    (await db.selectFrom("workspaces").select(["id", "name"]).where("id", "=", idOrName).executeTakeFirst()) ??
    (await db.selectFrom("workspaces").select(["id", "name"]).where("name", "=", idOrName).executeTakeFirst());
  if (!ws) {
    const names = (await listWorkspaces(db)).map((w) => w.name);
    const known = names.length
      ? `The workspaces are: ${names.slice(0, 10).join(", ")}${names.length > 10 ? ", …" : ""}.`
      : "There are no workspaces yet.";
    throw new ConnectorError(
      "not_found",
      `No workspace "${idOrName}". ${known} List them with \`tenex-connectors workspaces list\`; create one with \`tenex-connectors workspaces create NAME\`.`,
    );
  }
  return ws;
}

/** A new `tnx_` key: 32 random bytes, stored only as a hash with a short visible prefix. */
export async function createApiKey(db: DB, workspaceId: string, now: string): Promise<{ id: string; key: string; prefix: string }> {
  const key = `tnx_${crypto.randomBytes(32).toString("base64url")}`;
  const row = {
    id: newId("key", 8),
    workspace_id: workspaceId,
    prefix: key.slice(0, 12),
    hash: sha256Hex(key),
    created_at: now,
    revoked_at: null,
  };
  await db.insertInto("api_keys").values(row).execute();
  return { id: row.id, key, prefix: row.prefix };
}

/** The workspace a key acts for, or null for a malformed, unknown or revoked key. Read-only. */
export async function authenticateApiKey(db: DB, key: string): Promise<{ workspace_id: string; key_id: string } | null> {
  if (!KEY_RE.test(key)) return null;
  const hash = sha256Hex(key);
  const row = await db
    .selectFrom("api_keys")
    .select(["id", "workspace_id", "hash", "revoked_at"])
    .where("hash", "=", hash)
    .executeTakeFirst();
  if (!row || row.revoked_at) return null;
  // The lookup is by hash; compare again in constant time so timing says nothing about near misses.
  if (!crypto.timingSafeEqual(Buffer.from(row.hash, "hex"), Buffer.from(hash, "hex"))) return null;
  return { workspace_id: row.workspace_id, key_id: row.id };
}

/** What `keys list` shows: never the key or its hash. */
export interface ApiKeyInfo {
  id: string;
  workspace_id: string;
  prefix: string;
  created_at: string;
  revoked_at: string | null;
}

/** Keys, oldest first, of one workspace or of all. */
export async function listApiKeys(db: DB, workspaceId?: string): Promise<ApiKeyInfo[]> {
  let q = db.selectFrom("api_keys").select(["id", "workspace_id", "prefix", "created_at", "revoked_at"]);
  if (workspaceId) q = q.where("workspace_id", "=", workspaceId);
  return q.orderBy("created_at").orderBy("id").execute();
}

/**
 * Revoke a key at once; revoking a revoked key keeps its first revocation time. The pending grants
 * the key started are cancelled in the same transaction (their connectors: `error`, status_reason
 * `cancelled`), so a link handed out under a revoked key cannot complete into the workspace.
 * Pass `announce` to wake this process's waiters (other processes notice through the database).
 */
export async function revokeApiKey(db: DB, keyId: string, now: string, announce?: Pick<StoreDeps, "events">): Promise<ApiKeyInfo> {
  const changes = await writeTransaction(db, async (trx) => {
    await trx.updateTable("api_keys").set({ revoked_at: now }).where("id", "=", keyId).where("revoked_at", "is", null).execute();
    return cancelGrantsOfKey(trx, { clock: () => Date.parse(now) }, keyId);
  });
  if (announce) for (const change of changes) emitChange(announce, change);
  const row = await db
    .selectFrom("api_keys")
    .select(["id", "workspace_id", "prefix", "created_at", "revoked_at"])
    .where("id", "=", keyId)
    .executeTakeFirst();
  if (!row) throw new ConnectorError("not_found", `No API key "${keyId}". Run \`tenex-connectors keys list\` to see the key ids.`);
  return row;
}

/**
 * Fail unless the key is still live (one primary-key read). A long-running stdio server checks
 * its TENEX_API_KEY with this before every tool call, so `keys revoke` stops it at once.
 */
export async function assertKeyLive(db: DB, keyId: string): Promise<void> {
  const live = await db.selectFrom("api_keys").select("id").where("id", "=", keyId).where("revoked_at", "is", null).executeTakeFirst();
  if (!live) {
    throw new ConnectorError(
      "invalid_state",
      `The API key this server runs with (TENEX_API_KEY, ${keyId}) was revoked, so no tool works any more. Ask the operator for a new key and restart the server with it.`,
    );
  }
}

/** Of these key ids, the ones that are revoked (or gone). Read-only. */
export async function revokedKeyIds(db: DB, keyIds: string[]): Promise<Set<string>> {
  if (keyIds.length === 0) return new Set();
  const live = await db.selectFrom("api_keys").select("id").where("id", "in", keyIds).where("revoked_at", "is", null).execute();
  const alive = new Set(live.map((r) => r.id));
  return new Set(keyIds.filter((id) => !alive.has(id)));
}
