/** Starting an OAuth grant: plan it (who, what, where to send the person), then persist it in one transaction. */
import type { ConnectionEndpoints, Json, Provider, Role } from "../catalog/catalog.js";
import { resolveConnectionEndpoints } from "../catalog/endpoints.js";
import { checkRoles, grantScopesFor, parseSettings } from "../catalog/rules.js";
import { checkVersionSettings } from "../catalog/versions.js";
import { nowIso } from "../common/clock.js";
import { ConnectorError } from "../common/errors.js";
import { newId, sha256Hex } from "../common/ids.js";
import { cleanLabel } from "../common/text.js";
import { notConfigured, oauthConfiguration } from "../credentials/oauth-client.js";
import { grantAad } from "../credentials/secrets.js";
import { getConnectorRow, type NewConnector } from "../store/connectors.js";
import { expireAbandonedGrants, GRANT_TTL_MS } from "../store/grants.js";
import { assertQuota, purgeFinishedGrants } from "../store/quotas.js";
import type { ConnectorRow } from "../store/schema.js";
import { createConnector, emitChange, RECONNECTABLE, type StatusChange, transition } from "../store/status.js";
import { writeTransaction } from "../store/write-transaction.js";
import { authorizeAad, newConnectLink } from "./connect.js";
import type { GrantDeps } from "./deps.js";

export interface StartResult {
  connector_id: string;
  authorization_url: string;
  expires_at: string;
  status: "pending";
}

export interface StartInput {
  provider: string;
  label?: string | undefined;
  roles?: string[] | undefined;
  scopes?: string[] | undefined;
  settings?: Record<string, unknown> | undefined;
  /** Reconnect this existing connector in place (consent again): keeps its id, roles, settings and primaries. */
  connector_id?: string | undefined;
}

/** Everything a grant is made of, decided before anything is written. */
interface GrantPlan {
  provider: Provider;
  /** The connector reconnected in place, when there is one. */
  existing: ConnectorRow | undefined;
  connectorId: string;
  label: string;
  roles: Role[];
  settings: Record<string, Json>;
  scopes: string[];
  state: string;
  verifier: string;
  /** The endpoints this connection's grant starts on, when its settings move them. */
  endpoints: ConnectionEndpoints | null;
  url: URL;
  expiresAt: string;
}

/** Who started a grant: the API key (revoking it cancels the grant) and the MCP client's name (shown on the connect page). */
export interface StartedBy {
  keyId?: string | null | undefined;
  clientName?: string | null | undefined;
}

/**
 * Start an OAuth grant: a pending connector, a single-use state, a PKCE verifier sealed in the vault.
 * `by.keyId` is the API key of the caller, if any: revoking it cancels the grant. The URL handed
 * out is the connect page's (grants/connect.ts); the provider's URL stays sealed in the grant row.
 */
export async function startOAuth(ctx: GrantDeps, workspaceId: string, input: StartInput, by: StartedBy = {}): Promise<StartResult> {
  const plan = await planGrant(ctx, workspaceId, input);
  const link = newConnectLink(ctx);
  const change = await persistGrant(ctx, workspaceId, plan, by.keyId ?? null, {
    hash: link.hash,
    requestedBy: cleanClientName(by.clientName),
  });
  emitChange(ctx, change);
  await purgeFinishedGrants(ctx);
  ctx.log.info("oauth grant started", { connector_id: plan.connectorId, provider: plan.provider.id, workspace_id: workspaceId });
  return { connector_id: plan.connectorId, authorization_url: link.url, expires_at: plan.expiresAt, status: "pending" };
}

/** A client's name as shown on the connect page: printable, at most 100 characters, or null. */
function cleanClientName(name: string | null | undefined): string | null {
  const clean = cleanLabel(name ?? "").slice(0, 100);
  return clean || null;
}

/** Check the request, pick the connector (new, or reconnected in place), and build the authorization URL. */
async function planGrant(ctx: GrantDeps, workspaceId: string, input: StartInput): Promise<GrantPlan> {
  const provider = ctx.catalog.get(input.provider);
  if (!provider.def.auth_types.includes("oauth2") || !provider.oauth) {
    throw new ConnectorError(
      "auth_type_unsupported",
      `${provider.def.name} does not connect through OAuth here; use submit_connector_key with its API key.`,
    );
  }
  if (!provider.configured) throw notConfigured(provider);
  // A link is handed out only when the callback can finish it.
  await ctx.callbackCheck?.();
  // A lapsed link settles first, so a connector still reading pending from it can be reconnected.
  if (input.connector_id) await expireAbandonedGrants(ctx, workspaceId, [input.connector_id]);
  const existing = input.connector_id ? await reconnectable(ctx, workspaceId, input.connector_id, provider) : undefined;
  const roles = checkRoles(provider, input.roles ?? existing?.roles ?? provider.def.roles);
  const settings = parseSettings(provider, input.settings ?? existing?.settings ?? {});
  checkVersionSettings(provider, settings, ctx.clock());
  // Where this connection signs in (Salesforce login_host, Outlook tenant): kept on the connector for refresh and revoke.
  const { endpoints, extra_scopes } = await resolveConnectionEndpoints(ctx, provider, settings);
  const scopes = grantScopesFor(provider, input.scopes, extra_scopes);
  const { client, config } = await oauthConfiguration(ctx, provider, endpoints);
  const state = client.randomState();
  const verifier = client.randomPKCECodeVerifier();
  const params: Record<string, string> = {
    ...provider.oauth.authorization_params,
    redirect_uri: ctx.redirectUri,
    scope: scopes.join(provider.oauth.scope_separator),
    state,
    response_type: "code",
  };
  if (provider.oauth.pkce) {
    params.code_challenge = await client.calculatePKCECodeChallenge(verifier);
    params.code_challenge_method = "S256";
  }
  return {
    provider,
    existing,
    connectorId: existing?.id ?? newId("con"),
    label: cleanLabel(input.label ?? "") || existing?.label || provider.def.name,
    roles,
    settings,
    scopes,
    state,
    verifier,
    endpoints,
    url: client.buildAuthorizationUrl(config, params),
    expiresAt: new Date(ctx.clock() + GRANT_TTL_MS).toISOString(),
  };
}

