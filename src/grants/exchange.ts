/** The code exchange of the OAuth callback, and the shapes the callback's steps pass along. */
import type { ClientError } from "openid-client";
import { bodyTooLarge, noRedirects } from "../catalog/bounded-body.js";
import type { Provider, TokenSet } from "../catalog/catalog.js";
import { effectiveEndpoints } from "../catalog/endpoints.js";
import { openidIfLoaded } from "../catalog/openid.js";
import { describeProviderFailure } from "../catalog/provider-errors.js";
import { ConnectorError } from "../common/errors.js";
import { logOddLifetimes } from "../credentials/lifetimes.js";
import { oauthConfiguration } from "../credentials/oauth-client.js";
import { type ProviderRevocation, revokeTokens } from "../credentials/revocation.js";
import { grantAad, readSecret, unreadableSecret } from "../credentials/secrets.js";
import { saneTokenSet, tokenSetFrom } from "../credentials/tokens.js";
import { VaultError } from "../credentials/vault.js";
import type { ConnectorObject } from "../store/connectors.js";
import type { ConnectorRow, OAuthGrantRow, StatusReason } from "../store/schema.js";
import type { GrantDeps } from "./deps.js";

/** What the callback page shows. */
export type CallbackOutcome =
  | { kind: "connected"; provider: string; account_label: string | null; connector: ConnectorObject; warning?: string }
  | { kind: "denied"; provider: string }
  | { kind: "failed"; provider: string; reason: string }
  /** The connector was revoked, disabled or deleted while the person signed in: nothing was connected. */
  | { kind: "cancelled"; provider: string; provider_revocation: ProviderRevocation }
  | { kind: "refused"; code: "invalid_state" | "state_expired"; reason: string; provider?: string };

/** A grant this callback claimed, with the connector waiting for it. */
export interface Claim {
  state: string;
  stateHash: string;
  grant: OAuthGrantRow;
  row: ConnectorRow;
  provider: Provider;
  name: string;
}

/** How a grant failed: the connector's reason and sentence, its event, and the page to show. */
export interface Failure {
  reason: StatusReason | null;
  detail: string;
  event: string;
  outcome: CallbackOutcome;
}

/** What the code exchange obtained. */
export interface Exchanged {
  tokens: TokenSet;
  /** What the provider issued in this exchange alone (not a refresh token kept from before): revoked if the grant is cancelled. */
  obtained: TokenSet;
  verifier: string;
}

export const again = (c: Claim) => `Start again with start_connector_oauth (connector_id "${c.row.id}" keeps this connector).`;

export function providerFailure(c: Claim, detail: string): Failure {
  return { reason: "provider_error", detail, event: "grant_failed", outcome: { kind: "failed", provider: c.name, reason: detail } };
}

/** Why a code exchange failed, without any text the provider wrote. */
function exchangeFailureText(err: unknown): string {
  const known = err instanceof ConnectorError ? err : bodyTooLarge(err);
  if (known) return known.message.replace(/\.$/, "");
  const f = describeProviderFailure(err);
  if (f.status !== undefined || f.code !== undefined) return `the provider answered ${f.text}`;
  if (isClientError(err)) return `the provider's answer was unusable (${f.text})`;
  return `the provider could not be reached (${f.text})`;
}

/**
 * Open the sealed verifier and the tokens stored before (a re-consent that returns no refresh
 * token keeps the stored one), before the exchange: a secret that does not open fails the grant,
 * logged, before the provider issues anything.
 */
async function openSealed(ctx: GrantDeps, c: Claim): Promise<{ verifier: string; previous: TokenSet | undefined } | { failure: Failure }> {
  try {
    const verifier = ctx.vault.open(c.grant.verifier_ciphertext, grantAad(c.stateHash));
    const stored = await readSecret(ctx, ctx.db, c.row.id);
    return { verifier, previous: stored?.secret.kind === "oauth2" ? stored.secret.tokens : undefined };
  } catch (err) {
    if (!(err instanceof VaultError)) throw err;
    const internal = unreadableSecret(ctx.log, c.row.id, err, "during the OAuth callback");
    const detail = `The grant could not be finished. ${internal.message} ${again(c)}`;
    return { failure: { reason: null, detail, event: "grant_failed", outcome: { kind: "failed", provider: c.name, reason: detail } } };
  }
}

