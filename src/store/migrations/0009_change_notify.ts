import { type Kysely, sql } from "kysely";
import { CHANGE_CHANNEL } from "../change-feed.js";
import { dialectOf } from "../dialect.js";

// Frozen once landed: change the schema with a new numbered migration.
// PostgreSQL only (on SQLite this migration does nothing: other processes notice commits through
// PRAGMA data_version). Every commit that changes a connector's status, or deletes a connector,
// notifies the channel with the connector's id; NOTIFY is delivered at commit, to every instance
// listening (grants/watcher.ts wakes wait_for_connector and URL elicitations with it). A trigger,
// so no write path can forget to notify.
export async function up(db: Kysely<any>): Promise<void> {
  if (dialectOf(db).name !== "postgres") return;
  await sql`
    create function tenex_connector_notify() returns trigger language plpgsql as $$
    begin
      if tg_op = 'DELETE' then
        perform pg_notify(${sql.lit(CHANGE_CHANNEL)}, old.id);
        return old;
      end if;
      if new.status is distinct from old.status then
        perform pg_notify(${sql.lit(CHANGE_CHANNEL)}, new.id);
      end if;
      return new;
    end
    $$`.execute(db);
  await sql`
    create trigger connectors_notify after update or delete on connectors
    for each row execute function tenex_connector_notify()`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  if (dialectOf(db).name !== "postgres") return;
  await sql`drop trigger connectors_notify on connectors`.execute(db);
  await sql`drop function tenex_connector_notify()`.execute(db);
}
