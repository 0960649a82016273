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

const KEY_NAME = "request_state";
/** Binds the sealed key to its row: a ciphertext copied elsewhere does not open. */
const KEY_AAD = "server_keys:request_state";

export async function loadRequestStateKey(
  deps: { db: DB; vault: Vault; clock: () => number },
  fromEnv: string | undefined,
): Promise<Buffer> {
  if (fromEnv) return parseMasterKey(fromEnv, "TENEX_STATE_KEY");
  let sealed = await readServerKey(deps.db, KEY_NAME);
  if (!sealed) {
    const fresh = deps.vault.seal(crypto.randomBytes(32).toString("base64"), KEY_AAD);
    // Two instances starting together: one insert wins and both read the winner back.
    await insertServerKeyIfAbsent(deps.db, KEY_NAME, fresh, nowIso(deps));
    sealed = await readServerKey(deps.db, KEY_NAME);
    if (!sealed) throw new Error("the requestState key could not be stored in the database");
  }
  return parseMasterKey(deps.vault.open(sealed, KEY_AAD), "the requestState key stored in the database");
}

/** Use a token's nonce once, across every instance on the database; false when it was used before. */
export async function useNonceOnce(deps: { db: DB; clock: () => number }, nonce: string, expiresAtMs: number): Promise<boolean> {
  return claimNonce(deps.db, nonce, new Date(expiresAtMs).toISOString(), nowIso(deps));
}
