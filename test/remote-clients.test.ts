// Remote MCP clients sign in (issue 17, DESIGN.md "Remote MCP clients"): the server is its own
// OAuth 2.1 authorization server. The SDK's real clients (1.x and 2.x) with no pre-shared key meet
// a 401, discover the metadata, register (dynamic registration or a Client ID Metadata Document),
// send the person to the authorization URL; headless Chromium signs in as a member and presses
// Allow; the client exchanges the code and calls tools in the member's workspace only.
import http from "node:http";
import { Client as ModernClient, StreamableHTTPClientTransport as ModernHttpTransport } from "@modelcontextprotocol/client";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { removeMember } from "../src/store/members.js";
import { listClientGrants, revokeClientGrant } from "../src/store/oauth-server.js";
import { createHttpServer } from "../src/transports/http/server.js";
import { tools as registry } from "../tools/index.js";
import { launchChromium, type RecordedContext, recordedContext } from "./support/browser.js";
import { freePort, type HttpHarness, rawRequest, startHttpHarness } from "./support/http.js";
import { addPasswordMember } from "./support/pages.js";
import { approveInBrowser, consentTexts, MemoryAuthProvider, metadataDocument, redirectTarget } from "./support/remote-client.js";

const PASSWORD = "a member's long password";
const now = () => new Date().toISOString();

let browser: Browser;
const contexts: RecordedContext[] = [];
const newPage = async () => {
  const rec = await recordedContext(browser);
  contexts.push(rec);
  return rec.context.newPage();
};

let h: HttpHarness;
/** Added to the app's clock: moves past the refresh token reuse grace without waiting. */
let skew = 0;
let cy = { id: "" };
/** Every token a test saw: none may show up in the log or the database. */
const seenTokens: string[] = [];
let target: Awaited<ReturnType<typeof redirectTarget>>;

beforeAll(async () => {
  browser = await launchChromium();
  target = await redirectTarget();
  const port = await freePort();
  h = await startHttpHarness({
    port,
    publicUrl: true,
    clock: () => Date.now() + skew,
    env: { TENEX_HUBSPOT_CLIENT_ID: "remote-test-id", TENEX_HUBSPOT_CLIENT_SECRET: "remote-test-secret" },
  });
  await addPasswordMember(h.app.ctx.db, h.a.workspace_id, "ann@alpha.example", PASSWORD);
  await addPasswordMember(h.app.ctx.db, h.b.workspace_id, "bob@beta.example", PASSWORD);
  cy = await addPasswordMember(h.app.ctx.db, h.a.workspace_id, "cy@alpha.example", PASSWORD);
});
afterAll(async () => {
  for (const c of contexts) await c.context.close().catch(() => undefined);
  await browser?.close();
  await h?.close();
  await target?.close();
});

/** Sign a 1.x SDK client in as `email` and return it connected. */
async function signInLegacy(email: string, auth: MemoryAuthProvider): Promise<Client> {
  const first = new StreamableHTTPClientTransport(new URL(`${h.url}/mcp`), { authProvider: auth as never });
  const client = new Client({ name: auth.name, version: "1.0.0" });
  await expect(client.connect(first)).rejects.toThrow(/Unauthorized/i);
  expect(auth.authorizationUrl).toBeDefined();
  const page = await newPage();
  const landed = await approveInBrowser(page, auth.authorizationUrl!, { email, password: PASSWORD, redirectPrefix: target.url });
  expect(landed.searchParams.get("iss")).toBe(h.url);
  await first.finishAuth(landed.searchParams.get("code")!);
  seenTokens.push(auth.saved!.access_token, auth.saved!.refresh_token ?? "", landed.searchParams.get("code")!);
  const again = new StreamableHTTPClientTransport(new URL(`${h.url}/mcp`), { authProvider: auth as never });
  const connected = new Client({ name: auth.name, version: "1.0.0" });
  await connected.connect(again);
  return connected;
}

