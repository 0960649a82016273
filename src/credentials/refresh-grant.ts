/**
 * One refresh-token grant across processes: take the connector's lease, call the token endpoint,
 * persist the answer with a compare-and-swap, and sort out a lost race (see refresh.ts).
 */
import type * as client from "openid-client";
import type { Provider, TokenSet } from "../catalog/catalog.js";
import { nowIso } from "../common/clock.js";
import { ConnectorError } from "../common/errors.js";
import { newId } from "../common/ids.js";
import { recordEvent } from "../store/connectors.js";
import type { ConnectorRow } from "../store/schema.js";
import { recheckConnected, reconnectAdvice } from "../store/status.js";
import { writeTransaction } from "../store/write-transaction.js";
import { credentialFrom, expiredNow, freshCredential } from "./credential.js";
import type { CredentialDeps } from "./deps.js";
import { isoFromEpochSeconds, logOddLifetimes } from "./lifetimes.js";
import { oauthConfiguration } from "./oauth-client.js";
import { revokeTokens } from "./revocation.js";
import { sealSecret } from "./secrets.js";
import { accessEndsAt, type Credential, classifyGrantError, type GrantFailure, tokenSetFrom } from "./tokens.js";

/** Attempts at the token endpoint for one refresh when it fails with a network error or 5xx. */
export const REFRESH_ATTEMPTS = 3;
export const RETRY_BASE_MS = 200;

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * One refresh across processes: take the connector's lease (or use the token another process
 * just stored), call the token endpoint, persist the answer with a compare-and-swap, and sort out
 * a lost race. The lease is released whatever happens.
 */
export async function refreshWithLease(
  ctx: CredentialDeps,
  row: ConnectorRow,
  provider: Provider,
  seenVersion: number,
): Promise<Credential> {
  const lease = await acquireLease(ctx, row, provider, seenVersion);
  if ("credential" in lease) return lease.credential;
  try {
    const fresh = await freshCredential(ctx, row.id, provider);
    if (fresh.version !== seenVersion) return { ...fresh, refreshed: true }; // someone refreshed since the caller looked
    const tokens = fresh.tokens;
    if (!tokens?.refresh_token)
      throw new ConnectorError("invalid_state", `Connector ${row.id} has no refresh token; ${reconnectAdvice(row)}.`);
    const answer = await callTokenEndpoint(ctx, row, provider, lease, tokens.refresh_token);
    if ("failure" in answer) throw await refreshFailed(ctx, row, provider, answer.failure);
    // First thing after the grant: persist the new tokens (a rotated refresh token included) in one transaction.
    const next = tokenSetFrom(
      provider,
      answer.response,
      ctx.clock(),
      tokens,
      logOddLifetimes(ctx.log, { connector_id: row.id, provider: provider.id, during: "refresh" }),
    );
    if (!(await persistRefreshed(ctx, row, provider, lease, seenVersion, tokens, next))) return lostRace(ctx, row, provider, next);
    ctx.log.info("access token refreshed", { connector_id: row.id, provider: provider.id });
    return credentialFrom(provider, row, { kind: "oauth2", tokens: next }, seenVersion + 1, true);
  } finally {
    await ctx.db
      .updateTable("connector_secrets")
      .set({ lease_owner: null, lease_until: null })
      .where("connector_id", "=", row.id)
      .where("lease_owner", "=", lease.owner)
      .execute();
  }
}

interface Lease {
  owner: string;
}

/**
 * Take the connector's refresh lease, or wait for whoever holds it (another process) to finish:
 * when the stored version moved meanwhile, that process's token is the answer.
 */
