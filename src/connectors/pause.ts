/** disable_connector and enable_connector: a disabled connector keeps its secrets but cannot be used. */
import type { Provider } from "../catalog/catalog.js";
import { ConnectorError } from "../common/errors.js";
import type { CredentialDeps } from "../credentials/deps.js";
import { readSecret, type StoredSecret } from "../credentials/secrets.js";
import { renewalOf } from "../credentials/tokens.js";
import { type ConnectorObject, getConnector, getConnectorRow } from "../store/connectors.js";
import type { ConnectorRow, Status, StatusReason } from "../store/schema.js";
import { emitChange, mayMove, reconnectAdvice, transition } from "../store/status.js";
import { writeTransaction } from "../store/write-transaction.js";

/**
 * A disabled connector keeps its secrets and roles but hands out no credentials. Read, decision
 * and write happen under one write lock, so a concurrent revoke or finishing callback is never
 * overwritten from a stale read.
 */
export async function disableConnector(ctx: CredentialDeps, workspaceId: string, connectorId: string): Promise<ConnectorObject> {
  const change = await writeTransaction(ctx.db, async (trx) => {
    const current = await getConnectorRow(trx, workspaceId, connectorId);
    if (current.status === "disabled") return null;
    if (!mayMove("disable", current.status)) {
      throw new ConnectorError(
        "invalid_state",
        `Connector ${current.id} was ${current.status}; there is nothing to disable. Use delete_connector to remove it.`,
      );
    }
    return transition(trx, ctx, current, {
      move: "disable",
      to: "disabled",
      reason: "disabled",
      detail: `Disabled with disable_connector while it was ${current.status}; enable_connector makes it usable again.`,
      patch: { status_before_disable: current.status },
      events: [{ type: "disabled", detail: `was ${current.status}` }],
    });
  });
  emitChange(ctx, change);
  return getConnector(ctx.db, workspaceId, connectorId);
}

/** Where enable_connector takes a disabled connector. */
export interface EnableTarget {
  to: Status;
  reason: StatusReason | null;
  detail: string | null;
}

/**
 * Pure: connected again when its credentials are still good; otherwise what it was before it was
 * disabled (disabling fixed nothing), or what it has become meanwhile (an access that ended).
 */
export function enableTarget(
  provider: Provider,
  row: Pick<ConnectorRow, "id" | "auth_type" | "status_before_disable">,
  stored: StoredSecret | undefined,
  nowMs: number,
): EnableTarget {
  const advice = reconnectAdvice(row);
  const before = row.status_before_disable;
  if (before === "expired")
    return { to: "expired", reason: "expired", detail: `It was already expired when it was disabled. To use it again, ${advice}.` };
  if (before === "error")
    return { to: "error", reason: null, detail: `It was already in error when it was disabled. To use it again, ${advice}.` };
  if (before === "pending") {
    return {
      to: "pending",
      reason: null,
      detail: "Waiting for the person to consent (the authorization link may have expired; start again with start_connector_oauth if so).",
    };
  }
  if (!stored) return { to: "error", reason: null, detail: `Enabled, but it has no credentials; ${advice}.` };
  if (stored.kind === "oauth2") {
    const t = stored.tokens;
    if (renewalOf(provider, t) === "reconsent" && t.expires_at !== undefined && t.expires_at * 1000 <= nowMs) {
      return {
        to: "expired",
        reason: "expired",
        detail: `The ${provider.def.name} access ended while the connector was disabled. To use it again, ${advice}.`,
      };
    }
  }
  return { to: "connected", reason: null, detail: null };
}

/**
 * Undo disable_connector: connected again when its credentials are still good, otherwise expired
 * or error. Decided and written under one write lock (see disableConnector).
 */
export async function enableConnector(ctx: CredentialDeps, workspaceId: string, connectorId: string): Promise<ConnectorObject> {
  const change = await writeTransaction(ctx.db, async (trx) => {
    const row = await getConnectorRow(trx, workspaceId, connectorId);
    if (row.status === "connected") return null;
    if (!mayMove("enable", row.status)) {
      throw new ConnectorError(
        "invalid_state",
        `Only a disabled connector can be enabled; ${row.id} is ${row.status}.${row.status_detail ? ` ${row.status_detail}` : ""}`,
      );
    }
    const stored = await readSecret(ctx, trx, row.id);
    const target = enableTarget(ctx.catalog.get(row.provider), row, stored?.secret, ctx.clock());
    return transition(trx, ctx, row, {
      move: "enable",
      ...target,
      patch: { status_before_disable: null },
      events: [{ type: "enabled", ...(target.to === "connected" ? {} : { detail: `now ${target.to}` }) }],
    });
  });
  emitChange(ctx, change);
  return getConnector(ctx.db, workspaceId, connectorId);
}
