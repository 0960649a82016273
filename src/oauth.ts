import * as client from "openid-client";
import { z } from "zod";
import { isLoopbackHost, type Json, type Provider, type Role, type TokenSet } from "./catalog.js";
import { getConnector, getConnectorRow, recordEvent, type ConnectorObject } from "./connectors.js";
import type { DB } from "./db/index.js";
import type { ConnectorRow, ConnectorUpdate } from "./db/schema.js";
import { nowIso, type Context } from "./context.js";
import { ConnectorError } from "./errors.js";
import { newId, sha256Hex } from "./ids.js";
import { expireAbandonedGrants } from "./grant-expiry.js";
import { grantedScopes as scopesGranted } from "./scrub.js";
import { grantAad, readSecret, writeSecret } from "./secrets.js";
import { readAccount } from "./health.js";
import { describeProviderFailure, oauthErrorCode } from "./provider-errors.js";
import { revokeTokens, type ProviderRevocation } from "./revocation.js";
import { checkRoles, parseSettings } from "./rules.js";

/** A grant must be finished within this window. */
export const GRANT_TTL_MS = 10 * 60 * 1000;

const configs = new WeakMap<Provider, client.Configuration>();

function isoOrigin(u: string): string {
  return new URL(u).origin;
}

/**
 * The openid-client configuration for a provider, built by hand (most providers publish no
 * usable discovery document). Plain http is allowed only when every endpoint is loopback.
 */
export function oauthConfiguration(ctx: Pick<Context, "fetch">, provider: Provider): client.Configuration {
  const cached = configs.get(provider);
  if (cached) return cached;
  const o = provider.oauth;
  if (!o?.client_id || !o.client_secret) throw notConfigured(provider);
  const overridden = o.authorization_url !== provider.def.oauth?.authorization_url;
  const issuer = overridden ? isoOrigin(o.authorization_url) : (o.issuer ?? isoOrigin(o.authorization_url));
  const metadata: client.ServerMetadata = {
    issuer,
    authorization_endpoint: o.authorization_url,
    token_endpoint: o.token_url,
    ...(o.revocation_url ? { revocation_endpoint: o.revocation_url } : {}),
  };
  const auth = o.token_auth === "client_secret_basic" ? client.ClientSecretBasic(o.client_secret) : client.ClientSecretPost(o.client_secret);
  const config = new client.Configuration(metadata, o.client_id, undefined, auth);
  const endpoints = [o.authorization_url, o.token_url, o.revocation_url].filter((u): u is string => Boolean(u)).map((u) => new URL(u));
  if (endpoints.some((u) => u.protocol === "http:")) {
    if (!endpoints.every((u) => u.protocol === "https:" || isLoopbackHost(u.hostname))) {
      throw new ConnectorError("provider_not_configured", `${provider.def.name} endpoints must use https.`);
    }
    client.allowInsecureRequests(config);
  }
  const fix = provider.def.hooks.fixTokenResponse;
  config[client.customFetch] = async (url, options) => {
    const res = await ctx.fetch(url, { ...(options as RequestInit), signal: AbortSignal.timeout(20_000) });
    if (!fix || url !== o.token_url || !res.headers.get("content-type")?.includes("json")) return res;
    const body = (await res.json()) as Record<string, unknown>;
    return new Response(JSON.stringify(fix(body)), { status: res.status, headers: res.headers });
  };
  configs.set(provider, config);
  return config;
}

function notConfigured(provider: Provider): ConnectorError {
  const env = `TENEX_${provider.id.toUpperCase()}`;
  return new ConnectorError(
    "provider_not_configured",
    `${provider.def.name} has no OAuth app configured on this server. An operator must set ${env}_CLIENT_ID and ${env}_CLIENT_SECRET and restart it.`,
  );
}

export const startInput = z.object({
  provider: z.string(),
  label: z.string().optional(),
  roles: z.array(z.string()).optional(),
  scopes: z.array(z.string()).optional(),
  settings: z.record(z.string(), z.unknown()).optional(),
});

export interface StartResult {
  connector_id: string;
  authorization_url: string;
  expires_at: string;
  status: "pending";
}

