import fs from "node:fs";
import path from "node:path";
import SQLite from "better-sqlite3";
import { Kysely, type Migration, type MigrationProvider, Migrator, SqliteDialect } from "kysely";
import type { ConnectorEvents } from "../common/events.js";
import { assertTrusted, createExclusive, type FileTrust } from "../common/files.js";
import type { Logger } from "../common/log.js";
import * as m0001 from "./migrations/0001_initial.js";
import * as m0002 from "./migrations/0002_lifecycle.js";
import * as m0003 from "./migrations/0003_status_reason.js";
import * as m0004 from "./migrations/0004_server_keys.js";
import * as m0005 from "./migrations/0005_connection_endpoints.js";
import * as m0006 from "./migrations/0006_grant_key.js";
import * as m0007 from "./migrations/0007_pending_lookup.js";
import * as m0008 from "./migrations/0008_call_records.js";
import type { Database } from "./schema.js";
import { cachingStatements } from "./statement-cache.js";

export type DB = Kysely<Database>;

/** What the store layer needs: the database, the clock, the log, and where status changes are announced. */
export interface StoreDeps {
  db: DB;
  /** Milliseconds since the epoch; injectable so expiry can be tested. */
  clock: () => number;
  log: Logger;
  events: ConnectorEvents;
}

/** Migrations are imported statically so they work from the compiled output without a folder scan. */
const MIGRATIONS: Record<string, Migration> = {
  "0001_initial": m0001,
  "0002_lifecycle": m0002,
  "0003_status_reason": m0003,
  "0004_server_keys": m0004,
  "0005_connection_endpoints": m0005,
  "0006_grant_key": m0006,
  "0007_pending_lookup": m0007,
  "0008_call_records": m0008,
};

class StaticMigrationProvider implements MigrationProvider {
  async getMigrations(): Promise<Record<string, Migration>> {
    return MIGRATIONS;
  }
}

export interface OpenedDatabase {
  db: DB;
  sqlite: SQLite.Database;
  close(): Promise<void>;
}

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
 * Open (creating when needed) the SQLite database and bring its schema up to date. Files another
 * user owns or may write are refused (`allowGroupWritable`: TENEX_ALLOW_GROUP_WRITABLE).
 */
export async function openDatabase(file: string, opts: { allowGroupWritable?: boolean } = {}): Promise<OpenedDatabase> {
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
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: cachingStatements(sqlite) }) });
  const migrator = new Migrator({ db, provider: new StaticMigrationProvider() });
  const { error, results } = await migrator.migrateToLatest();
  const failed = results?.find((r) => r.status === "Error");
  if (error || failed) {
    await db.destroy();
    const why = error instanceof Error ? error.message : String(error ?? "unknown error");
    throw new Error(`database migration ${failed?.migrationName ?? ""} failed: ${why}`);
  }
  // WAL mode has created the -wal and -shm files by now.
  if (onDisk) restrictFiles(file);
  return {
    db,
    sqlite,
    close: async () => {
      await db.destroy();
    },
  };
}
