/**
 * The refresh engine: the one place that hands out a usable credential for a connector.
 *
 * - Before use, an access token within a margin of its expiry is refreshed; after a 401 the
 *   caller asks again with the version it used and gets a refreshed one (retry once); a token
 *   without a known lifetime is probed with the test read when it has not been verified lately.
 * - Single-flight: in one process, concurrent callers share one promise per connector
 *   (`ctx.refresh.flights`); across processes, a lease on the connector_secrets row
 *   (`lease_owner`, `lease_until`) lets one refresher at a time call the provider, and the write
 *   is a compare-and-swap on `version` and the lease, so a slow refresher whose lease ran out
 *   cannot overwrite a newer token.
 * - The new access token and a rotated refresh token are sealed in one ciphertext and written in
 *   one transaction, before anything else happens with them.
 * - `invalid_grant` turns the connector `expired` (the person must consent again); network
 *   errors and 5xx are retried with backoff and leave it `connected` but `unhealthy`.
 */
import * as client from "openid-client";
import type { ConnectionView, Provider, TokenSet } from "../catalog/catalog.js";
import { recordEvent } from "../store/connectors.js";
import { nowIso } from "../common/clock.js";
import type { ConnectorRow } from "../store/schema.js";
import { ConnectorError } from "../common/errors.js";
import { readAccount, type AccountCheck } from "../catalog/test-read.js";
import { newId } from "../common/ids.js";
import { accessEndsAt } from "./tokens.js";
import { oauthConfiguration } from "./oauth-client.js";
import { tokenSetFrom } from "./tokens.js";
import { describeProviderFailure } from "../catalog/provider-errors.js";
import { revokeTokens } from "./revocation.js";
import { readSecret, sealSecret } from "./secrets.js";
import { assertUsable } from "../store/status.js";
import { connectionView } from "../catalog/connection.js";
import { markExpired } from "../store/status.js";
import { refreshMarginS } from "./tokens.js";
import { renewalOf } from "./tokens.js";
import type { Credential } from "./tokens.js";
import type { CredentialDeps } from "./deps.js";
import { reconsentDetail } from "../store/status.js";

/** A token without a known lifetime is probed with the test read when unverified for this long. */
export const PROBE_AFTER_MS = 15 * 60_000;
/** Attempts at the token endpoint for one refresh when it fails with a network error or 5xx. */
export const REFRESH_ATTEMPTS = 3;
export const RETRY_BASE_MS = 200;

/** status_detail prefix for a refresh that keeps failing for a transient reason. */
const TRANSIENT_MARK = "refresh_failing:";

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

async function loadCredential(ctx: CredentialDeps, row: ConnectorRow, provider: Provider): Promise<Credential> {
  const stored = await readSecret(ctx, ctx.db, row.id);
  if (!stored) {
    throw new ConnectorError("invalid_state", `Connector ${row.id} (${row.label}) has no stored credentials; connect the account again.`);
  }
  const { secret, version } = stored;
  if (secret.kind === "api_key") {
    return { connector_id: row.id, auth_type: "api_key", token: secret.api_key, version, view: connectionView(provider, row), refreshed: false };
  }
  return {
    connector_id: row.id,
    auth_type: "oauth2",
    token: secret.tokens.access_token,
    version,
    tokens: secret.tokens,
    view: connectionView(provider, row, secret.tokens),
    refreshed: false,
  };
}

/**
 * A usable credential for a connected connector, refreshed first when needed.
 *
 * @param opts.force refresh now (refresh_connector); joins a refresh already in flight.
 * @param opts.staleVersion the version of a token the provider just rejected (401): refresh unless it was already replaced.
 * @param opts.probe probe a token of unknown lifetime with the test read when unverified for a while (default true).
 */
