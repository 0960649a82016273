import type { Kysely } from "kysely";
import { dialectOf } from "../dialect.js";

// Frozen once landed: change the schema with a new numbered migration.
// Written with Kysely's schema builder only, so it runs on SQLite and PostgreSQL alike.
//
// Remote MCP clients (issue 17): the server is an OAuth 2.1 authorization server built on
// oidc-provider. `oauth_server_records` is its storage (one row per stored model instance: access
// and refresh tokens, authorization codes, grants, registered clients, interactions, browser
// sessions, cached client metadata documents). A row is keyed by the sha256 of model and id, never
// the id itself (an opaque token's id is the token), and its payload is sealed by the vault with
// the row key as associated data. `grant_id` and `uid_hash` are the lookups the library needs;
// `expires_at` (epoch ms) lets a sweep purge expired rows; `consumed_at` (epoch ms) marks a used
// code or rotated refresh token.
//
// `mcp_client_grants` is the operator's record: which MCP client a member allowed into which
// workspace, when, and when and why that ended (`clients list` / `clients revoke`).
export async function up(db: Kysely<any>): Promise<void> {
  const d = dialectOf(db);
  await db.schema
    .createTable("oauth_server_records")
    .addColumn("key_hash", "text", (c) => c.primaryKey())
    .addColumn("model", "text", (c) => c.notNull())
    .addColumn("grant_id", "text")
    .addColumn("uid_hash", "text")
    .addColumn("payload", "text", (c) => c.notNull())
    .addColumn("expires_at", d.columnType("epoch"))
    .addColumn("consumed_at", d.columnType("epoch"))
    .execute();
  await db.schema.createIndex("oauth_server_records_grant").on("oauth_server_records").columns(["grant_id"]).execute();
  await db.schema.createIndex("oauth_server_records_uid").on("oauth_server_records").columns(["uid_hash"]).execute();
  await db.schema.createIndex("oauth_server_records_expiry").on("oauth_server_records").columns(["expires_at"]).execute();
  await db.schema
    .createTable("mcp_client_grants")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("grant_id", "text", (c) => c.notNull().unique())
    .addColumn("client_id", "text", (c) => c.notNull())
    .addColumn("client_name", "text")
    .addColumn("redirect_host", "text")
    .addColumn("workspace_id", "text", (c) => c.notNull())
    .addColumn("member_id", "text", (c) => c.notNull())
    .addColumn("member_email", "text", (c) => c.notNull())
    .addColumn("created_at", "text", (c) => c.notNull())
    .addColumn("revoked_at", "text")
    .addColumn("revoked_why", "text")
    .execute();
  await db.schema.createIndex("mcp_client_grants_workspace").on("mcp_client_grants").columns(["workspace_id", "created_at"]).execute();
  await db.schema.createIndex("mcp_client_grants_member").on("mcp_client_grants").columns(["member_id"]).execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable("mcp_client_grants").execute();
  await db.schema.dropTable("oauth_server_records").execute();
}
