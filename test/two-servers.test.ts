// Two MCP clients side by side (a desktop app and an IDE), each spawning its own stdio
// server on one database and one callback port: the port's owner finishes grants started by
// either, the other one notices through the database, a survivor takes the port over when
// the owner dies, and a port held by some other program is reported instead of crashing.
import http from "node:http";
import path from "node:path";
import { ElicitationCompleteNotificationSchema, ElicitRequestSchema, type ElicitRequest } from "@modelcontextprotocol/sdk/types.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { consentOverHttp } from "./sandbox/consent.js";
import { portalIdFor, startHubSpotSandbox, type HubSpotSandbox } from "./sandbox/hubspot.js";
import { freePort, startStdioServer, tempDir, waitForStderr, type StdioServer } from "./support/stdio.js";

type Sc = Record<string, any>;
type Result = { isError?: boolean; structuredContent: Sc };

const call = async (s: StdioServer, name: string, args: Record<string, unknown>) => (await s.client.callTool({ name, arguments: args })) as Result;

/** The stderr lines of a server that say it connected this connector. */
const connectedBy = (s: StdioServer, connectorId: string) =>
  s.transport.stderr.split("\n").some((l) => l.includes('"msg":"connector connected"') && l.includes(connectorId));

describe("two stdio servers on one database and one callback port", () => {
  let sandbox: HubSpotSandbox;
  let owner: StdioServer;
  let other: StdioServer;
  let env: Record<string, string>;
  let redirectUri: string;
  const elicitations: ElicitRequest["params"][] = [];
  const completions: string[] = [];

  beforeAll(async () => {
    const port = await freePort();
    redirectUri = `http://127.0.0.1:${port}/oauth/callback`;
    sandbox = await startHubSpotSandbox({ redirectUri });
    env = { TENEX_DB: path.join(tempDir(), "tenex.db"), TENEX_CALLBACK_PORT: String(port), ...sandbox.env };
    owner = await startStdioServer(env);
    await waitForStderr(owner.transport, "oauth callback listener ready");
    // The second client declares URL elicitation: it must hear about a grant its server did not finish.
    other = await startStdioServer(env, { clientCapabilities: { elicitation: { url: {} } } });
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
    await owner?.close();
    await sandbox?.close();
  });

  it("serves tools on the server without the port, and the owner finishes its grant", async () => {
    expect(other.transport.stderr).not.toContain("oauth callback listener ready");
    const providers = await call(other, "list_providers", {});
    expect(providers.isError).toBeFalsy();

    const started = await call(other, "start_connector_oauth", { provider: "hubspot", label: "IDE HubSpot" });
    const { connector_id, authorization_url } = started.structuredContent;
    expect(new URL(authorization_url).searchParams.get("redirect_uri")).toBe(redirectUri);

    let resolvedAt = 0;
    const waiting = call(other, "wait_for_connector", { connector_id, timeout_seconds: 30 }).then((r) => {
      resolvedAt = Date.now();
      return r;
    });
    const { callbackUrl } = await consentOverHttp(authorization_url, { login: "ida", redirectPrefix: redirectUri });
    const sentAt = Date.now();
    const page = await fetch(callbackUrl);
    const doneAt = Date.now();
    expect(page.status).toBe(200);
    expect(page.headers.get("x-tenex-connectors")).toMatch(/^[0-9a-f]{16}$/);
    expect(await page.text()).toContain(`Connected HubSpot as portal ${portalIdFor("ida")}`);

    // The other process noticed through the database: its wait ended, its client was told.
    const res = await waiting;
    console.info(`cross-process: callback took ${doneAt - sentAt} ms; wait_for_connector returned ${resolvedAt - doneAt} ms after it answered`);
    expect(resolvedAt - doneAt).toBeLessThan(1000);
    expect(res.structuredContent).toMatchObject({ id: connector_id, status: "connected", label: "IDE HubSpot" });
    expect(connectedBy(owner, connector_id)).toBe(true);
    expect(connectedBy(other, connector_id)).toBe(false);

    expect(elicitations).toHaveLength(1);
    expect(elicitations[0]).toMatchObject({ mode: "url", url: authorization_url });
    const elicitationId = (elicitations[0] as { elicitationId: string }).elicitationId;
    await expect.poll(() => completions, { timeout: 2000 }).toEqual([elicitationId]);
  });

  it("takes the port over when the owner is killed, and finishes the next grant itself", async () => {
    const killedAt = Date.now();
    owner.transport.child.kill("SIGKILL");
    await owner.transport.waitForExit();
    await waitForStderr(other.transport, '"took_over":true', 6000);
    console.info(`survivor took the callback port over ${Date.now() - killedAt} ms after the owner was killed`);

    const started = await call(other, "start_connector_oauth", { provider: "hubspot" });
    const { connector_id, authorization_url } = started.structuredContent;
    const { callbackUrl } = await consentOverHttp(authorization_url, { login: "sam", redirectPrefix: redirectUri });
    const page = await fetch(callbackUrl);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain(`Connected HubSpot as portal ${portalIdFor("sam")}`);
    expect(connectedBy(other, connector_id)).toBe(true);
    expect((await call(other, "get_connector_status", { connector_id })).structuredContent.status).toBe("connected");
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
    server = await startStdioServer({ TENEX_DB: path.join(tempDir(), "tenex.db"), TENEX_CALLBACK_PORT: String(port) });
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
    const res = await call(server, "list_providers", {});
    expect(res.isError).toBeFalsy();
    expect(res.structuredContent.providers.length).toBeGreaterThan(0);
    expect(server.transport.child.exitCode).toBeNull();
  });
});
