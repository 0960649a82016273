/**
 * Revoking a token set at its provider: RFC 7009 through openid-client, or the provider's
 * own `revokeToken` hook. Used by revoke/delete and by a callback whose connector was
 * cancelled while the person signed in (the tokens it just obtained must not stay valid).
 */
import { apiBaseUrl } from "../catalog/api.js";
import { noRedirects } from "../catalog/bounded-body.js";
import type { Provider, TokenSet } from "../catalog/catalog.js";
import { connectionView } from "../catalog/connection.js";
import { effectiveEndpoints } from "../catalog/endpoints.js";
import { describeProviderFailure } from "../catalog/provider-errors.js";
import type { ConnectorRow } from "../store/schema.js";
import type { CredentialDeps } from "./deps.js";
import { oauthConfiguration } from "./oauth-client.js";

export type ProviderRevocation = "revoked" | "not_offered" | "failed" | "not_needed";

/**
 * RFC 7009: the refresh token first (it ends the grant at most providers), then the access token
 * (HubSpot keeps it otherwise). A provider that may refuse refresh tokens (LinkedIn) has its
 * access token revoked anyway, and the result says the refresh token was refused.
 */
async function revokeRfc7009(
  ctx: CredentialDeps,
  provider: Provider,
  row: Pick<ConnectorRow, "id" | "oauth_endpoints">,
  tokens: TokenSet,
): Promise<{ outcome: ProviderRevocation; detail: string }> {
  const name = provider.def.name;
  const { client, config } = await oauthConfiguration(ctx, provider, row.oauth_endpoints);
  let refreshRefused: string | undefined;
  if (tokens.refresh_token) {
    try {
      await client.tokenRevocation(config, tokens.refresh_token, { token_type_hint: "refresh_token" });
    } catch (err) {
      if (!provider.oauth?.refresh_revocation_optional) throw err;
      refreshRefused = describeProviderFailure(err).text;
      ctx.log.info("provider refused to revoke the refresh token; revoking the access token", {
        connector_id: row.id,
        provider: provider.id,
        reason: refreshRefused,
      });
    }
  }
  await client.tokenRevocation(config, tokens.access_token, { token_type_hint: "access_token" }).catch((err: unknown) => {
    if (!tokens.refresh_token || refreshRefused !== undefined) throw err;
  });
  if (refreshRefused === undefined) return { outcome: "revoked", detail: `revoked at ${name}` };
  return {
    outcome: "revoked",
    detail: `revoked the access token at ${name}; ${name} refused to revoke the refresh token (${refreshRefused})`,
  };
}

/** Best-effort: never throws; says what happened in words safe to store and show. */
export async function revokeTokens(
  ctx: CredentialDeps,
  provider: Provider,
  row: Pick<ConnectorRow, "id" | "settings" | "oauth_endpoints">,
  tokens: TokenSet,
): Promise<{ outcome: ProviderRevocation; detail: string }> {
  const name = provider.def.name;
  const o = provider.oauth;
  const hook = provider.def.hooks.revokeToken;
  // The host the grant started on (a Salesforce sandbox or My Domain), unless the operator overrides it.
  const revocationUrl = o ? effectiveEndpoints(provider, row.oauth_endpoints).revocation_url : undefined;
  if (!hook && !revocationUrl) {
    return {
      outcome: "not_offered",
      detail: `${name} offers no revocation endpoint; the person can remove the app's access in their ${name} account settings`,
    };
  }
  if (!o?.client_id || !o.client_secret)
    return { outcome: "failed", detail: `no ${name} OAuth app is configured on this server to revoke with` };
  try {
    if (hook) {
      const view = connectionView(provider, row, tokens);
      await hook(tokens, {
        fetch: noRedirects(ctx.fetch),
        client_id: o.client_id,
        client_secret: o.client_secret,
        revocation_url: revocationUrl,
        api_base_url: apiBaseUrl(provider, view),
        connection: view,
      });
      return { outcome: "revoked", detail: `revoked at ${name}` };
    }
    return await revokeRfc7009(ctx, provider, row, tokens);
  } catch (err) {
    const reason = describeProviderFailure(err).text;
    ctx.log.warn("revocation at provider failed", { connector_id: row.id, provider: provider.id, reason });
    return { outcome: "failed", detail: `${name} did not confirm the revocation (${reason}); the tokens were wiped here anyway` };
  }
}
