import { z } from "zod";
import { AUTH_TYPES, type Json, ROLES, type Role } from "../catalog/catalog.js";
import { nowIso } from "../common/clock.js";
import { ConnectorError } from "../common/errors.js";
import { compiledQuery, type Slots } from "./compiled.js";
import type { DB, StoreDeps } from "./db.js";
import { dialectOf } from "./dialect.js";
import { type ConnectorRow, type ConnectorUpdate, HEALTH, type NewConnectorRow, STATUS_REASONS, STATUSES, type Status } from "./schema.js";

export { HEALTH, STATUS_REASONS, STATUSES, type Status, type StatusReason } from "./schema.js";

export const jsonValue: z.ZodType<Json> = z.lazy(() =>
  z.union([z.string(), z.number(), z.boolean(), z.null(), z.array(jsonValue), z.record(z.string(), jsonValue)]),
);

/** The connector object of the public contract (DESIGN.md). */
export const connectorSchema = z
  .object({
    id: z.string().describe("Connector id, con_…"),
    provider: z.string(),
    label: z.string(),
    auth_type: z.enum(AUTH_TYPES),
    status: z.enum(STATUSES),
    status_detail: z.string().optional().describe("Why the connector is in error or expired, and what to do"),
    status_reason: z
      .enum(STATUS_REASONS)
      .optional()
      .describe("Why the connector is in its status, machine-readable; status_detail says it in words"),
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

// ---------------------------------------------------------------------------------------------
// The row codec: the one place connector rows are read from and written to their columns.

/** A stored row that does not match the schema: a bug or a hand edit, never shown as `{}`. */
export class CorruptRowError extends Error {
  constructor(table: string, id: string, issues: string) {
    super(`${table} row ${id} is corrupt: ${issues}`);
    this.name = "CorruptRowError";
  }
}

/**
 * A JSON column: SQLite hands back text, PostgreSQL (jsonb) an already parsed value; either is
 * checked against `schema`.
 */
export function jsonColumn<T extends z.ZodType>(schema: T) {
  return z.preprocess((raw, ctx) => {
    if (typeof raw !== "string") return raw;
    try {
      const value: unknown = JSON.parse(raw);
      return value;
    } catch {
      ctx.addIssue({ code: "custom", message: "not JSON" });
      return z.NEVER;
    }
  }, schema);
}

/**
 * A JSON object column. What JSON.parse (or PostgreSQL's jsonb) returns is JSON through and
 * through, so only "an object, not an array or null" is left to check; walking every value with
 * `jsonValue` was a third of decoding a row, on every row a read returns (issue 14).
 */
const jsonObject = z.custom<Record<string, Json>>((v) => typeof v === "object" && v !== null && !Array.isArray(v), "not a JSON object");

const endpointsSchema = z
  .object({
    authorization_url: z.string().optional(),
    token_url: z.string().optional(),
    revocation_url: z.string().optional(),
    issuer: z.string().optional(),
  })
  .strict();

const connectorRowSchema = z.object({
  seq: z.number(),
  id: z.string(),
  workspace_id: z.string(),
  provider: z.string(),
  label: z.string(),
  auth_type: z.enum(AUTH_TYPES),
  status: z.enum(STATUSES),
  status_reason: z.enum(STATUS_REASONS).nullable(),
  status_detail: z.string().nullable(),
  roles: jsonColumn(z.array(z.enum(ROLES))),
  settings: jsonColumn(jsonObject),
  account: jsonColumn(jsonObject),
  scopes: jsonColumn(z.array(z.string())),
  health: z.enum(HEALTH),
  last_checked_at: z.string().nullable(),
  expires_at: z.string().nullable(),
  status_before_disable: z.enum(STATUSES).nullable(),
  // Absent on a database that has not run migration 0005 yet (never after openDatabase).
  oauth_endpoints: jsonColumn(endpointsSchema.nullable()).default(null),
  created_at: z.string(),
  updated_at: z.string(),
});

const AUTH_TYPE_SET: ReadonlySet<unknown> = new Set(AUTH_TYPES);
const STATUS_SET: ReadonlySet<unknown> = new Set(STATUSES);
const STATUS_REASON_SET: ReadonlySet<unknown> = new Set(STATUS_REASONS);
const ROLE_SET: ReadonlySet<unknown> = new Set(ROLES);
const HEALTH_SET: ReadonlySet<unknown> = new Set(HEALTH);
const isString = (v: unknown): v is string => typeof v === "string";
const stringOrNull = (v: unknown): v is string | null => v === null || typeof v === "string";
const isObject = (v: unknown): v is Record<string, Json> => typeof v === "object" && v !== null && !Array.isArray(v);
/** A JSON column's value (text on SQLite, parsed on PostgreSQL), or undefined when the text is not JSON. */
function jsonOf(v: unknown): unknown {
  if (typeof v !== "string") return v;
  try {
    return JSON.parse(v);
  } catch {
    return undefined;
  }
}

/**
 * The common row, decoded without zod: every check of connectorRowSchema, written out (zod's object
 * parse was the largest share of decoding a list page, issue 14). Anything it does not accept
 * (a corrupt row, or OAuth endpoints, which only grants started on a custom issuer carry) goes
 * through the schema, which decides and names the problem; the unit test holds the two to the same
 * result on the rows it reads.
 */
function quickRow(r: Record<string, unknown>): ConnectorRow | undefined {
  const { seq, id, workspace_id, provider, label, auth_type, status, status_reason, status_detail, health } = r;
  const { last_checked_at, expires_at, status_before_disable, oauth_endpoints, created_at, updated_at } = r;
  if (typeof seq !== "number" || !Number.isFinite(seq)) return undefined;
  if (!isString(id) || !isString(workspace_id) || !isString(provider) || !isString(label)) return undefined;
  if (!AUTH_TYPE_SET.has(auth_type) || !STATUS_SET.has(status) || !HEALTH_SET.has(health)) return undefined;
  if (status_reason !== null && !STATUS_REASON_SET.has(status_reason)) return undefined;
  if (status_before_disable !== null && !STATUS_SET.has(status_before_disable)) return undefined;
  if (!stringOrNull(status_detail) || !stringOrNull(last_checked_at) || !stringOrNull(expires_at)) return undefined;
  if (!isString(created_at) || !isString(updated_at)) return undefined;
  if (oauth_endpoints !== null && oauth_endpoints !== undefined) return undefined;
  const roles = jsonOf(r.roles);
  if (!Array.isArray(roles) || !roles.every((x) => ROLE_SET.has(x))) return undefined;
  const scopes = jsonOf(r.scopes);
  if (!Array.isArray(scopes) || !scopes.every(isString)) return undefined;
  const settings = jsonOf(r.settings);
  const account = jsonOf(r.account);
  if (!isObject(settings) || !isObject(account)) return undefined;
  return {
    seq,
    id,
    workspace_id,
    provider,
    label,
    auth_type: auth_type as ConnectorRow["auth_type"],
    status: status as ConnectorRow["status"],
    status_reason: status_reason as ConnectorRow["status_reason"],
    status_detail,
    roles: roles as ConnectorRow["roles"],
    settings,
    account,
    scopes,
    health: health as ConnectorRow["health"],
    last_checked_at,
    expires_at,
    status_before_disable: status_before_disable as ConnectorRow["status_before_disable"],
    oauth_endpoints: null,
    created_at,
    updated_at,
  };
}

/** Parse a row as the database returned it; a row that does not parse fails loudly. */
export function rowToConnector(raw: unknown): ConnectorRow {
  if (typeof raw === "object" && raw !== null) {
    const row = quickRow(raw as Record<string, unknown>);
    if (row) return row;
  }
  return rowToConnectorBySchema(raw);
}

/** The row codec by its schema: the reference quickRow is held to, and the one that words a corrupt row's problems. */
export function rowToConnectorBySchema(raw: unknown): ConnectorRow {
  const parsed = connectorRowSchema.safeParse(raw);
  if (!parsed.success) {
    const id = typeof raw === "object" && raw !== null && "id" in raw ? String(raw.id) : "(unknown)";
    throw new CorruptRowError("connectors", id, parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; "));
  }
  const row: ConnectorRow = parsed.data;
  return row;
}

/** The JSON fields of a connector, decoded. */
export type ConnectorJson = Pick<ConnectorRow, "roles" | "settings" | "account" | "scopes" | "oauth_endpoints">;

/**
 * A patch of connector fields (JSON fields decoded). The status, its reason and its detail are not
 * among them: only the state machine writes those (store/status.ts transition).
 */
export type ConnectorPatch = Omit<ConnectorUpdate, keyof ConnectorJson | "seq" | "id" | "status" | "status_reason" | "status_detail"> &
  Partial<ConnectorJson>;

/** A patch as column values: JSON fields encoded, the rest as they are. */
export function connectorPatch(patch: ConnectorPatch): ConnectorUpdate {
  const { roles, settings, account, scopes, oauth_endpoints, ...plain } = patch;
  return {
    ...plain,
    ...(oauth_endpoints !== undefined ? { oauth_endpoints: oauth_endpoints === null ? null : JSON.stringify(oauth_endpoints) } : {}),
    ...(roles !== undefined ? { roles: JSON.stringify(roles) } : {}),
    ...(settings !== undefined ? { settings: JSON.stringify(settings) } : {}),
    ...(account !== undefined ? { account: JSON.stringify(account) } : {}),
    ...(scopes !== undefined ? { scopes: JSON.stringify(scopes) } : {}),
  };
}

/** A new connector: every column but the insertion sequence (endpoints only for an OAuth grant that moved them). */
export type NewConnector = Omit<ConnectorRow, "seq" | "status_before_disable" | "oauth_endpoints"> &
  Partial<Pick<ConnectorRow, "oauth_endpoints">>;

export function connectorToRow(c: NewConnector): NewConnectorRow {
  return {
    ...c,
    oauth_endpoints: c.oauth_endpoints ? JSON.stringify(c.oauth_endpoints) : null,
    roles: JSON.stringify(c.roles),
    settings: JSON.stringify(c.settings),
    account: JSON.stringify(c.account),
    scopes: JSON.stringify(c.scopes),
  };
}

/**
 * Insert a connector row. Only the state machine calls this (store/status.ts createConnector):
 * a new connector enters it at its first status, with its event and change.
 */
export async function insertConnector(db: DB, c: NewConnector): Promise<void> {
  await db.insertInto("connectors").values(connectorToRow(c)).execute();
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
    ...(row.status_reason ? { status_reason: row.status_reason } : {}),
    roles: row.roles,
    primary_for: primaryFor,
    settings: row.settings,
    account: row.account,
    scopes: row.scopes,
    health: row.health,
    last_checked_at: row.last_checked_at,
    ...(row.expires_at ? { expires_at: row.expires_at } : {}),
    created_at: row.created_at,
    updated_at: row.updated_at,
  };
}

// The two reads every get_connector_status and list_connectors makes, compiled once (store/compiled.ts).
const primariesQuery = compiledQuery<{ workspaceId: string; ids: string[] }, { connector_id: string; role: Role }>((db, s) =>
  db
    .selectFrom("primaries")
    .select(["connector_id", "role"])
    .where("workspace_id", "=", s.v("workspaceId"))
    .where("connector_id", "in", s.list("ids")),
);
const connectorRowQuery = compiledQuery(
  (db, s: Slots<{ workspaceId: string; connectorId: string }>) =>
    db.selectFrom("connectors").selectAll().where("workspace_id", "=", s.v("workspaceId")).where("id", "=", s.v("connectorId")),
  { rowsAsArrays: true },
);

async function primariesOf(db: DB, workspaceId: string, connectorIds: string[]): Promise<Map<string, Role[]>> {
  const out = new Map<string, Role[]>();
  if (connectorIds.length === 0) return out;
  const rows = await primariesQuery(db, { workspaceId, ids: connectorIds });
  for (const r of rows) out.set(r.connector_id, [...(out.get(r.connector_id) ?? []), r.role]);
  return out;
}

/** One connector row of this workspace, or undefined (any workspace: for the callback and the refresh engine). */
export async function findConnectorRow(db: DB, connectorId: string): Promise<ConnectorRow | undefined> {
  const row = await db.selectFrom("connectors").selectAll().where("id", "=", connectorId).executeTakeFirst();
  return row ? rowToConnector(row) : undefined;
}

/** One connector row of this workspace, or `not_found` (also for another workspace's connector). */
export async function getConnectorRow(db: DB, workspaceId: string, connectorId: string): Promise<ConnectorRow> {
  const [row] = await connectorRowQuery(db, { workspaceId, connectorId });
  if (!row)
    throw new ConnectorError(
      "not_found",
      `No connector "${connectorId}" in this workspace. Use list_connectors to see the ones that exist.`,
    );
  return rowToConnector(row);
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

const cursorSchema = jsonColumn(z.object({ s: z.number().int().positive() }));

export function decodeCursor(cursor: string): number {
  const v = cursorSchema.safeParse(Buffer.from(cursor, "base64url").toString("utf8"));
  if (v.success) return v.data.s;
  throw new ConnectorError("invalid_input", "cursor is not one this server returned; start again without a cursor.");
}

type PageParams = {
  workspaceId: string;
  provider: string | undefined;
  status: Status | undefined;
  role: Role | undefined;
  expires_before: string | undefined;
  before_seq: number | undefined;
  limit: number;
};

/** The connector's roles (a JSON array in a text column) include `role`: the one role filter, in the dialect's JSON functions. */
export function playsRole(db: DB, role: string) {
  return dialectOf(db).jsonArrayHas("connectors.roles", role);
}

/** The list page's query, compiled once per combination of filters (store/compiled.ts). */
const listPageQuery = compiledQuery(
  (db, s: Slots<PageParams>) => {
    let q = db.selectFrom("connectors").selectAll().where("workspace_id", "=", s.v("workspaceId"));
    const provider = s.opt("provider");
    if (provider) q = q.where("provider", "=", provider);
    const status = s.opt("status");
    if (status) q = q.where("status", "=", status);
    const role = s.opt("role");
    if (role) q = q.where(playsRole(db, role));
    const expiresBefore = s.opt("expires_before");
    if (expiresBefore) q = q.where("expires_at", "is not", null).where("expires_at", "<=", expiresBefore);
    const beforeSeq = s.opt("before_seq");
    if (beforeSeq !== undefined) q = q.where("seq", "<", beforeSeq);
    return q.orderBy("seq", "desc").limit(s.v("limit"));
  },
  { rowsAsArrays: true },
);

/**
 * Newest first by insertion sequence. A page continues strictly below the last sequence seen,
 * so connectors added meanwhile (higher sequences) never shift or repeat what is still to come.
 */

export async function listConnectors(
  db: DB,
  workspaceId: string,
  f: ListFilters,
): Promise<{ connectors: ConnectorObject[]; next_cursor: string | null }> {
  const rows = (
    await listPageQuery(db, {
      workspaceId,
      provider: f.provider || undefined,
      status: f.status || undefined,
      role: f.role || undefined,
      expires_before: f.expires_before || undefined,
      before_seq: f.cursor ? decodeCursor(f.cursor) : undefined,
      limit: f.limit + 1,
    })
  ).map(rowToConnector);
  const page = rows.slice(0, f.limit);
  const prim = await primariesOf(
    db,
    workspaceId,
    page.map((r) => r.id),
  );
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
