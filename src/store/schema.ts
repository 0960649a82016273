import type { ColumnType, Generated, Insertable, JSONColumnType, Selectable, Updateable } from "kysely";
import type { AccountFacts, AuthType, ConnectionEndpoints, Json, Role } from "../catalog/catalog.js";

/** Connector statuses (DESIGN.md). */
export const STATUSES = ["pending", "connected", "error", "expired", "disabled", "revoked"] as const;
export type Status = (typeof STATUSES)[number];

export const HEALTH = ["healthy", "unhealthy", "unknown"] as const;
export type Health = (typeof HEALTH)[number];

/**
 * Why a connector is in its status, machine-readable (DESIGN.md, closed list). `status_detail`
 * says the same in a sentence for the person.
 */
export const STATUS_REASONS = [
  "consent_denied",
  "cancelled",
  "state_expired",
  "provider_error",
  "refresh_failing",
  "expired",
  "revoked",
  "disabled",
  "tenant_mismatch",
  "account_mismatch",
  "binding_mismatch",
] as const;
export type StatusReason = (typeof STATUS_REASONS)[number];

/** Kysely table types: the one place the schema is described for the compiler. */
export interface WorkspaceTable {
  id: string;
  name: string;
  created_at: string;
}

export interface ApiKeyTable {
  id: string;
  workspace_id: string;
  prefix: string;
  hash: string;
  created_at: string;
  revoked_at: string | null;
}

export interface ConnectorTable {
  /** Insertion order; the pagination key (newest first, stable under inserts). */
  seq: Generated<number>;
  id: string;
  workspace_id: string;
  provider: string;
  label: string;
  auth_type: AuthType;
  status: Status;
  /** Why, machine-readable (migration 0003); null when the status needs no explanation. */
  status_reason: ColumnType<StatusReason | null, StatusReason | null | undefined, StatusReason | null>;
  /** Why, in a sentence for the person. */
  status_detail: string | null;
  /**
   * JSON documents. Read them only through the row codec (store/connectors.ts rowToConnector):
   * SQLite hands back text, PostgreSQL a parsed value, and the codec checks either with zod.
   */
  roles: JSONColumnType<Role[]>;
  settings: JSONColumnType<Record<string, Json>>;
  account: JSONColumnType<AccountFacts>;
  scopes: JSONColumnType<string[]>;
  health: Health;
  last_checked_at: string | null;
  /** When access ends without a new consent (ISO), when known. */
  expires_at: string | null;
  /** The status a disabled connector had before disable_connector (migration 0002). */
  status_before_disable: ColumnType<Status | null, Status | null | undefined, Status | null>;
  /** The OAuth endpoints the grant started on (JSON, migration 0005); null: the provider's defaults. Read through the row codec. */
  oauth_endpoints: ColumnType<ConnectionEndpoints | null, string | null | undefined, string | null>;
  created_at: string;
  updated_at: string;
}

export interface ConnectorSecretTable {
  connector_id: string;
  /** Vault envelope of the JSON token set or API key. */
  ciphertext: string;
  /** Bumped on every write; refreshers compare it before writing (optimistic concurrency). */
  version: ColumnType<number, number | undefined, number>;
  /** Access-token expiry (epoch seconds), kept in clear so refresh can be scheduled without decrypting. */
  access_expires_at: number | null;
  lease_owner: string | null;
  lease_until: number | null;
  updated_at: string;
}

export interface OAuthGrantTable {
  /** sha256 of the state parameter, hex. */
  state_hash: string;
  connector_id: string;
  workspace_id: string;
  verifier_ciphertext: string;
  redirect_uri: string;
  /** The scopes asked for (JSON array; read through grantScopes in store/grants.ts). */
  scopes: JSONColumnType<string[]>;
  expires_at: string;
  used_at: string | null;
  created_at: string;
  /** The API key (id) that started the grant; null without one (migration 0006). Revoking the key cancels the grant. */
  started_by_key: ColumnType<string | null, string | null | undefined, string | null>;
  /** sha256 of the connect link's id (migration 0011); null for a grant started before it. */
  connect_id_hash: ColumnType<string | null, string | null | undefined, string | null>;
  /** The provider's authorization URL, sealed by the vault (it carries the state); opened only on Continue. */
  authorize_ciphertext: ColumnType<string | null, string | null | undefined, string | null>;
  /** sha256 of the browser binding set when the person pressed Continue; null until then. */
  binding_hash: ColumnType<string | null, string | null | undefined, string | null>;
  /** The name the MCP client that started the grant gave itself, when known (shown on the connect page). */
  requested_by: ColumnType<string | null, string | null | undefined, string | null>;
}

export interface PrimaryTable {
  workspace_id: string;
  role: Role;
  connector_id: string;
}

export interface ConnectorEventTable {
  id: Generated<number>;
  connector_id: string;
  workspace_id: string;
  type: string;
  detail: string | null;
  created_at: string;
}

/** One proxied call: never a body, a query value or a credential. */
export interface CallRecordTable {
  id: string;
  connector_id: string;
  workspace_id: string;
  method: string;
  /** The path without its query. */
  path: string;
  /** The provider's HTTP status; null when no answer came (network failure, timeout). */
  status: number | null;
  duration_ms: number;
  /** 1 when the access token was refreshed for this call (before it, or after a 401). */
  refreshed: number;
  created_at: string;
}

/** A workspace member (migration 0010): a person who may sign in and open the workspace's connect links. */
export interface MemberTable {
  id: string;
  workspace_id: string;
  /** As the operator typed it. */
  email: string;
  /** The lower-cased email: what uniqueness and sign-in compare. */
  email_key: string;
  /** Self-describing scrypt hash (credentials/passwords.ts); null: single sign-on only. */
  password_hash: string | null;
  created_at: string;
}

/** A signed-in browser (migration 0010): the sha256 of the session cookie's value, never the value. */
export interface MemberSessionTable {
  id_hash: string;
  member_id: string;
  workspace_id: string;
  /** Epoch milliseconds. */
  expires_at: number;
  created_at: string;
}

export interface Database {
  workspaces: WorkspaceTable;
  api_keys: ApiKeyTable;
  connectors: ConnectorTable;
  connector_secrets: ConnectorSecretTable;
  oauth_grants: OAuthGrantTable;
  primaries: PrimaryTable;
  connector_events: ConnectorEventTable;
  call_records: CallRecordTable;
  members: MemberTable;
  member_sessions: MemberSessionTable;
}

export type ConnectorRow = Selectable<ConnectorTable>;
export type NewConnectorRow = Insertable<ConnectorTable>;
export type ConnectorUpdate = Updateable<ConnectorTable>;
export type OAuthGrantRow = Selectable<OAuthGrantTable>;
export type WorkspaceRow = Selectable<WorkspaceTable>;
