/**
 * Members' single sign-on through an OpenID Connect issuer (TENEX_LOGIN_OIDC_ISSUER, _CLIENT_ID,
 * _CLIENT_SECRET): authorization code with PKCE (S256) and a nonce, through openid-client. The
 * issuer is discovered once per process; plain http is allowed only for a loopback issuer (as for
 * providers' endpoints, credentials/oauth-client.ts). openid-client is loaded when single sign-on
 * is first used, so a server without it starts without the library.
 */
import type * as Oidc from "openid-client";
import { isLoopbackHost } from "../catalog/catalog.js";
import { openid } from "../catalog/openid.js";

export interface LoginOidcSettings {
  issuer: string;
  client_id: string;
  client_secret?: string | undefined;
}

/** What sign-in needs from the issuer's ID token. */
export interface VerifiedIdentity {
  email: string;
}

export class LoginOidcError extends Error {}

export class LoginOidc {
  private config: Promise<{ client: typeof Oidc; config: Oidc.Configuration }> | undefined;

  constructor(private readonly settings: LoginOidcSettings) {}

  private configuration(): Promise<{ client: typeof Oidc; config: Oidc.Configuration }> {
    this.config ??= (async () => {
      const client = await openid();
      const issuer = new URL(this.settings.issuer);
      const insecure = issuer.protocol === "http:" && isLoopbackHost(issuer.hostname);
      const auth = this.settings.client_secret ? client.ClientSecretPost(this.settings.client_secret) : client.None();
      const config = await client.discovery(issuer, this.settings.client_id, undefined, auth, {
        ...(insecure ? { execute: [client.allowInsecureRequests] } : {}),
        timeout: 20,
      });
      return { client, config };
    })();
    // A failed discovery is tried again at the next sign-in, not remembered.
    this.config.catch(() => {
      this.config = undefined;
    });
    return this.config;
  }

  /** The issuer's authorization URL for this sign-in (state, nonce and PKCE verifier chosen by the caller). */
  async authorizationUrl(p: { redirectUri: string; state: string; nonce: string; verifier: string }): Promise<URL> {
    const { client, config } = await this.configuration();
    return client.buildAuthorizationUrl(config, {
      redirect_uri: p.redirectUri,
      scope: "openid email",
      state: p.state,
      nonce: p.nonce,
      code_challenge: await client.calculatePKCECodeChallenge(p.verifier),
      code_challenge_method: "S256",
    });
  }

  /**
   * Finish a sign-in: exchange the code (checking state, nonce and PKCE), and return the email of
   * the ID token, only when the issuer says it is verified. Throws LoginOidcError otherwise.
   */
  async finish(currentUrl: URL, p: { state: string; nonce: string; verifier: string }): Promise<VerifiedIdentity> {
    const { client, config } = await this.configuration();
    let tokens: Awaited<ReturnType<typeof client.authorizationCodeGrant>>;
    try {
      tokens = await client.authorizationCodeGrant(config, currentUrl, {
        pkceCodeVerifier: p.verifier,
        expectedState: p.state,
        expectedNonce: p.nonce,
        idTokenExpected: true,
      });
    } catch (err) {
      throw new LoginOidcError(`the sign-in at the identity provider did not complete (${(err as { code?: string }).code ?? "refused"})`);
    }
    const claims = tokens.claims();
    const email = typeof claims?.email === "string" ? claims.email : undefined;
    if (!email) throw new LoginOidcError("the identity provider did not say which email you signed in with");
    if (claims?.email_verified !== true) throw new LoginOidcError(`the identity provider has not verified ${email}`);
    return { email };
  }
}
