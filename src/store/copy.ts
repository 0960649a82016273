/**
 * `db copy`: every row of one database into another, empty one (SQLite into PostgreSQL when a
 * server outgrows one machine), keeping every key as it is: connector ids (the vault binds a
 * sealed secret to its row's id, so a secret moved to another id would not open), the
 * insertion sequence (list_connectors' cursors) and event ids. Both sides are migrated to the
 * same latest schema by openDatabase before this runs.
 */
import { type Kysely, sql } from "kysely";
import type { DB } from "./db.js";
import { dialectOf } from "./dialect.js";

/** Parents before children (foreign keys). Tables not named here are copied after these, by name. */
const ORDER = [
  "workspaces",
  "api_keys",
  "connectors",
  "connector_secrets",
  "oauth_grants",
  "primaries",
  "connector_events",
  "server_keys",
  "request_state_nonces",
  "members",
  "member_sessions",
];

type AnyTables = Record<string, Record<string, unknown>>;

/** Rows per INSERT. */
const BATCH = 200;

/** The one row migration 0001 puts in every new database (the local workspace). */
const SEEDED = { table: "workspaces", id: "ws_local" };

export interface CopyResult {
  tables: Array<{ table: string; rows: number }>;
}

export class TargetNotEmptyError extends Error {
  constructor(table: string) {
    super(`the target database is not empty (table ${table} has rows); db copy only copies into an empty database`);
    this.name = "TargetNotEmptyError";
  }
}

async function userTables(db: DB): Promise<string[]> {
  const tables = await db.introspection.getTables();
  return tables.filter((t) => !t.isView && !t.name.startsWith("kysely_migration")).map((t) => t.name);
}

/** Copy every table of `source` into `target`, in one transaction on the target. Throws TargetNotEmptyError before writing anything when the target holds data. */
export async function copyDatabase(source: DB, target: DB): Promise<CopyResult> {
  const present = new Set(await userTables(source));
  const inTarget = new Set(await userTables(target));
  const tables = [...ORDER.filter((t) => present.has(t)), ...[...present].filter((t) => !ORDER.includes(t)).sort()];
  const missing = tables.find((t) => !inTarget.has(t));
  if (missing) throw new Error(`the target database has no table ${missing}: its schema is older than the source's`);
  // Tables are named at run time: handles typed for any table of any columns.
  const from = source as unknown as Kysely<AnyTables>;
  const to = target as unknown as Kysely<AnyTables>;
  for (const t of tables) {
    const rows = await to.selectFrom(t).selectAll().limit(2).execute();
    const seededOnly = t === SEEDED.table && rows.length === 1 && rows[0]?.id === SEEDED.id;
    if (rows.length > 0 && !seededOnly) throw new TargetNotEmptyError(t);
  }
  const result: CopyResult = { tables: [] };
  await to.transaction().execute(async (trx) => {
    // The target's own copy of the seeded workspace gives way to the source's (same id, the source's date).
    await trx.deleteFrom(SEEDED.table).where("id", "=", SEEDED.id).execute();
    for (const t of tables) {
      let n = 0;
      let offset = 0;
      for (;;) {
        const rows = await from.selectFrom(t).selectAll().orderBy(sql`1`).limit(BATCH).offset(offset).execute();
        if (rows.length === 0) break;
        await trx.insertInto(t).values(rows).execute();
        n += rows.length;
        offset += rows.length;
      }
      result.tables.push({ table: t, rows: n });
    }
    await dialectOf(trx).resetSequences(trx, tables);
  });
  return result;
}
