// The person's whole path in a real browser (headless Chromium): an MCP client that declares
// URL-mode elicitation is asked to open the authorization URL, the person signs in and
// approves (or cancels) on the OAuth server's own pages, the provider redirects to our
// callback, our result page tells them what happened, and the client is told it is over.

import { ElicitationCompleteNotificationSchema, ElicitRequestSchema, type ElicitResult } from "@modelcontextprotocol/sdk/types.js";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openDatabase } from "../src/store/db.js";
import { type HubSpotSandbox, portalIdFor } from "./sandbox/hubspot.js";
import { issuedBy } from "./sandbox/oauth-server.js";
import { artifactPath, launchChromium, type RecordedContext, recordedContext } from "./support/browser.js";
import { type StdioHubSpot, type StdioServer, startStdioHubSpot, waitForStderr } from "./support/stdio.js";

interface UrlElicitation {
  mode: "url";
  url: string;
  message: string;
  elicitationId: string;
}

describe("consent in a real browser", () => {
  let stdio: StdioHubSpot;
  let sandbox: HubSpotSandbox;
  let server: StdioServer;
  let browser: Browser;
  let dbPath: string;
  let redirectUri: string;
  const contexts: RecordedContext[] = [];
  const elicited: UrlElicitation[] = [];
  const completed: string[] = [];
  /** How the client answers the next elicitation. */
  let answer: () => Promise<ElicitResult> = async () => ({ action: "accept" });

  /** Open the authorization URL in a fresh browser context and sign in on the OAuth server's login page. */
  const signIn = async (url: string, login: string): Promise<{ page: Page; rec: RecordedContext }> => {
    const rec = await recordedContext(browser);
    contexts.push(rec);
    const page = await rec.context.newPage();
    await page.goto(url);
    // Our connect page first: Continue takes the browser to the provider.
    await page.click("button:has-text('Continue')");
    await page.fill("input[name=login]", login);
    await page.fill("input[name=password]", "sandbox-password");
    await page.click("button[type=submit]");
    // The consent page lists what the app asks for.
    await page.waitForSelector("text=[ Cancel ]");
    return { page, rec };
  };

  /** Facts about the result page that the person sees, read in the browser. */
  const pageFacts = (page: Page) =>
    page.evaluate(() => ({
      lang: document.documentElement.lang,
      title: document.title,
      h1: [...document.querySelectorAll("h1")].map((h) => h.textContent?.trim() ?? ""),
      text: document.body.textContent,
      html: document.documentElement.outerHTML,
      scripts: document.scripts.length,
      external: [...document.querySelectorAll("[src],[href]")].map((e) => e.getAttribute("src") ?? e.getAttribute("href")),
    }));

  /** Every request after the navigation to our callback went to our own origin. */
  const requestsFromOurPage = (rec: RecordedContext) => {
    const first = rec.requests.findIndex((u) => u.startsWith(redirectUri));
    expect(first).toBeGreaterThanOrEqual(0);
    return rec.requests.slice(first);
  };

  beforeAll(async () => {
    [stdio, browser] = await Promise.all([startStdioHubSpot({ clientCapabilities: { elicitation: { url: {} } } }), launchChromium()]);
    ({ sandbox, server, redirectUri, dbPath } = stdio);
    server.client.setRequestHandler(ElicitRequestSchema, async (req) => {
      elicited.push(req.params as UrlElicitation);
      return answer();
    });
    server.client.setNotificationHandler(ElicitationCompleteNotificationSchema, (n) => {
      completed.push(n.params.elicitationId);
    });
  });

  afterAll(async () => {
    for (const c of contexts) await c.context.close().catch(() => undefined);
    await browser?.close();
    await stdio?.close();
  });

  it("connects HubSpot: elicitation, sign-in, consent, our success page, connected, completion notification", async () => {
    const { connector_id, authorization_url } = await server.call("start_connector_oauth", { provider: "hubspot", label: "Sales CRM" });

    // The client was asked to open exactly the URL that is also in the result.
    expect(elicited).toHaveLength(1);
    const req = elicited[0]!;
    expect(req).toMatchObject({ mode: "url", url: authorization_url });
    expect(req.elicitationId).toMatch(/^eli_/);
    expect(req.message).toContain("HubSpot");
    expect(req.message).toContain('workspace "local"');

    const { page, rec } = await signIn(req.url, "alice");
    await Promise.all([page.waitForURL((u) => u.href.startsWith(redirectUri)), page.click("button[type=submit]")]);
    const callbackUrl = new URL(page.url());

    const facts = await pageFacts(page);
    const portal = `portal ${portalIdFor("alice")}`;
    expect(facts.lang).toBe("en");
    expect(facts.title).toContain("Connected HubSpot");
    expect(facts.h1).toEqual([`Connected HubSpot as ${portal}`]);
    expect(facts.text).toContain("HubSpot");
    expect(facts.text).toContain(portal);
    expect(facts.text).toContain("Sales CRM");
    expect(facts.text).toContain("What to do next");
    expect(facts.text).toMatch(/close this tab/i);
    expect(facts.scripts).toBe(0);
    expect(facts.external).toEqual([]);
    expect(requestsFromOurPage(rec).every((u) => new URL(u).origin === callbackUrl.origin)).toBe(true);

    // No secret on the page: tokens, client secret, PKCE verifier, code, state.
    const exchange = sandbox.oauth.tokenCalls.find((c) => c.grant_type === "authorization_code" && c.status === 200);
    const body = issuedBy(exchange);
    const secrets = [
      body.access_token,
      body.refresh_token,
      sandbox.clientSecret,
      exchange!.request!.code_verifier,
      callbackUrl.searchParams.get("code"),
      callbackUrl.searchParams.get("state"),
    ] as string[];
    for (const s of secrets) {
      expect(s.length).toBeGreaterThan(15);
      expect(facts.html.includes(s)).toBe(false);
    }
    await page.screenshot({ path: artifactPath("consent-success.png"), fullPage: true });

    const status = await server.call("get_connector_status", { connector_id });
    expect(status).toMatchObject({ status: "connected", label: "Sales CRM", account: { portal_id: portalIdFor("alice") } });
    await expect.poll(() => completed, { timeout: 2000 }).toContain(req.elicitationId);
  });

  it("declining on the consent page shows our denial page and sets error with consent_denied", async () => {
    const { connector_id, authorization_url } = await server.call("start_connector_oauth", { provider: "hubspot" });
    const req = elicited.at(-1)!;
    expect(req.url).toBe(authorization_url);

    const { page, rec } = await signIn(authorization_url, "bob");
    await Promise.all([page.waitForURL((u) => u.href.startsWith(redirectUri)), page.click("text=[ Cancel ]")]);
    expect(new URL(page.url()).searchParams.get("error")).toBe("access_denied");

    const facts = await pageFacts(page);
    expect(facts.lang).toBe("en");
    expect(facts.title).toContain("HubSpot not connected");
    expect(facts.h1).toEqual(["HubSpot was not connected"]);
    expect(facts.text).toContain("You declined access at HubSpot");
    expect(facts.text).toContain("What to do next");
    expect(facts.external).toEqual([]);
    expect(requestsFromOurPage(rec).every((u) => u.startsWith(new URL(redirectUri).origin))).toBe(true);
    await page.screenshot({ path: artifactPath("consent-denied.png"), fullPage: true });

    const status = await server.call("get_connector_status", { connector_id });
    expect(status.status).toBe("error");
    expect(status.status_reason).toBe("consent_denied");
    expect(status.status_detail).toMatch(/declined access at HubSpot/);
    // Any outcome completes the elicitation.
    await expect.poll(() => completed, { timeout: 2000 }).toContain(req.elicitationId);
  });

  it("a link whose state expired shows our expired page and changes nothing; reading the connector then settles it as state_expired", async () => {
    const { connector_id, authorization_url } = await server.call("start_connector_oauth", { provider: "hubspot" });
    const req = elicited.at(-1)!;
    expect(req.url).toBe(authorization_url);
    // Through the connect page (Continue) and the provider's sign-in; then the link ages.
    const { page } = await signIn(authorization_url, "carol");
    // Age the grant in the real database file, as if ten minutes had passed.
    const db = await openDatabase(dbPath);
    const changed = await db.db
      .updateTable("oauth_grants")
      .set({ expires_at: new Date(Date.now() - 60_000).toISOString() })
      .where("connector_id", "=", connector_id)
      .executeTakeFirst();
    await db.close();
    expect(Number(changed.numUpdatedRows)).toBe(1);

    const [response] = await Promise.all([page.waitForResponse((r) => r.url().startsWith(redirectUri)), page.click("button[type=submit]")]);
    expect(response.status()).toBe(400);
    await page.waitForLoadState();

    const facts = await pageFacts(page);
    expect(facts.lang).toBe("en");
    expect(facts.title).toContain("Sign-in link expired");
    expect(facts.h1).toEqual(["This HubSpot sign-in link has expired"]);
    expect(facts.text).toContain("Nothing was changed");
    expect(facts.text).toMatch(/start the connection again/);
    await page.screenshot({ path: artifactPath("consent-expired.png"), fullPage: true });

    const after = await openDatabase(dbPath);
    const row = await after.db.selectFrom("connectors").select("status").where("id", "=", connector_id).executeTakeFirstOrThrow();
    await after.close();
    expect(row.status).toBe("pending"); // the callback itself changed nothing
    // The link can no longer finish, so the next read settles the connector instead of leaving it pending forever.
    const status = await server.call("get_connector_status", { connector_id });
    expect(status.status).toBe("error");
    expect(status.status_reason).toBe("state_expired");
    expect(status.status_detail).toMatch(/^The authorization link expired/);
    // Settling it completes the elicitation like any other outcome.
    await expect.poll(() => completed, { timeout: 2000 }).toContain(req.elicitationId);
  });

  it("returns the result without waiting for a client that is slow to answer the elicitation", async () => {
    let release!: () => void;
    const answered = new Promise<ElicitResult>((resolve) => (release = () => resolve({ action: "decline" })));
    let clientAnswered = false;
    answer = async () => {
      const r = await answered;
      clientAnswered = true;
      return r;
    };
    const before = elicited.length;
    const start = await server.call("start_connector_oauth", { provider: "hubspot" });
    expect(start.authorization_url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\//);
    expect(elicited.length).toBe(before + 1);
    expect(clientAnswered).toBe(false);
    release();
    await waitForStderr(server.transport, '"accepted":false');
    answer = async () => ({ action: "accept" });
  });

  it("wrote only JSON-RPC messages to stdout", () => {
    for (const line of server.transport.stdoutLines) expect(JSON.parse(line).jsonrpc).toBe("2.0");
  });
});
