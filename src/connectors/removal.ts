import type { Provider, TokenSet } from "../catalog/catalog.js";
import type { CredentialDeps } from "../credentials/deps.js";
import { type ProviderRevocation, revokeTokens } from "../credentials/revocation.js";
import { readSecret, unreadableSecret } from "../credentials/secrets.js";
import { VaultError } from "../credentials/vault.js";
import { type ConnectorObject, getConnector, getConnectorRow, recordEvent } from "../store/connectors.js";
import type { DB } from "../store/db.js";
import { dialectOf } from "../store/dialect.js";
import type { ConnectorRow } from "../store/schema.js";
import { emitChange, type StatusChange, transition } from "../store/status.js";
import { writeTransaction } from "../store/write-transaction.js";

/** Best-effort revocation of the stored grant at the provider: RFC 7009, or the provider's own hook. */
async function revokeAtProvider(
  ctx: CredentialDeps,
  row: ConnectorRow,
  provider: Provider,
): Promise<{ outcome: ProviderRevocation; detail: string; seenVersion?: number | null }> {
  const name = provider.def.name;
  let stored: Awaited<ReturnType<typeof readSecret>>;
  try {
    stored = await readSecret(ctx, ctx.db, row.id);
  } catch (err) {
    ctx.log.warn("stored secret could not be opened for revocation", { connector_id: row.id, error: err });
    return { outcome: "failed", detail: "the stored tokens could not be decrypted, so they were not revoked at the provider" };
  }
  if (!stored) return { outcome: "not_needed", detail: "no tokens were stored", seenVersion: null };
  if (stored.secret.kind === "api_key") {
    return {
      outcome: "not_offered",
      detail: `the API key was wiped here; it keeps working at ${name} until the person deletes it there`,
      seenVersion: stored.version,
    };
  }
  return { ...(await revokeTokens(ctx, provider, row, stored.secret.tokens)), seenVersion: stored.version };
}

/**
 * Tokens stored after revokeAtProvider looked (a callback or a refresh that finished while it
 * talked to the provider). Read inside the transaction that wipes them; revoked after it commits.
 */
async function tokensStoredSince(
  ctx: CredentialDeps,
  trx: DB,
  connectorId: string,
  seenVersion: number | null | undefined,
): Promise<TokenSet | undefined> {
  if (seenVersion === undefined) return undefined;
  let now: Awaited<ReturnType<typeof readSecret>>;
  try {
    now = await readSecret(ctx, trx, connectorId);
  } catch (err) {
    // A secret that no longer opens is not "nothing stored": stop, logged, before anything is wiped.
    if (err instanceof VaultError) throw unreadableSecret(ctx.log, connectorId, err, "while wiping it");
    throw err;
  }
  return now && now.version !== seenVersion && now.secret.kind === "oauth2" ? now.secret.tokens : undefined;
}

async function revokeLate(
  ctx: CredentialDeps,
  provider: Provider,
  row: ConnectorRow,
  tokens: TokenSet | undefined,
  outcome: ProviderRevocation,
): Promise<ProviderRevocation> {
  if (!tokens) return outcome;
  const late = await revokeTokens(ctx, provider, row, tokens);
  ctx.log.info("tokens stored during the revocation were revoked too", {
    connector_id: row.id,
    provider: provider.id,
    provider_revocation: late.outcome,
  });
  return outcome === "not_needed" || outcome === "revoked" ? late.outcome : outcome;
}

/** SQLite: shrink the WAL so wiped secrets do not linger in old frames (secure_delete covers the main file). */
async function flushWal(ctx: CredentialDeps): Promise<void> {
  try {
    await dialectOf(ctx.db).flushDeleted(ctx.db);
  } catch (err) {
    ctx.log.warn("wal checkpoint after wiping secrets failed", { error: err });
  }
}

