// A seeded database for the bench, built through the real core (startOAuth: the quota checks,
// the connector row, its `created` event and the sealed grant row), so rows and indexes are what
// users get. Providers alternate HubSpot and Gmail, so `provider: "hubspot"` filters half away.
// The core's quota checks count the workspace on every start, so building 100k that way takes
// hours: the first CORE_MADE connectors go through startOAuth, the rest are copies of those rows
// (connector, grant, events) with fresh ids, made in SQL. Only durability is relaxed while
// seeding (synchronous=OFF on this connection). Every connector is pending with a live link,
// the case the read-path expiry check pays for most.
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import type SQLite from "better-sqlite3";
import { createApp } from "../src/app/app.js";
import { loadConfig } from "../src/app/config.js";
import { createLogger } from "../src/common/log.js";
import { startOAuth } from "../src/grants/start.js";
import { LOCAL_WORKSPACE_ID } from "../src/store/workspaces.js";

const CORE_MADE = 1000;

/** Copy rounds of the first `made` connectors (and their grants and events) until there are `n`. */
function copyRows(sqlite: SQLite.Database, made: number, n: number): void {
  const cols = (t: string) => (sqlite.pragma(`table_info(${t})`) as Array<{ name: string }>).map((c) => c.name);
  const list = (t: string, skip: string[]) => cols(t).filter((c) => !skip.includes(c));
  const con = list("connectors", ["seq", "id"]);
  const grant = list("oauth_grants", ["state_hash", "connector_id"]);
  const ev = list("connector_events", ["id", "connector_id"]);
  const round = sqlite.transaction((r: number, count: number) => {
    const ids = `(select id from connectors where seq <= ${count})`;
    sqlite.exec(
      `insert into connectors (id, ${con.join(",")}) select id || '_${r}', ${con.join(",")} from connectors where seq <= ${count} order by seq`,
    );
    sqlite.exec(
      `insert into oauth_grants (state_hash, connector_id, ${grant.join(",")}) select lower(hex(randomblob(32))), connector_id || '_${r}', ${grant.join(",")} from oauth_grants where connector_id in ${ids}`,
    );
    sqlite.exec(
      `insert into connector_events (connector_id, ${ev.join(",")}) select connector_id || '_${r}', ${ev.join(",")} from connector_events where connector_id in ${ids}`,
    );
  });
  for (let have = made, r = 1; have < n; r++) {
    const count = Math.min(made, n - have);
    round(r, count);
    have += count;
  }
}

export interface SeededDb {
  dir: string;
  env: Record<string, string>;
  /** One connector id (the first seeded). */
  firstId: string;
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

export async function seedDatabase(n: number): Promise<SeededDb> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tenex-bench-"));
  const env = benchEnv(path.join(dir, "tenex.db"), crypto.randomBytes(32).toString("base64"));
  const t0 = performance.now();
  const app = await createApp(loadConfig(env, dir), { mode: "stdio", log: createLogger({ level: "error" }) });
  const sqlite = app.database.sqlite;
  if (!sqlite) throw new Error("the bench seeds a SQLite database");
  sqlite.pragma("synchronous = OFF");
  let firstId = "";
  try {
    for (let i = 0; i < Math.min(n, CORE_MADE); i++) {
      const provider = i % 2 === 0 ? "hubspot" : "gmail";
      const r = await startOAuth(app.ctx, LOCAL_WORKSPACE_ID, { provider, label: `${provider} ${i}` });
      if (i === 0) firstId = r.connector_id;
    }
    copyRows(sqlite, Math.min(n, CORE_MADE), n);
    // Served from the main file, as a database at rest would be, not from a large write-ahead log.
    sqlite.pragma("wal_checkpoint(TRUNCATE)");
  } finally {
    await app.close();
  }
  return { dir, env, firstId, seedMs: performance.now() - t0 };
}
