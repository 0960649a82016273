/** The running catalog: provider definitions with the operator's overrides applied, and lookup by id. */
import { ConnectorError } from "../common/errors.js";
import type { Logger } from "../common/log.js";
import { PROVIDER_IDS, type ProviderDefinition, type ProviderId, parseProvider } from "./definition.js";

export * from "./definition.js";

/** Operator configuration for one provider, from `TENEX_<P>_…` variables. */
export interface ProviderConfig {
  client_id?: string | undefined;
  client_secret?: string | undefined;
  authorization_url?: string | undefined;
  token_url?: string | undefined;
  revocation_url?: string | undefined;
  api_base_url?: string | undefined;
  /** Any other `TENEX_<P>_<NAME>` variable, by NAME. */
  extra: Record<string, string>;
}

/** A provider as this server runs it: the definition with operator overrides applied. */
export interface Provider {
  def: ProviderDefinition;
  id: ProviderId;
  /** OAuth endpoints after overrides, when the provider offers OAuth. */
  oauth?: ProviderDefinition["oauth"] & { client_id?: string; client_secret?: string };
  /** The endpoints an operator set (`TENEX_<P>_AUTHORIZATION_URL`, …): they win over every connection's own. */
  oauth_overrides: { authorization_url?: string; token_url?: string; revocation_url?: string };
  api_base_url_override?: string;
  env: Record<string, string>;
  /** True when OAuth app credentials are configured. */
  configured: boolean;
}

export function isLoopbackHost(hostname: string): boolean {
  const h = hostname.replace(/^\[|\]$/g, "").toLowerCase();
  return h === "localhost" || h === "::1" || /^127(\.\d{1,3}){3}$/.test(h);
}

/** Refuse plain-http endpoints unless the host is loopback. */
export function checkEndpoint(value: string, what: string): string {
  let u: URL;
  try {
    u = new URL(value);
  } catch {
    throw new Error(`${what} is not a URL`);
  }
  if (u.protocol === "https:") return value;
  if (u.protocol === "http:" && isLoopbackHost(u.hostname)) return value;
  throw new Error(`${what} must use https (plain http is allowed only for loopback hosts)`);
}

/** What talking to providers needs: the catalog, fetch (injectable for tests), the clock and the log. */
export interface CatalogDeps {
  catalog: Catalog;
  /** Used for every provider call (token endpoint, test reads); injectable for tests. */
  fetch: typeof fetch;
  clock: () => number;
  log: Logger;
}

export class Catalog {
  private readonly byId: Map<ProviderId, Provider>;

  constructor(providers: Provider[]) {
    this.byId = new Map(providers.map((p) => [p.id, p]));
  }

  list(): Provider[] {
    return [...this.byId.values()];
  }

  get(id: string): Provider {
    const p = this.byId.get(id as ProviderId);
    if (!p) {
      throw new ConnectorError("unknown_provider", `Unknown provider "${id}". Known providers: ${[...this.byId.keys()].join(", ")}.`);
    }
    return p;
  }
}

/** A value copied from the README or mcp.json unchanged (`…`, `your-hubspot-client-id`, `<client id>`) is not a credential. */
export function isRealCredential(value: string | undefined): value is string {
  if (!value) return false;
  return !/^(\.\.\.|your[-_].*|<.*>|changeme|xxx+|todo)$/i.test(value.trim()) && !value.includes("…");
}

/** Build the running catalog: parse every definition and apply operator overrides. */
export function buildCatalog(definitions: unknown[], configs: Partial<Record<ProviderId, ProviderConfig>>): Catalog {
  const providers: Provider[] = [];
  const seen = new Set<string>();
  for (const raw of definitions) {
    const def = parseProvider(raw);
    if (seen.has(def.id)) throw new Error(`provider definition "${def.id}" is defined twice`);
    seen.add(def.id);
    const cfg = configs[def.id] ?? { extra: {} };
    const envName = `TENEX_${def.id.toUpperCase()}`;
    const endpoint = (v: string | undefined, name: string) => (v === undefined ? undefined : checkEndpoint(v, `${envName}_${name}`));
    let oauth: Provider["oauth"];
    if (def.oauth) {
      oauth = {
        ...def.oauth,
        authorization_url: endpoint(cfg.authorization_url, "AUTHORIZATION_URL") ?? def.oauth.authorization_url,
        token_url: endpoint(cfg.token_url, "TOKEN_URL") ?? def.oauth.token_url,
        revocation_url: endpoint(cfg.revocation_url, "REVOCATION_URL") ?? def.oauth.revocation_url,
        ...(cfg.client_id ? { client_id: cfg.client_id } : {}),
        ...(cfg.client_secret ? { client_secret: cfg.client_secret } : {}),
      };
      checkEndpoint(oauth.authorization_url, `${def.id} authorization_url`);
      checkEndpoint(oauth.token_url, `${def.id} token_url`);
      if (oauth.revocation_url) checkEndpoint(oauth.revocation_url, `${def.id} revocation_url`);
    }
    const apiOverride = endpoint(cfg.api_base_url, "API_BASE_URL");
    const overrides: Provider["oauth_overrides"] = {};
    for (const [k, v] of [
      ["authorization_url", cfg.authorization_url],
      ["token_url", cfg.token_url],
      ["revocation_url", cfg.revocation_url],
    ] as const) {
      if (v !== undefined) overrides[k] = v;
    }
    providers.push({
      def,
      id: def.id,
      ...(oauth ? { oauth } : {}),
      oauth_overrides: def.oauth ? overrides : {},
      ...(apiOverride ? { api_base_url_override: apiOverride.replace(/\/+$/, "") } : {}),
      env: cfg.extra,
      configured: isRealCredential(oauth?.client_id) && isRealCredential(oauth?.client_secret),
    });
  }
  for (const id of PROVIDER_IDS) {
    if (!seen.has(id)) throw new Error(`provider definition "${id}" is missing`);
  }
  return new Catalog(providers);
}
