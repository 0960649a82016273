/** Test reads and refreshes asked for by a tool: test_connector and refresh_connector. */
import type { AccountFacts } from "../catalog/catalog.js";
import { type AccountCheck, readAccount } from "../catalog/test-read.js";
import { endedVersionSetting, endedVersionText } from "../catalog/versions.js";
import { nowIso } from "../common/clock.js";
import { ConnectorError, isConnectorError } from "../common/errors.js";
import type { CredentialDeps } from "../credentials/deps.js";
import { isoFromEpochSeconds } from "../credentials/lifetimes.js";
import { getAccessToken, saveCheck, withCredential } from "../credentials/refresh.js";
import { readSecret } from "../credentials/secrets.js";
import { renewalOf } from "../credentials/tokens.js";
import { type ConnectorObject, getConnector, getConnectorRow } from "../store/connectors.js";
import { assertUsable, reconnectAdvice } from "../store/status.js";

export interface TestResult {
  ok: boolean;
  latency_ms: number;
  checked_at: string;
  account: AccountFacts;
  error?: string;
}

/**
 * The provider's lightest authenticated read. Refreshes first when the token is about to
 * expire, and once more after a 401. Updates health, last_checked_at and the account facts.
 */
export async function testConnector(ctx: CredentialDeps, workspaceId: string, connectorId: string): Promise<TestResult> {
  const row = await getConnectorRow(ctx.db, workspaceId, connectorId);
  assertUsable(row, "test");
  const provider = ctx.catalog.get(row.provider);
  // A version setting that has ended fails the check without asking the provider: status_detail says what to change.
  const ended = endedVersionSetting(provider, row.settings, ctx.clock());
  let check: AccountCheck = { ok: false, status: null, latency_ms: 0, account: {}, error: ended ? endedVersionText(provider, ended) : "" };
  if (!ended) {
    try {
      const { result } = await withCredential(ctx, row, (c) => readAccount(ctx, provider, c.view, c.token, c.auth_type), { probe: false });
      check = result;
    } catch (err) {
      if (!isConnectorError(err) || err.code === "not_found" || err.code === "internal") throw err;
      check = { ok: false, status: null, latency_ms: 0, account: {}, error: err.message };
    }
  }
  const checkedAt = nowIso(ctx);
  await saveCheck(ctx, row, check, checkedAt);
  return {
    ok: check.ok,
    latency_ms: check.latency_ms,
    checked_at: checkedAt,
    account: check.ok ? check.account : row.account,
    ...(check.ok ? {} : { error: check.error ?? "the test read failed" }),
  };
}

export interface RefreshResult {
  refreshed: boolean;
  access_expires_at: string | null;
  detail: string;
  connector: ConnectorObject;
}

/** Refresh the access token now (single-flight with any refresh already running). */
export async function refreshConnector(ctx: CredentialDeps, workspaceId: string, connectorId: string): Promise<RefreshResult> {
  const row = await getConnectorRow(ctx.db, workspaceId, connectorId);
  assertUsable(row, "refresh");
  const provider = ctx.catalog.get(row.provider);
  const name = provider.def.name;
  const done = async (refreshed: boolean, expiresAt: number | undefined, detail: string): Promise<RefreshResult> => ({
    refreshed,
    access_expires_at: expiresAt ? isoFromEpochSeconds(expiresAt) : null,
    detail,
    connector: await getConnector(ctx.db, workspaceId, connectorId),
  });
  if (row.auth_type === "api_key")
    return done(false, undefined, `${name} API keys are not refreshed; they work until the person deletes them in ${name}.`);
  const stored = await readSecret(ctx, ctx.db, row.id);
  if (!stored || stored.secret.kind !== "oauth2") {
    throw new ConnectorError("invalid_state", `Connector ${row.id} has no stored tokens; ${reconnectAdvice(row)}.`);
  }
  const tokens = stored.secret.tokens;
  switch (renewalOf(provider, tokens)) {
    case "non_expiring":
      return done(false, undefined, `${name} access tokens do not expire, so there is nothing to refresh.`);
    case "reconsent": {
      // getAccessToken marks the connector expired when its access already ended, and throws.
      const cred = await getAccessToken(ctx, row, { probe: false });
      const ends = cred.tokens?.expires_at;
      return done(
        false,
        ends,
        `${name} granted no refresh token, so access cannot be renewed here${ends ? `; it ends at ${isoFromEpochSeconds(ends)}` : ""}. ` +
          `Before then, ask the person to consent again with start_connector_oauth (connector_id "${row.id}").`,
      );
    }
    case "refresh_token": {
      const cred = await getAccessToken(ctx, row, { force: true });
      const ends = cred.tokens?.expires_at;
      return done(
        true,
        ends,
        ends
          ? `New access token valid until ${isoFromEpochSeconds(ends)}.`
          : `New access token issued (${name} does not say how long it lasts).`,
      );
    }
  }
}
