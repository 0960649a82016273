import type { Kysely } from "kysely";

// Frozen once landed: change the schema with a new numbered migration.
// Written for SQLite and PostgreSQL alike: a plain nullable ADD COLUMN.
//
// The OAuth endpoints a connector's grant started on (Salesforce sandbox or My Domain, Outlook
// tenant), as JSON; null for connectors that use the provider's defaults (every row before this).
// On the connector row, not the grant row: grants are purged, and refresh and revoke must keep
// going to the host the grant started on.
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable("connectors").addColumn("oauth_endpoints", "text").execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable("connectors").dropColumn("oauth_endpoints").execute();
}
