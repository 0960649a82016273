/**
 * Per-connection OAuth endpoints: templated from a connector's settings at grant start (Salesforce
 * login_host, Outlook tenant), kept on its row so refresh and revoke go to the host the grant
 * started on, and overridden by the operator's `TENEX_<P>_…_URL` variables, which always win.
 */
import { ConnectorError } from "../common/errors.js";
import { readBoundedJson, TOKEN_BODY_LIMIT } from "./bounded-body.js";
import { type CatalogDeps, type ConnectionEndpoints, checkEndpoint, type Provider } from "./catalog.js";
import { networkFailure } from "./provider-errors.js";

/** The endpoints one connection talks to, every field decided. */
export interface EffectiveEndpoints {
  authorization_url: string;
  token_url: string;
  revocation_url?: string | undefined;
  issuer: string;
}

/**
 * A sign-in URL setting checked against an allow list: https, a host ending in one of `suffixes`
 * (with at least one label of letters, digits and dashes before it), and nothing else: no userinfo,
 * port, path, query, fragment or IP literal. The normalized origin, or null. An SSRF boundary: the
 * server sends client credentials and codes to this host.
 */
export function allowedSignInOrigin(value: string, suffixes: readonly string[]): string | null {
  const alternatives = suffixes.map((s) => s.replace(/^\./, "").replace(/\./g, "\\.")).join("|");
  if (!new RegExp(`^https://([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\\.)+(?:${alternatives})/?$`, "i").test(value)) return null;
  let u: URL;
  try {
    u = new URL(value);
  } catch {
    return null;
  }
  const plain =
    u.protocol === "https:" &&
    u.username === "" &&
    u.password === "" &&
    u.port === "" &&
    u.pathname === "/" &&
    u.search === "" &&
    u.hash === "";
  return plain && suffixes.some((s) => u.hostname.endsWith(s.startsWith(".") ? s : `.${s}`)) ? u.origin : null;
}

/** The endpoints a connection talks to: the operator's overrides, else its own (kept from grant start), else the provider's. */
export function effectiveEndpoints(provider: Provider, own: ConnectionEndpoints | null | undefined): EffectiveEndpoints {
  const d = provider.def.oauth;
  if (!d) throw new Error(`${provider.id} has no OAuth endpoints`);
  const ov = provider.oauth_overrides;
  const authorization_url = ov.authorization_url ?? own?.authorization_url ?? d.authorization_url;
  const revocation_url = ov.revocation_url ?? own?.revocation_url ?? d.revocation_url;
  // An overridden sign-in host (a private proxy, a test server) is its own issuer.
  const issuer = ov.authorization_url
    ? new URL(ov.authorization_url).origin
    : (own?.issuer ?? d.issuer ?? new URL(authorization_url).origin);
  return {
    authorization_url,
    token_url: ov.token_url ?? own?.token_url ?? d.token_url,
    ...(revocation_url ? { revocation_url } : {}),
    issuer,
  };
}

/** The endpoints a connector's settings move, with the scopes they add; both empty when the provider's defaults apply. */
export function templateEndpoints(
  provider: Provider,
  settings: Record<string, unknown>,
): { endpoints: ConnectionEndpoints | null; discovery_url?: string; extra_scopes: string[] } {
  const t = provider.def.oauth?.connection_endpoints?.(settings);
  if (!t) return { endpoints: null, extra_scopes: [] };
  const { discovery_url, extra_scopes, ...endpoints } = t;
  for (const [k, v] of Object.entries({ ...endpoints, discovery_url })) {
    if (v !== undefined) checkEndpoint(v, `${provider.id} ${k}`);
  }
  return { endpoints, ...(discovery_url ? { discovery_url } : {}), extra_scopes: extra_scopes ?? [] };
}

/**
 * The endpoints to keep for a connection started with these settings: the template, and the issuer
 * its discovery document names (an Outlook tenant given as a domain resolves to its GUID issuer).
 * Discovery is skipped when the operator overrides the sign-in endpoint (that host is the issuer).
 */
export async function resolveConnectionEndpoints(
  ctx: Pick<CatalogDeps, "fetch">,
  provider: Provider,
  settings: Record<string, unknown>,
): Promise<{ endpoints: ConnectionEndpoints | null; extra_scopes: string[] }> {
  const t = templateEndpoints(provider, settings);
  if (!t.endpoints || !t.discovery_url || provider.oauth_overrides.authorization_url) return t;
  return { endpoints: { ...t.endpoints, issuer: await discoveredIssuer(ctx, provider, t.discovery_url) }, extra_scopes: t.extra_scopes };
}

/** The `issuer` of a discovery document, which must sit on the document's own origin. */
async function discoveredIssuer(ctx: Pick<CatalogDeps, "fetch">, provider: Provider, url: string): Promise<string> {
  const name = provider.def.name;
  let res: Response;
  try {
    res = await ctx.fetch(url, { headers: { accept: "application/json" }, redirect: "error", signal: AbortSignal.timeout(15_000) });
  } catch (err) {
    throw new ConnectorError(
      "provider_error",
      `${name}'s sign-in configuration could not be read (${networkFailure(err)}). Try again shortly.`,
      { retryable: true, cause: err },
    );
  }
  const body = (await readBoundedJson(res, TOKEN_BODY_LIMIT, `${name}'s sign-in configuration`)) as { issuer?: unknown } | undefined;
  if (res.status >= 400 && res.status < 500) {
    throw new ConnectorError(
      "invalid_input",
      `${name} does not know the sign-in these settings name (its discovery document answered HTTP ${res.status}); check the settings (an Outlook tenant must exist).`,
    );
  }
  const issuer = typeof body?.issuer === "string" ? body.issuer : "";
  let ok = false;
  try {
    ok = res.ok && new URL(issuer).origin === new URL(url).origin && checkEndpoint(issuer, "issuer") === issuer;
  } catch {
    ok = false;
  }
  if (!ok)
    throw new ConnectorError("provider_error", `${name}'s sign-in configuration was unusable (HTTP ${res.status}). Try again shortly.`, {
      retryable: res.status >= 500,
    });
  return issuer;
}

/** True when the settings move the connection's endpoints (before any discovery): changing them needs a new grant. */
export function endpointsDiffer(provider: Provider, before: Record<string, unknown>, after: Record<string, unknown>): boolean {
  const key = (s: Record<string, unknown>) => {
    const t = provider.def.oauth?.connection_endpoints?.(s);
    return JSON.stringify(t ? [t.authorization_url, t.token_url, t.revocation_url, t.issuer, t.discovery_url] : null);
  };
  return key(before) !== key(after);
}
