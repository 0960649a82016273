import type { Kysely } from "kysely";

// Frozen once landed: change the schema with a new numbered migration.
// Numbered 0004 because 0003 (status_reason) lands from another branch.
// server_keys: keys every instance on this database shares, each sealed by the vault (never
// plaintext); the first is the signing key of MCP 2026-07-28 requestState tokens.
// request_state_nonces: the nonce of every requestState answered, until it expires, so a
// token is used once across all instances (insert-or-fail on the primary key).
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable("server_keys")
    .addColumn("name", "text", (c) => c.primaryKey())
    .addColumn("ciphertext", "text", (c) => c.notNull())
    .addColumn("created_at", "text", (c) => c.notNull())
    .execute();
  await db.schema
    .createTable("request_state_nonces")
    .addColumn("nonce", "text", (c) => c.primaryKey())
    .addColumn("expires_at", "text", (c) => c.notNull())
    .execute();
  await db.schema.createIndex("request_state_nonces_expires").on("request_state_nonces").column("expires_at").execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable("request_state_nonces").execute();
  await db.schema.dropTable("server_keys").execute();
}