/** Exchange the code (PKCE), keep what we need from the answer, check the tenant, and run the provider's quirk hook. */
export async function exchangeCode(ctx: GrantDeps, c: Claim, query: URLSearchParams): Promise<Exchanged | { failure: Failure }> {
  const sealed = await openSealed(ctx, c);
  if ("failure" in sealed) return sealed;
  const { provider } = c;
  try {
    // The endpoints (and issuer) this connection's grant started on: a Salesforce sandbox or My Domain, an Outlook tenant.
    const { client, config } = await oauthConfiguration(ctx, provider, c.row.oauth_endpoints);
    const current = new URL(c.grant.redirect_uri);
    for (const [k, v] of query) current.searchParams.append(k, v);
    const res = await client.authorizationCodeGrant(config, current, {
      expectedState: c.state,
      ...(provider.oauth?.pkce ? { pkceCodeVerifier: sealed.verifier } : {}),
    });
    const odd = logOddLifetimes(ctx.log, { connector_id: c.row.id, provider: provider.id, during: "code exchange" });
    let tokens = tokenSetFrom(provider, res, ctx.clock(), sealed.previous, odd);
    const mismatch = provider.def.hooks.checkTenant?.(res.claims(), { settings: c.row.settings, endpoints: c.row.oauth_endpoints });
    if (mismatch)
      return { failure: await tenantMismatch(ctx, c, mismatch, res.refresh_token ? tokens : { ...tokens, refresh_token: undefined }) };
    const o = provider.oauth;
    if (provider.def.hooks.afterTokenExchange && o?.client_id && o.client_secret) {
      tokens = await provider.def.hooks.afterTokenExchange(tokens, {
        fetch: noRedirects(ctx.fetch),
        client_id: o.client_id,
        client_secret: o.client_secret,
        token_url: effectiveEndpoints(provider, c.row.oauth_endpoints).token_url,
        now: ctx.clock,
      });
    }
    tokens = saneTokenSet(tokens, ctx.clock(), odd);
    return { tokens, obtained: res.refresh_token ? tokens : { ...tokens, refresh_token: undefined }, verifier: sealed.verifier };
  } catch (err) {
    ctx.log.warn("oauth code exchange failed", {
      connector_id: c.row.id,
      provider: provider.id,
      reason: describeProviderFailure(err).text,
    });
    // An id_token from another issuer than the pinned tenant's: openid-client refused it before we saw the tokens.
    if (provider.def.hooks.checkTenant && isIssuerMismatch(err)) {
      return {
        failure: await tenantMismatch(
          ctx,
          c,
          "the account's id_token was issued by another tenant than the one this connector is pinned to",
        ),
      };
    }
    return { failure: providerFailure(c, `The code exchange with ${c.name} failed: ${exchangeFailureText(err)}. ${again(c)}`) };
  }
}

/** openid-client refused an id_token whose `iss` is not the configured issuer. */
function isIssuerMismatch(err: unknown): boolean {
  if (!isClientError(err) || err.code !== "OAUTH_JWT_CLAIM_COMPARISON_FAILED") return false;
  const inner = err.cause as { cause?: { claim?: unknown } } | undefined;
  return inner?.cause?.claim === "iss";
}

/**
 * The consenting account belongs to another tenant than the connector is pinned to (Outlook
 * `tenant`): the tokens just obtained are revoked where the provider allows it and never stored.
 */
async function tenantMismatch(ctx: GrantDeps, c: Claim, why: string, obtained?: TokenSet): Promise<Failure> {
  const revocation = obtained ? await revokeTokens(ctx, c.provider, c.row, obtained) : undefined;
  const tokens = revocation
    ? `; the tokens it issued were not kept (${revocation.detail.replace(/; the tokens were wiped here anyway$/, "")})`
    : "; no tokens were kept";
  const tenant = typeof c.row.settings.tenant === "string" ? ` "${c.row.settings.tenant}"` : "";
  const detail =
    `The account that consented is not in the tenant${tenant} this connector is pinned to: ${why}${tokens}. ` +
    `Ask the person to sign in with an account of that tenant (or pass the right tenant in settings), then ${again(c).charAt(0).toLowerCase()}${again(c).slice(1)}`;
  return { reason: "tenant_mismatch", detail, event: "grant_failed", outcome: { kind: "failed", provider: c.name, reason: detail } };
}

/** openid-client refused the answer itself (not loaded yet: the error cannot be one of its own). */
function isClientError(err: unknown): err is ClientError {
  const client = openidIfLoaded();
  return client !== undefined && err instanceof client.ClientError;
}
