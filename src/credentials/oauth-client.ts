import * as client from "openid-client";
import { isLoopbackHost, type CatalogDeps, type Provider } from "../catalog/catalog.js";
import { ConnectorError } from "../common/errors.js";
import type { CredentialDeps } from "./deps.js";
import { saneTokenResponse } from "./lifetimes.js";

const configs = new WeakMap<Provider, client.Configuration>();

function isoOrigin(u: string): string {
  return new URL(u).origin;
}

/**
 * The openid-client configuration for a provider, built by hand (most providers publish no
 * usable discovery document). Plain http is allowed only when every endpoint is loopback.
 */
export function oauthConfiguration(ctx: Pick<CredentialDeps, "fetch">, provider: Provider): client.Configuration {
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
    if (url !== o.token_url || !res.headers.get("content-type")?.includes("json")) return res;
    return saneTokenResponse(res, fix);
  };
  configs.set(provider, config);
  return config;
}

export function notConfigured(provider: Provider): ConnectorError {
  const env = `TENEX_${provider.id.toUpperCase()}`;
  return new ConnectorError(
    "provider_not_configured",
    `${provider.def.name} has no OAuth app configured on this server. An operator must set ${env}_CLIENT_ID and ${env}_CLIENT_SECRET and restart it.`,
  );
}
