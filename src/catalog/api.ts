import { ConnectorError } from "../common/errors.js";
import { API_BODY_LIMIT, readBoundedJson } from "./bounded-body.js";
import type { CatalogDeps } from "./catalog.js";
import { type ConnectionView, checkEndpoint, type Provider } from "./catalog.js";
import { networkFailure } from "./provider-errors.js";

export interface ApiResult {
  status: number;
  ok: boolean;
  body: unknown;
  latency_ms: number;
}

/** The API origin for one connection: operator override, else the provider's per-connection hook, else its fixed base. */
export function apiBaseUrl(provider: Provider, view: ConnectionView): string {
  if (provider.api_base_url_override) return provider.api_base_url_override;
  const base = provider.def.hooks.apiBaseUrl?.(view) ?? provider.def.api.base_url;
  return checkEndpoint(base, `${provider.id} API base URL`).replace(/\/+$/, "");
}

/**
 * The headers the server adds to every call to a provider's API: the credential (a Bearer token,
 * for OAuth tokens and for the BYOK keys of Sanity, Webflow and Meta alike), the definition's fixed
 * headers and the per-connection ones (LinkedIn-Version, Google Ads developer-token and login-customer-id).
 */
export function providerHeaders(provider: Provider, view: ConnectionView, credential: string): Record<string, string> {
  return {
    authorization: `Bearer ${credential}`,
    "user-agent": "tenex-connectors",
    ...provider.def.api.headers,
    ...(provider.def.hooks.apiHeaders?.(view) ?? {}),
  };
}

/**
 * One authenticated call to a provider API. Network failures become `provider_error`
 * (retryable); the response body is returned to the core, never to the model.
 */
export async function callProviderApi(
  ctx: Pick<CatalogDeps, "fetch" | "clock">,
  provider: Provider,
  view: ConnectionView,
  credential: string,
  req: { method: "GET" | "POST"; path: string; body?: unknown },
): Promise<ApiResult> {
  const url = apiBaseUrl(provider, view) + req.path;
  const headers: Record<string, string> = { accept: "application/json", ...providerHeaders(provider, view, credential) };
  if (req.body !== undefined) headers["content-type"] = "application/json";
  const started = ctx.clock();
  let res: Response;
  try {
    res = await ctx.fetch(url, {
      method: req.method,
      headers,
      ...(req.body !== undefined ? { body: JSON.stringify(req.body) } : {}),
      signal: AbortSignal.timeout(15_000),
      redirect: "error",
    });
  } catch (err) {
    // A phrase, not a sentence: callers put it into their own sentences.
    throw new ConnectorError("provider_error", `${provider.def.name} could not be reached (${networkFailure(err)})`, {
      retryable: true,
      cause: err,
    });
  }
  // Bounded: past API_BODY_LIMIT the read stops and the call is a provider_error.
  const body = await readBoundedJson(res, API_BODY_LIMIT, `${provider.def.name}'s API`);
  return { status: res.status, ok: res.ok, body, latency_ms: Math.max(0, ctx.clock() - started) };
}

/** The path of the provider's lightest authenticated read for this connection. */
export function testReadPath(provider: Provider, view: ConnectionView, authType: "oauth2" | "api_key"): string {
  const t = provider.def.test;
  const p = authType === "api_key" && t.api_key_path ? t.api_key_path : t.path;
  return typeof p === "function" ? p(view) : p;
}
