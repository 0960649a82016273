import type { Kysely } from "kysely";

// Frozen once landed: change the schema with a new numbered migration.
// A disabled connector remembers the status it had, so enable_connector restores an expired or
// failed connector as such instead of pretending it is connected.
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable("connectors").addColumn("status_before_disable", "text").execute();
  await db.schema.createIndex("connectors_workspace_expires").on("connectors").columns(["workspace_id", "expires_at"]).execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropIndex("connectors_workspace_expires").execute();
  await db.schema.alterTable("connectors").dropColumn("status_before_disable").execute();
}
