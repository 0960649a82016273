/**
 * Prepared statements reused across queries. Kysely's SQLite driver prepares every query it runs;
 * preparing costs more than running the point reads this server makes most (measured with
 * `--cpu-prof` under get_connector_status: better-sqlite3's prepare was 9% of the server's CPU).
 * The same SQL text gets the same statement back, the least recently used being dropped past
 * `max` (queries with an `in (…)` list of varying length have many texts). A statement is only
 * ever run to completion (`all`/`run`, synchronous), so reusing one between queries is safe.
 */
import type SQLite from "better-sqlite3";
import type { SqliteDatabase, SqliteStatement } from "kysely";

export const STATEMENT_CACHE_SIZE = 256;

/**
 * SQL that begins with this comment is read as arrays (better-sqlite3's raw mode), the column names
 * first: `all` returns `[names, ...rows]` (compiled.ts `rowsAsArrays` makes the objects). SQLite
 * ignores the comment; the query runs on Kysely's one connection (through Kysely, or at once by
 * readNow below).
 */
export const ARRAY_ROWS = "/* rows as arrays */ ";

function arrayRows(stmt: SQLite.Statement): SqliteStatement {
  if (!stmt.reader) return stmt;
  stmt.raw(true);
  const names = stmt.columns().map((c) => c.name);
  return {
    reader: true,
    all: (parameters) => {
      const rows: unknown[] = stmt.all(parameters);
      rows.unshift(names);
      return rows;
    },
    run: (parameters) => stmt.run(parameters),
    iterate: (parameters) => stmt.iterate(parameters),
  };
}

export function cachingStatements(sqlite: SQLite.Database, max = STATEMENT_CACHE_SIZE): SqliteDatabase {
  const cache = new Map<string, SqliteStatement>();
  return {
    close: () => sqlite.close(),
    prepare(sql: string): SqliteStatement {
      let stmt = cache.get(sql);
      if (stmt) {
        cache.delete(sql);
      } else {
        stmt = sql.startsWith(ARRAY_ROWS) ? arrayRows(sqlite.prepare(sql)) : sqlite.prepare(sql);
        if (cache.size >= max) {
          const oldest = cache.keys().next().value;
          if (oldest !== undefined) cache.delete(oldest);
        }
      }
      cache.set(sql, stmt);
      return stmt;
    },
  };
}

/**
 * The better-sqlite3 handle behind a root Kysely handle, so a compiled read (store/compiled.ts)
 * can run its prepared statement itself instead of through Kysely's driver (its connection lock
 * and promise chain cost more than a point read: issue 14). Only while no transaction is open on
 * the connection: Kysely's lock is then free, and a synchronous read sees exactly what a read
 * through Kysely would at that moment. A transaction's handle is not registered, so reads inside
 * one always go through Kysely.
 */
const direct = new WeakMap<object, { sqlite: SQLite.Database; statements: SqliteDatabase }>();

export function readsDirectly(db: object, sqlite: SQLite.Database, statements: SqliteDatabase): void {
  direct.set(db, { sqlite, statements });
}

/** The rows of a read run on the connection at once, or undefined when it must go through Kysely (PostgreSQL, a transaction, a write). */
export function readNow(db: object, sql: string, parameters: readonly unknown[]): unknown[] | undefined {
  const d = direct.get(db);
  if (!d || d.sqlite.inTransaction) return undefined;
  const stmt = d.statements.prepare(sql);
  return stmt.reader ? (stmt.all(parameters) as unknown[]) : undefined;
}
