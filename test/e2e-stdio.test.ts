// The foundation's end-to-end path: the built server over stdio, a real OAuth server standing
// in for HubSpot, consent over HTTP, the callback, and a connected connector — with no secret
// anywhere a client, a log reader or a disk reader could see it.
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { tools as registry } from "../tools/index.js";
import { consentOverHttp, continueOnConnectPage } from "./sandbox/consent.js";
import { type HubSpotSandbox, portalIdFor } from "./sandbox/hubspot.js";
import { issuedBy } from "./sandbox/oauth-server.js";
import { onPostgres, storedBytes } from "./support/database.js";
import { type StdioHubSpot, type StdioServer, startStdioHubSpot } from "./support/stdio.js";
import { expectToolSnapshot } from "./support/tool-snapshots.js";

describe("stdio server, HubSpot through a real OAuth server", () => {
  let stdio: StdioHubSpot;
  let sandbox: HubSpotSandbox;
  let server: StdioServer;
  let dir: string;
  let redirectUri: string;

  beforeAll(async () => {
    stdio = await startStdioHubSpot();
    ({ sandbox, server, dir, redirectUri } = stdio);
  });

  afterAll(async () => {
    await stdio?.close();
  });

  it("lists every tool of the registry over stdio, each exactly as its snapshot file (the checks are in tools.test.ts)", async () => {
    const { tools } = await server.client.listTools();
    expect(tools.map((t) => t.name)).toEqual(registry.map((t) => t.name));
    for (const t of tools) expectToolSnapshot(t);
  });

  it("shows hubspot as configured in list_providers", async () => {
    const { providers } = await server.call("list_providers", { role: "crm_sink" });
    expect(providers.map((p) => p.id)).toEqual(["hubspot", "salesforce"]);
    expect(providers[0]!.configured).toBe(true);
    expect(providers[1]!.configured).toBe(false);
  });

  it("connects HubSpot: start, consent, callback, connected with account facts", async () => {
    const { connector_id, authorization_url, status, expires_at } = await server.call("start_connector_oauth", {
      provider: "hubspot",
      label: "Sales CRM",
      roles: ["crm_sink"],
      settings: { default_objects: ["contacts"] },
    });
    expect(status).toBe("pending");
    expect(connector_id).toMatch(/^con_/);
    expect(Date.parse(expires_at) - Date.now()).toBeGreaterThan(9 * 60 * 1000);
    // The link is our connect page on the callback listener; Continue there leads to the provider.
    expect(authorization_url).toMatch(new RegExp(`^${new URL(redirectUri).origin}/connect/[A-Za-z0-9_-]{43}$`));
    const continued = await continueOnConnectPage(authorization_url);
    const au = new URL(continued.providerUrl);
    expect(au.origin + au.pathname).toBe(sandbox.env.TENEX_HUBSPOT_AUTHORIZATION_URL);
    expect(au.searchParams.get("code_challenge_method")).toBe("S256");
    expect(au.searchParams.get("redirect_uri")).toBe(redirectUri);
    expect(au.searchParams.get("scope")).toContain("crm.objects.contacts.read");

    const pending = await server.call("get_connector_status", { connector_id });
    expect(pending.status).toBe("pending");

    const { callbackUrl } = await consentOverHttp(continued.providerUrl, { login: "alice", redirectPrefix: redirectUri });
    const page = await fetch(callbackUrl, { headers: { cookie: continued.cookie } });
    const html = await page.text();
    expect(page.status).toBe(200);
    expect(html).toContain(`Connected HubSpot as portal ${portalIdFor("alice")}`);
    expect(html).toMatch(/<html lang="en">/);
    expect(html).toMatch(/<title>[^<]+<\/title>/);
    expect(html).toMatch(/<h1>[^<]+<\/h1>/);
    expect(html).not.toMatch(/<(script|link|img)[^>]+(src|href)=/i);

    const done = await server.call("get_connector_status", { connector_id });
    expect(done).toMatchObject({
      id: connector_id,
      provider: "hubspot",
      label: "Sales CRM",
      auth_type: "oauth2",
      status: "connected",
      roles: ["crm_sink"],
      settings: { default_objects: ["contacts"] },
      account: { portal_id: portalIdFor("alice"), time_zone: "Europe/Berlin" },
      health: "healthy",
    });
    expect(done.last_checked_at).toBeTruthy();
    expect(done.scopes).toContain("crm.objects.deals.write");

    const list = await server.call("list_connectors", { provider: "hubspot", status: "connected" });
    expect(list.connectors.map((c) => c.id)).toEqual([connector_id]);

    // The same callback URL again is refused and changes nothing.
    const again = await fetch(callbackUrl, { headers: { cookie: continued.cookie } });
    expect(again.status).toBe(400);
    expect(await again.text()).toContain("already used");
    expect((await server.call("get_connector_status", { connector_id })).status).toBe("connected");
  });

  it("leaks no secret into tool results, stderr, or the database files", async () => {
    const exchange = sandbox.oauth.tokenCalls.find((c) => c.grant_type === "authorization_code" && c.status === 200);
    expect(exchange).toBeTruthy();
    const body = issuedBy(exchange);
    const secrets = {
      access_token: body.access_token,
      refresh_token: String(body.refresh_token),
      client_secret: sandbox.clientSecret,
      code_verifier: String(exchange!.request!.code_verifier),
    };
    for (const [name, value] of Object.entries(secrets)) {
      expect(value, name).toBeTruthy();
      expect(value.length, name).toBeGreaterThan(15);
    }
    // Settle the WAL into the main file too, then read every database file raw.
    await server.close();
    const raw = await storedBytes(stdio.dbPath);
    for (const [name, value] of Object.entries(secrets)) {
      expect(raw.includes(Buffer.from(value)), `${name} in database files`).toBe(false);
      expect(server.transport.stderr.includes(value), `${name} in stderr`).toBe(false);
      expect(
        server.results.some((r) => r.includes(value)),
        `${name} in a tool result`,
      ).toBe(false);
    }
    // The master key was generated next to the database, readable by its owner only (PostgreSQL: TENEX_MASTER_KEY is required, nothing is generated).
    if (!onPostgres) expect(fs.statSync(path.join(dir, "master.key")).mode & 0o777).toBe(0o600);
  });

  it("wrote only JSON-RPC messages to stdout", () => {
    const lines = server.transport.stdoutLines;
    expect(lines.length).toBeGreaterThan(5);
    for (const line of lines) {
      const msg = JSON.parse(line);
      expect(msg.jsonrpc).toBe("2.0");
    }
  });
});
