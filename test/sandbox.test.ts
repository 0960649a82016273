// Proves the provider sandbox (test/sandbox/*) works with real parts: oidc-provider as the
// authorization server, openid-client as the client, plain HTTP for the consent pages.
import * as client from "openid-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { consentOverHttp } from "./sandbox/consent.js";
import { type HubSpotSandbox, portalIdFor, startHubSpotSandbox } from "./sandbox/hubspot.js";

const REDIRECT_URI = "http://127.0.0.1:59999/oauth/callback";
const SCOPE =
  "oauth crm.objects.contacts.read crm.objects.contacts.write crm.objects.companies.read " +
  "crm.objects.companies.write crm.objects.deals.read crm.objects.deals.write crm.objects.owners.read";

function configFor(sb: HubSpotSandbox): client.Configuration {
  const config = new client.Configuration(
    {
      issuer: sb.oauth.issuer,
      authorization_endpoint: sb.oauth.endpoints.authorization_url,
      token_endpoint: sb.oauth.endpoints.token_url,
      revocation_endpoint: sb.oauth.endpoints.revocation_url,
    },
    sb.clientId,
    undefined,
    client.ClientSecretPost(sb.clientSecret),
  );
  client.allowInsecureRequests(config); // loopback http only
  return config;
}

async function authorize(sb: HubSpotSandbox, config: client.Configuration, login: string, deny = false) {
  const pkceCodeVerifier = client.randomPKCECodeVerifier();
  const expectedState = client.randomState();
  const url = client.buildAuthorizationUrl(config, {
    redirect_uri: REDIRECT_URI,
    scope: SCOPE,
    state: expectedState,
    code_challenge: await client.calculatePKCECodeChallenge(pkceCodeVerifier),
    code_challenge_method: "S256",
  });
  const { callbackUrl } = await consentOverHttp(url.href, { login, deny, redirectPrefix: REDIRECT_URI });
  return { callbackUrl, pkceCodeVerifier, expectedState };
}

async function accountInfo(sb: HubSpotSandbox, token: string) {
  const res = await fetch(`${sb.env.TENEX_HUBSPOT_API_BASE_URL}/account-info/2026-03/details`, {
    headers: { authorization: `Bearer ${token}` },
  });
  return { status: res.status, body: (await res.json()) as any };
}

