import { ROLES, type Role } from "../catalog/catalog.js";
import { checkRoles } from "../catalog/rules.js";
import { nowIso } from "../common/clock.js";
import { ConnectorError } from "../common/errors.js";
import type { CredentialDeps } from "../credentials/deps.js";
import {
  type ConnectorObject,
  connectorPatch,
  getConnector,
  getConnectorRow,
  playsRole,
  recordEvent,
  rowToConnector,
} from "../store/connectors.js";
import type { ConnectorRow } from "../store/schema.js";
import { assertUsable, notUsableMessage, USABLE } from "../store/status.js";
import { writeTransaction } from "../store/write-transaction.js";

/**
 * Make a connector the workspace's primary for a role; the previous primary is demoted in the
 * same transaction. The connector must be connected and its provider must allow the role (it
 * is added to the connector's roles when missing).
 */
export async function setPrimaryConnector(
  ctx: CredentialDeps,
  workspaceId: string,
  connectorId: string,
  role: string,
): Promise<ConnectorObject> {
  const row = await getConnectorRow(ctx.db, workspaceId, connectorId);
  const provider = ctx.catalog.get(row.provider);
  const [r] = checkRoles(provider, [role]);
  if (!r) throw new ConnectorError("invalid_input", "role is required.");
  assertUsable(row, `make primary`);
  await writeTransaction(ctx.db, async (trx) => {
    const previous = await trx
      .selectFrom("primaries")
      .select("connector_id")
      .where("workspace_id", "=", workspaceId)
      .where("role", "=", r)
      .executeTakeFirst();
    await trx
      .insertInto("primaries")
      .values({ workspace_id: workspaceId, role: r, connector_id: row.id })
      .onConflict((oc) => oc.columns(["workspace_id", "role"]).doUpdateSet({ connector_id: row.id }))
      .execute();
    const current = await getConnectorRow(trx, workspaceId, row.id);
    const roles = current.roles.includes(r) ? current.roles : [...current.roles, r];
    await trx
      .updateTable("connectors")
      .set(connectorPatch({ roles, updated_at: nowIso(ctx) }))
      .where("id", "=", row.id)
      .execute();
    if (previous && previous.connector_id !== row.id) {
      await recordEvent(
        trx,
        ctx,
        { id: previous.connector_id, workspace_id: workspaceId },
        "primary_removed",
        `${row.id} became the primary ${r}`,
      );
    }
    if (previous?.connector_id !== row.id) {
      await recordEvent(trx, ctx, row, "primary_set", `primary ${r}${previous ? ` (was ${previous.connector_id})` : ""}`);
    }
  });
  return getConnector(ctx.db, workspaceId, connectorId);
}

const isRole = (v: string): v is Role => (ROLES as readonly string[]).includes(v);

function describeCandidate(r: Pick<ConnectorRow, "id" | "label" | "provider" | "status">): string {
  return `${r.id} ("${r.label}", ${r.provider}, ${r.status})`;
}

/** Which connector to use for a role: the primary, else the only connected one, else an error naming the candidates. */
export async function resolveConnector(
  ctx: CredentialDeps,
  workspaceId: string,
  role: string,
  providerId?: string,
): Promise<ConnectorObject> {
  if (!isRole(role)) throw new ConnectorError("invalid_input", `Unknown role "${role}". Roles are: ${ROLES.join(", ")}.`);
  if (providerId !== undefined) ctx.catalog.get(providerId);
  const primaryRow = await ctx.db
    .selectFrom("primaries")
    .innerJoin("connectors", "connectors.id", "primaries.connector_id")
    .selectAll("connectors")
    .where("primaries.workspace_id", "=", workspaceId)
    .where("primaries.role", "=", role)
    .executeTakeFirst();
  const primary = primaryRow ? rowToConnector(primaryRow) : undefined;
  if (primary && (providerId === undefined || primary.provider === providerId)) {
    if (primary.status === USABLE) return getConnector(ctx.db, workspaceId, primary.id);
    throw new ConnectorError(
      "invalid_state",
      `The primary ${role} connector ${describeCandidate(primary)} is not usable: ${notUsableMessage(primary, "use")} ` +
        "Or make another connector primary with set_primary_connector.",
    );
  }
  let q = ctx.db.selectFrom("connectors").selectAll().where("workspace_id", "=", workspaceId).where(playsRole(ctx.db, role));
  if (providerId !== undefined) q = q.where("provider", "=", providerId);
  const rows = (await q.orderBy("seq", "desc").limit(51).execute()).map(rowToConnector);
  const connected = rows.filter((r) => r.status === USABLE);
  const only = connected[0];
  if (connected.length === 1 && only) return getConnector(ctx.db, workspaceId, only.id);
  const scope = `${role}${providerId ? ` (${providerId})` : ""}`;
  if (connected.length === 0) {
    const others = rows.slice(0, 10).map(describeCandidate);
    throw new ConnectorError(
      "not_found",
      `No connected connector plays the role ${scope} in this workspace.` +
        (others.length ? ` Not usable: ${others.join("; ")}.` : " Connect one with start_connector_oauth or submit_connector_key."),
    );
  }
  throw new ConnectorError(
    "conflict",
    `${connected.length} connected connectors play the role ${scope} and none is primary: ${connected.slice(0, 10).map(describeCandidate).join("; ")}. ` +
      `Ask the person which one to use, then call set_primary_connector with that connector_id and role "${role}".`,
  );
}
