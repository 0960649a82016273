// A seeded database for the bench, built through the real core (startOAuth: the quota checks,
// the connector row, its `created` event and the sealed grant row), so rows and indexes are what
// users get. Providers alternate HubSpot and Gmail, so `provider: "hubspot"` filters half away.
// The core's quota checks count the workspace on every start, so building 100k that way takes
// hours: the first CORE_MADE connectors go through startOAuth, the rest are copies of those rows
// (connector, grant, events) with fresh ids, made in SQL. On SQLite (a temp file) or PostgreSQL
// (a fresh database on a cluster, bench/postgres.ts). Only durability is relaxed while
// seeding (synchronous=OFF on a SQLite connection). Every connector is pending with a live link
// (a link lasting a day, so it outlives the bench), the case the read-path expiry check pays for most.
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { sql } from "kysely";
import pg from "pg";
import { createApp } from "../src/app/app.js";
import { loadConfig } from "../src/app/config.js";
import { createLogger } from "../src/common/log.js";
import { startOAuth } from "../src/grants/start.js";
import type { OpenedDatabase } from "../src/store/db.js";
import { LOCAL_WORKSPACE_ID } from "../src/store/workspaces.js";

const CORE_MADE = 1000;

/** Copy rounds of the first `made` connectors (and their grants and events) until there are `n`. SQL both dialects run, but for a random hex key (a grant's state and connect-link hashes are unique, so each copy gets fresh ones). */
async function copyRows(database: OpenedDatabase, made: number, n: number): Promise<void> {
  const { db, dialect } = database;
  const tables = await db.introspection.getTables();
  const cols = (t: string) => tables.find((x) => x.name === t)?.columns.map((c) => c.name) ?? [];
  const list = (t: string, skip: string[]) =>
    sql.join(
      cols(t)
        .filter((c) => !skip.includes(c))
        .map((c) => sql.ref(c)),
    );
  const con = list("connectors", ["seq", "id"]);
  const grant = list("oauth_grants", ["state_hash", "connect_id_hash", "connector_id"]);
  const ev = list("connector_events", ["id", "connector_id"]);
  const randomHex = dialect === "postgres" ? sql`md5(random()::text) || md5(random()::text)` : sql`lower(hex(randomblob(32)))`;
  for (let have = made, r = 1; have < n; r++) {
    const count = Math.min(made, n - have);
    const suffix = sql.lit(`_${r}`);
    // The first `count` connectors by seq (PostgreSQL's serial may have gaps where a retried transaction took a value).
    const ids = sql`(select id from connectors where seq in (select seq from connectors order by seq limit ${sql.lit(count)}))`;
    await db.transaction().execute(async (trx) => {
      await sql`insert into connectors (id, ${con}) select id || ${suffix}, ${con} from connectors where id in ${ids} order by seq`.execute(
        trx,
      );
      await sql`insert into oauth_grants (state_hash, connect_id_hash, connector_id, ${grant}) select ${randomHex}, ${randomHex}, connector_id || ${suffix}, ${grant} from oauth_grants where connector_id in ${ids}`.execute(
        trx,
      );
      await sql`insert into connector_events (connector_id, ${ev}) select connector_id || ${suffix}, ${ev} from connector_events where connector_id in ${ids}`.execute(
        trx,
      );
    });
    have += count;
  }
}

export interface SeededDb {
  dir: string;
  env: Record<string, string>;
  /** One connector id (the first seeded). */
  firstId: string;
  /** The ids of the connectors made through the core (up to 1,000). */
  ids: string[];
  seedMs: number;
}

/** The environment both the seeding and the served process use: providers configured, quotas and the rate limit out of the way. */
export function benchEnv(dbPath: string, masterKey: string): Record<string, string> {
  return {
    TENEX_DB: dbPath,
    TENEX_MASTER_KEY: masterKey,
    TENEX_CALLBACK_PORT: "0",
    TENEX_MAX_PENDING_GRANTS: "100000000",
    TENEX_MAX_CONNECTORS: "100000000",
    TENEX_RATE_LIMIT: "0",
    TENEX_HUBSPOT_CLIENT_ID: "bench-client",
    TENEX_HUBSPOT_CLIENT_SECRET: "bench-secret",
    TENEX_GMAIL_CLIENT_ID: "bench-client",
    TENEX_GMAIL_CLIENT_SECRET: "bench-secret",
  };
}

/** A fresh, empty database on the PostgreSQL cluster whose admin URL is `adminUrl`; its URL. */
async function createPgDatabase(adminUrl: string): Promise<string> {
  const name = `bench_${process.pid}_${crypto.randomBytes(4).toString("hex")}`;
  const client = new pg.Client(adminUrl);
  await client.connect();
  try {
    await client.query(`create database "${name}"`);
  } finally {
    await client.end();
  }
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

/**
 * `n` connectors in a fresh database: a SQLite file in a temp folder, or, given `pgAdminUrl`
 * (a cluster's admin URL), a database created on that cluster.
 */
export async function seedDatabase(n: number, pgAdminUrl?: string): Promise<SeededDb> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tenex-bench-"));
  const target = pgAdminUrl ? await createPgDatabase(pgAdminUrl) : path.join(dir, "tenex.db");
  const env = benchEnv(target, crypto.randomBytes(32).toString("base64"));
  const t0 = performance.now();
  const app = await createApp(loadConfig(env, dir), { mode: "stdio", log: createLogger({ level: "error" }) });
  const sqlite = app.database.sqlite;
  // Durability relaxed while seeding (the throwaway PostgreSQL cluster runs without fsync anyway).
  sqlite?.pragma("synchronous = OFF");
  const ids: string[] = [];
  try {
    for (let i = 0; i < Math.min(n, CORE_MADE); i++) {
      const provider = i % 2 === 0 ? "hubspot" : "gmail";
      ids.push((await startOAuth(app.ctx, LOCAL_WORKSPACE_ID, { provider, label: `${provider} ${i}` })).connector_id);
    }
    await copyRows(app.database, Math.min(n, CORE_MADE), n);
    // Links last 10 minutes and a bench runs longer: they are made to outlive it, so every run
    // reads the same state (pending with a live link) instead of settling them part way through.
    await app.database.db
      .updateTable("oauth_grants")
      .set({ expires_at: new Date(Date.now() + 86_400_000).toISOString() })
      .execute();
    // Served from the main file, as a database at rest would be, not from a large write-ahead log;
    // on PostgreSQL, with the planner's statistics and the visibility map a database at rest has.
    if (sqlite) sqlite.pragma("wal_checkpoint(TRUNCATE)");
    else await sql`vacuum analyze`.execute(app.database.db);
  } finally {
    await app.close();
  }
  return { dir, env, firstId: ids[0]!, ids, seedMs: performance.now() - t0 };
}
