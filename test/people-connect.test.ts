// The connect page (issue 16, DESIGN.md "People" and "OAuth grant, end to end" step 1), in
// headless Chromium against the local OAuth server: authorization_url is `{base}/connect/{id}`;
// in HTTP mode only a signed-in member of the connector's workspace may continue; Continue binds
// the grant to the browser, so a provider URL captured from the redirect and finished in another
// browser does not connect (binding_mismatch); Cancel settles consent_denied; CSRF; expiry; a
// workspace without members; TENEX_CONNECT_SIGNIN=optional; and the stdio listener's page.
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApiKey, createWorkspace } from "../src/store/workspaces.js";
import { continueOnConnectPage } from "./sandbox/consent.js";
import { type HubSpotSandbox, startHubSpotSandbox } from "./sandbox/hubspot.js";
import { artifactPath, launchChromium, type RecordedContext, recordedContext } from "./support/browser.js";
import { toolCalls } from "./support/calls.js";
import { type Harness, reservePort, startHarness } from "./support/harness.js";
import { bearer, connectClient, freePort, type HttpHarness, rawRequest, startHttpHarness } from "./support/http.js";
import { addPasswordMember, getForm, Jar, pageFacts, post, signInRaw } from "./support/pages.js";

const PASSWORD = "a member's long password";
const now = () => new Date().toISOString();
const CONNECT = /\/connect\/[A-Za-z0-9_-]{43}$/;

let browser: Browser;
const contexts: RecordedContext[] = [];
const fresh = async () => {
  const rec = await recordedContext(browser);
  contexts.push(rec);
  return { rec, page: await rec.context.newPage() };
};

/** Sign in on our /login page (the browser is there, or is sent there). */
async function signInOnPage(page: Page, email: string): Promise<void> {
  await page.fill("#email", email);
  await page.fill("#password", PASSWORD);
  await page.click("button[type=submit]");
}

/** The provider's own login and consent pages (oidc-provider's dev interactions). */
async function consentAtProvider(page: Page, login: string, callbackPrefix: string): Promise<void> {
  await page.fill("input[name=login]", login);
  await page.fill("input[name=password]", "sandbox-password");
  await page.click("button[type=submit]");
  await page.waitForSelector("text=[ Cancel ]");
  await Promise.all([page.waitForURL((u) => u.href.startsWith(callbackPrefix)), page.click("button[type=submit]")]);
}

beforeAll(async () => {
  browser = await launchChromium();
});
afterAll(async () => {
  for (const c of contexts) await c.context.close().catch(() => undefined);
  await browser?.close();
});

