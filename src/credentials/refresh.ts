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
 * - `invalid_grant` turns the connector `expired` (the person must consent again; `invalid_state`); network
 *   errors and 5xx are retried with backoff and leave it `connected` but `unhealthy`.
 */
import type { Provider } from "../catalog/catalog.js";
import { type AccountCheck, readAccount } from "../catalog/test-read.js";
import { nowIso } from "../common/clock.js";
import { connectorPatch, recordEvent } from "../store/connectors.js";
import type { ConnectorRow } from "../store/schema.js";
import { assertUsable, recheckConnected } from "../store/status.js";
import { writeTransaction } from "../store/write-transaction.js";
import { expiredNow, loadCredential } from "./credential.js";
import type { CredentialDeps } from "./deps.js";
import { isoFromEpochSeconds } from "./lifetimes.js";
import { refreshWithLease } from "./refresh-grant.js";
import { type Credential, refreshMarginS, renewalOf } from "./tokens.js";

/** A token without a known lifetime is probed with the test read when unverified for this long. */
export const PROBE_AFTER_MS = 15 * 60_000;

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
      if (rejected)
        throw await expiredNow(
          ctx,
          row,
          provider,
          `${name} no longer accepts the stored access token (it was revoked or the app was removed).`,
        );
      return current;
    case "reconsent":
      if (expired || rejected) {
        const why = expired
          ? `the access token ${name} granted ended at ${isoFromEpochSeconds(expiresAt) ?? "an unknown time"} and ${name} cannot renew it.`
          : `${name} rejected the access token and this grant has no refresh token.`;
        throw await expiredNow(ctx, row, provider, why);
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
export async function saveCheck(
  ctx: CredentialDeps,
  row: Pick<ConnectorRow, "id" | "workspace_id">,
  check: AccountCheck,
  checkedAt = nowIso(ctx),
): Promise<void> {
  await writeTransaction(
    ctx.db,
    async (trx) => {
      await trx
        .updateTable("connectors")
        .set(
          connectorPatch({
            health: check.ok ? "healthy" : "unhealthy",
            last_checked_at: checkedAt,
            updated_at: checkedAt,
            ...(check.ok ? { account: check.account } : {}),
          }),
        )
        .where("id", "=", row.id)
        .execute();
      // The detail explains an unhealthy connected connector; other statuses keep their own detail and reason.
      await recheckConnected(trx, ctx, row, {
        reason: null,
        detail: check.ok ? null : `connected, but the test read failed: ${check.error ?? "unknown reason"}`,
      });
      await recordEvent(trx, ctx, row, "tested", check.ok ? "ok" : `failed: ${check.error ?? "unknown reason"}`);
    },
    { queueOn: row.id },
  );
}

function refreshSingleFlight(ctx: CredentialDeps, row: ConnectorRow, provider: Provider, seenVersion: number): Promise<Credential> {
  const inFlight = ctx.refresh.flights.get(row.id);
  if (inFlight) {
    inFlight.callers++;
    return inFlight.credential.then((c) => ({ ...c, refreshed: true }));
  }
  const credential = refreshWithLease(ctx, row, provider, seenVersion).finally(() => ctx.refresh.flights.delete(row.id));
  ctx.refresh.flights.set(row.id, { credential, callers: 1 });
  return credential;
}
