/**
 * The connector state machine: the one table of allowed moves, the one write that makes a move,
 * and the one announcement of a change. Every status change in the core goes through
 * `transition()` (an existing connector) or `createConnector()` (a new one entering the machine).
 *
 * A move is written as an UPDATE guarded on the status the caller read, so of two concurrent
 * writers only the first one moves the row; the other gets `null` and decides what that means
 * (a callback whose connector was revoked meanwhile, an expiry a callback beat). The change is
 * returned, not emitted: the caller emits it once, after its transaction committed.
 */
import type { Expression, ExpressionBuilder, SqlBool } from "kysely";
import type { Provider } from "../catalog/catalog.js";
import { nowIso } from "../common/clock.js";
import { ConnectorError } from "../common/errors.js";
import type { ConnectorChange } from "../common/events.js";
import { type ConnectorPatch, connectorPatch, insertConnector, type NewConnector, recordEvent } from "./connectors.js";
import type { DB, StoreDeps } from "./db.js";
import type { ConnectorRow, Database, Status, StatusReason } from "./schema.js";
import { writeTransaction } from "./write-transaction.js";

/** Where a move starts: a status, or "new" for a connector that does not exist yet. */
export type From = Status | "new";

/** Every allowed move, by name: the statuses it starts from and the ones it may end in. */
export const MOVES = {
  /** start_connector_oauth: a new connector waits for consent. */
  start: { from: ["new"], to: ["pending"] },
  /** submit_connector_key: a new connector whose key passed the test read. */
  submit_key: { from: ["new"], to: ["connected"] },
  /** start_connector_oauth with connector_id: a connector that stopped working waits for consent again. */
  reconnect: { from: ["expired", "revoked", "error"], to: ["pending"] },
  /** The callback's outcome, the grant's link expiring, or the grant cancelled with the API key that started it. */
  settle: { from: ["pending"], to: ["connected", "error"] },
  /** Access ended and only the person can renew it. */
  expire: { from: ["connected"], to: ["expired"] },
  /** Health and its reason on a working connector (a refresh failing for now, a test read). */
  check: { from: ["connected"], to: ["connected"] },
  disable: { from: ["pending", "connected", "error", "expired"], to: ["disabled"] },
  /** Back to what it was before disable_connector, or to what it has become meanwhile. */
  enable: { from: ["disabled"], to: ["connected", "expired", "error", "pending"] },
  revoke: { from: ["pending", "connected", "error", "expired", "disabled"], to: ["revoked"] },
} as const satisfies Record<string, { from: readonly From[]; to: readonly Status[] }>;

export type MoveName = keyof typeof MOVES;

/** True when `move` may start from `from` (and, when given, end in `to`). */
export function mayMove(move: MoveName, from: From, to?: Status): boolean {
  const m: { from: readonly From[]; to: readonly Status[] } = MOVES[move];
  return m.from.includes(from) && (to === undefined || m.to.includes(to));
}

/** Statuses a connector may be reconnected in place from (start_connector_oauth with connector_id). */
export const RECONNECTABLE: ReadonlySet<Status> = new Set<Status>(MOVES.reconnect.from);

/** The one status in which a connector hands out credentials and may be used. */
export const USABLE: Status = "connected";

/** How a connector that stopped working comes back, in words for the model. */
export function reconnectAdvice(row: Pick<ConnectorRow, "id" | "auth_type">): string {
  return row.auth_type === "api_key"
    ? "submit a new key with submit_connector_key (and delete this connector with delete_connector)"
    : `ask the person to consent again: call start_connector_oauth with connector_id "${row.id}" (it keeps this connector's roles and settings) and show them the authorization_url`;
}

const NOT_USABLE: Record<Exclude<Status, "connected">, (row: Pick<ConnectorRow, "id" | "auth_type">) => string> = {
  pending: () => "it is still waiting for the person to consent; use wait_for_connector or get_connector_status",
  disabled: () => "it is disabled; call enable_connector first",
  expired: (r) => `it has expired; ${reconnectAdvice(r)}`,
  revoked: (r) => `it was revoked; ${reconnectAdvice(r)}`,
  error: (r) => `it is in error (its status_detail says why); ${reconnectAdvice(r)}`,
};

/** Why a connector cannot be used, with its status_reason and what to do: the `invalid_state` message. */
export function notUsableMessage(
  row: Pick<ConnectorRow, "id" | "label" | "status" | "status_reason" | "auth_type">,
  action: string,
): string {
  const why = row.status === "connected" ? "it is connected" : NOT_USABLE[row.status](row);
  const reason = row.status_reason ? ` (status_reason: ${row.status_reason})` : "";
  return `Cannot ${action} connector ${row.id} (${row.label}): ${why}${reason}.`;
}

/** A connector that can hand out credentials: connected. Anything else is `invalid_state`. */
export function assertUsable(row: Pick<ConnectorRow, "id" | "label" | "status" | "status_reason" | "auth_type">, action: string): void {
  if (row.status === USABLE) return;
  throw new ConnectorError("invalid_state", notUsableMessage(row, action));
}

