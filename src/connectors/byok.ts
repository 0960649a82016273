/**
 * Bring your own key: an API key is checked with the provider's test read before anything is
 * written. A refused key is answered with the HTTP status and the provider's short error code and is stored
 * nowhere: not in the database, not in a log line, not in the error.
 */
import type { Json, Provider, Role } from "../catalog/catalog.js";
import { checkRoles, parseSettings } from "../catalog/rules.js";
import { type AccountCheck, readAccount } from "../catalog/test-read.js";
import { checkVersionSettings } from "../catalog/versions.js";
import { nowIso } from "../common/clock.js";
import { ConnectorError } from "../common/errors.js";
import { newId } from "../common/ids.js";
import { cleanLabel } from "../common/text.js";
import type { CredentialDeps } from "../credentials/deps.js";
import { sealSecret } from "../credentials/secrets.js";
import { type ConnectorObject, getConnector } from "../store/connectors.js";
import { assertQuota } from "../store/quotas.js";
import { createConnector, emitChange } from "../store/status.js";
import { writeTransaction } from "../store/write-transaction.js";

export interface SubmitKeyInput {
  provider: string;
  api_key: string;
  label?: string | undefined;
  roles?: string[] | undefined;
  settings?: Record<string, unknown> | undefined;
}

/** Printable ASCII without spaces: what every provider's tokens look like. */
const KEY_SHAPE = /^[\x21-\x7E]{8,4096}$/;

/** A key that passed the provider's test read, with what it was checked against. */
interface CheckedKey {
  key: string;
  roles: Role[];
  settings: Record<string, Json>;
  check: AccountCheck;
}

export async function submitConnectorKey(ctx: CredentialDeps, workspaceId: string, input: SubmitKeyInput): Promise<ConnectorObject> {
  const provider = ctx.catalog.get(input.provider);
  // Checked before the provider is called (a full workspace spends no test read), and again under the write lock.
  await assertQuota(ctx.db, ctx, workspaceId, { connectors: 1 });
  const checked = await checkKey(ctx, provider, input);
  const connectorId = await storeKey(ctx, workspaceId, provider, input.label, checked);
  ctx.log.info("connector connected with an API key", { connector_id: connectorId, provider: provider.id, workspace_id: workspaceId });
  return getConnector(ctx.db, workspaceId, connectorId);
}

/** Check the key's shape, the roles and settings, then the key itself with the test read. Nothing is written. */
async function checkKey(ctx: CredentialDeps, provider: Provider, input: SubmitKeyInput): Promise<CheckedKey> {
  const name = provider.def.name;
  const spec = provider.def.api_key;
  if (!provider.def.auth_types.includes("api_key") || !spec) {
    throw new ConnectorError("auth_type_unsupported", `${name} does not accept API keys here; connect it with start_connector_oauth.`);
  }
  const key = input.api_key.trim().replace(/^Bearer\s+/i, "");
  if (!KEY_SHAPE.test(key)) {
    throw new ConnectorError(
      "invalid_input",
      `api_key does not look like a ${spec.label}: expected 8-4096 printable characters without spaces. Nothing was stored.`,
    );
  }
  const roles = checkRoles(provider, input.roles ?? provider.def.roles);
  const settings = parseSettings(provider, input.settings ?? {});
  checkVersionSettings(provider, settings, ctx.clock());
  const check = await readAccount(ctx, provider, { settings, token_extras: {}, env: provider.env }, key, "api_key");
  if (check.ok) return { key, roles, settings, check };
  if (check.status === null) {
    // check.error is a phrase ("Sanity could not be reached (timed out)"): one sentence, then what to do.
    const why = check.error ?? `${name} did not answer`;
    throw new ConnectorError(
      "provider_error",
      `${why.charAt(0).toUpperCase()}${why.slice(1)}, so the key could not be checked. Nothing was stored; try again shortly.`,
      { retryable: true },
    );
  }
  throw new ConnectorError(
    "provider_error",
    `${name} refused the key: ${check.error ?? `HTTP ${check.status}`}. Nothing was stored. Ask the person for a valid ${spec.label}` +
      (spec.required_settings.length ? ` and check ${spec.required_settings.join(" and ")}.` : "."),
  );
}

/** The connector (created connected) and its sealed key, in one transaction. */
async function storeKey(
  ctx: CredentialDeps,
  workspaceId: string,
  provider: Provider,
  label: string | undefined,
  k: CheckedKey,
): Promise<string> {
  const connectorId = newId("con");
  const at = nowIso(ctx);
  const change = await writeTransaction(ctx.db, async (trx) => {
    await assertQuota(trx, ctx, workspaceId, { connectors: 1 });
    const created = await createConnector(
      trx,
      ctx,
      {
        id: connectorId,
        workspace_id: workspaceId,
        provider: provider.id,
        label: cleanLabel(label ?? "") || provider.def.name,
        auth_type: "api_key",
        status: "connected",
        status_reason: null,
        status_detail: null,
        roles: k.roles,
        settings: k.settings,
        account: k.check.account,
        scopes: [],
        health: "healthy",
        last_checked_at: at,
        expires_at: null,
        created_at: at,
        updated_at: at,
      },
      {
        move: "submit_key",
        events: [
          { type: "created", detail: `${provider.def.name} API key submitted` },
          { type: "connected", detail: "key accepted by the test read" },
        ],
      },
    );
    await trx
      .insertInto("connector_secrets")
      .values({
        connector_id: connectorId,
        ciphertext: sealSecret(ctx, connectorId, { kind: "api_key", api_key: k.key }),
        version: 1,
        access_expires_at: null,
        updated_at: at,
      })
      .execute();
    return created;
  });
  emitChange(ctx, change);
  return connectorId;
}
