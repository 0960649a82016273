/**
 * Grant rows and abandoned grants: a pending connector whose authorization link expired can never
 * finish, so it is settled as `error` instead of staying pending forever. This happens lazily where
 * connectors are read (get_connector_status, list_connectors, wait_for_connector) and on a timer at
 * the link's expiry while someone waits (grants/expiry.ts), always through expireAbandonedGrants.
 *
 * A callback that claimed its state before the link expired may still be exchanging the code;
 * its grant counts as live until CALLBACK_GRACE_MS after the claim (used_at), so the two never
 * race (and the callback's own write is guarded on `pending` too). A grant claimed longer ago
 * has settled (or its callback died), so a reconnected connector's earlier, finished grants do
 * not keep it pending.
 */
import { type ExpressionBuilder, sql } from "kysely";
import { z } from "zod";
import { compiledQuery } from "./compiled.js";
import { CorruptRowError, jsonColumn } from "./connectors.js";
import type { DB, StoreDeps } from "./db.js";
import type { Database, OAuthGrantRow } from "./schema.js";
import { emitChange, type StatusChange, transition } from "./status.js";
import { writeTransaction } from "./write-transaction.js";

/** A grant must be finished within this window. */
export const GRANT_TTL_MS = 10 * 60 * 1000;

/** The grant's lifetime in words ("10 minutes"), for every text that mentions it. */
export function grantTtlText(ms = GRANT_TTL_MS): string {
  const minutes = Math.round(ms / 60_000);
  return minutes === 1 ? "1 minute" : `${minutes} minutes`;
}

const grantScopesColumn = jsonColumn(z.array(z.string()));

/** The scopes a grant asked for (the grant row's JSON column, checked). */
export function grantScopes(grant: Pick<OAuthGrantRow, "state_hash" | "scopes">): string[] {
  const parsed = grantScopesColumn.safeParse(grant.scopes);
  if (!parsed.success) throw new CorruptRowError("oauth_grants", grant.state_hash.slice(0, 12), "scopes: not a JSON array of strings");
  return parsed.data;
}

/** How long a claimed grant may take to finish its callback (code exchange, quirk hook, test read). */
export const CALLBACK_GRACE_MS = 2 * 60_000;

export function grantExpiredDetail(connectorId: string): string {
  return (
    `The authorization link expired before the person finished signing in (links last ${grantTtlText()}), so nothing was connected. ` +
    `Start again with start_connector_oauth (pass connector_id "${connectorId}" to keep this connector) and give the person the new authorization_url.`
  );
}

/**
 * True for a connector that has a grant which may still finish: unclaimed and not expired, or
 * claimed by a callback within the last CALLBACK_GRACE_MS (its code exchange may still be
 * running). A grant claimed longer ago has settled or died, whatever its link's expiry: a
 * connector's old, long-finished grants never keep it pending.
 */
function hasLiveGrant(now: number) {
  return liveGrantAt(new Date(now).toISOString(), new Date(now - CALLBACK_GRACE_MS).toISOString());
}

/** hasLiveGrant with its two instants given (ISO 8601), so the compiled check below can take them as values. */
function liveGrantAt(nowAt: string, graceStart: string) {
  return (eb: ExpressionBuilder<Database, "connectors">) =>
    eb.exists(
      eb
        .selectFrom("oauth_grants")
        .select(sql<number>`1`.as("one"))
        .whereRef("oauth_grants.connector_id", "=", "connectors.id")
        .where((g) =>
          g.or([
            g.and([g("oauth_grants.used_at", "is", null), g("oauth_grants.expires_at", ">", nowAt)]),
            g("oauth_grants.used_at", ">", graceStart),
          ]),
        ),
    );
}

/**
 * The pending connectors of a workspace (all, or the given ids) whose grants can no longer
 * finish. Compiled once: it runs on every get_connector_status of a pending connector and on
 * every list_connectors page.
 */
const abandonedAmong = compiledQuery<{ workspaceId: string; nowAt: string; graceStart: string; ids: string[] }, { id: string }>((db, s) =>
  db
    .selectFrom("connectors")
    .select("id")
    .where("workspace_id", "=", s.v("workspaceId"))
    .where("status", "=", "pending")
    .where("id", "in", s.list("ids"))
    .where((eb) => eb.not(liveGrantAt(s.v("nowAt"), s.v("graceStart"))(eb))),
);

const grantTimesQuery = compiledQuery<{ ids: string[] }, { connector_id: string; used_at: string | null; expires_at: string }>((db, s) =>
  db.selectFrom("oauth_grants").select(["connector_id", "used_at", "expires_at"]).where("connector_id", "in", s.list("ids")),
);

/**
 * For each of these connectors that has a live grant (the same test as hasLiveGrant, on the
 * grants' times), the instant its last live grant stops being live (epoch ms); a connector
 * without one is absent. Until then a pending connector stays pending unless something writes.
 */
export async function grantsLiveUntil(db: DB, connectorIds: string[], now: number): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  if (connectorIds.length === 0) return out;
  const nowAt = new Date(now).toISOString();
  const graceStart = new Date(now - CALLBACK_GRACE_MS).toISOString();
  for (const g of await grantTimesQuery(db, { ids: connectorIds })) {
    const until =
      g.used_at === null
        ? g.expires_at > nowAt
          ? Date.parse(g.expires_at)
          : undefined
        : g.used_at > graceStart
          ? Date.parse(g.used_at) + CALLBACK_GRACE_MS
          : undefined;
    if (until !== undefined && !(until <= (out.get(g.connector_id) ?? -Infinity))) out.set(g.connector_id, until);
  }
  return out;
}