/** The connector (created pending, or moved back to pending) and its grant row, in one transaction. */
async function persistGrant(
  ctx: GrantDeps,
  workspaceId: string,
  plan: GrantPlan,
  keyId: string | null,
  link: { hash: string; requestedBy: string | null },
): Promise<StatusChange> {
  const { existing, provider, connectorId } = plan;
  const stateHash = sha256Hex(plan.state);
  const createdAt = nowIso(ctx);
  const event = { type: existing ? "reconnect_started" : "created", detail: `OAuth grant started for ${provider.def.name}` };
  return writeTransaction(ctx.db, async (trx) => {
    await assertQuota(trx, ctx, workspaceId, { pendingGrants: 1, connectors: existing ? 0 : 1 });
    let change: StatusChange | null;
    if (existing) {
      change = await transition(trx, ctx, existing, {
        move: "reconnect",
        to: "pending",
        reason: null,
        detail: `Waiting for the person to consent again (was ${existing.status}); the stored tokens are kept until new ones arrive.`,
        patch: { label: plan.label, roles: plan.roles, settings: plan.settings, oauth_endpoints: plan.endpoints },
        events: [event],
      });
      if (!change) {
        throw new ConnectorError(
          "conflict",
          `Connector ${existing.id} changed while the reconnection was being prepared; check it with get_connector_status and try again.`,
        );
      }
    } else {
      change = await createConnector(trx, ctx, newPendingConnector(plan, workspaceId, createdAt), { move: "start", events: [event] });
    }
    await trx
      .insertInto("oauth_grants")
      .values({
        state_hash: stateHash,
        connector_id: connectorId,
        workspace_id: workspaceId,
        verifier_ciphertext: ctx.vault.seal(plan.verifier, grantAad(stateHash)),
        redirect_uri: ctx.redirectUri,
        scopes: JSON.stringify(plan.scopes),
        expires_at: plan.expiresAt,
        used_at: null,
        created_at: createdAt,
        started_by_key: keyId,
        connect_id_hash: link.hash,
        authorize_ciphertext: ctx.vault.seal(plan.url.href, authorizeAad(stateHash)),
        requested_by: link.requestedBy,
      })
      .execute();
    return change;
  });
}

function newPendingConnector(plan: GrantPlan, workspaceId: string, at: string): NewConnector {
  return {
    id: plan.connectorId,
    workspace_id: workspaceId,
    provider: plan.provider.id,
    label: plan.label,
    auth_type: "oauth2",
    status: "pending",
    status_reason: null,
    status_detail: null,
    roles: plan.roles,
    settings: plan.settings,
    oauth_endpoints: plan.endpoints,
    account: {},
    scopes: plan.scopes,
    health: "unknown",
    last_checked_at: null,
    expires_at: null,
    created_at: at,
    updated_at: at,
  };
}

/** An OAuth connector of this workspace that may be reconnected in place. */
async function reconnectable(ctx: GrantDeps, workspaceId: string, connectorId: string, provider: Provider): Promise<ConnectorRow> {
  const row = await getConnectorRow(ctx.db, workspaceId, connectorId);
  if (row.provider !== provider.id) {
    throw new ConnectorError(
      "invalid_input",
      `Connector ${row.id} is a ${row.provider} connector, not ${provider.id}; pass provider "${row.provider}" to reconnect it.`,
    );
  }
  if (row.auth_type !== "oauth2")
    throw new ConnectorError(
      "auth_type_unsupported",
      `Connector ${row.id} uses an API key; submit a new key with submit_connector_key instead.`,
    );
  // Only a connector that no longer works is reconnected in place: a working one would be taken out of service while the person consents.
  if (RECONNECTABLE.has(row.status)) return row;
  const why: Record<string, string> = {
    connected:
      `is connected and working; reconnecting it in place would stop it until the person consents again. ` +
      `To connect with other scopes or another account, start a new connector (start_connector_oauth without connector_id), or revoke this one first with revoke_connector and then reconnect it`,
    pending: `is already waiting for consent; show the person the authorization_url you got for it and call wait_for_connector. If that link is lost, revoke_connector it and then reconnect it`,
    disabled: `is disabled; enable it with enable_connector first (a connector that still works after that needs no reconnecting)`,
  };
  throw new ConnectorError(
    "invalid_state",
    `Connector ${row.id} cannot be reconnected: it ${why[row.status] ?? `is ${row.status}`}. Only ${inWords([...RECONNECTABLE])} connectors are reconnected in place.`,
  );
}

/** ["a", "b", "c"] → "a, b or c". */
function inWords(items: string[]): string {
  return items.length < 2 ? items.join("") : `${items.slice(0, -1).join(", ")} or ${items.at(-1)}`;
}
