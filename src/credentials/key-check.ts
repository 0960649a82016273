/**
 * The master key check: a known value sealed by the vault in the database at the first start,
 * opened at every start after. Instances sharing one database (PostgreSQL) must share
 * TENEX_MASTER_KEY; one started with another key would seal secrets the others cannot open, and
 * could open none of theirs. It is refused at start instead, before it writes anything else.
 */
import { nowIso } from "../common/clock.js";
import { insertServerKeyIfAbsent, readServerKey } from "../store/server-keys.js";
import type { CredentialDeps } from "./deps.js";
import { VaultError } from "./vault.js";

export const KEY_CHECK_NAME = "master_key_check";
const KEY_CHECK_TEXT = "tenex-connectors master key check v1";
const aad = `server_keys:${KEY_CHECK_NAME}`;

/** Thrown when the configured master key cannot open the database's key check. */
export class MasterKeyMismatchError extends Error {
  constructor() {
    super(
      "TENEX_MASTER_KEY cannot open this database's master key check: the database was first used with another master key. " +
        "Every instance sharing a database must use the same TENEX_MASTER_KEY (after `db copy`, the key of the copied database: " +
        "its TENEX_MASTER_KEY, or the contents of its data/master.key). Nothing was written.",
    );
    this.name = "MasterKeyMismatchError";
  }
}

/** Write the check at the first start (of any instance: the first insert wins), then prove this key opens it. */
export async function verifyMasterKey(deps: Pick<CredentialDeps, "db" | "vault" | "clock">): Promise<void> {
  let sealed = await readServerKey(deps.db, KEY_CHECK_NAME);
  if (!sealed) {
    await insertServerKeyIfAbsent(deps.db, KEY_CHECK_NAME, deps.vault.seal(KEY_CHECK_TEXT, aad), nowIso(deps));
    sealed = await readServerKey(deps.db, KEY_CHECK_NAME);
    if (!sealed) throw new Error("the master key check could not be stored in the database");
  }
  let text: string;
  try {
    text = deps.vault.open(sealed, aad);
  } catch (err) {
    if (err instanceof VaultError) throw new MasterKeyMismatchError();
    throw err;
  }
  if (text !== KEY_CHECK_TEXT) throw new MasterKeyMismatchError();
}

/** Seal the check for a database about to be used with `vault`'s key (db copy: the copied database's key). */
export async function writeMasterKeyCheck(deps: Pick<CredentialDeps, "db" | "vault" | "clock">): Promise<void> {
  await insertServerKeyIfAbsent(deps.db, KEY_CHECK_NAME, deps.vault.seal(KEY_CHECK_TEXT, aad), nowIso(deps));
}
