import type { Kysely } from "kysely";
import { dialectOf } from "../dialect.js";

// Frozen once landed: change the schema with a new numbered migration.
// Written with Kysely's schema builder only, so it runs on SQLite and PostgreSQL alike.
//
// People: a workspace's members (issue 16), who sign in to the connect page in HTTP mode, and
// their sign-in sessions. An email is unique within a workspace, compared case-insensitively
// (`email_key` is the lower-cased email), and may belong to several workspaces. The password is
// a self-describing scrypt hash (credentials/passwords.ts), null for a member who signs in only
// through single sign-on. A session is stored as the sha256 of its cookie value, never the value;
// removing a member removes their sessions (the store does it in the same transaction, and the
// foreign key says so too).
export async function up(db: Kysely<any>): Promise<void> {
  const d = dialectOf(db);
  await db.schema
    .createTable("members")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("workspace_id", "text", (c) => c.notNull().references("workspaces.id").onDelete("cascade"))
    .addColumn("email", "text", (c) => c.notNull())
    .addColumn("email_key", "text", (c) => c.notNull())
    .addColumn("password_hash", "text")
    .addColumn("created_at", "text", (c) => c.notNull())
    .execute();
  await db.schema.createIndex("members_workspace_email").unique().on("members").columns(["workspace_id", "email_key"]).execute();
  await db.schema.createIndex("members_email").on("members").columns(["email_key"]).execute();
  await db.schema
    .createTable("member_sessions")
    .addColumn("id_hash", "text", (c) => c.primaryKey())
    .addColumn("member_id", "text", (c) => c.notNull().references("members.id").onDelete("cascade"))
    .addColumn("workspace_id", "text", (c) => c.notNull())
    .addColumn("expires_at", d.columnType("epoch"), (c) => c.notNull())
    .addColumn("created_at", "text", (c) => c.notNull())
    .execute();
  await db.schema.createIndex("member_sessions_member").on("member_sessions").columns(["member_id"]).execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable("member_sessions").execute();
  await db.schema.dropTable("members").execute();
}
