import { type ColumnDefinitionBuilder, type Kysely, sql } from "kysely";
import { dialectOf } from "../dialect.js";

// Frozen once landed: change the schema with a new numbered migration.
// The column types the store's dialect names (issue 15) leave SQLite's schema exactly as it was
// (integer, autoincrement); on PostgreSQL the sequences are serial and the epoch times bigint.
export async function up(db: Kysely<any>): Promise<void> {
  const d = dialectOf(db);
  const serialKey = (c: ColumnDefinitionBuilder) => (d.autoIncrement ? c.primaryKey().autoIncrement() : c.primaryKey());
  await db.schema
    .createTable("workspaces")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("name", "text", (c) => c.notNull().unique())
    .addColumn("created_at", "text", (c) => c.notNull())
    .execute();

  await db.schema
    .createTable("api_keys")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("workspace_id", "text", (c) => c.notNull().references("workspaces.id").onDelete("cascade"))
    .addColumn("prefix", "text", (c) => c.notNull())
    .addColumn("hash", "text", (c) => c.notNull().unique())
    .addColumn("created_at", "text", (c) => c.notNull())
    .addColumn("revoked_at", "text")
    .execute();

  await db.schema
    .createTable("connectors")
    .addColumn("seq", d.columnType("serial_key"), serialKey)
    .addColumn("id", "text", (c) => c.notNull().unique())
    .addColumn("workspace_id", "text", (c) => c.notNull().references("workspaces.id").onDelete("cascade"))
    .addColumn("provider", "text", (c) => c.notNull())
    .addColumn("label", "text", (c) => c.notNull())
    .addColumn("auth_type", "text", (c) => c.notNull())
    .addColumn("status", "text", (c) => c.notNull())
    .addColumn("status_detail", "text")
    .addColumn("roles", "text", (c) => c.notNull().defaultTo("[]"))
    .addColumn("settings", "text", (c) => c.notNull().defaultTo("{}"))
    .addColumn("account", "text", (c) => c.notNull().defaultTo("{}"))
    .addColumn("scopes", "text", (c) => c.notNull().defaultTo("[]"))
    .addColumn("health", "text", (c) => c.notNull().defaultTo("unknown"))
    .addColumn("last_checked_at", "text")
    .addColumn("expires_at", "text")
    .addColumn("created_at", "text", (c) => c.notNull())
    .addColumn("updated_at", "text", (c) => c.notNull())
    .execute();
  await db.schema.createIndex("connectors_workspace_seq").on("connectors").columns(["workspace_id", "seq"]).execute();

  await db.schema
    .createTable("connector_secrets")
    .addColumn("connector_id", "text", (c) => c.primaryKey().references("connectors.id").onDelete("cascade"))
    .addColumn("ciphertext", "text", (c) => c.notNull())
    .addColumn("version", "integer", (c) => c.notNull().defaultTo(1))
    .addColumn("access_expires_at", d.columnType("epoch"))
    .addColumn("lease_owner", "text")
    .addColumn("lease_until", d.columnType("epoch"))
    .addColumn("updated_at", "text", (c) => c.notNull())
    .execute();

  await db.schema
    .createTable("oauth_grants")
    .addColumn("state_hash", "text", (c) => c.primaryKey())
    .addColumn("connector_id", "text", (c) => c.notNull().references("connectors.id").onDelete("cascade"))
    .addColumn("workspace_id", "text", (c) => c.notNull())
    .addColumn("verifier_ciphertext", "text", (c) => c.notNull())
    .addColumn("redirect_uri", "text", (c) => c.notNull())
    .addColumn("scopes", "text", (c) => c.notNull())
    .addColumn("expires_at", "text", (c) => c.notNull())
    .addColumn("used_at", "text")
    .addColumn("created_at", "text", (c) => c.notNull())
    .execute();
  await db.schema.createIndex("oauth_grants_connector").on("oauth_grants").column("connector_id").execute();

  await db.schema
    .createTable("primaries")
    .addColumn("workspace_id", "text", (c) => c.notNull())
    .addColumn("role", "text", (c) => c.notNull())
    .addColumn("connector_id", "text", (c) => c.notNull().references("connectors.id").onDelete("cascade"))
    .addPrimaryKeyConstraint("primaries_pk", ["workspace_id", "role"])
    .execute();

  await db.schema
    .createTable("connector_events")
    .addColumn("id", d.columnType("serial_key"), serialKey)
    .addColumn("connector_id", "text", (c) => c.notNull())
    .addColumn("workspace_id", "text", (c) => c.notNull())
    .addColumn("type", "text", (c) => c.notNull())
    .addColumn("detail", "text")
    .addColumn("created_at", "text", (c) => c.notNull())
    .execute();
  await db.schema.createIndex("connector_events_connector").on("connector_events").columns(["connector_id", "id"]).execute();

  await sql`insert into workspaces (id, name, created_at) values ('ws_local', 'local', ${new Date().toISOString()})`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const t of ["connector_events", "primaries", "oauth_grants", "connector_secrets", "connectors", "api_keys", "workspaces"]) {
    await db.schema.dropTable(t).execute();
  }
}
