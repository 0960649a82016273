// Per-connection endpoints against the providers' real host names (Salesforce sandbox and My Domain, Outlook
// tenants), with no endpoint override set: the names are mapped to local stand-ins (oidc-provider acting as each
// host's issuer, and fakes of the APIs) through the injected fetch only, over TLS with a test CA.
import { randomBytes, randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readSecret } from "../src/credentials/secrets.js";
import { getConnectorRow } from "../src/store/connectors.js";
import { LOCAL_WORKSPACE_ID } from "../src/store/workspaces.js";
import { type FetchHarness, startFetchHarness } from "./fidelity/harness.js";
import { type HostRoutes, type MappedHosts, type Route, startMappedHosts } from "./fidelity/mapped-hosts.js";
import { consentOverHttp, continueOnConnectPage } from "./sandbox/consent.js";
import { type FakeApi, startFakeApi } from "./sandbox/fake-api.js";
import { type OAuthServer, type SandboxClient, startOAuthServer } from "./sandbox/oauth-server.js";
import { freePort } from "./support/stdio.js";

const TENANT: string = randomUUID();
const OTHER_TENANT: string = randomUUID();
const MISCONFIGURED_TENANT: string = randomUUID();
const MS = "https://login.microsoftonline.com";
const SANDBOX_INSTANCE = "https://acme--dev.sandbox.my.salesforce.com";
const MY_DOMAIN = "https://acme.my.salesforce.com";

let mapped: MappedHosts;
let h: FetchHarness;
let redirectUri: string;
const sf: Record<"production" | "sandbox" | "mydomain", OAuthServer> = {} as never;
const ms: Record<"tenant" | "misconfigured", OAuthServer> = {} as never;
let api: FakeApi;

/** The stand-in's local origin and path for one of its endpoints. */
const at = (oauth: OAuthServer, endpoint: keyof OAuthServer["endpoints"]): Route => ({
  to: new URL(oauth.endpoints[endpoint]).origin,
  path: new URL(oauth.endpoints[endpoint]).pathname,
});
const toApi = (p: string): Route => ({ to: api.url, path: p });

/** A Salesforce sign-in host: its OAuth paths go to the stand-in, anything else to the API fake (My Domain hosts serve both). */
const salesforceHost =
  (oauth: OAuthServer | null): HostRoutes =>
  (p) => {
    if (oauth && p === "/services/oauth2/authorize") return at(oauth, "authorization_url");
    if (oauth && p === "/services/oauth2/token") return at(oauth, "token_url");
    if (oauth && p === "/services/oauth2/revoke") return at(oauth, "revocation_url");
    return toApi(p);
  };

/** login.microsoftonline.com: /{tenant}/oauth2/v2.0/… and the tenant's discovery document. */
const microsoftHost: HostRoutes = (p) => {
  const m = /^\/([^/]+)\/(?:oauth2\/v2\.0\/(authorize|token)|v2\.0\/\.well-known\/openid-configuration)$/.exec(p);
  if (!m) return undefined;
  const tenant = m[1]!.toLowerCase();
  const guid = tenant === "contoso.example" ? TENANT : tenant;
  if (![TENANT, MISCONFIGURED_TENANT].includes(guid))
    return { status: 400, json: { error: "invalid_tenant", error_description: "AADSTS90002: Tenant not found." } };
  if (!m[2]) return { json: { issuer: `${MS}/${guid}/v2.0`, authorization_endpoint: `${MS}/${guid}/oauth2/v2.0/authorize` } };
  // The misconfigured tenant's endpoints answer with another tenant's issuer.
  const oauth = guid === TENANT ? ms.tenant : ms.misconfigured;
  return at(oauth, m[2] === "authorize" ? "authorization_url" : "token_url");
};

