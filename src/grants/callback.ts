/** The OAuth callback: claim the state, exchange the code, read the account, settle the connector. */
import * as client from "openid-client";
import { grantedScopes as scopesGranted } from "../catalog/scrub.js";
import { ConnectorError } from "../common/errors.js";
import type { ConnectorObject } from "../store/connectors.js";
import type { ConnectorRow } from "../store/schema.js";
import type { ConnectorUpdate } from "../store/schema.js";
import type { DB } from "../store/db.js";
import type { Json } from "../catalog/catalog.js";
import type { ProviderRevocation } from "../credentials/revocation.js";
import type { TokenSet } from "../catalog/catalog.js";
import { accessEndsAt } from "../credentials/tokens.js";
import { describeProviderFailure } from "../catalog/provider-errors.js";
import { getConnector } from "../store/connectors.js";
import { grantAad } from "../credentials/secrets.js";
import { oauthConfiguration } from "../credentials/oauth-client.js";
import { oauthErrorCode } from "../catalog/provider-errors.js";
import { readAccount } from "../catalog/test-read.js";
import { readSecret } from "../credentials/secrets.js";
import { recordEvent } from "../store/connectors.js";
import { revokeTokens } from "../credentials/revocation.js";
import { sha256Hex } from "../common/ids.js";
import { tokenSetFrom } from "../credentials/tokens.js";
import { writeSecret } from "../credentials/secrets.js";
import type { GrantDeps } from "./deps.js";
import { nowIso } from "../common/clock.js";
/** What the callback page shows. */
export type CallbackOutcome =
  | { kind: "connected"; provider: string; account_label: string | null; connector: ConnectorObject; warning?: string }
  | { kind: "denied"; provider: string }
  | { kind: "failed"; provider: string; reason: string }
  /** The connector was revoked, disabled or deleted while the person signed in: nothing was connected. */
  | { kind: "cancelled"; provider: string; provider_revocation: ProviderRevocation }
  | { kind: "refused"; code: "invalid_state" | "state_expired"; reason: string; provider?: string };

/** Why a code exchange failed, without any text the provider wrote. */
function exchangeFailureText(err: unknown): string {
  if (err instanceof ConnectorError) return err.message.replace(/\.$/, "");
  const f = describeProviderFailure(err);
  if (f.status !== undefined || f.code !== undefined) return `the provider answered ${f.text}`;
  if (err instanceof client.ClientError) return `the provider's answer was unusable (${f.text})`;
  return `the provider could not be reached (${f.text})`;
}

/**
 * Settle a pending connector. Every callback outcome is written through this guard: a
 * connector revoked, disabled or deleted meanwhile is no longer pending, and stays as it is.
 */
async function settlePending(
  ctx: GrantDeps,
  db: DB,
  row: Pick<ConnectorRow, "id" | "workspace_id">,
  patch: Pick<ConnectorUpdate, "status" | "status_detail" | "account" | "health" | "last_checked_at" | "expires_at" | "scopes">,
): Promise<boolean> {
  const res = await db
    .updateTable("connectors")
    .set({ ...patch, updated_at: nowIso(ctx) })
    .where("id", "=", row.id)
    .where("workspace_id", "=", row.workspace_id)
    .where("status", "=", "pending")
    .executeTakeFirst();
  return Number(res.numUpdatedRows) === 1;
}

/**
 * Finish a grant from the provider's redirect. An unknown, used or expired state changes
 * nothing; every other outcome consumes the state and is recorded on the connector.
 */
