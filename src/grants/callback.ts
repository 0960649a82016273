import type { FactType, Json, TokenSet } from "../catalog/catalog.js";
import { connectionView } from "../catalog/connection.js";
import { oauthErrorCode } from "../catalog/provider-errors.js";
import { grantedScopes as scopesGranted } from "../catalog/scrub.js";
import { readAccount } from "../catalog/test-read.js";
import { nowIso } from "../common/clock.js";
import { sha256Hex } from "../common/ids.js";
import { revokeTokens } from "../credentials/revocation.js";
import { writeSecret } from "../credentials/secrets.js";
import { accessEndsAt } from "../credentials/tokens.js";
import { findConnectorRow, getConnector, recordEvent } from "../store/connectors.js";
import { grantScopes, grantTtlText } from "../store/grants.js";
import { emitChange, type Move, type StatusChange, transition } from "../store/status.js";
import { writeTransaction } from "../store/write-transaction.js";
import { accountChange, accountMismatch, accountToVerify, accountUnverified } from "./account-check.js";
import { bindingCookieBase, bindingMatches } from "./connect.js";
import type { GrantDeps } from "./deps.js";
import { again, type CallbackOutcome, type Claim, type Exchanged, exchangeCode, type Failure, providerFailure } from "./exchange.js";

export type { CallbackOutcome } from "./exchange.js";

/** The browser's cookie of a given base name (the transport knows the prefix), to check a grant's binding. */
export type BindingCookie = (cookieBase: string) => string | undefined;

/**
 * Finish a grant from the provider's redirect. An unknown, used or expired state changes
 * nothing; every other outcome consumes the state and is recorded on the connector. A grant
 * started through the connect page must arrive in the browser that pressed Continue (its binding
 * cookie); without it the grant ends with `binding_mismatch` and no code is exchanged.
 */
export async function completeCallback(
  ctx: GrantDeps,
  query: URLSearchParams,
  cookie: BindingCookie = () => undefined,
): Promise<CallbackOutcome> {
  const claim = await claimGrant(ctx, query);
  if ("kind" in claim) return claim;
  if (claim.grant.connect_id_hash && !bindingMatches(claim.grant, cookie(bindingCookieBase(claim.grant.connect_id_hash)))) {
    ctx.log.warn("callback refused: the state arrived without its browser binding", { connector_id: claim.row.id });
    const detail =
      `The sign-in at ${claim.name} finished in a browser other than the one that pressed Continue on the connect page, so it was refused and nothing was connected ` +
      `(the provider's link may have been copied and opened elsewhere). Start again with start_connector_oauth (connector_id "${claim.row.id}" keeps this connector) and have the person open the new link themselves.`;
    return settleFailed(ctx, claim, {
      reason: "binding_mismatch",
      detail,
      event: "binding_mismatch",
      outcome: {
        kind: "failed",
        provider: claim.name,
        reason: `This ${claim.name} sign-in did not start in this browser: the connection link was opened (and "Continue" pressed) somewhere else, so nothing was connected. If you meant to connect, ask your assistant for a new link and open it here.`,
      },
    });
  }
  const refusal = refusalFromProvider(claim, query);
  if (refusal) return settleFailed(ctx, claim, refusal);
  const exchanged = await exchangeCode(ctx, claim, query);
  if ("failure" in exchanged) return settleFailed(ctx, claim, exchanged.failure);
  return settleConnected(ctx, claim, query, exchanged);
}

const refused = (reason: string): CallbackOutcome => ({ kind: "refused", code: "invalid_state", reason });

/** Check the state and claim it atomically: of two racing callbacks, only one proceeds. */
async function claimGrant(ctx: GrantDeps, query: URLSearchParams): Promise<Claim | CallbackOutcome> {
  const state = query.get("state");
  if (!state || state.length > 512) return refused("This sign-in link has no valid state. Start the connection again from your assistant.");
  const stateHash = sha256Hex(state);
  const grant = await ctx.db.selectFrom("oauth_grants").selectAll().where("state_hash", "=", stateHash).executeTakeFirst();
  if (!grant) return refused("This sign-in link is not one this server started. Start the connection again from your assistant.");
  if (grant.used_at) return refused("This sign-in link was already used. Start the connection again from your assistant if you need to.");
  if (Date.parse(grant.expires_at) <= ctx.clock()) {
    const owner = await ctx.db.selectFrom("connectors").select("provider").where("id", "=", grant.connector_id).executeTakeFirst();
    const provider = owner ? ctx.catalog.list().find((p) => p.id === owner.provider)?.def.name : undefined;
    return {
      kind: "refused",
      code: "state_expired",
      reason: `This ${provider ? `${provider} ` : ""}sign-in link expired (links last ${grantTtlText()}).`,
      ...(provider ? { provider } : {}),
    };
  }
  const claimed = await ctx.db
    .updateTable("oauth_grants")
    .set({ used_at: nowIso(ctx) })
    .where("state_hash", "=", stateHash)
    .where("used_at", "is", null)
    .executeTakeFirst();
  if (Number(claimed.numUpdatedRows) !== 1) return refused("This sign-in link was already used.");
  const row = await findConnectorRow(ctx.db, grant.connector_id);
  if (row?.status !== "pending") return refused("The connection this link belongs to no longer waits for consent.");
  const provider = ctx.catalog.get(row.provider);
  return { state, stateHash, grant, row, provider, name: provider.def.name };
}

