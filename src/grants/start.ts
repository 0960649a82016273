import * as client from "openid-client";
import { z } from "zod";
import { isLoopbackHost, type Json, type Provider, type Role, type TokenSet } from "../catalog/catalog.js";
import { getConnector, getConnectorRow, recordEvent, type ConnectorObject } from "../store/connectors.js";
import type { DB } from "../store/db.js";
import type { ConnectorRow, ConnectorUpdate } from "../store/schema.js";
import { nowIso } from "../common/clock.js";
import { ConnectorError } from "../common/errors.js";
import { newId, sha256Hex } from "../common/ids.js";
import { expireAbandonedGrants } from "../store/grants.js";
import { grantedScopes as scopesGranted } from "../catalog/scrub.js";
import { grantAad, readSecret, writeSecret } from "../credentials/secrets.js";
import { readAccount } from "../catalog/test-read.js";
import { describeProviderFailure, oauthErrorCode } from "../catalog/provider-errors.js";
import { revokeTokens, type ProviderRevocation } from "../credentials/revocation.js";
import { checkRoles, parseSettings } from "../catalog/rules.js";
import { GRANT_TTL_MS } from "../store/grants.js";
import { RECONNECTABLE } from "../store/status.js";
import { notConfigured } from "../credentials/oauth-client.js";
import { oauthConfiguration } from "../credentials/oauth-client.js";
import type { GrantDeps } from "./deps.js";

export interface StartResult {
  connector_id: string;
  authorization_url: string;
  expires_at: string;
  status: "pending";
}

/** Start an OAuth grant: a pending connector, a single-use state, a PKCE verifier sealed in the vault. */
export async function startOAuth(
  ctx: GrantDeps,
  workspaceId: string,
  input: {
    provider: string;
    label?: string | undefined;
    roles?: string[] | undefined;
    scopes?: string[] | undefined;
    settings?: Record<string, unknown> | undefined;
    /** Reconnect this existing connector in place (consent again): keeps its id, roles, settings and primaries. */
    connector_id?: string | undefined;
  },
): Promise<StartResult> {
  const provider = ctx.catalog.get(input.provider);
  if (!provider.def.auth_types.includes("oauth2") || !provider.oauth) {
    throw new ConnectorError("auth_type_unsupported", `${provider.def.name} does not connect through OAuth here; use submit_connector_key with its API key.`);
  }
  if (!provider.configured) throw notConfigured(provider);
  // A lapsed link settles first, so a connector still reading pending from it can be reconnected.
  if (input.connector_id) await expireAbandonedGrants(ctx, workspaceId, [input.connector_id]);
  const existing = input.connector_id ? await reconnectable(ctx, workspaceId, input.connector_id, provider) : undefined;
  const roles: Role[] = checkRoles(provider, input.roles ?? (existing ? (JSON.parse(existing.roles) as string[]) : provider.def.roles));
  const settings = parseSettings(provider, input.settings ?? (existing ? (JSON.parse(existing.settings) as Record<string, unknown>) : {}));
  const scopes = input.scopes && input.scopes.length > 0 ? [...new Set(input.scopes)] : provider.oauth.scopes;
  const config = oauthConfiguration(ctx, provider);

  const connectorId = existing?.id ?? newId("con");
  const state = client.randomState();
  const stateHash = sha256Hex(state);
  const verifier = client.randomPKCECodeVerifier();
  const now = ctx.clock();
  const expiresAt = new Date(now + GRANT_TTL_MS).toISOString();
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
  const url = client.buildAuthorizationUrl(config, params);
  const createdAt = nowIso(ctx);
  await ctx.db.transaction().execute(async (trx) => {
    if (existing) {
      const moved = await trx
        .updateTable("connectors")
        .set({
          label: input.label?.trim() || existing.label,
          status: "pending",
          status_detail: `waiting for the person to consent again (was ${existing.status}); the stored tokens are kept until new ones arrive`,
          roles: JSON.stringify(roles),
          settings: JSON.stringify(settings),
          updated_at: createdAt,
        })
        .where("id", "=", existing.id)
        .where("status", "=", existing.status)
        .executeTakeFirst();
      if (Number(moved.numUpdatedRows) !== 1) {
        throw new ConnectorError("conflict", `Connector ${existing.id} changed while the reconnection was being prepared; check it with get_connector_status and try again.`);
      }
    }
    if (!existing) await trx
      .insertInto("connectors")
      .values({
        id: connectorId,
        workspace_id: workspaceId,
        provider: provider.id,
        label: input.label?.trim() || provider.def.name,
        auth_type: "oauth2",
        status: "pending",
        status_detail: null,
        roles: JSON.stringify(roles),
        settings: JSON.stringify(settings),
        account: "{}",
        scopes: JSON.stringify(scopes),
        health: "unknown",
        last_checked_at: null,
        expires_at: null,
        created_at: createdAt,
        updated_at: createdAt,
      })
      .execute();
    await trx
      .insertInto("oauth_grants")
      .values({
        state_hash: stateHash,
        connector_id: connectorId,
        workspace_id: workspaceId,
        verifier_ciphertext: ctx.vault.seal(verifier, grantAad(stateHash)),
        redirect_uri: ctx.redirectUri,
        scopes: JSON.stringify(scopes),
        expires_at: expiresAt,
        used_at: null,
        created_at: createdAt,
      })
      .execute();
    await recordEvent(trx, ctx, { id: connectorId, workspace_id: workspaceId }, existing ? "reconnect_started" : "created", `OAuth grant started for ${provider.def.name}`);
  });
  ctx.log.info("oauth grant started", { connector_id: connectorId, provider: provider.id, workspace_id: workspaceId });
  return { connector_id: connectorId, authorization_url: url.href, expires_at: expiresAt, status: "pending" };
}

/** An OAuth connector of this workspace that may be reconnected in place. */
async function reconnectable(ctx: GrantDeps, workspaceId: string, connectorId: string, provider: Provider): Promise<ConnectorRow> {
  const row = await getConnectorRow(ctx.db, workspaceId, connectorId);
  if (row.provider !== provider.id) {
    throw new ConnectorError("invalid_input", `Connector ${row.id} is a ${row.provider} connector, not ${provider.id}; pass provider "${row.provider}" to reconnect it.`);
  }
  if (row.auth_type !== "oauth2") throw new ConnectorError("auth_type_unsupported", `Connector ${row.id} uses an API key; submit a new key with submit_connector_key instead.`);
  // Only a connector that no longer works is reconnected in place: a working one would be taken out of service while the person consents.
  if (RECONNECTABLE.has(row.status)) return row;
  const why: Record<string, string> = {
    connected:
      `is connected and working; reconnecting it in place would stop it until the person consents again. ` +
      `To connect with other scopes or another account, start a new connector (start_connector_oauth without connector_id), or revoke this one first with revoke_connector and then reconnect it`,
    pending: `is already waiting for consent; show the person the authorization_url you got for it and call wait_for_connector. If that link is lost, revoke_connector it and then reconnect it`,
    disabled: `is disabled; enable it with enable_connector first (a connector that still works after that needs no reconnecting)`,
  };
  throw new ConnectorError("invalid_state", `Connector ${row.id} cannot be reconnected: it ${why[row.status] ?? `is ${row.status}`}. Only expired, revoked or error connectors are reconnected in place.`);
}