beforeAll(async () => {
  const port = await freePort();
  redirectUri = `http://127.0.0.1:${port}/oauth/callback`;
  const app = (id: string): SandboxClient => ({
    client_id: id,
    client_secret: randomBytes(24).toString("base64url"),
    redirect_uris: [redirectUri],
  });
  const salesforceApp = app("tenex-salesforce-eca");
  const outlookApp = app("tenex-outlook-app");
  const salesforce = (issuer: string, instance: string) =>
    startOAuthServer({
      clients: [salesforceApp],
      scopes: ["api", "refresh_token"],
      issuer,
      rewriteTokenResponse: (body, { grant_type }) => {
        delete body.expires_in;
        if (grant_type === "authorization_code") body.instance_url = instance;
        return body;
      },
    });
  const microsoft = (issuerTenant: string) =>
    startOAuthServer({
      clients: [outlookApp],
      scopes: ["User.Read", "Mail.ReadBasic", "Mail.Send"],
      issuer: `${MS}/${issuerTenant}/v2.0`,
      idTokenClaims: ["tid"],
      accounts: { alice: { tid: issuerTenant }, mallory: { tid: OTHER_TENANT } },
      rotateRefreshToken: true,
      omitIss: true, // Microsoft sends no RFC 9207 iss: the id_token's iss is what is checked
    });
  [sf.production, sf.sandbox, sf.mydomain, ms.tenant, ms.misconfigured] = await Promise.all([
    salesforce("https://login.salesforce.com", MY_DOMAIN),
    salesforce("https://test.salesforce.com", SANDBOX_INSTANCE),
    salesforce(MY_DOMAIN, MY_DOMAIN),
    microsoft(TENANT),
    microsoft(OTHER_TENANT),
  ]);
  const servers = [...Object.values(sf), ...Object.values(ms)];
  api = await startFakeApi(
    {
      "GET /services/oauth2/userinfo": () => ({
        json: { email: "alice@acme.example", preferred_username: "alice@acme", organization_id: "00D1", user_id: "0051" },
      }),
      "GET /v1.0/me": () => ({ json: { id: "u-1", displayName: "Alice", mail: "alice@contoso.example" } }),
    },
    { validate: async (token) => (await Promise.all(servers.map((s) => s.validateAccessToken(token)))).some(Boolean) },
  );
  mapped = await startMappedHosts({
    "login.salesforce.com": salesforceHost(sf.production),
    "test.salesforce.com": salesforceHost(sf.sandbox),
    "acme.my.salesforce.com": salesforceHost(sf.mydomain),
    "acme--dev.sandbox.my.salesforce.com": salesforceHost(null),
    "login.microsoftonline.com": microsoftHost,
    "graph.microsoft.com": (p) => toApi(p),
  });
  const env = {
    TENEX_SALESFORCE_CLIENT_ID: salesforceApp.client_id,
    TENEX_SALESFORCE_CLIENT_SECRET: salesforceApp.client_secret,
    TENEX_OUTLOOK_CLIENT_ID: outlookApp.client_id,
    TENEX_OUTLOOK_CLIENT_SECRET: outlookApp.client_secret,
  };
  h = await startFetchHarness({ env, fetch: mapped.fetch, port });
});

afterAll(async () => {
  await h?.close();
  await mapped?.close();
  await Promise.allSettled([api?.close(), ...Object.values(sf).map((s) => s.close()), ...Object.values(ms).map((s) => s.close())]);
});

/** start_connector_oauth, then the person's browser: the provider host is resolved to its stand-in, consent, callback. */
async function connect(provider: string, settings: Record<string, unknown>, oauth: OAuthServer, login = "alice") {
  const start = await h.ok("start_connector_oauth", { provider, settings });
  // Our connect page first (Continue), which sends the browser to the provider's own host.
  const { providerUrl, cookie } = await continueOnConnectPage(start.authorization_url);
  const local = new URL(oauth.endpoints.authorization_url);
  local.search = new URL(providerUrl).search;
  const { callbackUrl } = await consentOverHttp(local.href, { login, redirectPrefix: redirectUri });
  const page = await (await fetch(callbackUrl, { headers: { cookie } })).text();
  return { id: start.connector_id as string, authorizationUrl: new URL(providerUrl), page };
}

const grantsAt = (oauth: OAuthServer, type: string) => oauth.tokenCalls.filter((c) => c.grant_type === type && c.status === 200).length;

describe("Salesforce login_host", () => {
  it.each([
    ["sandbox", "https://test.salesforce.com", "sandbox", SANDBOX_INSTANCE],
    ["a My Domain", MY_DOMAIN, "mydomain", MY_DOMAIN],
  ] as const)("a connector on %s signs in, exchanges, refreshes and revokes on its own host", async (_what, origin, which, instance) => {
    const own = sf[which];
    const before = { production: grantsAt(sf.production, "authorization_code"), own: grantsAt(own, "refresh_token") };
    const { id, authorizationUrl, page } = await connect("salesforce", { login_host: which === "sandbox" ? "sandbox" : MY_DOMAIN }, own);
    expect(authorizationUrl.origin).toBe(origin);
    expect(authorizationUrl.pathname).toBe("/services/oauth2/authorize");
    expect(page).toContain("Connected Salesforce");
    const c = await h.ok("get_connector_status", { connector_id: id });
    expect(c).toMatchObject({ status: "connected", account: { instance_url: instance, email: "alice@acme.example" } });
    expect((await h.ok("refresh_connector", { connector_id: id })).refreshed).toBe(true);
    expect(grantsAt(own, "refresh_token")).toBe(before.own + 1);
    expect(grantsAt(sf.production, "authorization_code")).toBe(before.production); // login.salesforce.com never saw it
    const revoked = await h.ok("revoke_connector", { connector_id: id });
    expect(revoked.provider_revocation).toBe("revoked");
    expect(mapped.seen.filter((s) => s.path === "/services/oauth2/revoke").at(-1)?.host).toBe(new URL(origin).hostname);
    expect(mapped.refused).toEqual([]);
  });

  it("a connector without login_host signs in at login.salesforce.com", async () => {
    const { authorizationUrl, page } = await connect("salesforce", {}, sf.production);
    expect(authorizationUrl.origin).toBe("https://login.salesforce.com");
    expect(page).toContain("Connected Salesforce");
  });

  it.each([
    "https://evil.example",
    "http://acme.my.salesforce.com",
    "https://user:pw@acme.my.salesforce.com",
    "https://acme.my.salesforce.com@evil.example",
    "https://127.0.0.1",
    "https://[::1]",
    "https://acme.my.salesforce.com:8443",
    "https://acme.my.salesforce.com/services",
    "https://acme.my.salesforce.com.evil.example",
    "https://evil.example/.my.salesforce.com",
    "https://evil.example#.my.salesforce.com",
    "https://my.salesforce.com",
    "login.salesforce.com",
  ])("refuses login_host %s with invalid_input, reaching nothing", async (login_host) => {
    const seen = mapped.seen.length;
    const before = (await h.ok("list_connectors", { provider: "salesforce", limit: 100 })).connectors.length;
    const err = await h.fail("start_connector_oauth", { provider: "salesforce", settings: { login_host } });
    expect(err.code).toBe("invalid_input");
    expect(err.message).toContain("login_host");
    expect(mapped.seen.length).toBe(seen);
    expect((await h.ok("list_connectors", { provider: "salesforce", limit: 100 })).connectors.length).toBe(before);
  });

  it("refuses to move a connected connector to another login_host: the person must consent there", async () => {
    const { id } = await connect("salesforce", { login_host: "sandbox" }, sf.sandbox);
    const err = await h.fail("update_connector", { connector_id: id, settings: { login_host: MY_DOMAIN } });
    expect(err.code).toBe("invalid_input");
    expect(err.message).toMatch(/start_connector_oauth/);
    expect((await h.ok("get_connector_status", { connector_id: id })).settings).toEqual({ login_host: "sandbox" });
    // A setting that does not move the sign-in still changes.
    expect((await h.ok("update_connector", { connector_id: id, settings: { api_version: "v68.0" } })).settings).toEqual({
      login_host: "sandbox",
      api_version: "v68.0",
    });
  });
});