/** Start an OAuth grant: a pending connector, a single-use state, a PKCE verifier sealed in the vault. */
export async function startOAuth(
  ctx: Context,
  workspaceId: string,
  input: {
    provider: string;
    label?: string | undefined;
    roles?: string[] | undefined;
    scopes?: string[] | undefined;
    settings?: Record<string, unknown> | undefined;
    /** Reconnect this existing connector in place (consent again): keeps its id, roles, settings and primaries. */
    connector_id?: string | undefined;
  },
): Promise<StartResult> {
  const provider = ctx.catalog.get(input.provider);
  if (!provider.def.auth_types.includes("oauth2") || !provider.oauth) {
    throw new ConnectorError("auth_type_unsupported", `${provider.def.name} does not connect through OAuth here; use submit_connector_key with its API key.`);
  }
  if (!provider.configured) throw notConfigured(provider);
  // A lapsed link settles first, so a connector still reading pending from it can be reconnected.
  if (input.connector_id) await expireAbandonedGrants(ctx, workspaceId, [input.connector_id]);
  const existing = input.connector_id ? await reconnectable(ctx, workspaceId, input.connector_id, provider) : undefined;
  const roles: Role[] = checkRoles(provider, input.roles ?? (existing ? (JSON.parse(existing.roles) as string[]) : provider.def.roles));
  const settings = parseSettings(provider, input.settings ?? (existing ? (JSON.parse(existing.settings) as Record<string, unknown>) : {}));
  const scopes = input.scopes && input.scopes.length > 0 ? [...new Set(input.scopes)] : provider.oauth.scopes;
  const config = oauthConfiguration(ctx, provider);

  const connectorId = existing?.id ?? newId("con");
  const state = client.randomState();
  const stateHash = sha256Hex(state);
  const verifier = client.randomPKCECodeVerifier();
  const now = ctx.clock();
  const expiresAt = new Date(now + GRANT_TTL_MS).toISOString();
  const params: Record<string, string> = {
    ...provider.oauth.authorization_params,
    redirect_uri: ctx.redirectUri,
    scope: scopes.join(provider.oauth.scope_separator),
    state,
    response_type: "code",
  };
  if (provider.oauth.pkce) {
    params.code_challenge = await client.calculatePKCECodeChallenge(verifier);
    params.code_challenge_method = "S256";
  }
  const url = client.buildAuthorizationUrl(config, params);
  const createdAt = nowIso(ctx);
  await ctx.db.transaction().execute(async (trx) => {
    if (existing) {
      const moved = await trx
        .updateTable("connectors")
        .set({
          label: input.label?.trim() || existing.label,
          status: "pending",
          status_detail: `waiting for the person to consent again (was ${existing.status}); the stored tokens are kept until new ones arrive`,
          roles: JSON.stringify(roles),
          settings: JSON.stringify(settings),
          updated_at: createdAt,
        })
        .where("id", "=", existing.id)
        .where("status", "=", existing.status)
        .executeTakeFirst();
      if (Number(moved.numUpdatedRows) !== 1) {
        throw new ConnectorError("conflict", `Connector ${existing.id} changed while the reconnection was being prepared; check it with get_connector_status and try again.`);
      }
    }
    if (!existing) await trx
      .insertInto("connectors")
      .values({
        id: connectorId,
        workspace_id: workspaceId,
        provider: provider.id,
        label: input.label?.trim() || provider.def.name,
        auth_type: "oauth2",
        status: "pending",
        status_detail: null,
        roles: JSON.stringify(roles),
        settings: JSON.stringify(settings),
        account: "{}",
        scopes: JSON.stringify(scopes),
        health: "unknown",
        last_checked_at: null,
        expires_at: null,
        created_at: createdAt,
        updated_at: createdAt,
      })
      .execute();
    await trx
      .insertInto("oauth_grants")
      .values({
        state_hash: stateHash,
        connector_id: connectorId,
        workspace_id: workspaceId,
        verifier_ciphertext: ctx.vault.seal(verifier, grantAad(stateHash)),
        redirect_uri: ctx.redirectUri,
        scopes: JSON.stringify(scopes),
        expires_at: expiresAt,
        used_at: null,
        created_at: createdAt,
      })
      .execute();
    await recordEvent(trx, ctx, { id: connectorId, workspace_id: workspaceId }, existing ? "reconnect_started" : "created", `OAuth grant started for ${provider.def.name}`);
  });
  ctx.log.info("oauth grant started", { connector_id: connectorId, provider: provider.id, workspace_id: workspaceId });
  return { connector_id: connectorId, authorization_url: url.href, expires_at: expiresAt, status: "pending" };
}

