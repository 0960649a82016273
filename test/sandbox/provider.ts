// A stand-in for any OAuth provider: a real OAuth server (oidc-provider) plus a fake of the
// provider's API, with the TENEX_<P>_… variables that point tenex-connectors at them.
import { randomBytes } from "node:crypto";

import { type FakeApi, type FakeRoute, startFakeApi } from "./fake-api.js";
import { type OAuthServer, type OAuthServerOptions, startOAuthServer } from "./oauth-server.js";

export interface ProviderSandboxOptions {
  /** tenex provider id, e.g. "salesforce" */
  provider: string;
  redirectUri: string;
  scopes: string[];
  routes?: Record<string, FakeRoute>;
  /** Require a token the OAuth server issued on every API route (default true). */
  validateTokens?: boolean;
  /** Also accept these tokens on API routes (e.g. Meta's long-lived tokens minted by handleGetToken). */
  extraValidTokens?: Set<string>;
  /** Point TENEX_<P>_API_BASE_URL at the fake (default true; Salesforce takes its API host from instance_url instead). */
  apiBaseOverride?: boolean;
  /** Point TENEX_<P>_REVOCATION_URL somewhere else than the OAuth server (Webflow's own revoke endpoint); null: leave it unset. */
  revocationUrl?: ((api: FakeApi) => string) | null;
  oauth?: Partial<Omit<OAuthServerOptions, "clients" | "scopes">>;
}

export interface ProviderSandbox {
  oauth: OAuthServer;
  api: FakeApi;
  clientId: string;
  clientSecret: string;
  env: Record<string, string>;
  close(): Promise<void>;
}

export async function startProviderSandbox(opts: ProviderSandboxOptions): Promise<ProviderSandbox> {
  const clientId = `${opts.provider}-sandbox-${randomBytes(6).toString("hex")}`;
  const clientSecret = randomBytes(24).toString("base64url");
  const oauth = await startOAuthServer({
    clients: [{ client_id: clientId, client_secret: clientSecret, redirect_uris: [opts.redirectUri] }],
    scopes: opts.scopes,
    ...opts.oauth,
  });
  let api: FakeApi;
  try {
    api = await startFakeApi(opts.routes ?? {}, {
      ...(opts.validateTokens === false
        ? {}
        : {
            validate: async (token: string) =>
              Boolean(opts.extraValidTokens?.has(token)) || (await oauth.validateAccessToken(token)) !== null,
          }),
    });
  } catch (err) {
    await oauth.close();
    throw err;
  }
  const P = `TENEX_${opts.provider.toUpperCase()}`;
  const env: Record<string, string> = {
    [`${P}_CLIENT_ID`]: clientId,
    [`${P}_CLIENT_SECRET`]: clientSecret,
    [`${P}_AUTHORIZATION_URL`]: oauth.endpoints.authorization_url,
    [`${P}_TOKEN_URL`]: oauth.endpoints.token_url,
  };
  if (opts.revocationUrl !== null)
    env[`${P}_REVOCATION_URL`] = opts.revocationUrl ? opts.revocationUrl(api) : oauth.endpoints.revocation_url;
  if (opts.apiBaseOverride !== false) env[`${P}_API_BASE_URL`] = api.url;
  return {
    oauth,
    api,
    clientId,
    clientSecret,
    env,
    async close() {
      await Promise.allSettled([api.close(), oauth.close()]);
    },
  };
}
