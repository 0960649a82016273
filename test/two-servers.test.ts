// Two MCP clients side by side (a desktop app and an IDE), each spawning its own stdio
// server on one database and one callback port: the port's owner finishes grants started by
// either, the other one notices through the database, a survivor takes the port over when
// the owner dies, and a port held by some other program is reported instead of crashing.
import http from "node:http";
import { ElicitationCompleteNotificationSchema, type ElicitRequest, ElicitRequestSchema } from "@modelcontextprotocol/sdk/types.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { consentOverHttp } from "./sandbox/consent.js";
import { portalIdFor } from "./sandbox/hubspot.js";
import { testDatabaseEnv } from "./support/database.js";
import {
  freePort,
  type StdioHubSpot,
  type StdioServer,
  startStdioHubSpot,
  startStdioServer,
  tempDir,
  waitForStderr,
} from "./support/stdio.js";

/** The stderr lines of a server that say it connected this connector. */
const connectedBy = (s: StdioServer, connectorId: string) =>
  s.transport.stderr.split("\n").some((l) => l.includes('"msg":"connector connected"') && l.includes(connectorId));

describe("two stdio servers on one database and one callback port", () => {
  let stdio: StdioHubSpot;
  let owner: StdioServer;
  let other: StdioServer;
  let redirectUri: string;
  const elicitations: ElicitRequest["params"][] = [];
  const completions: string[] = [];

  beforeAll(async () => {
    stdio = await startStdioHubSpot();
    ({ server: owner, redirectUri } = stdio);
    // The second client declares URL elicitation: it must hear about a grant its server did not finish.
    other = await startStdioServer(stdio.env, { clientCapabilities: { elicitation: { url: {} } } });
    other.client.setRequestHandler(ElicitRequestSchema, async (req) => {
      elicitations.push(req.params);
      return { action: "accept" };
    });
    other.client.setNotificationHandler(ElicitationCompleteNotificationSchema, (n) => {
      completions.push(n.params.elicitationId);
    });
    await waitForStderr(other.transport, "held by another tenex-connectors process");
  });

  afterAll(async () => {
    await other?.close();
    await stdio?.close();
  });

  it("serves tools on the server without the port, and the owner finishes its grant", async () => {
    expect(other.transport.stderr).not.toContain("oauth callback listener ready");
    expect((await other.call("list_providers", {})).providers.length).toBeGreaterThan(0);

    const { connector_id, authorization_url } = await other.call("start_connector_oauth", { provider: "hubspot", label: "IDE HubSpot" });
    // The link is a connect page on the callback port, which the other server holds (it serves grants of the shared database).
    expect(authorization_url.startsWith(`${new URL(redirectUri).origin}/connect/`)).toBe(true);

    const events: string[] = [];
    const waiting = other.call("wait_for_connector", { connector_id, timeout_seconds: 30 }).then((r) => {
      events.push("wait returned");
      return r;
    });
    const { callbackUrl, cookie } = await consentOverHttp(authorization_url, { login: "ida", redirectPrefix: redirectUri });
    events.push("callback sent");
    const page = await fetch(callbackUrl, { headers: { cookie } });
    expect(page.status).toBe(200);
    expect(page.headers.get("x-tenex-connectors")).toMatch(/^[0-9a-f]{16}$/);
    expect(await page.text()).toContain(`Connected HubSpot as portal ${portalIdFor("ida")}`);

    // The other process noticed through the database: its wait ended, its client was told.
    const res = await waiting;
    // Woken by the other process's write (not by its 30 s timeout), after the callback was sent.
    await waitForStderr(other.transport, `"connector_id":"${connector_id}","end":"settled"`);
    expect(events).toEqual(["callback sent", "wait returned"]);
    expect(res).toMatchObject({ id: connector_id, status: "connected", label: "IDE HubSpot" });
    expect(connectedBy(owner, connector_id)).toBe(true);
    expect(connectedBy(other, connector_id)).toBe(false);

    expect(elicitations).toHaveLength(1);
    expect(elicitations[0]).toMatchObject({ mode: "url", url: authorization_url });
    const elicitationId = (elicitations[0] as { elicitationId: string }).elicitationId;
    await expect.poll(() => completions, { timeout: 2000 }).toEqual([elicitationId]);
  });

  it("takes the port over when the owner is killed, and finishes the next grant itself", async () => {
    owner.transport.child.kill("SIGKILL");
    await owner.transport.waitForExit();
    await waitForStderr(other.transport, '"took_over":true');

    const { connector_id, authorization_url } = await other.call("start_connector_oauth", { provider: "hubspot" });
    const { callbackUrl, cookie } = await consentOverHttp(authorization_url, { login: "sam", redirectPrefix: redirectUri });
    const page = await fetch(callbackUrl, { headers: { cookie } });
    expect(page.status).toBe(200);
    expect(await page.text()).toContain(`Connected HubSpot as portal ${portalIdFor("sam")}`);
    expect(connectedBy(other, connector_id)).toBe(true);
    expect((await other.call("get_connector_status", { connector_id })).status).toBe("connected");
  });
});

describe("callback port held by another program", () => {
  let squatter: http.Server;
  let server: StdioServer;
  let port: number;

  beforeAll(async () => {
    port = await freePort();
    squatter = http.createServer((_req, res) => res.end("not tenex"));
    await new Promise<void>((resolve) => squatter.listen(port, "127.0.0.1", resolve));
    server = await startStdioServer({ ...testDatabaseEnv(tempDir()), TENEX_CALLBACK_PORT: String(port) });
  });

  afterAll(async () => {
    await server?.close();
    await new Promise<void>((resolve) => squatter.close(() => resolve()));
  });

  it("says which port and what to set on stderr, and keeps serving tools", async () => {
    await waitForStderr(server.transport, "is held by another program");
    const line = server.transport.stderr.split("\n").find((l) => l.includes("is held by another program"))!;
    expect(line).toContain(`127.0.0.1:${port}`);
    expect(line).toContain("TENEX_CALLBACK_PORT");
    expect(JSON.parse(line).level).toBe("error");
    expect((await server.call("list_providers", {})).providers.length).toBeGreaterThan(0);
    expect(server.transport.child.exitCode).toBeNull();
  });
});
