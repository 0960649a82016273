/**
 * The key that signs MCP 2026-07-28 `requestState` tokens, shared by every instance on the
 * database so any of them can answer a client's retry: TENEX_STATE_KEY when set, else a key
 * generated once and stored in the database sealed by the vault (never in plaintext).
 */
import crypto from "node:crypto";
import { nowIso } from "../common/clock.js";
import { parseMasterKey, type Vault } from "../credentials/vault.js";
import type { DB } from "../store/db.js";
import { claimNonce, insertServerKeyIfAbsent, readServerKey } from "../store/server-keys.js";

type KeyDeps = { db: DB; vault: Vault; clock: () => number };

export async function loadRequestStateKey(deps: KeyDeps, fromEnv: string | undefined): Promise<Buffer> {
  if (fromEnv) return parseMasterKey(fromEnv, "TENEX_STATE_KEY");
  return loadDatabaseKey(deps, "request_state", "the requestState key");
}

/**
 * The key that proves a process shares this database (and its master key): stdio processes use it
 * to recognise the sibling that holds the OAuth callback port (transports/callback/sibling.ts).
 */
export function loadCallbackSiblingKey(deps: KeyDeps): Promise<Buffer> {
  return loadDatabaseKey(deps, "callback_sibling", "the callback sibling key");
}

/** A random 32-byte key generated once per database, stored sealed by the vault under `name`. */
async function loadDatabaseKey(deps: KeyDeps, name: string, what: string): Promise<Buffer> {
  const stored = await loadDatabaseValue(deps, name, what, () => crypto.randomBytes(32).toString("base64"));
  return parseMasterKey(stored, `${what} stored in the database`);
}

/**
 * A value made once per database by `make` (a key, a signing key's JWK), stored sealed by the
 * vault under `name` in `server_keys`, so every instance sharing the database reads the same one.
 */
export async function loadDatabaseValue(deps: KeyDeps, name: string, what: string, make: () => string): Promise<string> {
  // Binds the sealed value to its row: a ciphertext copied elsewhere does not open.
  const aad = `server_keys:${name}`;
  let sealed = await readServerKey(deps.db, name);
  if (!sealed) {
    const fresh = deps.vault.seal(make(), aad);
    // Two instances starting together: one insert wins and both read the winner back.
    await insertServerKeyIfAbsent(deps.db, name, fresh, nowIso(deps));
    sealed = await readServerKey(deps.db, name);
    if (!sealed) throw new Error(`${what} could not be stored in the database`);
  }
  return deps.vault.open(sealed, aad);
}

/** Use a token's nonce once, across every instance on the database; false when it was used before. */
export async function useNonceOnce(deps: { db: DB; clock: () => number }, nonce: string, expiresAtMs: number): Promise<boolean> {
  return claimNonce(deps.db, nonce, new Date(expiresAtMs).toISOString(), nowIso(deps));
}
