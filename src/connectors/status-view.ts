/** What get_connector_status and list_connectors show: the connector object, its recent events, and the filtered list. */
import { z } from "zod";
import type { CredentialDeps } from "../credentials/deps.js";
import { type CallView, recentCalls } from "../store/calls.js";
import { compiledQuery, type Slots } from "../store/compiled.js";
import { type ConnectorObject, getConnector, type ListFilters, listConnectors } from "../store/connectors.js";
import { expireAbandonedGrants, grantsLiveUntil } from "../store/grants.js";
import { throughCache } from "../store/read-cache.js";
import type { ProxyDeps } from "./proxy-engine.js";

export const eventSchema = z
  .object({
    type: z
      .string()
      .describe("created, connected, refreshed, refresh_failed, tested, expired, disabled, enabled, revoked, updated, primary_set, …"),
    at: z.string().describe("When it happened (ISO 8601)"),
    detail: z.string().optional().describe("What happened, in words; never a secret"),
  })
  .strict();
export type ConnectorEventView = z.infer<typeof eventSchema>;

export const callSchema = z
  .object({
    method: z.string(),
    path: z.string().describe("The path called, without its query"),
    status: z.number().nullable().describe("The provider's HTTP status; null when no answer came (network failure, timeout)"),
    duration_ms: z.number(),
    refreshed: z.boolean().describe("True when the access token was refreshed for this call"),
    at: z.string().describe("When the call started (ISO 8601)"),
  })
  .strict();

/** Compiled once (store/compiled.ts): every get_connector_status reads it. */
const recentEventsQuery = compiledQuery((db, s: Slots<{ workspaceId: string; connectorId: string; limit: number }>) =>
  db
    .selectFrom("connector_events")
    .select(["type", "detail", "created_at"])
    .where("workspace_id", "=", s.v("workspaceId"))
    .where("connector_id", "=", s.v("connectorId"))
    .orderBy("id", "desc")
    .limit(s.v("limit")),
);

/** The connector's most recent events, newest first. */
export async function recentEvents(
  ctx: Pick<CredentialDeps, "db">,
  workspaceId: string,
  connectorId: string,
  limit = 10,
): Promise<ConnectorEventView[]> {
  const rows = await recentEventsQuery(ctx.db, { workspaceId, connectorId, limit });
  return rows.map((r) => ({ type: r.type, at: r.created_at, ...(r.detail ? { detail: r.detail } : {}) }));
}

/** get_connector_status: the connector object plus its recent events and, apart from them, its recent proxied calls. */
export async function connectorStatus(ctx: ProxyDeps, workspaceId: string, connectorId: string): Promise<ConnectorStatusView> {
  // Call records are written after each response, in batches: this process's queue is written
  // first (a write, so an answer kept from before it is not reused).
  if (!ctx.proxy.recorder.idle) await ctx.proxy.recorder.flush();
  return throughCache(ctx.reads, ctx.clock, "status", `${workspaceId}\u0000${connectorId}`, async () => {
    let connector = await getConnector(ctx.db, workspaceId, connectorId);
    // Only a pending connector can have an abandoned grant; while its grant is live, the answer
    // holds until that grant runs out.
    let validUntil = Number.POSITIVE_INFINITY;
    if (connector.status === "pending") {
      const live = (await grantsLiveUntil(ctx.db, [connectorId], ctx.clock())).get(connectorId);
      if (live !== undefined) validUntil = live;
      else if ((await expireAbandonedGrants(ctx, workspaceId, [connectorId])).length > 0)
        connector = await getConnector(ctx.db, workspaceId, connectorId);
      else validUntil = 0;
    }
    const value = {
      ...connector,
      recent_events: await recentEvents(ctx, workspaceId, connectorId),
      recent_calls: await recentCalls(ctx.db, workspaceId, connectorId),
    };
    return { value, validUntil };
  });
}

export type ConnectorStatusView = ConnectorObject & { recent_events: ConnectorEventView[]; recent_calls: CallView[] };

/**
 * list_connectors with the expiry filter: connectors whose access ends (or ended) within N days.
 *
 * Abandoned grants are settled only among the rows being returned (a pending connector of the
 * page whose link expired is settled, then the page is read again), not by a sweep of the whole
 * workspace on every read: that sweep costs a look at every pending connector, 200 ms at 100k.
 * A filter on another status (`error` above all) still sweeps first, so a lapsed grant is found
 * where it now belongs; the wait's timer (grants/expiry.ts) settles the ones someone waits on.
 */
export async function listConnectorsFor(
  ctx: CredentialDeps,
  workspaceId: string,
  input: Omit<ListFilters, "expires_before"> & { expiring_within_days?: number | undefined },
): Promise<ConnectorPage> {
  const { expiring_within_days, ...filters } = input;
  // An unknown provider id is a mistake to report, not a filter that matches nothing.
  if (filters.provider !== undefined) ctx.catalog.get(filters.provider);
  if (filters.status !== undefined && filters.status !== "pending") await expireAbandonedGrants(ctx, workspaceId);
  const expiresBefore =
    expiring_within_days === undefined ? undefined : new Date(ctx.clock() + expiring_within_days * 86_400_000).toISOString();
  const f = { ...filters, ...(expiresBefore ? { expires_before: expiresBefore } : {}) };
  const readPage = async (): Promise<{ value: ConnectorPage; validUntil: number }> => {
    for (;;) {
      const page = await listConnectors(ctx.db, workspaceId, f);
      const pending = page.connectors.filter((c) => c.status === "pending").map((c) => c.id);
      const live = await grantsLiveUntil(ctx.db, pending, ctx.clock());
      const abandoned = pending.filter((id) => !live.has(id));
      if (abandoned.length === 0) return { value: page, validUntil: Math.min(...live.values()) };
      // Settled, the page is read again (a settled connector may leave a filtered page).
      if ((await expireAbandonedGrants(ctx, workspaceId, abandoned)).length === 0) return { value: page, validUntil: 0 };
    }
  };
  // A page that depends on the clock beyond its own pending rows is not kept: the expiry filter
  // (now + N days), and a status filter that swept the whole workspace first.
  if (expiresBefore !== undefined || (filters.status !== undefined && filters.status !== "pending")) return (await readPage()).value;
  const key = `${workspaceId}\u0000${f.provider ?? ""}\u0000${f.role ?? ""}\u0000${f.status ?? ""}\u0000${f.limit}\u0000${f.cursor ?? ""}`;
  return throughCache(ctx.reads, ctx.clock, "page", key, readPage);
}

export type ConnectorPage = { connectors: ConnectorObject[]; next_cursor: string | null };
