/** Connector statuses: which moves are allowed, and the writes that make them. */
import type { Provider } from "../catalog/catalog.js";
import { nowIso } from "../common/clock.js";
import { ConnectorError } from "../common/errors.js";
import { recordEvent } from "./connectors.js";
import type { StoreDeps } from "./db.js";
import type { ConnectorRow } from "./schema.js";

/** Statuses a connector may be reconnected in place from (start_connector_oauth with connector_id). */
export const RECONNECTABLE: ReadonlySet<string> = new Set(["expired", "revoked", "error"]);

/** A connector that can hand out credentials: connected, with a stored secret. */
export function assertUsable(row: Pick<ConnectorRow, "id" | "status" | "status_detail" | "label">, action: string): void {
  if (row.status === "connected") return;
  const why: Record<string, string> = {
    pending: "is still waiting for the person to consent (use wait_for_connector or get_connector_status)",
    disabled: "is disabled; call enable_connector first",
    expired: "has expired; ask the person to consent again with start_connector_oauth",
    revoked: "was revoked; connect the account again to use it",
    error: "is in error; see its status_detail and connect again",
  };
  throw new ConnectorError("invalid_state", `Cannot ${action} connector ${row.id} (${row.label}): it ${why[row.status] ?? `is ${row.status}`}.`);
}

/** Status change to `expired` (only from `connected`: a disabled connector stays disabled). */
export async function markExpired(ctx: StoreDeps, row: Pick<ConnectorRow, "id" | "workspace_id">, detail: string): Promise<void> {
  const res = await ctx.db
    .updateTable("connectors")
    .set({ status: "expired", status_detail: detail, health: "unhealthy", updated_at: nowIso(ctx) })
    .where("id", "=", row.id)
    .where("status", "=", "connected")
    .executeTakeFirst();
  if (Number(res.numUpdatedRows) === 1) {
    await recordEvent(ctx.db, ctx, row, "expired", detail);
    ctx.events.emit("change", { workspace_id: row.workspace_id, connector_id: row.id, status: "expired" });
    ctx.log.info("connector expired", { connector_id: row.id });
  }
}

export function reconsentDetail(provider: Provider, row: Pick<ConnectorRow, "id">, why: string): string {
  return (
    `expired: ${why} Ask the person to consent again: call start_connector_oauth with provider "${provider.id}" ` +
    `and connector_id "${row.id}" (keeps this connector's roles and settings), and show them the authorization_url.`
  );
}

export function emitStatus(ctx: StoreDeps, row: Pick<ConnectorRow, "id" | "workspace_id">, status: string): void {
  ctx.events.emit("change", { workspace_id: row.workspace_id, connector_id: row.id, status });
}
