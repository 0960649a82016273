import type { Kysely } from "kysely";

// Frozen once landed: change the schema with a new numbered migration.
// Written with Kysely's schema builder only, so it runs on SQLite and PostgreSQL alike.
//
// The connect page (issue 16): the link handed out is `{base}/connect/{id}`, not the provider's
// URL. A grant keeps the sha256 of that id (`connect_id_hash`), the provider's authorization URL
// sealed by the vault (`authorize_ciphertext`: it carries the state, and never leaves the server
// until the person presses Continue), the sha256 of the browser binding set on Continue
// (`binding_hash`: null until then; set once, which is what uses the link up), and the name the
// MCP client gave itself (`requested_by`), shown on the page. Grants started before this
// migration have none of these and finish as before.
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable("oauth_grants").addColumn("connect_id_hash", "text").execute();
  await db.schema.alterTable("oauth_grants").addColumn("authorize_ciphertext", "text").execute();
  await db.schema.alterTable("oauth_grants").addColumn("binding_hash", "text").execute();
  await db.schema.alterTable("oauth_grants").addColumn("requested_by", "text").execute();
  await db.schema.createIndex("oauth_grants_connect").unique().on("oauth_grants").columns(["connect_id_hash"]).execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropIndex("oauth_grants_connect").execute();
  for (const c of ["requested_by", "binding_hash", "authorize_ciphertext", "connect_id_hash"]) {
    await db.schema.alterTable("oauth_grants").dropColumn(c).execute();
  }
}
