import fs from "node:fs";
import path from "node:path";
import SQLite from "better-sqlite3";
import { type Dialect, Kysely, type Migration, type MigrationProvider, Migrator, PostgresDialect, SqliteDialect, sql } from "kysely";
import type pg from "pg";
import type { ConnectorEvents } from "../common/events.js";
import { assertTrusted, createExclusive, type FileTrust } from "../common/files.js";
import type { Logger } from "../common/log.js";
import { type ChangeFeed, postgresChangeFeed, sqliteChangeFeed } from "./change-feed.js";
import { type DialectName, isPostgresUrl, redactDatabaseTarget } from "./dialect.js";
import type { ReadCache } from "./read-cache.js";
import type { Database } from "./schema.js";
import { cachingStatements, readsDirectly } from "./statement-cache.js";

export type DB = Kysely<Database>;

/** What the store layer needs: the database, the clock, the log, and where status changes are announced. */
export interface StoreDeps {
  db: DB;
  /** Milliseconds since the epoch; injectable so expiry can be tested. */
  clock: () => number;
  log: Logger;
  events: ConnectorEvents;
  /** Answers to repeated reads while the database is unchanged (store/read-cache.ts); absent on PostgreSQL and in contexts tests build by hand. */
  reads?: ReadCache | undefined;
}

/**
 * The migrations, in order. Each is imported when a database needs it (a literal import per
 * migration, so it works from the compiled output without a folder scan): a database that is
 * up to date, which is every start but the first, loads none of them.
 */
const MIGRATIONS: Record<string, () => Promise<Migration>> = {
  "0001_initial": () => import("./migrations/0001_initial.js"),
  "0002_lifecycle": () => import("./migrations/0002_lifecycle.js"),
  "0003_status_reason": () => import("./migrations/0003_status_reason.js"),
  "0004_server_keys": () => import("./migrations/0004_server_keys.js"),
  "0005_connection_endpoints": () => import("./migrations/0005_connection_endpoints.js"),
  "0006_grant_key": () => import("./migrations/0006_grant_key.js"),
  "0007_pending_lookup": () => import("./migrations/0007_pending_lookup.js"),
  "0008_call_records": () => import("./migrations/0008_call_records.js"),
  "0009_change_notify": () => import("./migrations/0009_change_notify.js"),
  "0010_members": () => import("./migrations/0010_members.js"),
  "0011_connect_links": () => import("./migrations/0011_connect_links.js"),
  "0012_oauth_server": () => import("./migrations/0012_oauth_server.js"),
};
const MIGRATION_NAMES = Object.keys(MIGRATIONS).sort();

class StaticMigrationProvider implements MigrationProvider {
  async getMigrations(): Promise<Record<string, Migration>> {
    const loaded = await Promise.all(MIGRATION_NAMES.map(async (name) => [name, await MIGRATIONS[name]!()] as const));
    return Object.fromEntries(loaded);
  }
}

export interface OpenedDatabase {
  db: DB;
  dialect: DialectName;
  /** The SQLite handle (pragmas, file checks); undefined on PostgreSQL. */
  sqlite: SQLite.Database | undefined;
  /** How this process learns of other processes' commits (grants/watcher.ts). */
  changes: ChangeFeed;
  /** What was opened, fit for a log line: the dialect, the server's version, the schema's last migration, the target without its password. */
  describe: DatabaseDescription;
  close(): Promise<void>;
}

export interface DatabaseDescription {
  dialect: DialectName;
  /** SQLite's library version or the PostgreSQL server's. */
  version: string;
  /** The last migration applied. */
  schema: string;
  /** The file, or the URL with its password replaced. */
  target: string;
}

/** Connections per instance to PostgreSQL: enough for concurrent requests, few enough that several instances fit the server's max_connections (100 by default). */
export const PG_POOL_MAX = 10;

/** The database holds sealed secrets and account facts: readable by the server's user only. */
const FILE_MODE = 0o600;

/**
 * Create the database, its -wal and its -shm owner-only and exclusively before SQLite opens them
 * (SQLite would create them 0644 under the usual umask, and would use a -wal or -shm someone
 * else left there), then refuse any of them that another user owns or may write.
 */
function prepareFiles(file: string, trust: FileTrust): void {
  const files: Array<[string, string]> = [
    [file, "database file"],
    [`${file}-wal`, "database write-ahead log"],
    [`${file}-shm`, "database shared-memory file"],
  ];
  for (const [f, what] of files) {
    createExclusive(f, FILE_MODE);
    assertTrusted(f, what, trust);
  }
}

/**
 * Make the database and its WAL and shared-memory files owner-only. SQLite gives the -wal and
 * -shm files the main file's mode when it creates them; this also tightens files left by an
 * older version (prepareFiles has refused any that another user owns or may write).
 */
function restrictFiles(file: string): void {
  for (const f of [file, `${file}-wal`, `${file}-shm`]) {
    try {
      if ((fs.statSync(f).mode & 0o777) !== FILE_MODE) fs.chmodSync(f, FILE_MODE);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== "ENOENT" && code !== "EPERM") throw err;
    }
  }
}

/**
 * Open the database `TENEX_DB` names and bring its schema up to date: a `postgres://` or
 * `postgresql://` URL is PostgreSQL, anything else a SQLite file (created when needed; files
 * another user owns or may write are refused unless `allowGroupWritable`: TENEX_ALLOW_GROUP_WRITABLE).
 */