/** Connectors settled per transaction: each batch holds the write lock only briefly, and other writers run between batches. */
export const SETTLE_BATCH = 100;

/**
 * Settle this workspace's pending connectors (all, or the given ones) whose grant can no
 * longer finish: status `error` with status_reason `state_expired`, a `grant_expired` event, and
 * the change event (which wakes waiters and completes URL elicitations). Reads first and
 * writes only when something is due, so calling it on every read costs no write lock. Many
 * due connectors are settled SETTLE_BATCH at a time, each batch its own transaction, with the
 * event loop let go between batches. Returns the ids it settled.
 */
export async function expireAbandonedGrants(ctx: StoreDeps, workspaceId: string, connectorIds?: string[]): Promise<string[]> {
  if (connectorIds && connectorIds.length === 0) return [];
  const now = ctx.clock();
  const due = connectorIds
    ? await abandonedAmong(ctx.db, {
        workspaceId,
        nowAt: new Date(now).toISOString(),
        graceStart: new Date(now - CALLBACK_GRACE_MS).toISOString(),
        ids: connectorIds,
      })
    : await ctx.db
        .selectFrom("connectors")
        .select("id")
        .where("workspace_id", "=", workspaceId)
        .where("status", "=", "pending")
        .where((eb) => eb.not(hasLiveGrant(now)(eb)))
        .execute();
  const candidates = due.map((r) => r.id);
  const settled: string[] = [];
  for (let i = 0; i < candidates.length; i += SETTLE_BATCH) {
    if (i > 0) await new Promise<void>((resolve) => setImmediate(resolve));
    settled.push(...(await settleBatch(ctx, workspaceId, candidates.slice(i, i + SETTLE_BATCH), now)));
  }
  return settled;
}

/** One transaction of expireAbandonedGrants; the changes are emitted after it committed. */
async function settleBatch(ctx: StoreDeps, workspaceId: string, ids: string[], now: number): Promise<string[]> {
  const settled = await writeTransaction(ctx.db, async (trx) => {
    const done: StatusChange[] = [];
    for (const id of ids) {
      // Guarded again inside the write: a callback may have finished (or claimed) meanwhile.
      const change = await transition(
        trx,
        ctx,
        { id, workspace_id: workspaceId, status: "pending" },
        {
          move: "settle",
          to: "error",
          reason: "state_expired",
          detail: grantExpiredDetail(id),
          patch: { health: "unknown" },
          where: (eb) => eb.not(hasLiveGrant(now)(eb)),
          events: [{ type: "grant_expired", detail: "the authorization link expired before the person finished; nothing was connected" }],
        },
      );
      if (change) done.push(change);
    }
    return done;
  });
  for (const change of settled) {
    ctx.log.info("pending connector settled: its authorization link expired", {
      connector_id: change.connector_id,
      workspace_id: workspaceId,
    });
    emitChange(ctx, change);
  }
  return settled.map((c) => c.connector_id);
}

/** When the connector's grants can no longer finish (ms since the epoch), or null when it has none. */
export async function grantDeadline(ctx: Pick<StoreDeps, "db">, connectorId: string): Promise<number | null> {
  const grants = await ctx.db
    .selectFrom("oauth_grants")
    .select(["expires_at", "used_at"])
    .where("connector_id", "=", connectorId)
    .execute();
  if (grants.length === 0) return null;
  return Math.max(...grants.map((g) => (g.used_at ? Date.parse(g.used_at) + CALLBACK_GRACE_MS : Date.parse(g.expires_at))));
}

/**
 * Cancel the pending grants an API key started (the key is being revoked): each connector still
 * waiting on one moves to `error` with status_reason `cancelled`, and its grant rows are deleted,
 * so the link no longer completes (a callback already exchanging the code finds the connector no
 * longer pending and revokes what it obtained). Run inside the revocation's transaction; the
 * caller emits the returned changes after the commit.
 */
export async function cancelGrantsOfKey(trx: DB, ctx: Pick<StoreDeps, "clock">, keyId: string): Promise<StatusChange[]> {
  const waiting = await trx
    .selectFrom("oauth_grants")
    .innerJoin("connectors", "connectors.id", "oauth_grants.connector_id")
    .select(["connectors.id", "connectors.workspace_id"])
    .distinct()
    .where("oauth_grants.started_by_key", "=", keyId)
    .where("connectors.status", "=", "pending")
    .execute();
  const changes: StatusChange[] = [];
  for (const c of waiting) {
    await trx.deleteFrom("oauth_grants").where("connector_id", "=", c.id).execute();
    const change = await transition(
      trx,
      ctx,
      { ...c, status: "pending" },
      {
        move: "settle",
        to: "error",
        reason: "cancelled",
        detail:
          `The API key that started this grant (${keyId}) was revoked, so the grant was cancelled and nothing was connected. ` +
          `Start again with start_connector_oauth using a valid key (pass connector_id "${c.id}" to keep this connector).`,
        patch: { health: "unknown" },
        events: [{ type: "grant_cancelled", detail: `the API key ${keyId} that started the grant was revoked` }],
      },
    );
    if (change) changes.push(change);
  }
  return changes;
}