/** Statuses a connector may be reconnected in place from (start_connector_oauth with connector_id). */
export const RECONNECTABLE: ReadonlySet<string> = new Set(["expired", "revoked", "error"]);

/** An OAuth connector of this workspace that may be reconnected in place. */
async function reconnectable(ctx: Context, workspaceId: string, connectorId: string, provider: Provider): Promise<ConnectorRow> {
  const row = await getConnectorRow(ctx.db, workspaceId, connectorId);
  if (row.provider !== provider.id) {
    throw new ConnectorError("invalid_input", `Connector ${row.id} is a ${row.provider} connector, not ${provider.id}; pass provider "${row.provider}" to reconnect it.`);
  }
  if (row.auth_type !== "oauth2") throw new ConnectorError("auth_type_unsupported", `Connector ${row.id} uses an API key; submit a new key with submit_connector_key instead.`);
  // Only a connector that no longer works is reconnected in place: a working one would be taken out of service while the person consents.
  if (RECONNECTABLE.has(row.status)) return row;
  const why: Record<string, string> = {
    connected:
      `is connected and working; reconnecting it in place would stop it until the person consents again. ` +
      `To connect with other scopes or another account, start a new connector (start_connector_oauth without connector_id), or revoke this one first with revoke_connector and then reconnect it`,
    pending: `is already waiting for consent; show the person the authorization_url you got for it and call wait_for_connector. If that link is lost, revoke_connector it and then reconnect it`,
    disabled: `is disabled; enable it with enable_connector first (a connector that still works after that needs no reconnecting)`,
  };
  throw new ConnectorError("invalid_state", `Connector ${row.id} cannot be reconnected: it ${why[row.status] ?? `is ${row.status}`}. Only expired, revoked or error connectors are reconnected in place.`);
}

/** What the callback page shows. */
export type CallbackOutcome =
  | { kind: "connected"; provider: string; account_label: string | null; connector: ConnectorObject; warning?: string }
  | { kind: "denied"; provider: string }
  | { kind: "failed"; provider: string; reason: string }
  /** The connector was revoked, disabled or deleted while the person signed in: nothing was connected. */
  | { kind: "cancelled"; provider: string; provider_revocation: ProviderRevocation }
  | { kind: "refused"; code: "invalid_state" | "state_expired"; reason: string; provider?: string };

/** Turn a token endpoint response into what we keep. */
export function tokenSetFrom(provider: Provider, res: client.TokenEndpointResponse, nowMs: number, previous?: TokenSet): TokenSet {
  const extras: Record<string, Json> = { ...(previous?.extras ?? {}) };
  for (const k of provider.def.hooks.tokenExtras ?? []) {
    const v = (res as Record<string, unknown>)[k];
    if (typeof v === "string" || typeof v === "number" || typeof v === "boolean") extras[k] = v;
  }
  const refreshIn = (res as Record<string, unknown>).refresh_token_expires_in;
  return {
    access_token: res.access_token,
    // A response without a refresh token keeps the one we had (Google on re-consent, most refreshes).
    refresh_token: res.refresh_token ?? previous?.refresh_token,
    token_type: res.token_type,
    expires_at: typeof res.expires_in === "number" ? Math.floor(nowMs / 1000) + res.expires_in : undefined,
    refresh_expires_at:
      typeof refreshIn === "number" ? Math.floor(nowMs / 1000) + refreshIn : res.refresh_token ? undefined : previous?.refresh_expires_at,
    scope: res.scope ?? previous?.scope,
    extras,
    obtained_at: Math.floor(nowMs / 1000),
  };
}

/** When access ends for good unless the person consents again, if that is known. */
export function accessEndsAt(provider: Provider, tokens: TokenSet): string | null {
  const o = provider.oauth;
  if (!o || o.refresh === "non_expiring") return null;
  const canRefresh = o.refresh === "refresh_token" && Boolean(tokens.refresh_token);
  const at = canRefresh ? tokens.refresh_expires_at : tokens.expires_at;
  return at ? new Date(at * 1000).toISOString() : null;
}

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
  ctx: Context,
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
export async function completeCallback(ctx: Context, query: URLSearchParams): Promise<CallbackOutcome> {
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
