import { sql } from "kysely";
import type { DB } from "./db.js";

/**
 * Run `fn` in a transaction that holds SQLite's write lock from its first statement
 * (`BEGIN IMMEDIATE`), for read-modify-write sequences.
 *
 * Kysely's own transactions start with a deferred `BEGIN`: a read followed by a write then
 * holds a snapshot that another process may overtake, and the write fails with SQLITE_BUSY
 * without waiting for the busy timeout. Taking the write lock first serializes the whole
 * sequence with every other writer: in this process through Kysely's single-connection mutex
 * (the connection is held for the duration), across processes through SQLite, which waits up
 * to `busy_timeout` for the lock. Inside `fn`, use only the `trx` handle: a query on the outer
 * `db` would wait for the connection this transaction holds.
 */
export async function writeTransaction<T>(db: DB, fn: (trx: DB) => Promise<T>): Promise<T> {
  return db.connection().execute(async (conn) => {
    await sql`begin immediate`.execute(conn);
    try {
      const out = await fn(conn);
      await sql`commit`.execute(conn);
      return out;
    } catch (err) {
      // Also after a failed commit, so the connection is never left inside a transaction.
      await sql`rollback`.execute(conn).catch(() => undefined);
      throw err;
    }
  });
}
