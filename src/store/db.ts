import fs from "node:fs";
import path from "node:path";
import SQLite from "better-sqlite3";
import { Kysely, Migrator, SqliteDialect, type Migration, type MigrationProvider } from "kysely";
import type { ConnectorEvents } from "../common/events.js";
import type { Logger } from "../common/log.js";
import type { Database } from "./schema.js";
import * as m0001 from "./migrations/0001_initial.js";
import * as m0002 from "./migrations/0002_lifecycle.js";
import * as m0003 from "./migrations/0003_status_reason.js";
import * as m0005 from "./migrations/0005_connection_endpoints.js";

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
  "0005_connection_endpoints": m0005,
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

/** Create the file owner-only before SQLite opens it (SQLite would create it 0644 under the usual umask). */
function createPrivately(file: string): void {
  try {
    fs.closeSync(fs.openSync(file, fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_RDWR, FILE_MODE));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
  }
}

/**
 * Make the database and its WAL and shared-memory files owner-only. SQLite gives the -wal and
 * -shm files the main file's mode when it creates them; this also tightens files left by an
 * older version. A file owned by another user is left as it is.
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

/** Open (creating when needed) the SQLite database and bring its schema up to date. */
export async function openDatabase(file: string): Promise<OpenedDatabase> {
  const onDisk = file !== ":memory:" && file !== "";
  if (onDisk) {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    createPrivately(file);
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
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: sqlite }) });
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
