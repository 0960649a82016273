import type { Kysely } from "kysely";

// Frozen once landed: change the schema with a new numbered migration.
// Written with Kysely's schema builder only, so it runs on SQLite and PostgreSQL alike.
//
// The abandoned-grant check (store/grants.ts expireAbandonedGrants) looks up given connectors
// by workspace, status `pending` and id. Without this index SQLite answered it through
// connectors_workspace_expires, a walk of the whole workspace on every get_connector_status and
// every list_connectors page (EXPLAIN QUERY PLAN: SEARCH connectors USING INDEX
// connectors_workspace_expires (workspace_id=?)); with it, a covering search per id.
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.createIndex("connectors_workspace_status_id").on("connectors").columns(["workspace_id", "status", "id"]).execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropIndex("connectors_workspace_status_id").execute();
}