describe("the connect page in HTTP mode", () => {
  let sandbox: HubSpotSandbox;
  let h: HttpHarness;
  let callback: string;

  const startRest = async (key: string, label = "Sales CRM") => {
    const res = await fetch(`${h.url}/api/v1/connectors/oauth`, {
      method: "POST",
      headers: { ...bearer(key), "content-type": "application/json" },
      body: JSON.stringify({ provider: "hubspot", label }),
    });
    expect(res.status).toBe(201);
    return (await res.json()) as { connector_id: string; authorization_url: string };
  };
  const statusOf = async (id: string) =>
    (await (await fetch(`${h.url}/api/v1/connectors/${id}`, { headers: bearer(h.a.key) })).json()) as {
      status: string;
      status_reason: string | null;
    };
  const grantOf = (id: string) =>
    h.app.ctx.db.selectFrom("oauth_grants").select(["binding_hash", "used_at"]).where("connector_id", "=", id).executeTakeFirstOrThrow();

  beforeAll(async () => {
    const port = await freePort();
    callback = `http://127.0.0.1:${port}/oauth/callback`;
    sandbox = await startHubSpotSandbox({ redirectUri: callback });
    h = await startHttpHarness({ port, publicUrl: true, env: sandbox.env, server: { connectSignIn: "required" } });
    await addPasswordMember(h.app.ctx.db, h.a.workspace_id, "ann@alpha.example", PASSWORD);
    await addPasswordMember(h.app.ctx.db, h.b.workspace_id, "bob@beta.example", PASSWORD);
  });
  afterAll(async () => {
    await h?.close();
    await sandbox?.close();
  });

  it("sends a person who is not signed in to /login and back; the page says what is asked and by whom; the member continues and connects", async () => {
    const mcp = await connectClient(h.url, h.a.key);
    let started: { connector_id: string; authorization_url: string };
    try {
      started = await toolCalls(mcp.client).call("start_connector_oauth", { provider: "hubspot", label: "Sales CRM" });
    } finally {
      await mcp.client.close();
    }
    expect(started.authorization_url.startsWith(`${h.url}/connect/`)).toBe(true);
    expect(new URL(started.authorization_url).pathname).toMatch(CONNECT);

    const { page, rec } = await fresh();
    await page.goto(started.authorization_url);
    expect(new URL(page.url()).pathname).toBe("/login");
    expect(new URL(page.url()).searchParams.get("return_to")).toBe(new URL(started.authorization_url).pathname);
    await signInOnPage(page, "ann@alpha.example");
    await page.waitForURL(started.authorization_url);

    const facts = await pageFacts(page);
    expect(facts.lang).toBe("en");
    expect(facts.title).toContain("Connect HubSpot");
    expect(facts.h1).toEqual(["Connect HubSpot to the workspace alpha?"]);
    for (const text of ["alpha", "HubSpot", "Sales CRM", "crm.objects.contacts.read", "tenex-http-test"])
      expect(facts.text).toContain(text);
    expect(facts.scripts).toBe(0);
    expect(facts.external).toEqual([]);
    expect(facts.unlabelled).toBe(0);
    const html = await page.content();
    // No secret and not the provider's URL: no state, no PKCE challenge, no client secret.
    expect(html).not.toContain("state=");
    expect(html).not.toContain("code_challenge");
    expect(html).not.toContain(sandbox.clientSecret);
    expect(html).not.toContain(sandbox.env.TENEX_HUBSPOT_AUTHORIZATION_URL!);
    expect(rec.blocked).toEqual([]);
    await page.screenshot({ path: artifactPath("connect-page.png"), fullPage: true });
    // The GET and the /login detour did not use the link up.
    expect(await grantOf(started.connector_id)).toEqual({ binding_hash: null, used_at: null });

    await page.click("button:has-text('Continue')");
    await page.waitForURL((u) => u.href.startsWith(sandbox.env.TENEX_HUBSPOT_AUTHORIZATION_URL!.replace(/\/auth$/, "")));
    const binding = (await rec.context.cookies()).find((c) => c.name.startsWith("tnx_bind_"))!;
    expect(binding).toMatchObject({ httpOnly: true, sameSite: "Lax", path: "/" });
    expect(binding.expires - Date.now() / 1000).toBeLessThanOrEqual(600 + 1);
    expect((await grantOf(started.connector_id)).binding_hash).not.toContain(binding.value);
    await consentAtProvider(page, "alice", callback);
    expect(await page.textContent("h1")).toContain("Connected HubSpot");
    expect(await statusOf(started.connector_id)).toMatchObject({ status: "connected" });
  });

  it("refuses a member of another workspace, and nothing changes", async () => {
    const started = await startRest(h.a.key);
    const { page } = await fresh();
    await page.goto("about:blank");
    await page.goto(`${h.url}/login`);
    await signInOnPage(page, "bob@beta.example");
    await page.waitForSelector("text=You are signed in");
    const response = await page.goto(started.authorization_url);
    expect(response?.status()).toBe(403);
    expect(await page.textContent("h1")).toBe("This link belongs to another workspace");
    expect(await page.textContent("body")).toContain('workspace "beta"');
    expect(await page.locator("button:has-text('Continue')").count()).toBe(0);
    expect(await statusOf(started.connector_id)).toMatchObject({ status: "pending" });
    expect(await grantOf(started.connector_id)).toEqual({ binding_hash: null, used_at: null });
  });

  it("does not connect a provider URL captured from the Continue redirect and finished in another browser (binding_mismatch)", async () => {
    const started = await startRest(h.a.key);
    const { page } = await fresh();
    await page.goto(started.authorization_url);
    await signInOnPage(page, "ann@alpha.example");
    await page.waitForURL(started.authorization_url);
    const [redirect] = await Promise.all([
      page.waitForResponse((r) => r.url() === started.authorization_url && r.request().method() === "POST"),
      page.click("button:has-text('Continue')"),
    ]);
    expect(redirect.status()).toBe(303);
    const captured = (await redirect.allHeaders()).location!;
    expect(captured.startsWith(sandbox.env.TENEX_HUBSPOT_AUTHORIZATION_URL!)).toBe(true);

    const elsewhere = await fresh();
    await elsewhere.page.goto(captured);
    await consentAtProvider(elsewhere.page, "mallory", callback);
    expect(await elsewhere.page.textContent("h1")).toBe("Could not connect HubSpot");
    expect(await elsewhere.page.textContent("body")).toContain("did not start in this browser");
    const s = await statusOf(started.connector_id);
    expect(s).toMatchObject({ status: "error", status_reason: "binding_mismatch" });
    // No code was exchanged for the other browser's consent.
    expect(
      sandbox.oauth.tokenCalls.filter(
        (c) => c.grant_type === "authorization_code" && c.request?.code === new URL(elsewhere.page.url()).searchParams.get("code"),
      ),
    ).toEqual([]);
  });

  it("Cancel settles the grant as consent_denied and uses the link up", async () => {
    const started = await startRest(h.a.key);
    const { page } = await fresh();
    await page.goto(started.authorization_url);
    await signInOnPage(page, "ann@alpha.example");
    await page.waitForURL(started.authorization_url);
    await page.click("button:has-text('Cancel')");
    await page.waitForSelector("text=You cancelled");
    expect(await statusOf(started.connector_id)).toMatchObject({ status: "error", status_reason: "consent_denied" });
    const again = await page.goto(started.authorization_url);
    expect(again?.status()).toBe(410);
  });

  it("refuses a post without this browser's CSRF token, and nothing changes", async () => {
    const started = await startRest(h.a.key);
    const jar = new Jar();
    expect((await signInRaw(h.url, jar, "ann@alpha.example", PASSWORD)).status).toBe(303);
    const page = await getForm(started.authorization_url, jar);
    expect(page.status).toBe(200);
    const forged = await post(started.authorization_url, jar, { action: "continue", csrf: "not-the-token" });
    expect(forged.status).toBe(403);
    const none = await post(started.authorization_url, jar, { action: "cancel" });
    expect(none.status).toBe(403);
    expect(await statusOf(started.connector_id)).toMatchObject({ status: "pending" });
    expect(await grantOf(started.connector_id)).toEqual({ binding_hash: null, used_at: null });
    // With the token, Continue works once; a second Continue finds the link used.
    const ok = await post(started.authorization_url, jar, { action: "continue", csrf: page.csrf });
    expect(ok.status).toBe(303);
    expect(ok.headers.location?.startsWith(sandbox.env.TENEX_HUBSPOT_AUTHORIZATION_URL!)).toBe(true);
    const twice = await post(started.authorization_url, jar, { action: "continue", csrf: page.csrf });
    expect(twice.status).toBe(410);
  });

  it("says an operator must add a member when the workspace has none; an expired link says so", async () => {
    const ws = await createWorkspace(h.app.ctx.db, "gamma", now());
    const key = await createApiKey(h.app.ctx.db, ws.id, now());
    const started = await startRest(key.key);
    const r = await rawRequest(started.authorization_url);
    expect(r.status).toBe(403);
    expect(r.body).toContain("members add");
    expect(r.body).not.toContain("Continue");

    const late = await startRest(h.a.key);
    await h.app.ctx.db
      .updateTable("oauth_grants")
      .set({ expires_at: new Date(Date.now() - 1000).toISOString() })
      .where("connector_id", "=", late.connector_id)
      .execute();
    const jar = new Jar();
    await signInRaw(h.url, jar, "ann@alpha.example", PASSWORD);
    const expired = await getForm(late.authorization_url, jar);
    expect(expired.status).toBe(410);
    expect(expired.body).toContain("link expired");
  });
});

