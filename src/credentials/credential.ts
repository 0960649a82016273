/** Loading a connector's credential from its sealed secret, and the errors of one that stopped working. */
import type { Provider } from "../catalog/catalog.js";
import { connectionView } from "../catalog/connection.js";
import { ConnectorError } from "../common/errors.js";
import { findConnectorRow } from "../store/connectors.js";
import type { ConnectorRow } from "../store/schema.js";
import { assertUsable, markExpired, reconnectAdvice, reconsentDetail } from "../store/status.js";
import type { CredentialDeps } from "./deps.js";
import { readSecret, type StoredSecret } from "./secrets.js";
import type { Credential } from "./tokens.js";

/** The credential a stored secret gives, with the connection view hooks and API calls see. */
export function credentialFrom(
  provider: Provider,
  row: ConnectorRow,
  secret: StoredSecret,
  version: number,
  refreshed: boolean,
): Credential {
  if (secret.kind === "api_key") {
    return { connector_id: row.id, auth_type: "api_key", token: secret.api_key, version, view: connectionView(provider, row), refreshed };
  }
  const tokens = secret.tokens;
  return {
    connector_id: row.id,
    auth_type: "oauth2",
    token: tokens.access_token,
    version,
    tokens,
    view: connectionView(provider, row, tokens),
    refreshed,
  };
}

/** The connector's credential as stored now; `invalid_state` when nothing is stored. */
export async function loadCredential(ctx: CredentialDeps, row: ConnectorRow, provider: Provider): Promise<Credential> {
  const stored = await readSecret(ctx, ctx.db, row.id);
  if (!stored) {
    throw new ConnectorError("invalid_state", `Connector ${row.id} (${row.label}) has no stored credentials; ${reconnectAdvice(row)}.`);
  }
  return credentialFrom(provider, row, stored.secret, stored.version, false);
}

/** The connector has just expired: mark it, and the `invalid_state` error that says why and what to do. */
export async function expiredNow(ctx: CredentialDeps, row: ConnectorRow, provider: Provider, why: string): Promise<ConnectorError> {
  await markExpired(ctx, row, reconsentDetail(provider, row, why));
  return new ConnectorError(
    "invalid_state",
    `Connector ${row.id} (${row.label}) has expired (status_reason: expired): ${why} ${capitalized(reconnectAdvice(row))}.`,
  );
}

const capitalized = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);

/** Read the connector again (it may have changed during a wait) and load its credential, if it is still usable. */
export async function freshCredential(ctx: CredentialDeps, connectorId: string, provider: Provider): Promise<Credential> {
  const row = await findConnectorRow(ctx.db, connectorId);
  if (!row) throw new ConnectorError("not_found", `Connector ${connectorId} no longer exists.`);
  assertUsable(row, "refresh");
  return loadCredential(ctx, row, provider);
}
