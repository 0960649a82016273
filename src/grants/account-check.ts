/**
 * Reconnect in place keeps a connector on its provider account: the consenting account's stable id
 * (the fact each provider declares as `test.account_id`) must match the one the connector had.
 */
import type { AccountFacts, Json, TokenSet } from "../catalog/catalog.js";
import { revokeTokens } from "../credentials/revocation.js";
import type { GrantDeps } from "./deps.js";
import type { Claim, Failure } from "./exchange.js";

/** The identifier values of one fact (an id or a list of ids), as strings. */
function idValues(v: Json | undefined): string[] {
  const values = Array.isArray(v) ? v : [v];
  return values.filter((x) => (typeof x === "string" && x !== "") || typeof x === "number").map(String);
}

/**
 * The stable ids of the connector's former account and of the one that just consented, when they
 * differ (no id in common); undefined when they match, or when either side has none to compare.
 */
export function accountChange(c: Claim, account: AccountFacts): { had: string[]; got: string[]; field: string } | undefined {
  const field = c.provider.def.test.account_id;
  if (!field) return undefined;
  const had = idValues(c.row.account[field]);
  const got = idValues(account[field]);
  if (had.length === 0 || got.length === 0 || got.some((v) => had.includes(v))) return undefined;
  return { had, got, field };
}

/**
 * The stable ids a connector reconnected in place had, when the account that just consented
 * cannot be compared with them (its first test read failed): undefined for a connector that had
 * none (a new one, or one whose earlier reads failed too), which connects as before.
 */
export function accountToVerify(c: Claim): { had: string[]; field: string } | undefined {
  const field = c.provider.def.test.account_id;
  if (!field) return undefined;
  const had = idValues(c.row.account[field]);
  return had.length === 0 ? undefined : { had, field };
}

/** Revoke the tokens a refused consent obtained; the words for the detail. */
async function revokeObtained(ctx: GrantDeps, c: Claim, obtained: TokenSet): Promise<{ outcome: string; said: string }> {
  const revocation = await revokeTokens(ctx, c.provider, c.row, obtained);
  return { outcome: revocation.outcome, said: revocation.detail.replace(/; the tokens were wiped here anyway$/, "") };
}

const list = (v: string[]) => v.slice(0, 3).join(", ");

/**
 * A connector reconnected in place whose first test read with the new tokens failed: the account
 * that consented cannot be checked against the one it had, so it is treated like another account
 * would be (tokens revoked and not stored, the old tokens and account kept), with status_reason
 * provider_error, since the provider's API is what failed, and a detail saying to try again.
 */
export async function accountUnverified(
  ctx: GrantDeps,
  c: Claim,
  had: { had: string[]; field: string },
  readError: string,
  obtained: TokenSet,
): Promise<Failure> {
  const { outcome, said } = await revokeObtained(ctx, c, obtained);
  const detail =
    `The first test read with the new tokens failed (${readError}), so this server could not check that the account that consented ` +
    `is the ${c.name} account connector ${c.row.id} had (${had.field} ${list(had.had)}); reconnecting in place keeps a connector on its account, ` +
    `so nothing changed (the tokens just issued were not kept: ${said}; the connector's previous tokens are kept). ` +
    `Try again: call start_connector_oauth with connector_id "${c.row.id}" and ask the person to sign in with the original account. ` +
    `If the test read keeps failing, ${c.name}'s API is refusing these tokens: check the app's scopes, or the provider's status.`;
  ctx.log.info("reconnect refused: the consenting account could not be checked", {
    connector_id: c.row.id,
    provider: c.provider.id,
    provider_revocation: outcome,
  });
  return { reason: "provider_error", detail, event: "grant_failed", outcome: { kind: "failed", provider: c.name, reason: detail } };
}

/**
 * Another provider account consented to a connector reconnected in place: the tokens just obtained
 * are revoked and never stored, the connector keeps its old tokens and account (status_reason
 * account_mismatch), and the detail says how to connect the other account.
 */
export async function accountMismatch(
  ctx: GrantDeps,
  c: Claim,
  change: { had: string[]; got: string[]; field: string },
  obtained: TokenSet,
): Promise<Failure> {
  const { outcome, said } = await revokeObtained(ctx, c, obtained);
  const detail =
    `The account that consented (${change.field} ${list(change.got)}) is not the ${c.name} account connector ${c.row.id} had ` +
    `(${change.field} ${list(change.had)}); reconnecting in place keeps a connector on its account, so nothing changed ` +
    `(the tokens just issued were not kept: ${said}; the connector's previous tokens are kept). ` +
    `To connect the other account, start a new connector with start_connector_oauth without connector_id. ` +
    `To reconnect this one, ask the person to sign in with the original account, then call start_connector_oauth with connector_id "${c.row.id}".`;
  ctx.log.info("reconnect refused: another provider account consented", {
    connector_id: c.row.id,
    provider: c.provider.id,
    provider_revocation: outcome,
  });
  return { reason: "account_mismatch", detail, event: "grant_failed", outcome: { kind: "failed", provider: c.name, reason: detail } };
}