/** After the wipe committed: flush the WAL, revoke tokens stored meanwhile, log, tell waiters. */
async function finishRemoval(
  ctx: CredentialDeps,
  provider: Provider,
  row: ConnectorRow,
  wiped: { late: TokenSet | undefined; change: (StatusChange | { workspace_id: string; connector_id: string; status: string }) | null },
  first: ProviderRevocation,
  what: "revoked" | "deleted",
): Promise<ProviderRevocation> {
  await flushWal(ctx);
  const outcome = await revokeLate(ctx, provider, row, wiped.late, first);
  ctx.log.info(`connector ${what}`, { connector_id: row.id, provider: provider.id, provider_revocation: outcome });
  emitChange(ctx, wiped.change);
  return outcome;
}

/** Revoke at the provider where it can, wipe the tokens, status `revoked`. */
export async function revokeConnector(
  ctx: CredentialDeps,
  workspaceId: string,
  connectorId: string,
): Promise<{ connector: ConnectorObject; provider_revocation: ProviderRevocation }> {
  const row = await getConnectorRow(ctx.db, workspaceId, connectorId);
  if (row.status === "revoked")
    return { connector: await getConnector(ctx.db, workspaceId, connectorId), provider_revocation: "not_needed" };
  const provider = ctx.catalog.get(row.provider);
  const { outcome: first, detail, seenVersion } = await revokeAtProvider(ctx, row, provider);
  const wiped = await writeTransaction(ctx.db, async (trx) => {
    await trx.deleteFrom("oauth_grants").where("connector_id", "=", row.id).execute();
    const late = await tokensStoredSince(ctx, trx, row.id, seenVersion);
    // Primaries stay: resolve_connector then says the primary was revoked instead of silently picking another.
    await trx.deleteFrom("connector_secrets").where("connector_id", "=", row.id).execute();
    const current = await getConnectorRow(trx, workspaceId, connectorId);
    // Revoked by someone else meanwhile: the wipe above was all that was left to do.
    if (current.status === "revoked") return { late, change: null };
    const change = await transition(trx, ctx, current, {
      move: "revoke",
      to: "revoked",
      reason: "revoked",
      detail: `Revoked with revoke_connector (${detail}).`,
      patch: { health: "unknown", expires_at: null },
      events: [{ type: "revoked", detail }],
    });
    return { late, change };
  });
  const outcome = await finishRemoval(ctx, provider, row, wiped, first, "revoked");
  return { connector: await getConnector(ctx.db, workspaceId, connectorId), provider_revocation: outcome };
}

/** Best-effort revoke, then remove the row, its secrets, grants and primaries. The event trail keeps a `deleted` entry. */
export async function deleteConnector(
  ctx: CredentialDeps,
  workspaceId: string,
  connectorId: string,
): Promise<{ deleted: true; connector_id: string; provider_revocation: ProviderRevocation }> {
  const row = await getConnectorRow(ctx.db, workspaceId, connectorId);
  const provider = ctx.catalog.get(row.provider);
  const {
    outcome: first,
    detail,
    seenVersion,
  } = row.status === "revoked"
    ? { outcome: "not_needed" as const, detail: "already revoked", seenVersion: null }
    : await revokeAtProvider(ctx, row, provider);
  const late = await writeTransaction(ctx.db, async (trx) => {
    await trx.deleteFrom("primaries").where("connector_id", "=", row.id).execute();
    const since = await tokensStoredSince(ctx, trx, row.id, seenVersion);
    await trx.deleteFrom("connector_secrets").where("connector_id", "=", row.id).execute();
    await trx.deleteFrom("oauth_grants").where("connector_id", "=", row.id).execute();
    await trx.deleteFrom("connectors").where("id", "=", row.id).where("workspace_id", "=", workspaceId).execute();
    await recordEvent(trx, ctx, row, "deleted", detail);
    return since;
  });
  // Not a status: the row is gone. Waiters learn it from this change.
  const gone = { workspace_id: row.workspace_id, connector_id: row.id, status: "deleted" };
  const outcome = await finishRemoval(ctx, provider, row, { late, change: gone }, first, "deleted");
  return { deleted: true, connector_id: row.id, provider_revocation: outcome };
}
