/**
 * Bring your own key: an API key is checked with the provider's test read before anything is
 * written. A refused key is answered with the HTTP status and the provider's short error code and is stored
 * nowhere: not in the database, not in a log line, not in the error.
 */
import type { Role } from "../catalog/catalog.js";
import { getConnector, recordEvent, type ConnectorObject } from "../store/connectors.js";
import { nowIso } from "../common/clock.js";
import { ConnectorError } from "../common/errors.js";
import { readAccount } from "../catalog/test-read.js";
import { newId } from "../common/ids.js";
import { checkRoles, parseSettings } from "../catalog/rules.js";
import { sealSecret } from "../credentials/secrets.js";
import type { CredentialDeps } from "../credentials/deps.js";

export interface SubmitKeyInput {
  provider: string;
  api_key: string;
  label?: string | undefined;
  roles?: string[] | undefined;
  settings?: Record<string, unknown> | undefined;
}

/** Printable ASCII without spaces: what every provider's tokens look like. */
const KEY_SHAPE = /^[\x21-\x7E]{8,4096}$/;

export async function submitConnectorKey(ctx: CredentialDeps, workspaceId: string, input: SubmitKeyInput): Promise<ConnectorObject> {
  const provider = ctx.catalog.get(input.provider);
  const name = provider.def.name;
  if (!provider.def.auth_types.includes("api_key") || !provider.def.api_key) {
    throw new ConnectorError("auth_type_unsupported", `${name} does not accept API keys here; connect it with start_connector_oauth.`);
  }
  const key = input.api_key.trim().replace(/^Bearer\s+/i, "");
  if (!KEY_SHAPE.test(key)) {
    throw new ConnectorError(
      "invalid_input",
      `api_key does not look like a ${provider.def.api_key.label}: expected 8-4096 printable characters without spaces. Nothing was stored.`,
    );
  }
  const roles: Role[] = checkRoles(provider, input.roles ?? provider.def.roles);
  const settings = parseSettings(provider, input.settings ?? {});
  const view = { settings, token_extras: {}, env: provider.env };

  const check = await readAccount(ctx, provider, view, key, "api_key");
  if (!check.ok) {
    if (check.status === null) {
      // check.error is a phrase ("Sanity could not be reached (timed out)"): one sentence, then what to do.
      const why = check.error ?? `${name} did not answer`;
      throw new ConnectorError("provider_error", `${why.charAt(0).toUpperCase()}${why.slice(1)}, so the key could not be checked. Nothing was stored; try again shortly.`, { retryable: true });
    }
    throw new ConnectorError(
      "provider_error",
      `${name} refused the key: ${check.error ?? `HTTP ${check.status}`}. Nothing was stored. Ask the person for a valid ${provider.def.api_key.label}` +
        (provider.def.api_key.required_settings.length ? ` and check ${provider.def.api_key.required_settings.join(" and ")}.` : "."),
    );
  }

  const connectorId = newId("con");
  const at = nowIso(ctx);
  const row = { id: connectorId, workspace_id: workspaceId };
  await ctx.db.transaction().execute(async (trx) => {
    await trx
      .insertInto("connectors")
      .values({
        id: connectorId,
        workspace_id: workspaceId,
        provider: provider.id,
        label: input.label?.trim() || name,
        auth_type: "api_key",
        status: "connected",
        status_detail: null,
        roles: JSON.stringify(roles),
        settings: JSON.stringify(settings),
        account: JSON.stringify(check.account),
        scopes: "[]",
        health: "healthy",
        last_checked_at: at,
        expires_at: null,
        created_at: at,
        updated_at: at,
      })
      .execute();
    await trx
      .insertInto("connector_secrets")
      .values({ connector_id: connectorId, ciphertext: sealSecret(ctx, connectorId, { kind: "api_key", api_key: key }), version: 1, access_expires_at: null, updated_at: at })
      .execute();
    await recordEvent(trx, ctx, row, "created", `${name} API key submitted`);
    await recordEvent(trx, ctx, row, "connected", "key accepted by the test read");
  });
  ctx.log.info("connector connected with an API key", { connector_id: connectorId, provider: provider.id, workspace_id: workspaceId });
  ctx.events.emit("change", { workspace_id: workspaceId, connector_id: connectorId, status: "connected" });
  return getConnector(ctx.db, workspaceId, connectorId);
}
