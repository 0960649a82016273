import type { ColumnType, Generated, Insertable, Selectable, Updateable } from "kysely";

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
  auth_type: "oauth2" | "api_key";
  status: "pending" | "connected" | "error" | "expired" | "disabled" | "revoked";
  status_detail: string | null;
  /** JSON arrays/objects stored as text. */
  roles: string;
  settings: string;
  account: string;
  scopes: string;
  health: "healthy" | "unhealthy" | "unknown";
  last_checked_at: string | null;
  /** When access ends without a new consent (ISO), when known. */
  expires_at: string | null;
  /** The status a disabled connector had before disable_connector (migration 0002). */
  status_before_disable: ColumnType<string | null, string | null | undefined, string | null>;
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
  scopes: string;
  expires_at: string;
  used_at: string | null;
  created_at: string;
}

export interface PrimaryTable {
  workspace_id: string;
  role: string;
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

export interface Database {
  workspaces: WorkspaceTable;
  api_keys: ApiKeyTable;
  connectors: ConnectorTable;
  connector_secrets: ConnectorSecretTable;
  oauth_grants: OAuthGrantTable;
  primaries: PrimaryTable;
  connector_events: ConnectorEventTable;
}

export type ConnectorRow = Selectable<ConnectorTable>;
export type NewConnectorRow = Insertable<ConnectorTable>;
export type ConnectorUpdate = Updateable<ConnectorTable>;
export type OAuthGrantRow = Selectable<OAuthGrantTable>;
export type WorkspaceRow = Selectable<WorkspaceTable>;
