/** disable_connector and enable_connector: a disabled connector keeps its secrets but cannot be used. */
import { sql } from "kysely";
import { z } from "zod";
import { ROLES, type AccountFacts, type Provider, type Role, type TokenSet } from "../catalog/catalog.js";
import { getConnector, getConnectorRow, listConnectors, recordEvent, type ConnectorObject, type ListFilters } from "../store/connectors.js";
import { nowIso } from "../common/clock.js";
import type { DB } from "../store/db.js";
import type { ConnectorRow } from "../store/schema.js";
import { writeTransaction } from "../store/write-transaction.js";
import { ConnectorError, isConnectorError } from "../common/errors.js";
import { expireAbandonedGrants } from "../store/grants.js";
import { readAccount, type AccountCheck } from "../catalog/test-read.js";
import { apiBaseUrl, testReadPath } from "../catalog/api.js";
import { getAccessToken, saveCheck, withCredential } from "../credentials/refresh.js";
import { assertUsable } from "../store/status.js";
import { connectionView } from "../catalog/connection.js";
import { renewalOf } from "../credentials/tokens.js";
import { checkRoles, parseSettings } from "../catalog/rules.js";
import { revokeTokens, type ProviderRevocation } from "../credentials/revocation.js";
import { readSecret } from "../credentials/secrets.js";
import type { CredentialDeps } from "../credentials/deps.js";
import { emitStatus } from "../store/status.js";

/**
 * A disabled connector keeps its secrets and roles but hands out no credentials. Read, decision
 * and write happen under one write lock, so a concurrent revoke or finishing callback is never
 * overwritten from a stale read.
 */
export async function disableConnector(ctx: CredentialDeps, workspaceId: string, connectorId: string): Promise<ConnectorObject> {
  const row = await writeTransaction(ctx.db, async (trx) => {
    const current = await getConnectorRow(trx, workspaceId, connectorId);
    if (current.status === "disabled") return undefined;
    if (current.status === "revoked") throw new ConnectorError("invalid_state", `Connector ${current.id} was revoked; there is nothing to disable. Use delete_connector to remove it.`);
    await trx
      .updateTable("connectors")
      .set({ status: "disabled", status_before_disable: current.status, status_detail: `disabled (was ${current.status}); enable_connector makes it usable again`, updated_at: nowIso(ctx) })
      .where("id", "=", current.id)
      .execute();
    await recordEvent(trx, ctx, current, "disabled", `was ${current.status}`);
    return current;
  });
  if (row) emitStatus(ctx, row, "disabled");
  return getConnector(ctx.db, workspaceId, connectorId);
}

/**
 * Undo disable_connector: connected again when its credentials are still good, otherwise expired
 * or error. Decided and written under one write lock (see disableConnector).
 */
export async function enableConnector(ctx: CredentialDeps, workspaceId: string, connectorId: string): Promise<ConnectorObject> {
  const changed = await writeTransaction(ctx.db, async (trx) => {
    const row = await getConnectorRow(trx, workspaceId, connectorId);
    if (row.status === "connected") return undefined;
    if (row.status !== "disabled") {
      throw new ConnectorError("invalid_state", `Only a disabled connector can be enabled; ${row.id} is ${row.status}.${row.status_detail ? ` ${row.status_detail}` : ""}`);
    }
    const provider = ctx.catalog.get(row.provider);
    const stored = await readSecret(ctx, trx, row.id);
    const before = row.status_before_disable;
    let status: "connected" | "expired" | "error" | "pending" = "connected";
    let detail: string | null = null;
    if (before === "expired" || before === "error") {
      // Disabling did not fix what was wrong before.
      status = before;
      detail = `${before}: it was already ${before} when it was disabled. Ask the person to consent again with start_connector_oauth (connector_id "${row.id}").`;
    } else if (before === "pending") {
      status = "pending";
      detail = "waiting for the person to consent (the authorization link may have expired; start again with start_connector_oauth if so)";
    } else if (!stored) {
      status = "error";
      detail = "enabled, but it has no credentials; connect the account again";
    } else if (stored.secret.kind === "oauth2") {
      const t = stored.secret.tokens;
      if (renewalOf(provider, t) === "reconsent" && t.expires_at !== undefined && t.expires_at * 1000 <= ctx.clock()) {
        status = "expired";
        detail = `expired: the ${provider.def.name} access ended while the connector was disabled. Ask the person to consent again with start_connector_oauth (connector_id "${row.id}").`;
      }
    }
    await trx.updateTable("connectors").set({ status, status_detail: detail, status_before_disable: null, updated_at: nowIso(ctx) }).where("id", "=", row.id).execute();
    await recordEvent(trx, ctx, row, "enabled", status === "connected" ? undefined : `now ${status}`);
    return { row, status };
  });
  if (changed) emitStatus(ctx, changed.row, changed.status);
  return getConnector(ctx.db, workspaceId, connectorId);
}
