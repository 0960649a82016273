import type * as client from "openid-client";
import { readBoundedText, TOKEN_BODY_LIMIT } from "../catalog/bounded-body.js";
import { type ConnectionEndpoints, isLoopbackHost, type Provider } from "../catalog/catalog.js";
import { effectiveEndpoints } from "../catalog/endpoints.js";
import { openid } from "../catalog/openid.js";
import { ProviderHttpError } from "../catalog/provider-errors.js";
import { ConnectorError } from "../common/errors.js";
import type { CredentialDeps } from "./deps.js";
import { saneTokenResponse } from "./lifetimes.js";

/** Configurations by provider, then by the endpoints they talk to (one per sign-in host or tenant). */
const configs = new WeakMap<Provider, Map<string, client.Configuration>>();

/**
 * The openid-client configuration for one connection, built by hand (most providers publish no
 * usable discovery document): the operator's endpoint overrides, else the endpoints the connection
 * started with (`own`, kept on its row), else the provider's. Plain http is allowed only when every
 * endpoint is loopback. Loads openid-client on first use, so callers get the module with it.
 */
export async function oauthConfiguration(
  ctx: Pick<CredentialDeps, "fetch">,
  provider: Provider,
  own?: ConnectionEndpoints | null,
): Promise<{ client: typeof client; config: client.Configuration }> {
  const o = provider.oauth;
  if (!o?.client_id || !o.client_secret) throw notConfigured(provider);
  const e = effectiveEndpoints(provider, own);
  const lib = await openid();
  const key = JSON.stringify(e);
  const byEndpoints = configs.get(provider) ?? new Map<string, client.Configuration>();
  configs.set(provider, byEndpoints);
  const cached = byEndpoints.get(key);
  if (cached) return { client: lib, config: cached };
  const metadata: client.ServerMetadata = {
    issuer: e.issuer,
    authorization_endpoint: e.authorization_url,
    token_endpoint: e.token_url,
    ...(e.revocation_url ? { revocation_endpoint: e.revocation_url } : {}),
  };
  const auth = o.token_auth === "client_secret_basic" ? lib.ClientSecretBasic(o.client_secret) : lib.ClientSecretPost(o.client_secret);
  const config = new lib.Configuration(metadata, o.client_id, undefined, auth);
  const endpoints = [e.authorization_url, e.token_url, e.revocation_url].filter((u): u is string => Boolean(u)).map((u) => new URL(u));
  if (endpoints.some((u) => u.protocol === "http:")) {
    if (!endpoints.every((u) => u.protocol === "https:" || isLoopbackHost(u.hostname))) {
      throw new ConnectorError("provider_not_configured", `${provider.def.name} endpoints must use https.`);
    }
    lib.allowInsecureRequests(config);
  }
  const fix = provider.def.hooks.fixTokenResponse;
  config[lib.customFetch] = async (url, options) => {
    // Never follow a redirect: it would re-send the client secret, code or token to wherever it points.
    const res = await ctx.fetch(url, { ...(options as RequestInit), redirect: "manual", signal: AbortSignal.timeout(20_000) });
    if (res.status >= 300 && res.status < 400) {
      await res.body?.cancel().catch(() => undefined);
      throw new ProviderHttpError(`${provider.def.name}'s OAuth endpoint (a redirect, not followed)`, res.status);
    }
    // Token and revocation answers are read here, within TOKEN_BODY_LIMIT, before openid-client sees them.
    const bounded = await boundedResponse(res, `${provider.def.name}'s ${url === e.token_url ? "token" : "OAuth"} endpoint`);
    if (url !== e.token_url || !res.headers.get("content-type")?.includes("json")) return bounded;
    return saneTokenResponse(bounded, fix);
  };
  // A connection's endpoints come from a handful of settings values; the map stays small.
  byEndpoints.set(key, config);
  return { client: lib, config };
}

/** The same answer with its body read within TOKEN_BODY_LIMIT (a null body stays null: 204, 304). */
async function boundedResponse(res: Response, what: string): Promise<Response> {
  const init = { status: res.status, statusText: res.statusText, headers: res.headers };
  if (res.body === null || [204, 205, 304].includes(res.status)) return new Response(null, init);
  return new Response(await readBoundedText(res, TOKEN_BODY_LIMIT, what), init);
}

export function notConfigured(provider: Provider): ConnectorError {
  const env = `TENEX_${provider.id.toUpperCase()}`;
  return new ConnectorError(
    "provider_not_configured",
    `${provider.def.name} has no OAuth app configured on this server. An operator must set ${env}_CLIENT_ID and ${env}_CLIENT_SECRET and restart it.`,
  );
}