export async function openDatabase(
  target: string,
  opts: { allowGroupWritable?: boolean; onError?: (err: unknown) => void } = {},
): Promise<OpenedDatabase> {
  return isPostgresUrl(target) ? openPostgres(target, opts) : openSqlite(target, opts);
}

async function openSqlite(file: string, opts: { allowGroupWritable?: boolean }): Promise<OpenedDatabase> {
  const onDisk = file !== ":memory:" && file !== "";
  if (onDisk) {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    prepareFiles(file, { allowGroupWritable: opts.allowGroupWritable ?? false });
  }
  const sqlite = new SQLite(file);
  sqlite.pragma("journal_mode = WAL");
  sqlite.pragma("busy_timeout = 5000");
  sqlite.pragma("foreign_keys = ON");
  // FULL: a committed write (a rotated refresh token above all) survives an OS crash or power
  // loss too, not only a process crash. Measured on the 2-core dev machine: about 1 ms per
  // commit, against 0.06 ms with NORMAL; this server commits a handful of rows per grant or refresh.
  sqlite.pragma("synchronous = FULL");
  // Deleted secrets are overwritten, not left in free pages.
  sqlite.pragma("secure_delete = ON");
  const statements = cachingStatements(sqlite);
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: statements }) });
  readsDirectly(db, sqlite, statements);
  const schema = await migrate(db);
  // WAL mode has created the -wal and -shm files by now.
  if (onDisk) restrictFiles(file);
  const version = String((sqlite.prepare("select sqlite_version() as v").get() as { v: string }).v);
  return {
    db,
    dialect: "sqlite",
    sqlite,
    changes: sqliteChangeFeed(db),
    describe: { dialect: "sqlite", version, schema, target: file },
    close: async () => {
      await db.destroy();
    },
  };
}

/** int8 (counts, epoch milliseconds) as a number: every such value this server stores is far below 2^53. */
function pgTypesOf(types: typeof pg.types) {
  return {
    getTypeParser: ((oid: number, format?: "text" | "binary") =>
      oid === types.builtins.INT8 ? (v: string) => Number(v) : types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
  };
}

async function openPostgres(url: string, opts: { onError?: (err: unknown) => void }): Promise<OpenedDatabase> {
  // Imported here, not at the top: a SQLite server never loads pg (a large share of its cold start, issue 14).
  const { default: pg } = await import("pg");
  const pgTypes = pgTypesOf(pg.types);
  // TLS and the rest come from the URL as pg reads it (sslmode, sslrootcert, …).
  const config: pg.ClientConfig = { connectionString: url, application_name: "tenex-connectors", types: pgTypes };
  const pool = new pg.Pool({ ...config, max: PG_POOL_MAX, idleTimeoutMillis: 30_000, connectionTimeoutMillis: 10_000 });
  // An idle connection dropped by the server must not end the process; the next query opens another.
  pool.on("error", (err) => opts.onError?.(err));
  const dialect: Dialect = new PostgresDialect({ pool });
  const db = new Kysely<Database>({ dialect });
  let schema: string;
  let version: string;
  try {
    const { rows } = await sql<{ v: string }>`select current_setting('server_version') as v`.execute(db);
    version = rows[0]?.v ?? "unknown";
    schema = await migrate(db);
  } catch (err) {
    await db.destroy().catch(() => undefined);
    // pg's messages name the host and user, never the password; say which database without it.
    throw new Error(`cannot open PostgreSQL database ${redactDatabaseTarget(url)}: ${err instanceof Error ? err.message : String(err)}`);
  }
  const changes = postgresChangeFeed(() => new pg.Client(config), opts.onError ? { onError: opts.onError } : {});
  return {
    db,
    dialect: "postgres",
    sqlite: undefined,
    changes,
    describe: { dialect: "postgres", version, schema, target: redactDatabaseTarget(url) },
    close: async () => {
      await changes.close();
      await db.destroy();
    },
  };
}

/**
 * Bring the schema up to date; returns the last migration applied. On PostgreSQL, Kysely's
 * Migrator holds an advisory lock for the run, so instances starting at once on an empty
 * database migrate it once (the others wait, then find nothing to do).
 */
async function migrate(db: DB): Promise<string> {
  const latest = MIGRATION_NAMES[MIGRATION_NAMES.length - 1] ?? "none";
  if (await upToDate(db)) return latest;
  const migrator = new Migrator({ db, provider: new StaticMigrationProvider() });
  const { error, results } = await migrator.migrateToLatest();
  const failed = results?.find((r) => r.status === "Error");
  if (error || failed) {
    await db.destroy();
    const why = error instanceof Error ? error.message : String(error ?? "unknown error");
    throw new Error(`database migration ${failed?.migrationName ?? ""} failed: ${why}`);
  }
  return latest;
}

/**
 * Whether every migration this build knows has been applied (and none it does not know): then
 * the Migrator, and the migrations' modules, are not needed. Any doubt (no migration table yet,
 * another count) answers false and the Migrator decides, under its lock on PostgreSQL.
 */
async function upToDate(db: DB): Promise<boolean> {
  try {
    const rows = await sql<{ name: string }>`select name from kysely_migration order by name`.execute(db);
    const applied = rows.rows.map((r) => r.name);
    return applied.length === MIGRATION_NAMES.length && applied.every((n, i) => n === MIGRATION_NAMES[i]);
  } catch {
    return false;
  }
}
