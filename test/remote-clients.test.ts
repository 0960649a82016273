// Remote MCP clients sign in (issue 17, DESIGN.md "Remote MCP clients"): the server is its own
// OAuth 2.1 authorization server. The SDK's real clients (1.x and 2.x) with no pre-shared key meet
// a 401, discover the metadata, register (dynamic registration or a Client ID Metadata Document),
// send the person to the authorization URL; headless Chromium signs in as a member and presses
// Allow; the client exchanges the code and calls tools in the member's workspace only.
import { Client as ModernClient, StreamableHTTPClientTransport as ModernHttpTransport } from "@modelcontextprotocol/client";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hashPassword } from "../src/credentials/passwords.js";
import { addMember } from "../src/store/members.js";
import { launchChromium, type RecordedContext, recordedContext } from "./support/browser.js";
import { freePort, type HttpHarness, rawRequest, startHttpHarness } from "./support/http.js";
import { approveInBrowser, MemoryAuthProvider, redirectTarget } from "./support/remote-client.js";

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
let target: Awaited<ReturnType<typeof redirectTarget>>;

beforeAll(async () => {
  browser = await launchChromium();
  target = await redirectTarget();
  const port = await freePort();
  h = await startHttpHarness({ port, publicUrl: true });
  await addMember(h.app.ctx.db, {
    workspace_id: h.a.workspace_id,
    email: "ann@alpha.example",
    password_hash: await hashPassword(PASSWORD),
    now: now(),
  });
  await addMember(h.app.ctx.db, {
    workspace_id: h.b.workspace_id,
    email: "bob@beta.example",
    password_hash: await hashPassword(PASSWORD),
    now: now(),
  });
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
  const again = new StreamableHTTPClientTransport(new URL(`${h.url}/mcp`), { authProvider: auth as never });
  const connected = new Client({ name: auth.name, version: "1.0.0" });
  await connected.connect(again);
  return connected;
}

describe("remote MCP clients sign in through OAuth 2.1", () => {
  it("a 1.x SDK client with no key registers dynamically, a member allows it in Chromium, and it calls tools in that member's workspace", async () => {
    const auth = new MemoryAuthProvider(target.url, "Test Desktop Client");
    const client = await signInLegacy("ann@alpha.example", auth);
    expect(auth.client?.client_id).toMatch(/^mcpc_/);
    expect(auth.saved?.refresh_token).toBeTruthy();
    const res = await client.callTool({ name: "list_connectors", arguments: {} });
    expect(res.isError).toBeFalsy();
    // The token acts for alpha: a connector started with it belongs to alpha, not beta.
    const started = await client.callTool({ name: "start_connector_oauth", arguments: { provider: "hubspot" } });
    expect(JSON.stringify(started.structuredContent ?? {})).not.toContain(h.b.workspace_id);
    await client.close();
  });
});