export async function getAccessToken(
  ctx: CredentialDeps,
  row: ConnectorRow,
  opts: { force?: boolean; staleVersion?: number; probe?: boolean } = {},
): Promise<Credential> {
  assertUsable(row, "use");
  const provider = ctx.catalog.get(row.provider);
  const current = await loadCredential(ctx, row, provider);
  if (current.auth_type === "api_key" || !current.tokens) return current;
  const tokens = current.tokens;
  const rejected = opts.staleVersion !== undefined;
  if (rejected && opts.staleVersion !== current.version) return current; // already replaced since the 401
  const nowS = ctx.clock() / 1000;
  const expiresAt = tokens.expires_at;
  const expired = expiresAt !== undefined && expiresAt <= nowS;
  const due = expiresAt !== undefined && expiresAt - nowS <= refreshMarginS(tokens);
  const name = provider.def.name;

  switch (renewalOf(provider, tokens)) {
    case "non_expiring":
      // The provider says its tokens do not expire: never refreshed. A rejection means the grant is gone.
      if (rejected) {
        await markExpired(ctx, row, reconsentDetail(provider, row, `${name} no longer accepts the stored access token (it was revoked or the app was removed).`));
        throw new ConnectorError("invalid_state", `${name} rejected the stored token; the connector is now expired. Ask the person to consent again.`);
      }
      return current;
    case "reconsent":
      if (expired || rejected) {
        const why = expired ? `the access token ${name} granted ended at ${new Date((expiresAt ?? 0) * 1000).toISOString()} and ${name} cannot renew it.` : `${name} rejected the access token and this grant has no refresh token.`;
        await markExpired(ctx, row, reconsentDetail(provider, row, why));
        throw new ConnectorError("invalid_state", `Connector ${row.id} has expired: ${why} Ask the person to consent again with start_connector_oauth.`);
      }
      return current;
    case "refresh_token":
      if (opts.force || due || rejected) return refreshSingleFlight(ctx, row, provider, current.version);
      if (expiresAt === undefined && opts.probe !== false && !recentlyVerified(ctx, row)) {
        const check = await readAccount(ctx, provider, current.view, current.token, "oauth2");
        await saveCheck(ctx, row, check);
        if (check.status === 401) return refreshSingleFlight(ctx, row, provider, current.version);
      }
      return current;
  }
}

function recentlyVerified(ctx: CredentialDeps, row: ConnectorRow): boolean {
  if (row.health !== "healthy" || !row.last_checked_at) return false;
  return ctx.clock() - Date.parse(row.last_checked_at) < PROBE_AFTER_MS;
}

/**
 * Call a provider with the connector's credential; after a 401, refresh (or learn that the
 * connector expired) and retry once.
 */
export async function withCredential<T extends { status: number | null }>(
  ctx: CredentialDeps,
  row: ConnectorRow,
  call: (cred: Credential) => Promise<T>,
  opts: { probe?: boolean } = {},
): Promise<{ result: T; credential: Credential }> {
  let credential = await getAccessToken(ctx, row, { probe: opts.probe ?? true });
  let result = await call(credential);
  if (result.status === 401 && credential.auth_type === "oauth2") {
    credential = await getAccessToken(ctx, row, { staleVersion: credential.version });
    result = await call(credential);
  }
  return { result, credential };
}

/** Record a test read's outcome on the connector (health, last check, account facts). */
export async function saveCheck(ctx: CredentialDeps, row: Pick<ConnectorRow, "id" | "workspace_id">, check: AccountCheck, checkedAt = nowIso(ctx)): Promise<void> {
  await ctx.db.transaction().execute(async (trx) => {
    await trx
      .updateTable("connectors")
      .set({
        health: check.ok ? "healthy" : "unhealthy",
        last_checked_at: checkedAt,
        updated_at: checkedAt,
        ...(check.ok ? { account: JSON.stringify(check.account) } : {}),
      })
      .where("id", "=", row.id)
      .execute();
    // The detail explains an unhealthy connected connector; other statuses keep their own detail.
    await trx
      .updateTable("connectors")
      .set({ status_detail: check.ok ? null : `connected, but the test read failed: ${check.error ?? "unknown reason"}` })
      .where("id", "=", row.id)
      .where("status", "=", "connected")
      .execute();
    await recordEvent(trx, ctx, row, "tested", check.ok ? "ok" : `failed: ${check.error ?? "unknown reason"}`);
  });
}

function refreshSingleFlight(ctx: CredentialDeps, row: ConnectorRow, provider: Provider, seenVersion: number): Promise<Credential> {
  const inFlight = ctx.refresh.flights.get(row.id);
  if (inFlight) return inFlight.then((c) => ({ ...c, refreshed: true }));
  const flight = refreshWithLease(ctx, row, provider, seenVersion).finally(() => ctx.refresh.flights.delete(row.id));
  ctx.refresh.flights.set(row.id, flight);
  return flight;
}

type GrantFailure = { kind: "invalid_grant" | "transient" | "permanent"; text: string };

