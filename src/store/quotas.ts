/**
 * Per-workspace quotas and the purge of finished grants: one tenant cannot fill the shared
 * database, and grant rows do not pile up forever.
 *
 * A quota is checked inside the write transaction that adds the row (writeTransaction holds the
 * write lock from its first statement), so concurrent starts cannot both see room for one more.
 */
import { ConnectorError } from "../common/errors.js";
import type { DB, StoreDeps } from "./db.js";
import { grantTtlText } from "./grants.js";

/** Per-workspace caps, from TENEX_MAX_PENDING_GRANTS and TENEX_MAX_CONNECTORS (app/config.ts). */
export interface Limits {
  /** Grants of one workspace that can still be finished (unclaimed, unexpired, their connector pending). */
  max_pending_grants: number;
  /** Connectors of one workspace, whatever their status. */
  max_connectors: number;
}

export const DEFAULT_LIMITS: Limits = { max_pending_grants: 200, max_connectors: 5_000 };

/** What the write about to happen adds. */
export interface QuotaNeed {
  pendingGrants?: number;
  connectors?: number;
}

/**
 * Throw `quota_exceeded` when adding `need` would take the workspace over a quota. Call it with
 * the transaction's handle, before the insert, so the count and the insert are one critical section.
 */
export async function assertQuota(
  trx: DB,
  ctx: Pick<StoreDeps, "clock"> & { limits: Limits },
  workspaceId: string,
  need: QuotaNeed,
): Promise<void> {
  const { max_pending_grants: maxGrants, max_connectors: maxConnectors } = ctx.limits;
  if (need.connectors) {
    const { n } = await trx
      .selectFrom("connectors")
      .select((eb) => eb.fn.countAll<number>().as("n"))
      .where("workspace_id", "=", workspaceId)
      .executeTakeFirstOrThrow();
    if (Number(n) + need.connectors > maxConnectors) {
      throw new ConnectorError(
        "quota_exceeded",
        `This workspace has ${Number(n)} connectors, the most this server allows (TENEX_MAX_CONNECTORS=${maxConnectors}). ` +
          `Delete connectors it no longer needs with delete_connector (list_connectors with status "revoked", "error" or "expired" finds candidates), then try again; ` +
          `or ask the operator to raise the limit.`,
      );
    }
  }
  if (need.pendingGrants) {
    const n = await pendingGrantCount(trx, workspaceId, ctx.clock());
    if (n + need.pendingGrants > maxGrants) {
      throw new ConnectorError(
        "quota_exceeded",
        `This workspace has ${n} OAuth grants waiting for consent, the most this server allows (TENEX_MAX_PENDING_GRANTS=${maxGrants}). ` +
          `Finish or cancel some first: have the person open the authorization links already handed out, or cancel pending connectors that are ` +
          `no longer wanted with revoke_connector or delete_connector. Unused links expire ${grantTtlText()} after they were made.`,
      );
    }
  }
}

/** Grants of the workspace that can still be finished: unclaimed, unexpired, and their connector still pending. */
async function pendingGrantCount(trx: DB, workspaceId: string, now: number): Promise<number> {
  const { n } = await trx
    .selectFrom("oauth_grants")
    .innerJoin("connectors", "connectors.id", "oauth_grants.connector_id")
    .select((eb) => eb.fn.countAll<number>().as("n"))
    .where("oauth_grants.workspace_id", "=", workspaceId)
    .where("oauth_grants.expires_at", ">", new Date(now).toISOString())
    .where("oauth_grants.used_at", "is", null)
    .where("connectors.status", "=", "pending")
    .executeTakeFirstOrThrow();
  return Number(n);
}

/**
 * How long a grant row is kept after its link expired (used or not). A used or expired grant
 * only serves to answer a late click with "already used" or "expired" instead of "not a link this
 * server started", and to keep a claimed callback's grace period (2 minutes after the claim,
 * which comes before the expiry). An hour covers a person who comes back to the tab or retries
 * the link, while the table holds at most about an hour of grants; the sealed PKCE verifier
 * of a grant that can no longer finish is useless and is not kept longer than that.
 */
export const GRANT_RETENTION_MS = 60 * 60_000;

/** Grant rows deleted per transaction by the purge. */
export const PURGE_BATCH = 100;

/**
 * Delete up to one batch of grants (of any workspace) whose link expired more than
 * GRANT_RETENTION_MS ago. Run once per grant start: each start adds one row and removes up to a
 * batch, so the table stays bounded without a long transaction. Never throws (a purge that fails
 * is retried by the next start); returns how many were deleted.
 */
export async function purgeFinishedGrants(ctx: Pick<StoreDeps, "db" | "clock" | "log">, batch = PURGE_BATCH): Promise<number> {
  try {
    const cutoff = new Date(ctx.clock() - GRANT_RETENTION_MS).toISOString();
    const due = ctx.db.selectFrom("oauth_grants").select("state_hash").where("expires_at", "<", cutoff).limit(batch);
    const res = await ctx.db.deleteFrom("oauth_grants").where("state_hash", "in", due).executeTakeFirst();
    const n = Number(res.numDeletedRows);
    if (n > 0) ctx.log.debug("finished grants purged", { count: n });
    return n;
  } catch (err) {
    ctx.log.warn("purging finished grants failed; the next grant start tries again", { error: err });
    return 0;
  }
}
