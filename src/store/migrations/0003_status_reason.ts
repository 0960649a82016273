import { type Kysely, sql } from "kysely";

// Frozen once landed: change the schema with a new numbered migration.
// Written for SQLite and PostgreSQL alike: a plain ADD COLUMN, LIKE, substr, upper and ||.
//
// The reason a connector is in its status gets its own column (status_reason) instead of a
// prefix on the status_detail sentence. Rows written before are backfilled from their prefix,
// and the prefix is cut from the sentence ("state_expired: the link…" → "The link…").
const PREFIXES = ["consent_denied", "provider_error", "state_expired", "expired", "refresh_failing", "revoked"] as const;

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable("connectors").addColumn("status_reason", "text").execute();
  for (const reason of PREFIXES) {
    const prefix = `${reason}: `;
    // `_` is a LIKE wildcard: escape it so only the exact prefix matches.
    const pattern = `${prefix.replace(/_/g, "\\_")}%`;
    const rest = prefix.length + 1;
    await sql`
      update connectors
      set status_reason = ${reason},
          status_detail = upper(substr(status_detail, ${rest}, 1)) || substr(status_detail, ${rest + 1})
      where status_reason is null and status_detail like ${pattern} escape '\\'
    `.execute(db);
  }
  // "disabled (was connected); enable_connector makes it usable again" keeps its sentence.
  await sql`update connectors set status_reason = 'disabled' where status = 'disabled' and status_reason is null`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable("connectors").dropColumn("status_reason").execute();
}