describe("Outlook tenant", () => {
  it("a GUID tenant signs in on the tenant's endpoints with openid, and refreshes there", async () => {
    const before = grantsAt(ms.tenant, "refresh_token");
    const { id, authorizationUrl, page } = await connect("outlook", { tenant: TENANT }, ms.tenant);
    expect(authorizationUrl.href.startsWith(`${MS}/${TENANT}/oauth2/v2.0/authorize?`)).toBe(true);
    expect(authorizationUrl.searchParams.get("scope")!.split(" ")).toContain("openid");
    expect(page).toContain("Connected Outlook");
    expect(await h.ok("refresh_connector", { connector_id: id })).toMatchObject({ refreshed: true });
    expect(grantsAt(ms.tenant, "refresh_token")).toBe(before + 1);
  });

  it("a domain tenant resolves to its GUID through its discovery document", async () => {
    const { id, authorizationUrl } = await connect("outlook", { tenant: "contoso.example" }, ms.tenant);
    expect(authorizationUrl.pathname).toBe("/contoso.example/oauth2/v2.0/authorize");
    expect(mapped.seen).toContainEqual({
      host: "login.microsoftonline.com",
      method: "GET",
      path: "/contoso.example/v2.0/.well-known/openid-configuration",
    });
    expect((await h.ok("get_connector_status", { connector_id: id })).status).toBe("connected");
  });

  it("refuses a consent whose id_token carries another tenant's tid (tenant_mismatch), keeping no tokens", async () => {
    const { id, page } = await connect("outlook", { tenant: TENANT }, ms.tenant, "mallory");
    expect(page).toContain("not in the tenant");
    const c = await h.ok("get_connector_status", { connector_id: id });
    expect(c).toMatchObject({ status: "error", status_reason: "tenant_mismatch" });
    expect(c.status_detail).toContain(OTHER_TENANT);
    expect(await readSecret(h.app.ctx, h.app.ctx.db, id)).toBeUndefined();
  });

  it("refuses an id_token issued by another tenant's issuer (tenant_mismatch)", async () => {
    const { id } = await connect("outlook", { tenant: MISCONFIGURED_TENANT }, ms.misconfigured);
    const row = await getConnectorRow(h.app.ctx.db, LOCAL_WORKSPACE_ID, id);
    expect(row).toMatchObject({ status: "error", status_reason: "tenant_mismatch" });
    expect(await readSecret(h.app.ctx, h.app.ctx.db, id)).toBeUndefined();
  });

  it("refuses a tenant Microsoft does not know before anything is created", async () => {
    const err = await h.fail("start_connector_oauth", { provider: "outlook", settings: { tenant: "nowhere.example" } });
    expect(err.code).toBe("invalid_input");
    expect(mapped.refused).toEqual([]);
  });

  it("no secret reaches a tool result or a log line", () => {
    const secrets = [...Object.values(sf), ...Object.values(ms)].flatMap((s) =>
      s.tokenCalls.flatMap((c) => [(c.body as Record<string, unknown>)?.access_token, (c.body as Record<string, unknown>)?.refresh_token]),
    );
    const text = [...h.results, ...h.logs].join("\n");
    for (const s of secrets) if (typeof s === "string") expect(text).not.toContain(s);
  });
});
