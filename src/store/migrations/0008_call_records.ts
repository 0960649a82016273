import type { Kysely } from "kysely";

// Frozen once landed: change the schema with a new numbered migration.
// Written with Kysely's schema builder only, so it runs on SQLite and PostgreSQL alike.
//
// One row per proxied call (call_connector, the REST proxy): what was called and how it went,
// never a body, a query value or a credential. The id is time-ordered (store/calls.ts), so the
// newest calls come first without an autoincrement column. Rows older than the retention period
// are purged by the recorder.
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable("call_records")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("connector_id", "text", (c) => c.notNull())
    .addColumn("workspace_id", "text", (c) => c.notNull())
    .addColumn("method", "text", (c) => c.notNull())
    .addColumn("path", "text", (c) => c.notNull())
    .addColumn("status", "integer")
    .addColumn("duration_ms", "integer", (c) => c.notNull())
    .addColumn("refreshed", "integer", (c) => c.notNull())
    .addColumn("created_at", "text", (c) => c.notNull())
    .execute();
  await db.schema.createIndex("call_records_connector").on("call_records").columns(["connector_id", "id"]).execute();
  await db.schema.createIndex("call_records_created").on("call_records").columns(["created_at"]).execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable("call_records").execute();
}
