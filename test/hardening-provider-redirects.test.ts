// Issue 12, finding 8: redirects carry secrets. A hostile provider answers its revocation, token and Graph
// endpoints with 307 to another listener; the server must never follow (that listener receives nothing:
// no client secret, no token), and a redirect is not success (the outcome is not `revoked`).
import crypto from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { getConnectorRow } from "../src/store/connectors.js";
import { LOCAL_WORKSPACE_ID } from "../src/store/workspaces.js";
import { HUBSPOT_SCOPES } from "./sandbox/hubspot.js";
import { type ProviderSandbox, startProviderSandbox } from "./sandbox/provider.js";
import { type Harness, reservePort, startHarness } from "./support/harness.js";
import { type Listener, startRecordingListener } from "./support/hostile.js";

let thief: Listener;
let redirector: Listener;
let h: Harness;
let tokenRedirect: Harness;
const sandboxes: ProviderSandbox[] = [];
const metaLongLived = new Set<string>();

beforeAll(async () => {
  thief = await startRecordingListener();
  redirector = await startRecordingListener({ status: 307, headers: { location: `${thief.url}/steal` }, body: "" });
  const { port, redirectUri } = await reservePort();
  let webflow: ProviderSandbox | undefined;
  let meta: ProviderSandbox | undefined;
  webflow = await startProviderSandbox({
    provider: "webflow",
    redirectUri,
    scopes: ["sites:read", "cms:read", "cms:write"],
    validateTokens: false,
    revocationUrl: () => `${redirector.url}/oauth/revoke_authorization`,
    routes: {
      "GET /v2/token/introspect": async (req) =>
        (await webflow!.oauth.validateAccessToken(req.token ?? ""))
          ? { json: { authorization: { authorizedTo: { siteIds: ["abc123"] } } } }
          : { status: 401, json: {} },
    },
    oauth: { rewriteTokenResponse: (body) => ({ ...body, expires_in: undefined, refresh_token: undefined }) },
  });
  meta = await startProviderSandbox({
    provider: "meta_ads",
    redirectUri,
    scopes: ["ads_read"],
    extraValidTokens: metaLongLived,
    oauth: {
      handleGetToken: async (params) => {
        if (!(await meta!.oauth.validateAccessToken(params.get("fb_exchange_token") ?? "")))
          return { status: 400, body: { error: { code: 190 } } };
        const longLived = `EAAL${crypto.randomBytes(24).toString("hex")}`;
        metaLongLived.add(longLived);
        return { status: 200, body: { access_token: longLived, token_type: "bearer", expires_in: 5183944 } };
      },
    },
  });
  const hubspot = await startProviderSandbox({
    provider: "hubspot",
    redirectUri,
    scopes: HUBSPOT_SCOPES,
    revocationUrl: () => `${redirector.url}/oauth/revoke`,
  });
  sandboxes.push(webflow, meta, hubspot);
  // Meta revokes through the Graph API: its API origin is the redirector.
  h = await startHarness({ env: { ...webflow.env, ...meta.env, ...hubspot.env, TENEX_META_ADS_API_BASE_URL: redirector.url }, port });

  const second = await reservePort();
  const hs2 = await startProviderSandbox({ provider: "hubspot", redirectUri: second.redirectUri, scopes: HUBSPOT_SCOPES });
  sandboxes.push(hs2);
  tokenRedirect = await startHarness({ env: { ...hs2.env, TENEX_HUBSPOT_TOKEN_URL: `${redirector.url}/oauth/token` }, port: second.port });
});

afterAll(async () => {
  await Promise.all([h, tokenRedirect].map((x) => x?.close()));
  await Promise.all(sandboxes.map((s) => s.close()));
  await Promise.all([thief, redirector].map((l) => l?.close()));
});

describe("finding 8: redirects carry secrets", () => {
  it("Webflow's revoke hook does not follow a 307 with the client secret, and does not report revoked", async () => {
    const { connector_id } = await h.connect("webflow");
    const rev = await h.ok("revoke_connector", { connector_id });
    expect(redirector.received.some((r) => r.path === "/oauth/revoke_authorization")).toBe(true);
    expect(rev.provider_revocation).toBe("failed");
    expect(thief.received).toEqual([]);
  });

  it("Meta's revoke hook does not follow a 307 with the Bearer token", async () => {
    const { connector_id } = await h.connect("meta_ads");
    const rev = await h.ok("revoke_connector", { connector_id });
    expect(redirector.received.some((r) => r.method === "DELETE" && r.path.endsWith("/me/permissions"))).toBe(true);
    expect(rev.provider_revocation).toBe("failed");
    expect(thief.received).toEqual([]);
  });

  it("RFC 7009 revocation (HubSpot, through openid-client) does not follow a 307", async () => {
    const { connector_id } = await h.connect("hubspot");
    const rev = await h.ok("revoke_connector", { connector_id });
    expect(redirector.received.some((r) => r.path === "/oauth/revoke")).toBe(true);
    expect(rev.provider_revocation).toBe("failed");
    expect(thief.received).toEqual([]);
  });

  it("the code exchange does not follow a 307 from the token endpoint: the grant fails, nothing reaches the other host", async () => {
    const { connector_id, status } = await tokenRedirect.connect("hubspot");
    expect(status).toBe(502);
    expect(redirector.received.some((r) => r.path === "/oauth/token" && r.body.includes("code="))).toBe(true);
    const row = await getConnectorRow(tokenRedirect.ctx.db, LOCAL_WORKSPACE_ID, connector_id);
    expect(row).toMatchObject({ status: "error", status_reason: "provider_error" });
    expect(thief.received).toEqual([]);
  });
});
