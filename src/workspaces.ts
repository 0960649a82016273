import crypto from "node:crypto";
import type { DB } from "./db/index.js";
import { ConnectorError } from "./errors.js";
import { newId, sha256Hex } from "./ids.js";

export const LOCAL_WORKSPACE_ID = "ws_local";
const KEY_RE = /^tnx_[A-Za-z0-9_-]{43,}$/;

export async function createWorkspace(db: DB, name: string, now: string): Promise<{ id: string; name: string }> {
  const clean = name.trim();
  if (!/^[\w.-]{1,64}$/.test(clean)) throw new ConnectorError("invalid_input", "A workspace name is 1-64 letters, digits, '.', '_' or '-'.");
  const existing = await db.selectFrom("workspaces").select("id").where("name", "=", clean).executeTakeFirst();
  if (existing) throw new ConnectorError("conflict", `A workspace named "${clean}" already exists (${existing.id}).`);
  const ws = { id: newId("ws", 8), name: clean, created_at: now };
  await db.insertInto("workspaces").values(ws).execute();
  return { id: ws.id, name: ws.name };
}

export async function findWorkspace(db: DB, idOrName: string): Promise<{ id: string; name: string }> {
  const ws = await db
    .selectFrom("workspaces")
    .select(["id", "name"])
    .where((eb) => eb.or([eb("id", "=", idOrName), eb("name", "=", idOrName)]))
    .executeTakeFirst();
  if (!ws) throw new ConnectorError("not_found", `No workspace "${idOrName}".`);
  return ws;
}

/** A new `tnx_` key: 32 random bytes, stored only as a hash with a short visible prefix. */
export async function createApiKey(db: DB, workspaceId: string, now: string): Promise<{ id: string; key: string; prefix: string }> {
  const key = `tnx_${crypto.randomBytes(32).toString("base64url")}`;
  const row = { id: newId("key", 8), workspace_id: workspaceId, prefix: key.slice(0, 12), hash: sha256Hex(key), created_at: now, revoked_at: null };
  await db.insertInto("api_keys").values(row).execute();
  return { id: row.id, key, prefix: row.prefix };
}

/** The workspace a key acts for, or null for a malformed, unknown or revoked key. Read-only. */
export async function authenticateApiKey(db: DB, key: string): Promise<{ workspace_id: string; key_id: string } | null> {
  if (!KEY_RE.test(key)) return null;
  const hash = sha256Hex(key);
  const row = await db.selectFrom("api_keys").select(["id", "workspace_id", "hash", "revoked_at"]).where("hash", "=", hash).executeTakeFirst();
  if (!row || row.revoked_at) return null;
  // The lookup is by hash; compare again in constant time so timing says nothing about near misses.
  if (!crypto.timingSafeEqual(Buffer.from(row.hash, "hex"), Buffer.from(hash, "hex"))) return null;
  return { workspace_id: row.workspace_id, key_id: row.id };
}
