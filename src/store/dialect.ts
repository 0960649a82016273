/**
 * The storage seam: everything that differs between SQLite and PostgreSQL, in one place. The rest
 * of the store and the core write portable Kysely queries; where SQL must differ they ask the
 * dialect of the handle they hold (`dialectOf(db)`, a transaction's handle included).
 */
import { type Expression, type Kysely, PostgresAdapter, type SqlBool, sql } from "kysely";

export type DialectName = "sqlite" | "postgres";

/** A column type a migration asks for by meaning; each dialect names it. */
/** `epoch`: seconds or milliseconds since the epoch; `serial_key`: an auto-numbered primary key. */
export type ColumnMeaning = "epoch" | "serial_key";

export interface StoreDialect {
  name: DialectName;
  /** A JSON array of strings in a text column holds `value` (the role filter). */
  jsonArrayHas(column: string, value: string): Expression<SqlBool>;
  /** The column type for a meaning: epoch milliseconds overflow PostgreSQL's 4-byte integer. */
  columnType(meaning: ColumnMeaning): "integer" | "bigint" | "serial";
  /** Whether `autoIncrement()` is to be added to a `serial_key` column (PostgreSQL's serial is one already). */
  autoIncrement: boolean;
  /** After wiping secrets: make sure the old bytes do not linger in the journal (SQLite's WAL); a no-op elsewhere. */
  flushDeleted<T>(db: Kysely<T>): Promise<void>;
  /** After rows were inserted with their keys given (db copy): the next generated key follows the largest copied one. */
  resetSequences<T>(db: Kysely<T>, tables: string[]): Promise<void>;
}

const sqlite: StoreDialect = {
  name: "sqlite",
  jsonArrayHas: (column, value) => sql<SqlBool>`exists (select 1 from json_each(${sql.ref(column)}) where value = ${value})`,
  columnType: () => "integer",
  autoIncrement: true,
  flushDeleted: async (db) => {
    await sql`PRAGMA wal_checkpoint(TRUNCATE)`.execute(db);
  },
  // AUTOINCREMENT keeps sqlite_sequence at the largest key inserted, given or generated.
  resetSequences: async () => undefined,
};

const postgres: StoreDialect = {
  name: "postgres",
  // The JSON columns are text on both dialects (one codec, and `db copy` moves them as they are).
  jsonArrayHas: (column, value) =>
    sql<SqlBool>`exists (select 1 from jsonb_array_elements_text(${sql.ref(column)}::jsonb) as r(value) where r.value = ${value})`,
  columnType: (meaning) => (meaning === "epoch" ? "bigint" : "serial"),
  autoIncrement: false,
  // PostgreSQL's WAL is recycled by checkpoints, and dead tuples by vacuum: nothing to do per wipe.
  flushDeleted: async () => undefined,
  resetSequences: async (db, tables) => {
    const { rows } = await sql<{ table_name: string; column_name: string; seq: string }>`
      select table_name, column_name, pg_get_serial_sequence(quote_ident(table_name), column_name) as seq
      from information_schema.columns
      where table_schema = current_schema() and table_name in (${sql.join(tables)})
        and pg_get_serial_sequence(quote_ident(table_name), column_name) is not null`.execute(db);
    for (const r of rows) {
      await sql`select setval(${r.seq}, coalesce((select max(${sql.ref(r.column_name)}) from ${sql.table(r.table_name)}), 0) + 1, false)`.execute(
        db,
      );
    }
  },
};

/** The dialect of a Kysely handle (the database or a transaction on it). */
export function dialectOf<T>(db: Kysely<T>): StoreDialect {
  return db.getExecutor().adapter instanceof PostgresAdapter ? postgres : sqlite;
}

/** `TENEX_DB` names PostgreSQL when it is a `postgres://` or `postgresql://` URL; anything else is a SQLite path. */
export function isPostgresUrl(target: string): boolean {
  return /^postgres(ql)?:\/\//i.test(target);
}

/** A database target fit for a log line: a URL's password (and any `password=` parameter) replaced. */
export function redactDatabaseTarget(target: string): string {
  if (!isPostgresUrl(target)) return target;
  try {
    const u = new URL(target);
    if (u.password) u.password = "***";
    for (const key of [...u.searchParams.keys()]) {
      if (/pass|secret|key/i.test(key)) u.searchParams.set(key, "***");
    }
    return u.toString();
  } catch {
    return "postgres://(unparsable URL)";
  }
}