/** Sign a 2.x SDK client in as `email` and return it connected. */
async function signInModern(email: string, auth: MemoryAuthProvider): Promise<ModernClient> {
  const first = new ModernHttpTransport(new URL(`${h.url}/mcp`), { authProvider: auth as never });
  const client = new ModernClient({ name: auth.name, version: "1.0.0" });
  await expect(client.connect(first)).rejects.toThrow(/Unauthorized|authoriz/i);
  expect(auth.authorizationUrl).toBeDefined();
  const page = await newPage();
  const landed = await approveInBrowser(page, auth.authorizationUrl!, { email, password: PASSWORD, redirectPrefix: target.url });
  expect(landed.searchParams.get("iss")).toBe(h.url);
  // The 2.x client checks `iss` (RFC 9207) against the issuer it discovered.
  await first.finishAuth(landed.searchParams);
  seenTokens.push(auth.saved!.access_token, auth.saved!.refresh_token ?? "", landed.searchParams.get("code")!);
  const connected = new ModernClient({ name: auth.name, version: "1.0.0" });
  await connected.connect(new ModernHttpTransport(new URL(`${h.url}/mcp`), { authProvider: auth as never }));
  return connected;
}

const api = (path: string, token: string, init: { method?: string; body?: unknown } = {}) =>
  rawRequest(`${h.url}/api/v1${path}`, {
    method: init.method ?? "GET",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    ...(init.body !== undefined ? { body: JSON.stringify(init.body) } : {}),
  });

/** A token request straight to /token (what a client's refresh does). */
const tokenRequest = (form: Record<string, string>) =>
  rawRequest(`${h.url}/token`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams(form).toString(),
  });