async function acquireLease(
  ctx: CredentialDeps,
  row: ConnectorRow,
  provider: Provider,
  seenVersion: number,
): Promise<Lease | { credential: Credential }> {
  const leaseMs = ctx.refresh.leaseMs;
  const owner = newId("lease", 8);
  const giveUpAt = Date.now() + leaseMs + ctx.refresh.waitSlackMs;
  for (;;) {
    const now = ctx.clock();
    const took = await ctx.db
      .updateTable("connector_secrets")
      .set({ lease_owner: owner, lease_until: now + leaseMs })
      .where("connector_id", "=", row.id)
      .where((eb) => eb.or([eb("lease_until", "is", null), eb("lease_until", "<=", now)]))
      .executeTakeFirst();
    if (Number(took.numUpdatedRows) === 1) return { owner };
    const cur = await ctx.db.selectFrom("connector_secrets").select("version").where("connector_id", "=", row.id).executeTakeFirst();
    if (!cur) throw new ConnectorError("invalid_state", `Connector ${row.id} has no stored credentials any more (revoked or deleted).`);
    if (cur.version !== seenVersion) return { credential: { ...(await freshCredential(ctx, row.id, provider)), refreshed: true } };
    if (Date.now() > giveUpAt) {
      // A local wait, not the provider's doing: another process holds the lease.
      throw new ConnectorError(
        "conflict",
        `Another process has been refreshing ${provider.def.name} access for connector ${row.id} for too long. Try again shortly.`,
        { retryable: true },
      );
    }
    await sleep(30 + Math.floor(Math.random() * 40));
  }
}

/** The refresh-token grant, retried with backoff on transient failures while the lease is still ours. */
async function callTokenEndpoint(
  ctx: CredentialDeps,
  row: ConnectorRow,
  provider: Provider,
  lease: Lease,
  refreshToken: string,
): Promise<{ response: client.TokenEndpointResponse } | { failure: GrantFailure }> {
  // The host the grant started on (a Salesforce sandbox or My Domain, an Outlook tenant).
  const { client: lib, config } = await oauthConfiguration(ctx, provider, row.oauth_endpoints);
  let failure: GrantFailure = { kind: "transient", text: "the refresh lease was lost" };
  for (let attempt = 1; attempt <= REFRESH_ATTEMPTS; attempt++) {
    if (attempt > 1) {
      await sleep(RETRY_BASE_MS * 2 ** (attempt - 2) + Math.floor(Math.random() * 50));
      const renewed = await ctx.db
        .updateTable("connector_secrets")
        .set({ lease_until: ctx.clock() + ctx.refresh.leaseMs })
        .where("connector_id", "=", row.id)
        .where("lease_owner", "=", lease.owner)
        .executeTakeFirst();
      if (Number(renewed.numUpdatedRows) !== 1) return { failure: { kind: "transient", text: "the refresh lease was lost" } }; // stop calling the provider
    }
    try {
      return { response: await lib.refreshTokenGrant(config, refreshToken) };
    } catch (err) {
      failure = classifyGrantError(err);
      ctx.log.warn("token refresh attempt failed", { connector_id: row.id, provider: provider.id, attempt, reason: failure.text });
      if (failure.kind !== "transient") break;
    }
  }
  return { failure };
}

/**
 * Record why a refresh failed and the error to throw: `invalid_grant` expires the connector
 * (`invalid_state`); anything else leaves it connected but unhealthy, with status_reason
 * `refresh_failing` until a refresh succeeds (`provider_error`).
 */
async function refreshFailed(ctx: CredentialDeps, row: ConnectorRow, provider: Provider, f: GrantFailure): Promise<ConnectorError> {
  const name = provider.def.name;
  if (f.kind === "invalid_grant") {
    await recordEvent(ctx.db, ctx, row, "refresh_failed", `invalid_grant: ${name} no longer accepts the refresh token`);
    return expiredNow(
      ctx,
      row,
      provider,
      `${name} refused the refresh token (invalid_grant): the person revoked access, or the grant ended.`,
    );
  }
  const detail =
    f.kind === "transient"
      ? `${name} could not refresh the access token (${f.text}) after ${REFRESH_ATTEMPTS} attempts; it is retried on the next use.`
      : `${name} refused the refresh (${f.text}); the server's OAuth app configuration may be wrong.`;
  await writeTransaction(
    ctx.db,
    async (trx) => {
      await recheckConnected(trx, ctx, row, { reason: "refresh_failing", detail, patch: { health: "unhealthy" } });
      await recordEvent(trx, ctx, row, "refresh_failed", `${f.kind}: ${f.text}`);
    },
    { queueOn: row.id },
  );
  const next = f.kind === "transient" ? "Try again shortly." : "An operator should check the OAuth app credentials.";
  return new ConnectorError("provider_error", `Could not refresh ${name} access for connector ${row.id}: ${f.text}. ${next}`, {
    retryable: f.kind === "transient",
  });
}

