/** A connector row to create straight through the store (unit tests of the state machine and the watcher). */
import type { NewConnector } from "../../src/store/connectors.js";
import { LOCAL_WORKSPACE_ID } from "../../src/store/workspaces.js";

export function newConnectorRow(id: string, status: "pending" | "connected"): NewConnector {
  return {
    id,
    workspace_id: LOCAL_WORKSPACE_ID,
    provider: "hubspot",
    label: "HubSpot",
    auth_type: "oauth2",
    status,
    status_reason: null,
    status_detail: null,
    roles: ["source"],
    settings: {},
    account: {},
    scopes: [],
    health: "unknown",
    last_checked_at: null,
    expires_at: null,
    created_at: "2026-12-01T00:00:00.000Z",
    updated_at: "2026-12-01T00:00:00.000Z",
  };
}
