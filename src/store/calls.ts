/** Call records of proxied calls: written in batches, read as a connector's recent_calls, purged after a retention period. */
import crypto from "node:crypto";
import { compiledQuery, type Slots } from "./compiled.js";
import type { DB } from "./db.js";

export interface CallRecord {
  connector_id: string;
  workspace_id: string;
  method: string;
  path: string;
  status: number | null;
  duration_ms: number;
  refreshed: boolean;
  /** ISO 8601, when the call started. */
  at: string;
}

export interface CallView {
  method: string;
  path: string;
  status: number | null;
  duration_ms: number;
  refreshed: boolean;
  at: string;
}

let lastMs = 0;
let counter = 0;

/** A time-ordered id: the newest record sorts last, also within one millisecond of one process. */
export function callRecordId(nowMs: number): string {
  if (nowMs === lastMs) counter++;
  else {
    lastMs = nowMs;
    counter = 0;
  }
  const ms = Math.max(0, Math.floor(nowMs)).toString(36).padStart(10, "0");
  return `call_${ms}${counter.toString(36).padStart(4, "0")}${crypto.randomBytes(4).toString("hex")}`;
}

/** Insert records in one statement per batch (one commit for many calls). */
export async function insertCallRecords(db: DB, records: ReadonlyArray<CallRecord & { id: string }>): Promise<void> {
  if (records.length === 0) return;
  await db
    .insertInto("call_records")
    .values(
      records.map((r) => ({
        id: r.id,
        connector_id: r.connector_id,
        workspace_id: r.workspace_id,
        method: r.method,
        path: r.path,
        status: r.status,
        duration_ms: Math.round(r.duration_ms),
        refreshed: r.refreshed ? 1 : 0,
        created_at: r.at,
      })),
    )
    .execute();
}

/** Compiled once (store/compiled.ts): every get_connector_status reads it. */
const recentCallsQuery = compiledQuery((db, s: Slots<{ workspaceId: string; connectorId: string; limit: number }>) =>
  db
    .selectFrom("call_records")
    .select(["method", "path", "status", "duration_ms", "refreshed", "created_at"])
    .where("connector_id", "=", s.v("connectorId"))
    .where("workspace_id", "=", s.v("workspaceId"))
    .orderBy("id", "desc")
    .limit(s.v("limit")),
);

/** A connector's most recent calls, newest first. */
export async function recentCalls(db: DB, workspaceId: string, connectorId: string, limit = 10): Promise<CallView[]> {
  const rows = await recentCallsQuery(db, { workspaceId, connectorId, limit });
  return rows.map((r) => ({
    method: r.method,
    path: r.path,
    status: r.status,
    duration_ms: r.duration_ms,
    refreshed: r.refreshed === 1,
    at: r.created_at,
  }));
}

/** Delete records created before `beforeIso`; how many went. */
export async function purgeCallRecords(db: DB, beforeIso: string): Promise<number> {
  const res = await db.deleteFrom("call_records").where("created_at", "<", beforeIso).executeTakeFirst();
  return Number(res.numDeletedRows ?? 0);
}
