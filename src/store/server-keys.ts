/**
 * Rows of migration 0004: keys shared by every instance on the database (stored sealed; this
 * module never sees plaintext) and the used nonces of single-use tokens. The tables are typed
 * here with `withTables` rather than in schema.ts, so this module stays self-contained.
 */
import type { DB } from "./db.js";

type ServerKeyTables = {
  server_keys: { name: string; ciphertext: string; created_at: string };
  request_state_nonces: { nonce: string; expires_at: string };
};

const tables = (db: DB) => db.withTables<ServerKeyTables>();

/** The sealed key stored under `name`, or undefined. */
export async function readServerKey(db: DB, name: string): Promise<string | undefined> {
  const row = await tables(db).selectFrom("server_keys").select("ciphertext").where("name", "=", name).executeTakeFirst();
  return row?.ciphertext;
}

/**
 * Store a sealed key under `name` unless one is there already (another instance may have won
 * the race); the caller reads the stored one back either way.
 */
export async function insertServerKeyIfAbsent(db: DB, name: string, ciphertext: string, createdAt: string): Promise<void> {
  await tables(db)
    .insertInto("server_keys")
    .values({ name, ciphertext, created_at: createdAt })
    .onConflict((oc) => oc.column("name").doNothing())
    .execute();
}

/**
 * Record a nonce as used until `expiresAt`; false when it was used already. Insert-or-fail on the
 * primary key, so of two instances answering the same token at once exactly one gets true.
 * Nonces past their expiry are deleted first (their tokens are refused as expired anyway).
 */
export async function claimNonce(db: DB, nonce: string, expiresAt: string, now: string): Promise<boolean> {
  await tables(db).deleteFrom("request_state_nonces").where("expires_at", "<", now).execute();
  const res = await tables(db)
    .insertInto("request_state_nonces")
    .values({ nonce, expires_at: expiresAt })
    .onConflict((oc) => oc.column("nonce").doNothing())
    .executeTakeFirst();
  return Number(res.numInsertedOrUpdatedRows ?? 0n) === 1;
}