/** A status change to announce once its transaction committed. */
export interface StatusChange extends ConnectorChange {
  from: From;
}

export interface EventSpec {
  type: string;
  detail?: string | undefined;
}

export interface Move {
  move: MoveName;
  to: Status;
  reason: StatusReason | null;
  /** The human sentence (status_detail); null clears it. */
  detail: string | null;
  /** Other columns written with the move (health, account, expires_at, …). */
  patch?: Omit<ConnectorPatch, "updated_at">;
  /** Events recorded when the move happened (none when the guard refused it). */
  events?: EventSpec[];
  /** A further condition the row must still meet, checked in the same UPDATE (grant expiry: no live grant). */
  where?: (eb: ExpressionBuilder<Database, "connectors">) => Expression<SqlBool>;
}

function refused(move: MoveName, from: From, to: Status): Error {
  // A bug in the caller, not a race: races are caught by the guard and answered with null.
  return new Error(`connector move "${move}" is not allowed from ${from} to ${to}`);
}

/**
 * Move an existing connector from the status the caller read (`row.status`) to `m.to`. The
 * UPDATE is guarded on that status (and `m.where`), so a concurrent writer that moved the row
 * first wins and this returns null. Run it inside the caller's transaction; emit the returned
 * change with `emitChange` after the commit.
 */
export async function transition(
  trx: DB,
  ctx: Pick<StoreDeps, "clock">,
  row: Pick<ConnectorRow, "id" | "workspace_id" | "status">,
  m: Move,
): Promise<StatusChange | null> {
  if (!mayMove(m.move, row.status, m.to)) throw refused(m.move, row.status, m.to);
  let q = trx
    .updateTable("connectors")
    .set({ ...connectorPatch(m.patch ?? {}), status: m.to, status_reason: m.reason, status_detail: m.detail, updated_at: nowIso(ctx) })
    .where("id", "=", row.id)
    .where("workspace_id", "=", row.workspace_id)
    .where("status", "=", row.status);
  if (m.where) q = q.where(m.where);
  const res = await q.executeTakeFirst();
  if (Number(res.numUpdatedRows) !== 1) return null;
  for (const e of m.events ?? []) await recordEvent(trx, ctx, row, e.type, e.detail);
  return { workspace_id: row.workspace_id, connector_id: row.id, status: m.to, from: row.status };
}

/**
 * Re-state a connected connector's reason and detail (a test read's outcome, a refresh failing or
 * healing): the `check` move, guarded on `connected` so any other status keeps its own reason.
 */
export function recheckConnected(
  trx: DB,
  ctx: Pick<StoreDeps, "clock">,
  row: Pick<ConnectorRow, "id" | "workspace_id">,
  m: Pick<Move, "reason" | "detail" | "patch" | "where">,
): Promise<StatusChange | null> {
  return transition(trx, ctx, { ...row, status: "connected" }, { move: "check", to: "connected", ...m });
}

/** A new connector enters the machine at its first status (`start`: pending, `submit_key`: connected). */
export async function createConnector(
  trx: DB,
  ctx: Pick<StoreDeps, "clock">,
  c: NewConnector,
  m: { move: "start" | "submit_key"; events: EventSpec[] },
): Promise<StatusChange> {
  if (!mayMove(m.move, "new", c.status)) throw refused(m.move, "new", c.status);
  await insertConnector(trx, c);
  for (const e of m.events) await recordEvent(trx, ctx, c, e.type, e.detail);
  return { workspace_id: c.workspace_id, connector_id: c.id, status: c.status, from: "new" };
}

/**
 * Tell this process's waiters that a connector changed (the one place that emits). Nothing is
 * emitted for a guard that refused the move (null) or a move that kept the status.
 */
export function emitChange(ctx: Pick<StoreDeps, "events">, change: (ConnectorChange & { from?: From }) | null | undefined): void {
  if (!change || change.from === change.status) return;
  ctx.events.emit("change", { workspace_id: change.workspace_id, connector_id: change.connector_id, status: change.status });
}

/** The status_detail of a connector that expired: why, and how the person brings it back. */
export function reconsentDetail(provider: Provider, row: Pick<ConnectorRow, "id">, why: string): string {
  return `${why} Ask the person to consent again: call start_connector_oauth with provider "${provider.id}" and connector_id "${row.id}" (keeps this connector's roles and settings), and show them the authorization_url.`;
}

/** Status change to `expired`, only from `connected` (a disabled connector stays disabled). Emits the change. */
export async function markExpired(ctx: StoreDeps, row: Pick<ConnectorRow, "id" | "workspace_id">, detail: string): Promise<boolean> {
  const change = await writeTransaction(
    ctx.db,
    (trx) =>
      transition(
        trx,
        ctx,
        { ...row, status: "connected" },
        {
          move: "expire",
          to: "expired",
          reason: "expired",
          detail,
          patch: { health: "unhealthy" },
          events: [{ type: "expired", detail }],
        },
      ),
    { queueOn: row.id },
  );
  if (!change) return false;
  emitChange(ctx, change);
  ctx.log.info("connector expired", { connector_id: row.id });
  return true;
}