describe("TENEX_CONNECT_SIGNIN=optional", () => {
  it("lets anyone with the link continue after the page, and the binding still holds", async () => {
    const port = await freePort();
    const callback = `http://127.0.0.1:${port}/oauth/callback`;
    const sandbox = await startHubSpotSandbox({ redirectUri: callback });
    const h = await startHttpHarness({ port, publicUrl: true, env: sandbox.env, server: { connectSignIn: "optional" } });
    try {
      const res = await fetch(`${h.url}/api/v1/connectors/oauth`, {
        method: "POST",
        headers: { ...bearer(h.a.key), "content-type": "application/json" },
        body: JSON.stringify({ provider: "hubspot" }),
      });
      const started = (await res.json()) as { authorization_url: string };
      const { providerUrl, cookie } = await continueOnConnectPage(started.authorization_url);
      expect(providerUrl.startsWith(sandbox.env.TENEX_HUBSPOT_AUTHORIZATION_URL!)).toBe(true);
      expect(cookie).toMatch(/tnx_bind_[a-f0-9]{16}=/);
    } finally {
      await h.close();
      await sandbox.close();
    }
  });
});

describe("the connect page in stdio mode (the callback listener)", () => {
  let sandbox: HubSpotSandbox;
  let h: Harness;

  beforeAll(async () => {
    const { port, redirectUri } = await reservePort();
    sandbox = await startHubSpotSandbox({ redirectUri });
    h = await startHarness({ env: sandbox.env, port });
  });
  afterAll(async () => {
    await h?.close();
    await sandbox?.close();
  });

  it("is served on the loopback listener without sign-in, names what is asked, and connects after Continue", async () => {
    const started = await h.ok("start_connector_oauth", { provider: "hubspot", label: "Local CRM" });
    expect(started.authorization_url.startsWith(`${new URL(h.redirectUri).origin}/connect/`)).toBe(true);
    const { page, rec } = await fresh();
    const response = await page.goto(started.authorization_url);
    expect(response?.headers()["content-security-policy"]).toContain("frame-ancestors 'none'");
    const facts = await pageFacts(page);
    expect(facts.lang).toBe("en");
    expect(facts.h1).toEqual(["Connect HubSpot to the workspace local?"]);
    for (const text of ["Local CRM", "crm.objects.contacts.read", "tenex-lifecycle-test"]) expect(facts.text).toContain(text);
    expect(facts.scripts).toBe(0);
    expect(facts.external).toEqual([]);
    expect(await page.content()).not.toContain("state=");
    await page.click("button:has-text('Continue')");
    await consentAtProvider(page, "alice", h.redirectUri);
    expect(await page.textContent("h1")).toContain("Connected HubSpot");
    expect(rec.blocked.every((u) => !u.startsWith("http://127.0.0.1"))).toBe(true);
    expect((await h.ok("get_connector_status", { connector_id: started.connector_id })).status).toBe("connected");
  });
});