/**
 * Store the new tokens: a compare-and-swap on the version the refresh started from and on our
 * lease, so a refresher whose lease ran out cannot overwrite a newer token. False when it lost.
 */
async function persistRefreshed(
  ctx: CredentialDeps,
  row: ConnectorRow,
  provider: Provider,
  lease: Lease,
  seenVersion: number,
  previous: TokenSet,
  next: TokenSet,
): Promise<boolean> {
  const ciphertext = sealSecret(ctx, row.id, { kind: "oauth2", tokens: next });
  const at = nowIso(ctx);
  return writeTransaction(
    ctx.db,
    async (trx) => {
      const upd = await trx
        .updateTable("connector_secrets")
        .set((eb) => ({
          ciphertext,
          version: eb("version", "+", 1),
          access_expires_at: next.expires_at ?? null,
          lease_owner: null,
          lease_until: null,
          updated_at: at,
        }))
        .where("connector_id", "=", row.id)
        .where("version", "=", seenVersion)
        .where("lease_owner", "=", lease.owner)
        .executeTakeFirst();
      if (Number(upd.numUpdatedRows) !== 1) return false;
      await trx
        .updateTable("connectors")
        .set({ expires_at: accessEndsAt(provider, next), updated_at: at })
        .where("id", "=", row.id)
        .execute();
      // A refresh that works again heals a connector marked refresh_failing.
      await recheckConnected(trx, ctx, row, {
        reason: null,
        detail: null,
        patch: { health: "healthy" },
        where: (eb) => eb("status_reason", "=", "refresh_failing"),
      });
      const rotated = next.refresh_token !== previous.refresh_token ? "; refresh token rotated" : "";
      await recordEvent(
        trx,
        ctx,
        row,
        "refreshed",
        `access token renewed${next.expires_at ? ` until ${isoFromEpochSeconds(next.expires_at)}` : ""}${rotated}`,
      );
      return true;
    },
    { queueOn: row.id },
  );
}

/** The compare-and-swap lost: the connector was revoked or deleted meanwhile, or a newer token was stored. */
async function lostRace(ctx: CredentialDeps, row: ConnectorRow, provider: Provider, next: TokenSet): Promise<Credential> {
  const stillStored = await ctx.db
    .selectFrom("connector_secrets")
    .select("connector_id")
    .where("connector_id", "=", row.id)
    .executeTakeFirst();
  if (!stillStored) {
    // Revoked or deleted while the provider answered: the tokens it just issued must not stay valid.
    const { outcome } = await revokeTokens(ctx, provider, row, next);
    ctx.log.info("refreshed tokens revoked: the connector was revoked or deleted during the refresh", {
      connector_id: row.id,
      provider: provider.id,
      provider_revocation: outcome,
    });
    throw new ConnectorError(
      "invalid_state",
      `Connector ${row.id} was revoked or deleted while its access token was being refreshed; nothing was stored.`,
    );
  }
  // Our lease ran out and another refresher wrote first: its token wins, ours is dropped.
  ctx.log.warn("refreshed token discarded: a newer one was stored meanwhile", { connector_id: row.id, provider: provider.id });
  return { ...(await freshCredential(ctx, row.id, provider)), refreshed: true };
}
