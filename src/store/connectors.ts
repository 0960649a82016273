import { sql } from "kysely";
import { z } from "zod";
import { ROLES, type Json, type Role } from "../catalog/catalog.js";
import { nowIso } from "../common/clock.js";
import type { DB } from "./db.js";
import type { ConnectorRow } from "./schema.js";
import { ConnectorError } from "../common/errors.js";
import type { StoreDeps } from "./db.js";

export const STATUSES = ["pending", "connected", "error", "expired", "disabled", "revoked"] as const;
export type Status = (typeof STATUSES)[number];
export const HEALTH = ["healthy", "unhealthy", "unknown"] as const;

export const jsonValue: z.ZodType<Json> = z.lazy(() =>
  z.union([z.string(), z.number(), z.boolean(), z.null(), z.array(jsonValue), z.record(z.string(), jsonValue)]),
);

/** The connector object of the public contract (DESIGN.md). */
export const connectorSchema = z
  .object({
    id: z.string().describe("Connector id, con_…"),
    provider: z.string(),
    label: z.string(),
    auth_type: z.enum(["oauth2", "api_key"]),
    status: z.enum(STATUSES),
    status_detail: z.string().optional().describe("Why the connector is in error or expired, and what to do"),
    roles: z.array(z.enum(ROLES)),
    primary_for: z.array(z.enum(ROLES)),
    settings: z.record(z.string(), jsonValue),
    account: z.record(z.string(), jsonValue).describe("Non-secret facts about the connected account"),
    scopes: z.array(z.string()),
    health: z.enum(HEALTH),
    last_checked_at: z.string().nullable(),
    expires_at: z.string().optional().describe("When access ends unless the person consents again"),
    created_at: z.string(),
    updated_at: z.string(),
  })
  .strict();
export type ConnectorObject = z.infer<typeof connectorSchema>;

function parseJson<T>(text: string, fallback: T): T {
  try {
    return JSON.parse(text) as T;
  } catch {
    return fallback;
  }
}

/** Project a row (plus its primaries) onto the public object: never a secret, never a raw provider body. */
export function toPublic(row: ConnectorRow, primaryFor: Role[]): ConnectorObject {
  return {
    id: row.id,
    provider: row.provider,
    label: row.label,
    auth_type: row.auth_type,
    status: row.status,
    ...(row.status_detail ? { status_detail: row.status_detail } : {}),
    roles: parseJson<Role[]>(row.roles, []),
    primary_for: primaryFor,
    settings: parseJson<Record<string, Json>>(row.settings, {}),
    account: parseJson<Record<string, Json>>(row.account, {}),
    scopes: parseJson<string[]>(row.scopes, []),
    health: row.health,
    last_checked_at: row.last_checked_at,
    ...(row.expires_at ? { expires_at: row.expires_at } : {}),
    created_at: row.created_at,
    updated_at: row.updated_at,
  };
}

async function primariesOf(db: DB, workspaceId: string, connectorIds: string[]): Promise<Map<string, Role[]>> {
  const out = new Map<string, Role[]>();
  if (connectorIds.length === 0) return out;
  const rows = await db
    .selectFrom("primaries")
    .select(["connector_id", "role"])
    .where("workspace_id", "=", workspaceId)
    .where("connector_id", "in", connectorIds)
    .execute();
  for (const r of rows) out.set(r.connector_id, [...(out.get(r.connector_id) ?? []), r.role as Role]);
  return out;
}

/** One connector row of this workspace, or `not_found` (also for another workspace's connector). */
export async function getConnectorRow(db: DB, workspaceId: string, connectorId: string): Promise<ConnectorRow> {
  const row = await db
    .selectFrom("connectors")
    .selectAll()
    .where("workspace_id", "=", workspaceId)
    .where("id", "=", connectorId)
    .executeTakeFirst();
  if (!row) throw new ConnectorError("not_found", `No connector "${connectorId}" in this workspace. Use list_connectors to see the ones that exist.`);
  return row;
}

export async function getConnector(db: DB, workspaceId: string, connectorId: string): Promise<ConnectorObject> {
  const row = await getConnectorRow(db, workspaceId, connectorId);
  const prim = await primariesOf(db, workspaceId, [row.id]);
  return toPublic(row, prim.get(row.id) ?? []);
}

export interface ListFilters {
  provider?: string | undefined;
  role?: Role | undefined;
  status?: Status | undefined;
  limit: number;
  cursor?: string | undefined;
  /** Only connectors whose access ends (or ended) at or before this ISO time. */
  expires_before?: string | undefined;
}

/** Cursors are opaque to clients: the insertion sequence of the last row returned. */
export function encodeCursor(seq: number): string {
  return Buffer.from(JSON.stringify({ s: seq }), "utf8").toString("base64url");
}

export function decodeCursor(cursor: string): number {
  try {
    const v = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8")) as { s?: unknown };
    if (typeof v.s === "number" && Number.isInteger(v.s) && v.s > 0) return v.s;
  } catch {
    // fall through
  }
  throw new ConnectorError("invalid_input", "cursor is not one this server returned; start again without a cursor.");
}

/**
 * Newest first by insertion sequence. A page continues strictly below the last sequence seen,
 * so connectors added meanwhile (higher sequences) never shift or repeat what is still to come.
 */
export async function listConnectors(
  db: DB,
  workspaceId: string,
  f: ListFilters,
): Promise<{ connectors: ConnectorObject[]; next_cursor: string | null }> {
  let q = db.selectFrom("connectors").selectAll().where("workspace_id", "=", workspaceId);
  if (f.provider) q = q.where("provider", "=", f.provider);
  if (f.status) q = q.where("status", "=", f.status);
  if (f.role) {
    const role = f.role;
    q = q.where(sql<boolean>`exists (select 1 from json_each(connectors.roles) where value = ${role})`);
  }
  if (f.expires_before) q = q.where("expires_at", "is not", null).where("expires_at", "<=", f.expires_before);
  if (f.cursor) q = q.where("seq", "<", decodeCursor(f.cursor));
  const rows = await q.orderBy("seq", "desc").limit(f.limit + 1).execute();
  const page = rows.slice(0, f.limit);
  const prim = await primariesOf(db, workspaceId, page.map((r) => r.id));
  const last = page[page.length - 1];
  return {
    connectors: page.map((r) => toPublic(r, prim.get(r.id) ?? [])),
    next_cursor: rows.length > f.limit && last ? encodeCursor(last.seq) : null,
  };
}

export async function recordEvent(
  db: DB,
  ctx: Pick<StoreDeps, "clock">,
  row: Pick<ConnectorRow, "id" | "workspace_id">,
  type: string,
  detail?: string,
): Promise<void> {
  await db
    .insertInto("connector_events")
    .values({ connector_id: row.id, workspace_id: row.workspace_id, type, detail: detail ?? null, created_at: nowIso(ctx) })
    .execute();
}
