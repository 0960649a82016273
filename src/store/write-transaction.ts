import { sql } from "kysely";
import type { DB } from "./db.js";
import { dialectOf } from "./dialect.js";

/**
 * Attempts of one PostgreSQL write transaction that fails to serialize with a concurrent one
 * (SQLSTATE 40001, or a deadlock, 40P01) before the error is thrown.
 */
export const SERIALIZATION_ATTEMPTS = 40;

/**
 * Run `fn` as one read-modify-write transaction, serialized with every other writer, in this
 * process and in any other sharing the database. Inside `fn`, use only the `trx` handle: a query
 * on the outer `db` would not see the transaction (on SQLite it would wait for the connection
 * this transaction holds).
 *
 * - SQLite: `BEGIN IMMEDIATE` takes the write lock from the first statement. Kysely's own
 *   transactions start with a deferred `BEGIN`: a read followed by a write then holds a snapshot
 *   that another process may overtake, and the write fails with SQLITE_BUSY without waiting for
 *   the busy timeout. In this process Kysely's single-connection mutex serializes; across
 *   processes SQLite waits up to `busy_timeout` for the lock.
 * - PostgreSQL: `SERIALIZABLE` isolation (serializable snapshot isolation): the database aborts
 *   one of two transactions whose reads and writes could not have run one after the other
 *   (SQLSTATE 40001; this covers a count checked before an insert, which a row lock could not),
 *   and the whole of `fn` runs again on a fresh snapshot, up to SERIALIZATION_ATTEMPTS times
 *   with a short random backoff. So `fn` must do nothing but database work that a rollback
 *   undoes (every caller emits its changes and calls providers after the commit). Writers of
 *   different rows do not wait for each other, unlike a table or database lock.
 */
export async function writeTransaction<T>(db: DB, fn: (trx: DB) => Promise<T>, opts: WriteOptions = {}): Promise<T> {
  if (dialectOf(db).name === "postgres") return opts.queueOn === undefined ? serializable(db, fn) : queued(db, opts.queueOn, fn);
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

export interface WriteOptions {
  /**
   * The row most of the transaction's writes go to (a connector id). PostgreSQL: writers of the
   * same row wait their turn on an advisory lock of that name, taken before the transaction starts
   * and released after it ended, instead of colliding and retrying (many concurrent test reads
   * of one connector each write its health). Correctness does not depend on it: the transaction
   * is serializable either way. SQLite serializes every writer anyway.
   */
  queueOn?: string;
}

/** SQLSTATEs after which the whole transaction is worth running again. */
const RETRYABLE = new Set(["40001", "40P01"]);

function isSerializationFailure(err: unknown): boolean {
  return typeof err === "object" && err !== null && RETRYABLE.has(String((err as { code?: unknown }).code));
}

async function queued<T>(db: DB, name: string, fn: (trx: DB) => Promise<T>): Promise<T> {
  return db.connection().execute(async (conn) => {
    // A session lock, held only around one short transaction (never across a provider call), so the
    // transaction's snapshot is taken after the previous holder committed.
    await sql`select pg_advisory_lock(hashtextextended(${`tenex:${name}`}, 0))`.execute(conn);
    try {
      return await serializable(conn, fn);
    } finally {
      await sql`select pg_advisory_unlock(hashtextextended(${`tenex:${name}`}, 0))`.execute(conn);
    }
  });
}

async function serializable<T>(db: DB, fn: (trx: DB) => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await db.transaction().setIsolationLevel("serializable").execute(fn);
    } catch (err) {
      if (!isSerializationFailure(err) || attempt >= SERIALIZATION_ATTEMPTS) throw err;
      // Spread the retries of transactions that collided, so they do not collide again in step.
      const ceiling = Math.min(2 ** attempt, 50);
      await new Promise<void>((resolve) => setTimeout(resolve, Math.random() * ceiling));
    }
  }
}