function classifyGrantError(err: unknown): GrantFailure {
  // Only a registered error code and the status survive: providers may echo the request (secrets included) in their error text.
  const f = describeProviderFailure(err);
  if (f.code === "invalid_grant") return { kind: "invalid_grant", text: f.text };
  if (f.status === undefined) return { kind: err instanceof client.ClientError ? "permanent" : "transient", text: f.text };
  if (f.status >= 500 || f.status === 429 || f.code === "temporarily_unavailable") return { kind: "transient", text: f.text };
  return { kind: "permanent", text: f.text };
}

async function refreshWithLease(ctx: CredentialDeps, row: ConnectorRow, provider: Provider, seenVersion: number): Promise<Credential> {
  const leaseMs = ctx.refresh.leaseMs;
  const owner = newId("lease", 8);
  const giveUpAt = Date.now() + leaseMs + 5_000;
  const name = provider.def.name;

  // Take the lease, or wait for whoever holds it (another process) to finish.
  for (;;) {
    const now = ctx.clock();
    const took = await ctx.db
      .updateTable("connector_secrets")
      .set({ lease_owner: owner, lease_until: now + leaseMs })
      .where("connector_id", "=", row.id)
      .where((eb) => eb.or([eb("lease_until", "is", null), eb("lease_until", "<=", now)]))
      .executeTakeFirst();
    if (Number(took.numUpdatedRows) === 1) break;
    const cur = await ctx.db.selectFrom("connector_secrets").select("version").where("connector_id", "=", row.id).executeTakeFirst();
    if (!cur) throw new ConnectorError("invalid_state", `Connector ${row.id} has no stored credentials any more (revoked or deleted).`);
    if (cur.version !== seenVersion) return { ...(await freshCredential(ctx, row.id, provider)), refreshed: true };
    if (Date.now() > giveUpAt) {
      throw new ConnectorError("provider_error", `Another process has been refreshing ${name} access for connector ${row.id} for too long. Try again shortly.`, { retryable: true });
    }
    await sleep(30 + Math.floor(Math.random() * 40));
  }

  const release = () =>
    ctx.db.updateTable("connector_secrets").set({ lease_owner: null, lease_until: null }).where("connector_id", "=", row.id).where("lease_owner", "=", owner).execute();
  try {
    const fresh = await freshCredential(ctx, row.id, provider);
    if (fresh.version !== seenVersion) return { ...fresh, refreshed: true }; // someone refreshed since the caller looked
    const tokens = fresh.tokens;
    if (!tokens?.refresh_token) throw new ConnectorError("invalid_state", `Connector ${row.id} has no refresh token.`);

    const config = oauthConfiguration(ctx, provider);
    let response: client.TokenEndpointResponse | undefined;
    let failure: GrantFailure | undefined;
    for (let attempt = 1; attempt <= REFRESH_ATTEMPTS; attempt++) {
      if (attempt > 1) {
        await sleep(RETRY_BASE_MS * 2 ** (attempt - 2) + Math.floor(Math.random() * 50));
        const renewed = await ctx.db
          .updateTable("connector_secrets")
          .set({ lease_until: ctx.clock() + leaseMs })
          .where("connector_id", "=", row.id)
          .where("lease_owner", "=", owner)
          .executeTakeFirst();
        if (Number(renewed.numUpdatedRows) !== 1) break; // lost the lease (or the connector): stop calling the provider
      }
      try {
        response = await client.refreshTokenGrant(config, tokens.refresh_token);
        failure = undefined;
        break;
      } catch (err) {
        failure = classifyGrantError(err);
        ctx.log.warn("token refresh attempt failed", { connector_id: row.id, provider: provider.id, attempt, reason: failure.text });
        if (failure.kind !== "transient") break;
      }
    }

    if (!response) {
      const f = failure ?? { kind: "transient", text: "the refresh lease was lost" };
      if (f.kind === "invalid_grant") {
        await recordEvent(ctx.db, ctx, row, "refresh_failed", `invalid_grant: ${name} no longer accepts the refresh token`);
        await markExpired(ctx, row, reconsentDetail(provider, row, `${name} refused the refresh token (invalid_grant): the person revoked access, or the grant ended.`));
        throw new ConnectorError(
          "provider_error",
          `${name} refused to refresh connector ${row.id} (invalid_grant); it is now expired. Ask the person to consent again with start_connector_oauth (connector_id "${row.id}").`,
        );
      }
      const detail =
        f.kind === "transient"
          ? `${TRANSIENT_MARK} ${name} could not refresh the access token (${f.text}) after ${REFRESH_ATTEMPTS} attempts; it is retried on the next use.`
          : `${TRANSIENT_MARK} ${name} refused the refresh (${f.text}); the server's OAuth app configuration may be wrong.`;
      await ctx.db
        .updateTable("connectors")
        .set({ health: "unhealthy", status_detail: detail, updated_at: nowIso(ctx) })
        .where("id", "=", row.id)
        .where("status", "=", "connected")
        .execute();
      await recordEvent(ctx.db, ctx, row, "refresh_failed", `${f.kind}: ${f.text}`);
      throw new ConnectorError("provider_error", `Could not refresh ${name} access for connector ${row.id}: ${f.text}. ${f.kind === "transient" ? "Try again shortly." : "An operator should check the OAuth app credentials."}`, {
        retryable: f.kind === "transient",
      });
    }

    // First thing after the grant: persist the new tokens (a rotated refresh token included) in one transaction.
    const next = tokenSetFrom(provider, response, ctx.clock(), tokens);
    const ciphertext = sealSecret(ctx, row.id, { kind: "oauth2", tokens: next });
    const at = nowIso(ctx);
    const written = await ctx.db.transaction().execute(async (trx) => {
      const upd = await trx
        .updateTable("connector_secrets")
        .set((eb) => ({ ciphertext, version: eb("version", "+", 1), access_expires_at: next.expires_at ?? null, lease_owner: null, lease_until: null, updated_at: at }))
        .where("connector_id", "=", row.id)
        .where("version", "=", seenVersion)
        .where("lease_owner", "=", owner)
        .executeTakeFirst();
      if (Number(upd.numUpdatedRows) !== 1) return false;
      const current = await trx.selectFrom("connectors").select(["status_detail"]).where("id", "=", row.id).executeTakeFirst();
      const clearFailure = current?.status_detail?.startsWith(TRANSIENT_MARK) ?? false;
      await trx
        .updateTable("connectors")
        .set({ expires_at: accessEndsAt(provider, next), updated_at: at, ...(clearFailure ? { status_detail: null, health: "healthy" as const } : {}) })
        .where("id", "=", row.id)
        .execute();
      const rotated = next.refresh_token !== tokens.refresh_token ? "; refresh token rotated" : "";
      await recordEvent(trx, ctx, row, "refreshed", `access token renewed${next.expires_at ? ` until ${new Date(next.expires_at * 1000).toISOString()}` : ""}${rotated}`);
      return true;
    });
    if (!written) {
      const stillStored = await ctx.db.selectFrom("connector_secrets").select("connector_id").where("connector_id", "=", row.id).executeTakeFirst();
      if (!stillStored) {
        // Revoked or deleted while the provider answered: the tokens it just issued must not stay valid.
        const { outcome } = await revokeTokens(ctx, provider, row, next);
        ctx.log.info("refreshed tokens revoked: the connector was revoked or deleted during the refresh", { connector_id: row.id, provider: provider.id, provider_revocation: outcome });
        throw new ConnectorError("invalid_state", `Connector ${row.id} was revoked or deleted while its access token was being refreshed; nothing was stored.`);
      }
      // Our lease ran out and another refresher wrote first: its token wins, ours is dropped.
      ctx.log.warn("refreshed token discarded: a newer one was stored meanwhile", { connector_id: row.id, provider: provider.id });
      return { ...(await freshCredential(ctx, row.id, provider)), refreshed: true };
    }
    ctx.log.info("access token refreshed", { connector_id: row.id, provider: provider.id });
    return {
      connector_id: row.id,
      auth_type: "oauth2",
      token: next.access_token,
      version: seenVersion + 1,
      tokens: next,
      view: connectionView(provider, row, next),
      refreshed: true,
    };
  } finally {
    await release();
  }
}

async function freshCredential(ctx: CredentialDeps, connectorId: string, provider: Provider): Promise<Credential> {
  const row = await ctx.db.selectFrom("connectors").selectAll().where("id", "=", connectorId).executeTakeFirst();
  if (!row) throw new ConnectorError("not_found", `Connector ${connectorId} no longer exists.`);
  assertUsable(row, "refresh");
  return loadCredential(ctx, row, provider);
}