/** A denial, an error or a missing code in the redirect itself. */
function refusalFromProvider(c: Claim, query: URLSearchParams): Failure | undefined {
  const error = query.get("error");
  if (error !== null) {
    // Only a registered code is kept: the rest of the redirect is the provider's (or anyone's) text.
    const code = oauthErrorCode(error);
    if (code === "access_denied") {
      const detail = `The person declined access at ${c.name}. Ask them whether they want to connect, then start again with start_connector_oauth (connector_id "${c.row.id}" keeps this connector).`;
      return { reason: "consent_denied", detail, event: "consent_denied", outcome: { kind: "denied", provider: c.name } };
    }
    return providerFailure(c, `${c.name} refused the authorization (${code}). ${again(c)}`);
  }
  if (!query.get("code")) return providerFailure(c, `${c.name} sent no authorization code back. ${again(c)}`);
  return undefined;
}

/**
 * Settle the pending connector (guarded on `pending`: a connector revoked, disabled or deleted
 * meanwhile stays as it is, and this returns null), storing the tokens with it when connected.
 */
async function settle(ctx: GrantDeps, c: Claim, m: Omit<Move, "move">, tokens?: TokenSet): Promise<StatusChange | null> {
  return writeTransaction(ctx.db, async (trx) => {
    const change = await transition(trx, ctx, c.row, { move: "settle", ...m });
    if (change && tokens) await writeSecret(ctx, trx, c.row.id, { kind: "oauth2", tokens });
    return change;
  });
}

async function settleFailed(ctx: GrantDeps, c: Claim, f: Failure): Promise<CallbackOutcome> {
  const event = { type: f.event, ...(f.event === "consent_denied" ? {} : { detail: f.detail }) };
  const change = await settle(ctx, c, { to: "error", reason: f.reason, detail: f.detail, events: [event] });
  if (!change) return cancelAfterConsent(ctx, c);
  emitChange(ctx, change);
  return f.outcome;
}

async function settleConnected(ctx: GrantDeps, c: Claim, query: URLSearchParams, x: Exchanged): Promise<CallbackOutcome> {
  const { provider, row } = c;
  // The test read uses the new token before it is stored, so tokens and status are written together below.
  const check = await readAccount(ctx, provider, connectionView(provider, row, x.tokens), x.tokens.access_token, "oauth2");
  const otherAccount = check.ok ? accountChange(c, check.account) : undefined;
  if (otherAccount) return settleFailed(ctx, c, await accountMismatch(ctx, c, otherAccount, x.obtained));
  // A reconnect whose account cannot be read has nothing to compare: refused too, not connected unchecked.
  const unchecked = check.ok ? undefined : accountToVerify(c);
  if (unchecked) return settleFailed(ctx, c, await accountUnverified(ctx, c, unchecked, check.error ?? "no account facts", x.obtained));
  // The granted scopes are stored and shown: only scope-shaped values, none carrying a secret of this exchange.
  const exchangeSecrets = [
    provider.oauth?.client_secret,
    x.verifier,
    query.get("code") ?? undefined,
    c.state,
    x.tokens.access_token,
    x.tokens.refresh_token,
  ];
  const scopes = x.tokens.scope ? scopesGranted(x.tokens.scope, exchangeSecrets) : grantScopes(c.grant);
  const change = await settle(
    ctx,
    c,
    {
      to: "connected",
      reason: null,
      detail: check.ok ? null : `connected, but the test read failed: ${check.error}`,
      patch: {
        account: check.account,
        health: check.ok ? "healthy" : "unhealthy",
        last_checked_at: nowIso(ctx),
        expires_at: accessEndsAt(provider, x.tokens),
        scopes,
      },
      events: [{ type: "connected" }],
    },
    x.tokens,
  );
  if (!change) return cancelAfterConsent(ctx, c, x.obtained);
  ctx.log.info("connector connected", { connector_id: row.id, provider: provider.id, workspace_id: row.workspace_id });
  emitChange(ctx, change);
  return {
    kind: "connected",
    provider: c.name,
    account_label: accountLabel(check.account, provider.def.test.account_fields),
    connector: await getConnector(ctx.db, row.workspace_id, row.id),
    ...(check.ok ? {} : { warning: "The account's first test read failed; your assistant can run test_connector to check again." }),
  };
}

/** The connector stopped waiting while the person signed in: tokens just obtained are revoked, nothing else changes. */
async function cancelAfterConsent(ctx: GrantDeps, c: Claim, obtained?: TokenSet): Promise<CallbackOutcome> {
  const revocation = obtained
    ? await revokeTokens(ctx, c.provider, c.row, obtained)
    : { outcome: "not_needed" as const, detail: "no tokens were obtained" };
  const said = revocation.detail.replace(/; the tokens were wiped here anyway$/, "");
  await recordEvent(
    ctx.db,
    ctx,
    c.row,
    "grant_cancelled",
    `the person finished signing in after the connector stopped waiting for consent; ${said}`,
  );
  ctx.log.info("oauth grant finished after its connector was cancelled", {
    connector_id: c.row.id,
    provider: c.provider.id,
    provider_revocation: revocation.outcome,
  });
  return { kind: "cancelled", provider: c.name, provider_revocation: revocation.outcome };
}

/**
 * How the result page names the account: identifiers only (the first email, then the first id the
 * provider declares), never free text such as a portal or site name, which a provider or its user chose.
 */
export function accountLabel(account: Record<string, Json>, types: Readonly<Record<string, FactType>>): string | null {
  const fields = Object.entries(types);
  for (const wanted of ["email", "id"] as const) {
    for (const [k, type] of fields) {
      if (type !== wanted) continue;
      const v = account[k];
      const values = (Array.isArray(v) ? v.slice(0, 3) : [v]).filter(
        (x) => (typeof x === "string" && x !== "" && x !== "[redacted]") || typeof x === "number",
      );
      if (values.length > 0) return (k === "portal_id" ? "portal " : "") + values.map(String).join(", ");
    }
  }
  return null;
}