export async function completeCallback(ctx: GrantDeps, query: URLSearchParams): Promise<CallbackOutcome> {
  const state = query.get("state");
  if (!state || state.length > 512) {
    return { kind: "refused", code: "invalid_state", reason: "This sign-in link has no valid state. Start the connection again from your assistant." };
  }
  const stateHash = sha256Hex(state);
  const grant = await ctx.db.selectFrom("oauth_grants").selectAll().where("state_hash", "=", stateHash).executeTakeFirst();
  if (!grant) {
    return { kind: "refused", code: "invalid_state", reason: "This sign-in link is not one this server started. Start the connection again from your assistant." };
  }
  if (grant.used_at) {
    return { kind: "refused", code: "invalid_state", reason: "This sign-in link was already used. Start the connection again from your assistant if you need to." };
  }
  if (Date.parse(grant.expires_at) <= ctx.clock()) {
    const owner = await ctx.db.selectFrom("connectors").select("provider").where("id", "=", grant.connector_id).executeTakeFirst();
    const provider = owner ? ctx.catalog.list().find((p) => p.id === owner.provider)?.def.name : undefined;
    return {
      kind: "refused",
      code: "state_expired",
      reason: `This ${provider ? `${provider} ` : ""}sign-in link expired (links last 10 minutes).`,
      ...(provider ? { provider } : {}),
    };
  }
  // Claim the state atomically: of two racing callbacks, only one proceeds.
  const claimed = await ctx.db
    .updateTable("oauth_grants")
    .set({ used_at: nowIso(ctx) })
    .where("state_hash", "=", stateHash)
    .where("used_at", "is", null)
    .executeTakeFirst();
  if (Number(claimed.numUpdatedRows) !== 1) {
    return { kind: "refused", code: "invalid_state", reason: "This sign-in link was already used." };
  }
  const row = await ctx.db.selectFrom("connectors").selectAll().where("id", "=", grant.connector_id).executeTakeFirst();
  if (!row || row.status !== "pending") {
    return { kind: "refused", code: "invalid_state", reason: "The connection this link belongs to no longer waits for consent." };
  }
  const provider = ctx.catalog.get(row.provider);
  const name = provider.def.name;
  const emit = (status: string) => ctx.events.emit("change", { workspace_id: row.workspace_id, connector_id: row.id, status });
  /** The connector stopped waiting while the person signed in: tokens just obtained are revoked, nothing else changes. */
  const cancelled = async (obtained?: TokenSet): Promise<CallbackOutcome> => {
    const revocation = obtained ? await revokeTokens(ctx, provider, row, obtained) : { outcome: "not_needed" as const, detail: "no tokens were obtained" };
    await recordEvent(ctx.db, ctx, row, "grant_cancelled", `the person finished signing in after the connector stopped waiting for consent; ${revocation.detail.replace(/; the tokens were wiped here anyway$/, "")}`);
    ctx.log.info("oauth grant finished after its connector was cancelled", { connector_id: row.id, provider: provider.id, provider_revocation: revocation.outcome });
    return { kind: "cancelled", provider: name, provider_revocation: revocation.outcome };
  };
  const fail = async (detail: string, event: string, outcome: CallbackOutcome = { kind: "failed", provider: name, reason: detail }): Promise<CallbackOutcome> => {
    const settled = await ctx.db.transaction().execute(async (trx) => {
      if (!(await settlePending(ctx, trx, row, { status: "error", status_detail: detail }))) return false;
      await recordEvent(trx, ctx, row, event, event === "consent_denied" ? undefined : detail);
      return true;
    });
    if (!settled) return cancelled();
    emit("error");
    return outcome;
  };

  const error = query.get("error");
  if (error !== null) {
    // Only a registered code is kept: the rest of the redirect is the provider's (or anyone's) text.
    const code = oauthErrorCode(error);
    if (code === "access_denied") {
      const detail = `consent_denied: the person declined access at ${name}. Ask them whether they want to connect, then start again with start_connector_oauth.`;
      return fail(detail, "consent_denied", { kind: "denied", provider: name });
    }
    return fail(`provider_error: ${name} refused the authorization (${code}). Start again with start_connector_oauth.`, "grant_failed");
  }
  if (!query.get("code")) {
    return fail(`provider_error: ${name} sent no authorization code back. Start again with start_connector_oauth.`, "grant_failed");
  }

  let tokens: TokenSet;
  /** What the provider issued in this exchange alone (not a refresh token kept from before): revoked if the grant is cancelled. */
  let obtained: TokenSet;
  let verifier: string | undefined;
  try {
    const config = oauthConfiguration(ctx, provider);
    verifier = ctx.vault.open(grant.verifier_ciphertext, grantAad(stateHash));
    const current = new URL(grant.redirect_uri);
    for (const [k, v] of query) current.searchParams.append(k, v);
    const res = await client.authorizationCodeGrant(config, current, {
      expectedState: state,
      ...(provider.oauth?.pkce ? { pkceCodeVerifier: verifier } : {}),
    });
    // A re-consent that returns no refresh token (Google without a consent screen) keeps the stored one.
    const previous = await readSecret(ctx, ctx.db, row.id).catch(() => undefined);
    tokens = tokenSetFrom(provider, res, ctx.clock(), previous?.secret.kind === "oauth2" ? previous.secret.tokens : undefined);
    if (provider.def.hooks.afterTokenExchange && provider.oauth?.client_id && provider.oauth.client_secret) {
      tokens = await provider.def.hooks.afterTokenExchange(tokens, {
        fetch: ctx.fetch,
        client_id: provider.oauth.client_id,
        client_secret: provider.oauth.client_secret,
        token_url: provider.oauth.token_url,
        now: ctx.clock,
      });
    }
    obtained = res.refresh_token ? tokens : { ...tokens, refresh_token: undefined };
  } catch (err) {
    ctx.log.warn("oauth code exchange failed", { connector_id: row.id, provider: provider.id, reason: describeProviderFailure(err).text });
    return fail(`provider_error: the code exchange with ${name} failed: ${exchangeFailureText(err)}. Start again with start_connector_oauth.`, "grant_failed");
  }

  // The test read uses the new token before it is stored, so tokens and status are written together below.
  const view = { settings: JSON.parse(row.settings) as Record<string, unknown>, token_extras: tokens.extras ?? {}, env: provider.env };
  const check = await readAccount(ctx, provider, view, tokens.access_token, "oauth2");
  // The granted scopes are stored and shown: only scope-shaped values, none carrying a secret of this exchange.
  const exchangeSecrets = [provider.oauth?.client_secret, verifier, query.get("code") ?? undefined, state, tokens.access_token, tokens.refresh_token];
  const grantedScopes: string[] = tokens.scope ? scopesGranted(tokens.scope, exchangeSecrets) : JSON.parse(grant.scopes);
  const connected = await ctx.db.transaction().execute(async (trx) => {
    const settled = await settlePending(ctx, trx, row, {
      status: "connected",
      status_detail: check.ok ? null : `connected, but the test read failed: ${check.error}`,
      account: JSON.stringify(check.account),
      health: check.ok ? "healthy" : "unhealthy",
      last_checked_at: nowIso(ctx),
      expires_at: accessEndsAt(provider, tokens),
      scopes: JSON.stringify(grantedScopes),
    });
    if (!settled) return false;
    await writeSecret(ctx, trx, row.id, { kind: "oauth2", tokens });
    await recordEvent(trx, ctx, row, "connected");
    return true;
  });
  if (!connected) return cancelled(obtained);
  ctx.log.info("connector connected", { connector_id: row.id, provider: provider.id, workspace_id: row.workspace_id });
  emit("connected");
  const connector = await getConnector(ctx.db, row.workspace_id, row.id);
  return {
    kind: "connected",
    provider: name,
    account_label: accountLabel(check.account),
    connector,
    ...(check.ok ? {} : { warning: "The account's first test read failed; your assistant can run test_connector to check again." }),
  };
}

/** The most human way to name an account in a sentence. */
export function accountLabel(account: Record<string, Json>): string | null {
  for (const k of ["email", "username", "display_name", "name", "portal_id", "project_id", "customer_ids", "ad_account_ids", "site_ids"]) {
    const v = account[k];
    if (typeof v === "string" && v) return v;
    if (typeof v === "number") return k === "portal_id" ? `portal ${v}` : String(v);
    if (Array.isArray(v) && v.length > 0) return v.map(String).join(", ");
  }
  return null;
}
