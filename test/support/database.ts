// Where a test's database lives. The suite runs twice (scripts/test.mjs): on SQLite, and on
// PostgreSQL when TENEX_TEST_PG names a throwaway cluster's admin URL
// (postgres://postgres@127.0.0.1:PORT/postgres). Every test that opens a database or sets
// TENEX_DB goes through here, so the same test runs on either.
import { execFileSync } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import pg from "pg";

/** The admin URL of the PostgreSQL cluster of this pass, or undefined on the SQLite pass. */
export const TEST_PG = process.env.TENEX_TEST_PG || undefined;

/** True on the PostgreSQL pass. */
export const onPostgres = TEST_PG !== undefined;

let made = 0;
let hasPsql: boolean | undefined;

function psql(): boolean {
  if (hasPsql === undefined) {
    try {
      execFileSync("psql", ["--version"], { stdio: "ignore" });
      hasPsql = true;
    } catch {
      hasPsql = false;
    }
  }
  return hasPsql;
}

/**
 * A fresh, empty database: `dir/name` on SQLite, or a database just created on the pass's
 * PostgreSQL cluster (its URL). Synchronous, so it fits where a path was computed before.
 */
export function testDatabase(dir: string, name = "tenex.db"): string {
  if (!TEST_PG) return path.join(dir, name);
  const db = `t_${process.pid}_${++made}_${crypto.randomBytes(4).toString("hex")}`;
  // A child process, so the creation is synchronous (CREATE DATABASE cannot run in a transaction
  // block anyway): psql when it is installed (it starts faster), else node with pg.
  if (psql()) {
    execFileSync("psql", [TEST_PG, "-qX", "-c", `create database "${db}"`], { stdio: ["ignore", "ignore", "inherit"] });
  } else {
    execFileSync(
      process.execPath,
      [
        "-e",
        `const pg = require("pg"); const c = new pg.Client(process.argv[1]);
         c.connect().then(() => c.query('create database "${db}"')).then(() => c.end()).catch((e) => { console.error(e.message); process.exit(1); });`,
        TEST_PG,
      ],
      { stdio: ["ignore", "ignore", "inherit"], cwd: path.dirname(new URL(import.meta.url).pathname) },
    );
  }
  const url = new URL(TEST_PG);
  url.pathname = `/${db}`;
  return url.toString();
}

/**
 * A master key for a test database. On PostgreSQL the server requires TENEX_MASTER_KEY; it is
 * derived from the database's URL, so every process a test starts on one database agrees.
 */
export function testMasterKey(db: string): string {
  return crypto.createHash("sha256").update(`tenex-test-master-key:${db}`).digest("base64");
}

/**
 * The environment that points a server at a fresh test database: TENEX_DB, and on PostgreSQL
 * the TENEX_MASTER_KEY it requires (on SQLite the server generates data/master.key as usual).
 */
export function testDatabaseEnv(dir: string, name = "tenex.db"): { TENEX_DB: string; TENEX_MASTER_KEY?: string } {
  return databaseEnv(testDatabase(dir, name));
}

/** The environment for an existing test database (a second process on the same one). */
export function databaseEnv(db: string): { TENEX_DB: string; TENEX_MASTER_KEY?: string } {
  return onPostgres ? { TENEX_DB: db, TENEX_MASTER_KEY: testMasterKey(db) } : { TENEX_DB: db };
}

/**
 * Everything the database holds, as bytes, for "no secret is stored in plaintext" checks: the
 * SQLite file and its -wal and -shm (read raw), or on PostgreSQL the text of every row of every
 * table (what a dump or a backup would hold).
 */
export async function storedBytes(db: string): Promise<Buffer> {
  if (!onPostgres) {
    const dir = path.dirname(db);
    const base = path.basename(db);
    const files = fs.readdirSync(dir).filter((f) => f === base || f === `${base}-wal` || f === `${base}-shm`);
    if (!files.includes(base)) throw new Error(`no database file ${db}`);
    return Buffer.concat(files.map((f) => fs.readFileSync(path.join(dir, f))));
  }
  const client = new pg.Client(db);
  await client.connect();
  try {
    const tables = await client.query<{ t: string }>(
      "select quote_ident(table_name) as t from information_schema.tables where table_schema = current_schema() and table_type = 'BASE TABLE'",
    );
    const parts: string[] = [];
    for (const { t } of tables.rows) {
      const rows = await client.query<{ r: string }>(`select x::text as r from ${t} x`);
      parts.push(...rows.rows.map((r) => r.r));
    }
    return Buffer.from(parts.join("\n"));
  } finally {
    await client.end();
  }
}