describe("HubSpot provider sandbox", () => {
  let sb: HubSpotSandbox;
  let config: client.Configuration;

  beforeAll(async () => {
    sb = await startHubSpotSandbox({ redirectUri: REDIRECT_URI });
    config = configFor(sb);
  });
  afterAll(async () => {
    await sb?.close();
  });

  it("exposes loopback endpoints and the env the server needs", () => {
    expect(sb.oauth.issuer).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(sb.oauth.endpoints.authorization_url).toBe(`${sb.oauth.issuer}/auth`);
    expect(sb.oauth.endpoints.token_url).toBe(`${sb.oauth.issuer}/token`);
    expect(sb.oauth.endpoints.revocation_url).toBe(`${sb.oauth.issuer}/token/revocation`);
    expect(sb.oauth.endpoints.introspection_url).toBe(`${sb.oauth.issuer}/token/introspection`);
    expect(Object.keys(sb.env).sort()).toEqual([
      "TENEX_HUBSPOT_API_BASE_URL",
      "TENEX_HUBSPOT_AUTHORIZATION_URL",
      "TENEX_HUBSPOT_CLIENT_ID",
      "TENEX_HUBSPOT_CLIENT_SECRET",
      "TENEX_HUBSPOT_REVOCATION_URL",
      "TENEX_HUBSPOT_TOKEN_URL",
    ]);
  });

  it("runs code + PKCE, calls the fake API, refreshes, and records token calls", async () => {
    const { callbackUrl, pkceCodeVerifier, expectedState } = await authorize(sb, config, "alice");
    const cb = new URL(callbackUrl);
    expect(cb.searchParams.get("code")).toBeTruthy();
    expect(cb.searchParams.get("state")).toBe(expectedState);
    expect(cb.searchParams.get("iss")).toBe(sb.oauth.issuer); // RFC 9207, omitIss=false

    const tokens = await client.authorizationCodeGrant(config, cb, { pkceCodeVerifier, expectedState });
    expect(tokens.access_token).toBeTruthy();
    expect(tokens.refresh_token).toBeTruthy();
    expect(tokens.token_type.toLowerCase()).toBe("bearer");
    expect(tokens.expiresIn()).toBeGreaterThan(1700);
    expect(tokens.scope?.split(" ").sort()).toEqual(SCOPE.split(" ").sort());

    expect(await sb.oauth.validateAccessToken(tokens.access_token)).toEqual({
      accountId: "alice",
      scopes: expect.arrayContaining(["oauth", "crm.objects.contacts.read"]),
      clientId: sb.clientId,
    });

    const ok = await accountInfo(sb, tokens.access_token);
    expect(ok.status).toBe(200);
    expect(ok.body.portalId).toBe(portalIdFor("alice"));
    expect(ok.body).toMatchObject({ timeZone: "Europe/Berlin", companyCurrency: "EUR", accountType: "STANDARD" });

    const bad = await accountInfo(sb, "garbage-token");
    expect(bad.status).toBe(401);
    expect(bad.body).toEqual({ status: "error", message: "Authentication credentials not found" });
    expect(await sb.oauth.validateAccessToken("garbage-token")).toBeNull();

    const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token!);
    expect(refreshed.access_token).toBeTruthy();
    expect(refreshed.access_token).not.toBe(tokens.access_token);
    // HubSpot-like: no rotation, so the same refresh token comes back (or none at all)
    expect(refreshed.refresh_token ?? tokens.refresh_token).toBe(tokens.refresh_token);
    expect((await accountInfo(sb, refreshed.access_token)).status).toBe(200);

    expect(sb.oauth.tokenCalls.map((c) => [c.grant_type, c.client_id, c.status])).toEqual([
      ["authorization_code", sb.clientId, 200],
      ["refresh_token", sb.clientId, 200],
    ]);

    // failNextTokenCalls answers without reaching oidc-provider
    sb.oauth.failNextTokenCalls(1, 400, { error: "invalid_grant", error_description: "sandbox says no" });
    const err = await client.refreshTokenGrant(config, tokens.refresh_token!).catch((e) => e);
    expect(err).toBeInstanceOf(client.ResponseBodyError);
    expect(err.error).toBe("invalid_grant");
    expect(err.status).toBe(400);
    expect(sb.oauth.tokenCalls.at(-1)).toMatchObject({ grant_type: "refresh_token", client_id: sb.clientId, status: 400 });
    // ...only once
    expect((await client.refreshTokenGrant(config, tokens.refresh_token!)).access_token).toBeTruthy();

    // revocation of the refresh token kills the grant, its access tokens included
    await client.tokenRevocation(config, tokens.refresh_token!, { token_type_hint: "refresh_token" });
    expect(sb.oauth.revocationCalls).toHaveLength(1);
    expect(sb.oauth.revocationCalls[0]).toMatchObject({ client_id: sb.clientId, status: 200 });
    expect((await accountInfo(sb, refreshed.access_token)).status).toBe(401);
    const revoked = await client.refreshTokenGrant(config, tokens.refresh_token!).catch((e) => e);
    expect(revoked.error).toBe("invalid_grant");
  });

  it("deny on the consent page yields error=access_denied", async () => {
    const { callbackUrl, expectedState } = await authorize(sb, config, "bob", true);
    const cb = new URL(callbackUrl);
    expect(cb.searchParams.get("error")).toBe("access_denied");
    expect(cb.searchParams.get("state")).toBe(expectedState);
    expect(cb.searchParams.get("code")).toBeNull();
  });

  it("token request and response gates, and 5xx injection", async () => {
    const { callbackUrl, pkceCodeVerifier, expectedState } = await authorize(sb, config, "carol");
    const tokens = await client.authorizationCodeGrant(config, new URL(callbackUrl), { pkceCodeVerifier, expectedState });
    const grants = () => sb.oauth.tokenCalls.filter((c) => c.grant_type === "refresh_token").length;

    // A held request is not processed until released; only the first n are held.
    const before = grants();
    const requests = sb.oauth.holdTokenRequests({ first: 1 });
    let answered = false;
    const held = client.refreshTokenGrant(config, tokens.refresh_token!).then(() => (answered = true));
    await expect.poll(() => requests.waiting()).toBe(1);
    await client.refreshTokenGrant(config, tokens.refresh_token!); // the second one passes
    expect(requests.waiting()).toBe(1);
    expect(answered).toBe(false);
    expect(grants()).toBe(before + 1);
    requests.release();
    await held;
    expect(grants()).toBe(before + 2);

    // A held response: the grant is processed and recorded, its answer waits.
    const responses = sb.oauth.holdTokenResponses();
    answered = false;
    const late = client.refreshTokenGrant(config, tokens.refresh_token!).then(() => (answered = true));
    await expect.poll(() => responses.waiting()).toBe(1);
    expect(grants()).toBe(before + 3);
    expect(answered).toBe(false);
    responses.release();
    await late;

    sb.oauth.failNextTokenCalls(1, 503, { error: "temporarily_unavailable" });
    const err = await client.refreshTokenGrant(config, tokens.refresh_token!).catch((e) => e);
    expect(err).toBeInstanceOf(Error);
    expect(sb.oauth.tokenCalls.at(-1)).toMatchObject({ status: 503, grant_type: "refresh_token" });
  });
});

describe("sandbox options", () => {
  it("omitIss strips iss; rotateRefreshToken rotates", async () => {
    const sb = await startHubSpotSandbox({ redirectUri: REDIRECT_URI, omitIss: true, rotateRefreshToken: true, accessTokenTtl: 60 });
    try {
      const config = configFor(sb);
      const { callbackUrl, pkceCodeVerifier, expectedState } = await authorize(sb, config, "dave");
      expect(new URL(callbackUrl).searchParams.has("iss")).toBe(false);
      const tokens = await client.authorizationCodeGrant(config, new URL(callbackUrl), { pkceCodeVerifier, expectedState });
      expect(tokens.expires_in).toBe(60);
      const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token!);
      expect(refreshed.refresh_token).toBeTruthy();
      expect(refreshed.refresh_token).not.toBe(tokens.refresh_token);
      const reused = await client.refreshTokenGrant(config, tokens.refresh_token!).catch((e) => e);
      expect(reused.error).toBe("invalid_grant");
    } finally {
      await sb.close();
    }
  });
});
