/** Pure decisions about token sets: what we keep from a token response, when access ends, when to renew. */
import type * as client from "openid-client";
import type { ConnectionView, Json, Provider, TokenSet } from "../catalog/catalog.js";
import { openidIfLoaded } from "../catalog/openid.js";
import { describeProviderFailure } from "../catalog/provider-errors.js";
import { isoFromEpochSeconds, type OddLifetimeSink, oddLifetimesNoted, saneInstant, saneLifetime } from "./lifetimes.js";

/** Refresh when an access token has less than this left (shortened for short-lived tokens). */
export const REFRESH_MARGIN_S = 300;

/** How a provider renews access for one stored token set. */
export type Renewal = "refresh_token" | "reconsent" | "non_expiring";

export function renewalOf(provider: Provider, tokens: TokenSet): Renewal {
  const o = provider.oauth;
  if (!o || o.refresh === "non_expiring") return "non_expiring";
  if (o.refresh === "refresh_token" && tokens.refresh_token) return "refresh_token";
  return "reconsent";
}

/** The margin before expiry at which a token is refreshed: 5 minutes, or a quarter of a short lifetime. */
export function refreshMarginS(tokens: TokenSet): number {
  if (tokens.expires_at !== undefined && tokens.obtained_at !== undefined) {
    const lifetime = tokens.expires_at - tokens.obtained_at;
    if (lifetime > 0) return Math.min(REFRESH_MARGIN_S, Math.max(1, Math.floor(lifetime / 4)));
  }
  return REFRESH_MARGIN_S;
}

/**
 * Turn a token endpoint response into what we keep. Lifetimes are clamped first (lifetimes.ts):
 * an odd one never stops the tokens from being kept; it is reported to `odd`.
 */
export function tokenSetFrom(
  provider: Provider,
  res: client.TokenEndpointResponse,
  nowMs: number,
  previous?: TokenSet,
  odd?: OddLifetimeSink,
): TokenSet {
  const raw = res as Record<string, unknown>;
  const extras: Record<string, Json> = { ...(previous?.extras ?? {}) };
  for (const k of provider.def.hooks.tokenExtras ?? []) {
    const v = raw[k];
    if (typeof v === "string" || typeof v === "number" || typeof v === "boolean") extras[k] = v;
  }
  if (odd) for (const note of oddLifetimesNoted(raw)) odd(note);
  const nowS = Math.floor(nowMs / 1000);
  const expiresIn = saneLifetime(res.expires_in, "expires_in", odd);
  const refreshIn = saneLifetime(raw.refresh_token_expires_in, "refresh_token_expires_in", odd);
  return {
    access_token: res.access_token,
    // A response without a refresh token keeps the one we had (Google on re-consent, most refreshes).
    refresh_token: res.refresh_token ?? previous?.refresh_token,
    token_type: res.token_type,
    expires_at: expiresIn === undefined ? undefined : nowS + expiresIn,
    refresh_expires_at: refreshIn !== undefined ? nowS + refreshIn : res.refresh_token ? undefined : previous?.refresh_expires_at,
    scope: res.scope ?? previous?.scope,
    extras,
    obtained_at: nowS,
  };
}

/**
 * A token set whose instants a provider hook computed (Meta's long-lived exchange), kept within
 * sane dates (lifetimes.ts saneInstant); odd ones are reported to `odd`.
 */
export function saneTokenSet(tokens: TokenSet, nowMs: number, odd?: OddLifetimeSink): TokenSet {
  return {
    ...tokens,
    expires_at: saneInstant(tokens.expires_at, "expires_at", nowMs, odd),
    refresh_expires_at: saneInstant(tokens.refresh_expires_at, "refresh_expires_at", nowMs, odd),
  };
}

/** When access ends for good unless the person consents again, if that is known. */
export function accessEndsAt(provider: Provider, tokens: TokenSet): string | null {
  const o = provider.oauth;
  if (!o || o.refresh === "non_expiring") return null;
  const canRefresh = o.refresh === "refresh_token" && Boolean(tokens.refresh_token);
  const at = canRefresh ? tokens.refresh_expires_at : tokens.expires_at;
  return at ? isoFromEpochSeconds(at) : null;
}

/** A usable credential. `token` never leaves the core. */
export interface Credential {
  connector_id: string;
  auth_type: "oauth2" | "api_key";
  token: string;
  /** connector_secrets.version this credential was read at (pass it back after a 401). */
  version: number;
  tokens?: TokenSet;
  view: ConnectionView;
  /** True when a new token was obtained for this request (or by a refresh it joined). */
  refreshed: boolean;
}

/** Why a refresh grant failed, for deciding what happens to the connector. */
export type GrantFailure = { kind: "invalid_grant" | "transient" | "permanent"; text: string };

/**
 * `invalid_grant`: the grant is gone (the connector expires). `transient`: network, 5xx, 429 or
 * temporarily_unavailable (retried; the connector stays connected). `permanent`: anything else the
 * provider refused (an OAuth app misconfiguration, most often).
 */
export function classifyGrantError(err: unknown): GrantFailure {
  // Only a registered error code and the status survive: providers may echo the request (secrets included) in their error text.
  const f = describeProviderFailure(err);
  if (f.code === "invalid_grant") return { kind: "invalid_grant", text: f.text };
  if (f.status === undefined) return { kind: isClientError(err) ? "permanent" : "transient", text: f.text };
  if (f.status >= 500 || f.status === 429 || f.code === "temporarily_unavailable") return { kind: "transient", text: f.text };
  return { kind: "permanent", text: f.text };
}

/** openid-client refused the answer itself (not loaded: the error cannot be one). */
function isClientError(err: unknown): boolean {
  const client = openidIfLoaded();
  return client !== undefined && err instanceof client.ClientError;
}