describe("remote MCP clients sign in through OAuth 2.1", () => {
  it("a 1.x SDK client with no key registers dynamically, a member allows it in Chromium, and it calls tools in that member's workspace", async () => {
    const auth = new MemoryAuthProvider(target.url, "Test Desktop Client");
    const client = await signInLegacy("ann@alpha.example", auth);
    expect(auth.client?.client_id).toMatch(/^mcpc_/);
    // The consent page named the client, where it sends the person back, the workspace and the member, and warned that the name is unchecked.
    const consent = consentTexts.at(-1) ?? "";
    for (const part of ["Test Desktop Client", new URL(target.url).host, "alpha", "ann@alpha.example", "registered itself"])
      expect(consent).toContain(part);
    expect(auth.saved?.refresh_token).toBeTruthy();
    expect(auth.saved?.scope).toBe("mcp");
    const started = await client.callTool({ name: "start_connector_oauth", arguments: { provider: "hubspot" } });
    const connectorId = (started.structuredContent as { connector_id?: string } | undefined)?.connector_id;
    expect(connectorId).toMatch(/^con_/);
    // The connector belongs to the member's workspace (alpha): alpha's key sees it, beta's does not.
    const asAlpha = await rawRequest(`${h.url}/api/v1/connectors/${connectorId}`, { headers: { authorization: `Bearer ${h.a.key}` } });
    expect(asAlpha.status).toBe(200);
    const asBeta = await rawRequest(`${h.url}/api/v1/connectors/${connectorId}`, { headers: { authorization: `Bearer ${h.b.key}` } });
    expect(asBeta.status).toBe(404);
    await client.close();
  });

  it("a 2.x SDK client identified by a Client ID Metadata Document on loopback signs in and works on /mcp and /api/v1 for that workspace only", async () => {
    const doc = await metadataDocument((clientId) => ({
      client_id: clientId,
      client_name: "Doc-identified Client",
      redirect_uris: [target.url],
      grant_types: ["authorization_code", "refresh_token"],
      response_types: ["code"],
      token_endpoint_auth_method: "none",
    }));
    try {
      const auth = new MemoryAuthProvider(target.url, "Doc-identified Client", { clientId: doc.clientId, issuer: h.url });
      const client = await signInModern("bob@beta.example", auth);
      expect(doc.fetches).toBeGreaterThan(0);
      const consent = consentTexts.at(-1) ?? "";
      for (const part of ["Doc-identified Client", "identified by a document at 127.0.0.1", "beta", "bob@beta.example"])
        expect(consent).toContain(part);
      const listed = await client.callTool({ name: "list_connectors", arguments: {} });
      expect(listed.isError).toBeFalsy();
      const token = auth.saved!.access_token;
      expect(token).not.toMatch(/^tnx_/);
      // The same token on the REST API acts for beta: a connector beta's key made is seen, alpha's is not.
      const mine = await api("/connectors/oauth", h.b.key, { method: "POST", body: { provider: "hubspot" } });
      const theirs = await api("/connectors/oauth", h.a.key, { method: "POST", body: { provider: "hubspot" } });
      expect([mine.status, theirs.status]).toEqual([201, 201]);
      const list = await api("/connectors", token);
      expect(list.status).toBe(200);
      const ids = (list.json().connectors as Array<{ id: string }>).map((c) => c.id);
      expect(ids).toContain(mine.json().connector_id);
      expect(ids).not.toContain(theirs.json().connector_id);
      expect((await api(`/connectors/${theirs.json().connector_id}`, token)).status).toBe(404);
      await client.close();
    } finally {
      await doc.close();
    }
  });

  it("Deny sends the client back with access_denied and allows nothing", async () => {
    const auth = new MemoryAuthProvider(target.url, "Denied Client");
    const first = new StreamableHTTPClientTransport(new URL(`${h.url}/mcp`), { authProvider: auth as never });
    await expect(new Client({ name: "d", version: "1" }).connect(first)).rejects.toThrow(/Unauthorized/i);
    const landed = await approveInBrowser(await newPage(), auth.authorizationUrl!, {
      email: "ann@alpha.example",
      password: PASSWORD,
      redirectPrefix: target.url,
      decision: "deny",
    });
    expect(landed.searchParams.get("error")).toBe("access_denied");
    expect(landed.searchParams.get("code")).toBeNull();
  });

  it("refresh tokens rotate; a racing reuse within the grace gets its own pair; a reuse after the grace ends the whole grant", async () => {
    const auth = new MemoryAuthProvider(target.url, "Refreshing Client");
    (await signInLegacy("ann@alpha.example", auth)).close();
    const clientId = String(auth.client?.client_id);
    const rt1 = auth.saved!.refresh_token!;
    const first = await tokenRequest({ grant_type: "refresh_token", refresh_token: rt1, client_id: clientId });
    expect(first.status).toBe(200);
    const rotated = first.json();
    seenTokens.push(rotated.access_token, rotated.refresh_token);
    expect(rotated.refresh_token).toBeTruthy();
    expect(rotated.refresh_token).not.toBe(rt1);
    expect((await api("/connectors", rotated.access_token)).status).toBe(200);
    // Another process of the same client refreshed with the same token at the same moment: it gets its own pair.
    const racing = await tokenRequest({ grant_type: "refresh_token", refresh_token: rt1, client_id: clientId });
    expect(racing.status).toBe(200);
    expect((await api("/connectors", racing.json().access_token)).status).toBe(200);
    // After the grace, the old token presented again is theft or a bug: the whole grant ends.
    skew += 61_000;
    try {
      const replay = await tokenRequest({ grant_type: "refresh_token", refresh_token: rt1, client_id: clientId });
      expect(replay.status).toBe(400);
      expect(replay.json().error).toBe("invalid_grant");
      for (const t of [rotated.access_token, racing.json().access_token]) {
        const refused = await api("/connectors", t);
        expect(refused.status).toBe(401);
        expect(refused.headers["www-authenticate"]).toContain('error="invalid_token"');
      }
      const later = await tokenRequest({ grant_type: "refresh_token", refresh_token: rotated.refresh_token, client_id: clientId });
      expect(later.status).toBe(400);
      const record = (await listClientGrants(h.app.ctx.db)).find((g) => g.client_id === clientId);
      expect(record?.revoked_at).toBeTruthy();
    } finally {
      skew -= 61_000;
    }
  });

  it("a token is for {base}/mcp only: another instance on the same database at another address refuses it (keys still work there); revoking the grant refuses the very next request", async () => {
    const auth = new MemoryAuthProvider(target.url, "Bound Client");
    const client = await signInLegacy("ann@alpha.example", auth);
    const token = auth.saved!.access_token;
    const port2 = await freePort();
    const other = createHttpServer(
      { ...h.app.ctx, redirectUri: `http://127.0.0.1:${port2}/oauth/callback` },
      { tools: registry, host: "127.0.0.1", port: port2 },
    );
    await other.listen();
    try {
      const there = await rawRequest(`${other.url()}/api/v1/connectors`, { headers: { authorization: `Bearer ${token}` } });
      expect(there.status).toBe(401);
      const keyThere = await rawRequest(`${other.url()}/api/v1/connectors`, { headers: { authorization: `Bearer ${h.a.key}` } });
      expect(keyThere.status).toBe(200);
    } finally {
      await other.close();
    }
    expect((await api("/connectors", token)).status).toBe(200);
    const grant = (await listClientGrants(h.app.ctx.db, h.a.workspace_id)).find((g) => g.client_id === auth.client?.client_id);
    expect(grant).toMatchObject({ client_name: "Bound Client", member_email: "ann@alpha.example", revoked_at: null });
    await revokeClientGrant(h.app.ctx.db, grant!.id, "revoked_by_operator", now());
    expect((await api("/connectors", token)).status).toBe(401);
    await expect(client.callTool({ name: "list_connectors", arguments: {} })).rejects.toThrow();
    const refresh = await tokenRequest({
      grant_type: "refresh_token",
      refresh_token: auth.saved!.refresh_token!,
      client_id: String(auth.client?.client_id),
    });
    expect(refresh.status).toBe(400);
  });

  it("removing the member refuses their client's very next request and ends the grant", async () => {
    const auth = new MemoryAuthProvider(target.url, "Cy's Client");
    const client = await signInLegacy("cy@alpha.example", auth);
    expect((await client.callTool({ name: "list_connectors", arguments: {} })).isError).toBeFalsy();
    const removed = await removeMember(h.app.ctx.db, cy.id);
    expect(removed.client_grants_ended).toBe(1);
    expect((await api("/connectors", auth.saved!.access_token)).status).toBe(401);
    await expect(client.callTool({ name: "list_connectors", arguments: {} })).rejects.toThrow();
    const grant = (await listClientGrants(h.app.ctx.db, h.a.workspace_id)).find((g) => g.client_id === auth.client?.client_id);
    expect(grant).toMatchObject({ revoked_why: "member_removed" });
  });

  it("an access token opens the older HTTP+SSE transport too", async () => {
    const auth = new MemoryAuthProvider(target.url, "SSE Client");
    (await signInLegacy("ann@alpha.example", auth)).close();
    const status = await new Promise<number>((resolve, reject) => {
      const req = http.get(
        `${h.url}/sse`,
        { headers: { authorization: `Bearer ${auth.saved!.access_token}`, accept: "text/event-stream" } },
        (res) => {
          resolve(res.statusCode ?? 0);
          req.destroy();
        },
      );
      req.on("error", reject);
    });
    expect(status).toBe(200);
  });

  it("no code, access token or refresh token is in the log or stored in plaintext", async () => {
    const tokens = seenTokens.filter((t) => t.length >= 20);
    expect(tokens.length).toBeGreaterThan(10);
    const log = h.logs.join("\n");
    const stored = JSON.stringify([
      await h.app.ctx.db
        .withTables<{ oauth_server_records: Record<string, unknown> }>()
        .selectFrom("oauth_server_records")
        .selectAll()
        .execute(),
      await listClientGrants(h.app.ctx.db),
    ]);
    expect(stored.length).toBeGreaterThan(1000);
    for (const t of tokens) {
      expect(log).not.toContain(t);
      expect(stored).not.toContain(t);
    }
  });
});
