// The foundation's end-to-end path: the built server over stdio, a real OAuth server standing
// in for HubSpot, consent over HTTP, the callback, and a connected connector — with no secret
// anywhere a client, a log reader or a disk reader could see it.
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { consentOverHttp } from "./sandbox/consent.js";
import { portalIdFor, startHubSpotSandbox, type HubSpotSandbox } from "./sandbox/hubspot.js";
import { freePort, startStdioServer, tempDir, waitForStderr, type StdioServer } from "./support/stdio.js";

type Sc = Record<string, any>;

describe("stdio server, HubSpot through a real OAuth server", () => {
  let sandbox: HubSpotSandbox;
  let server: StdioServer;
  let dir: string;
  let redirectUri: string;
  const results: string[] = [];

  const call = async (name: string, args: Record<string, unknown>) => {
    const res = await server.client.callTool({ name, arguments: args });
    results.push(JSON.stringify(res));
    return res as { isError?: boolean; structuredContent: Sc; content: Array<{ type: string; text: string }> };
  };

  beforeAll(async () => {
    const port = await freePort();
    redirectUri = `http://127.0.0.1:${port}/oauth/callback`;
    sandbox = await startHubSpotSandbox({ redirectUri });
    dir = tempDir();
    server = await startStdioServer({ TENEX_DB: path.join(dir, "tenex.db"), TENEX_CALLBACK_PORT: String(port), ...sandbox.env });
    await waitForStderr(server.transport, "oauth callback listener ready");
  });

  afterAll(async () => {
    await server?.close();
    await sandbox?.close();
  });

  it("lists the four tools with input and output schemas and all four annotation hints", async () => {
    const { tools } = await server.client.listTools();
    expect(tools.map((t) => t.name).sort()).toEqual(expect.arrayContaining(["get_connector_status", "list_connectors", "list_providers", "start_connector_oauth"]));
    for (const t of tools) {
      expect(t.inputSchema.type).toBe("object");
      expect(t.outputSchema?.type).toBe("object");
      expect(t.annotations).toMatchObject({
        readOnlyHint: expect.any(Boolean),
        destructiveHint: expect.any(Boolean),
        idempotentHint: expect.any(Boolean),
        openWorldHint: expect.any(Boolean),
      });
    }
  });

  it("shows hubspot as configured in list_providers", async () => {
    const res = await call("list_providers", { role: "crm_sink" });
    const ids = res.structuredContent.providers.map((p: Sc) => p.id);
    expect(ids).toEqual(["hubspot", "salesforce"]);
    expect(res.structuredContent.providers[0].configured).toBe(true);
    expect(res.structuredContent.providers[1].configured).toBe(false);
  });

  it("connects HubSpot: start, consent, callback, connected with account facts", async () => {
    const start = await call("start_connector_oauth", { provider: "hubspot", label: "Sales CRM", roles: ["crm_sink"], settings: { default_objects: ["contacts"] } });
    expect(start.isError).toBeFalsy();
    const { connector_id, authorization_url, status, expires_at } = start.structuredContent;
    expect(status).toBe("pending");
    expect(connector_id).toMatch(/^con_/);
    expect(Date.parse(expires_at) - Date.now()).toBeGreaterThan(9 * 60 * 1000);
    const au = new URL(authorization_url);
    expect(au.origin + au.pathname).toBe(sandbox.env.TENEX_HUBSPOT_AUTHORIZATION_URL);
    expect(au.searchParams.get("code_challenge_method")).toBe("S256");
    expect(au.searchParams.get("redirect_uri")).toBe(redirectUri);
    expect(au.searchParams.get("scope")).toContain("crm.objects.contacts.read");

    const pending = await call("get_connector_status", { connector_id });
    expect(pending.structuredContent.status).toBe("pending");

    const { callbackUrl } = await consentOverHttp(authorization_url, { login: "alice", redirectPrefix: redirectUri });
    const page = await fetch(callbackUrl);
    const html = await page.text();
    expect(page.status).toBe(200);
    expect(html).toContain(`Connected HubSpot as portal ${portalIdFor("alice")}`);
    expect(html).toMatch(/<html lang="en">/);
    expect(html).toMatch(/<title>[^<]+<\/title>/);
    expect(html).toMatch(/<h1>[^<]+<\/h1>/);
    expect(html).not.toMatch(/<(script|link|img)[^>]+(src|href)=/i);

    const done = await call("get_connector_status", { connector_id });
    expect(done.structuredContent).toMatchObject({
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
    expect(done.structuredContent.last_checked_at).toBeTruthy();
    expect(done.structuredContent.scopes).toContain("crm.objects.deals.write");

    const list = await call("list_connectors", { provider: "hubspot", status: "connected" });
    expect(list.structuredContent.connectors.map((c: Sc) => c.id)).toEqual([connector_id]);

    // The same callback URL again is refused and changes nothing.
    const again = await fetch(callbackUrl);
    expect(again.status).toBe(400);
    expect(await again.text()).toContain("already used");
    expect((await call("get_connector_status", { connector_id })).structuredContent.status).toBe("connected");
  });

  it("leaks no secret into tool results, stderr, or the database files", async () => {
    const exchange = sandbox.oauth.tokenCalls.find((c) => c.grant_type === "authorization_code" && c.status === 200);
    expect(exchange).toBeTruthy();
    const body = exchange!.body as Sc;
    const secrets = {
      access_token: body.access_token as string,
      refresh_token: body.refresh_token as string,
      client_secret: sandbox.clientSecret,
      code_verifier: exchange!.request!.code_verifier as string,
    };
    for (const [name, value] of Object.entries(secrets)) {
      expect(value, name).toBeTruthy();
      expect(value.length, name).toBeGreaterThan(15);
    }
    // Settle the WAL into the main file too, then read every database file raw.
    await server.close();
    const files = fs.readdirSync(dir).filter((f) => f.startsWith("tenex.db"));
    expect(files).toContain("tenex.db");
    const raw = Buffer.concat(files.map((f) => fs.readFileSync(path.join(dir, f))));
    for (const [name, value] of Object.entries(secrets)) {
      expect(raw.includes(Buffer.from(value)), `${name} in database files`).toBe(false);
      expect(server.transport.stderr.includes(value), `${name} in stderr`).toBe(false);
      expect(results.some((r) => r.includes(value)), `${name} in a tool result`).toBe(false);
    }
    // The master key was generated next to the database, readable by its owner only.
    const mode = fs.statSync(path.join(dir, "master.key")).mode & 0o777;
    expect(mode).toBe(0o600);
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
