import type { Kysely } from "kysely";

// Frozen once landed: change the schema with a new numbered migration.
// Written with Kysely's schema builder only, so it runs on SQLite and PostgreSQL alike.
//
// A grant remembers the API key that started it (null: no key, as in the local stdio
// workspace), so revoking the key cancels its pending grants. The indexes serve that lookup,
// the per-workspace quota on pending grants (workspace_id, expires_at) and the purge of finished
// grants (expires_at).
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable("oauth_grants").addColumn("started_by_key", "text").execute();
  await db.schema.createIndex("oauth_grants_started_by_key").on("oauth_grants").column("started_by_key").execute();
  await db.schema.createIndex("oauth_grants_workspace_expires").on("oauth_grants").columns(["workspace_id", "expires_at"]).execute();
  await db.schema.createIndex("oauth_grants_expires").on("oauth_grants").column("expires_at").execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropIndex("oauth_grants_expires").execute();
  await db.schema.dropIndex("oauth_grants_workspace_expires").execute();
  await db.schema.dropIndex("oauth_grants_started_by_key").execute();
  await db.schema.alterTable("oauth_grants").dropColumn("started_by_key").execute();
}
