import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { consentOverHttp } from "./sandbox/consent.js";
import { type HubSpotSandbox, startHubSpotSandbox } from "./sandbox/hubspot.js";
import { LEGACY, type Legacy, legacyClient, legacyHttp, MODERN, type Modern, modernHttp, modernStdio } from "./support/clients.js";
import { testDatabaseEnv } from "./support/database.js";
import { freePort, type HttpHarness, startHttpHarness } from "./support/http.js";
import { RecordingStdioTransport, tempDir, waitForStderr } from "./support/stdio.js";

type Sc = Record<string, any>;
const LOG_LEVEL = "io.modelcontextprotocol/logLevel";

/** The person consents at the sandbox and the browser follows the redirect to our callback. */
async function consent(url: string, redirectUri: string): Promise<void> {
  const { callbackUrl, cookie } = await consentOverHttp(url, { login: "alice", redirectPrefix: redirectUri });
  const res = await fetch(callbackUrl, { headers: { cookie } });
  expect(res.status).toBe(200);
}

/** 2026-07-28: discover, list, call, errors, and the returned URL elicitation answered on retry. */
async function modernFlow(m: Modern, redirectUri: string, opts: { consentBeforeAnswer: boolean }): Promise<string> {
  expect(m.client.getProtocolEra()).toBe("modern");
  expect(m.client.getNegotiatedProtocolVersion()).toBe(MODERN);
  expect(m.client.getDiscoverResult()?.supportedVersions).toEqual([MODERN, LEGACY]);
  const listed = (await m.client.listTools()) as Sc;
  expect(listed.tools.map((t: Sc) => t.name)).toContain("start_connector_oauth");
  expect(listed).toMatchObject({ ttlMs: 60_000, cacheScope: "private" });
  const providers = (await m.client.callTool({ name: "list_providers", arguments: {} })) as Sc;
  expect(providers.structuredContent.providers.some((p: Sc) => p.id === "hubspot")).toBe(true);
  const bad = (await m.client.callTool({ name: "list_connectors", arguments: { limit: "many" } })) as Sc;
  expect(bad).toMatchObject({ isError: true, structuredContent: { error: { code: "invalid_input" } } });
  await expect(m.client.callTool({ name: "no_such_tool", arguments: {} })).rejects.toMatchObject({ code: -32602 });

  // The person finishes in the browser before answering the client's prompt, or after.
  m.answer = async (params) => {
    if (opts.consentBeforeAnswer) await consent(String(params.url), redirectUri);
    return "accept" as const;
  };
  const started = (await m.client.callTool({ name: "start_connector_oauth", arguments: { provider: "hubspot" } })) as Sc;
  expect(m.elicitations).toHaveLength(1);
  const asked = m.elicitations[0]!;
  expect(asked).toEqual({ mode: "url", url: expect.any(String), message: expect.stringContaining("HubSpot") });
  expect(started.structuredContent).toEqual({
    connector_id: expect.stringMatching(/^con_/),
    authorization_url: asked.url,
    expires_at: expect.any(String),
    status: opts.consentBeforeAnswer ? "connected" : "pending",
  });
  const id = started.structuredContent.connector_id as string;
  if (!opts.consentBeforeAnswer) await consent(String(asked.url), redirectUri);
  const waited = (await m.client.callTool({ name: "wait_for_connector", arguments: { connector_id: id, timeout_seconds: 30 } })) as Sc;
  expect(waited.structuredContent).toMatchObject({ id, status: "connected" });
  return id;
}

/** 2025-11-25: initialize, list, call, errors, elicitation/create with an id and its completion notification. */
async function legacyFlow(l: Legacy, redirectUri: string): Promise<string> {
  expect(l.client.getServerVersion()?.name).toBe("tenex-connectors");
  const listed = (await l.client.listTools()) as Sc;
  expect(listed.tools.map((t: Sc) => t.name)).toContain("start_connector_oauth");
  expect(listed.ttlMs).toBeUndefined();
  const bad = (await l.client.callTool({ name: "list_connectors", arguments: { limit: "many" } })) as Sc;
  expect(bad).toMatchObject({ isError: true, structuredContent: { error: { code: "invalid_input" } } });
  const unknown = (await l.client.callTool({ name: "no_such_tool", arguments: {} })) as Sc;
  expect(unknown).toMatchObject({ isError: true, structuredContent: { error: { code: "not_found" } } });

  const started = (await l.client.callTool({ name: "start_connector_oauth", arguments: { provider: "hubspot" } })) as Sc;
  expect(started.structuredContent).toMatchObject({ status: "pending" });
  await expect.poll(() => l.elicitations.length).toBe(1);
  const asked = l.elicitations[0]!;
  expect(asked).toMatchObject({
    mode: "url",
    url: started.structuredContent.authorization_url,
    elicitationId: expect.stringMatching(/^eli_/),
  });
  await consent(String(asked.url), redirectUri);
  await expect.poll(() => l.completed).toEqual([asked.elicitationId]);
  const id = started.structuredContent.connector_id as string;
  const waited = (await l.client.callTool({ name: "wait_for_connector", arguments: { connector_id: id, timeout_seconds: 30 } })) as Sc;
  expect(waited.structuredContent).toMatchObject({ id, status: "connected" });
  return id;
}

describe("stdio: one server program and database, a 2026-07-28 client and a 2025-11-25 client", () => {
  let sandbox: HubSpotSandbox;
  let env: Record<string, string>;
  let redirectUri: string;

  beforeAll(async () => {
    const port = await freePort();
    redirectUri = `http://127.0.0.1:${port}/oauth/callback`;
    sandbox = await startHubSpotSandbox({ redirectUri });
    env = { ...testDatabaseEnv(tempDir("tenex-gen-")), TENEX_CALLBACK_PORT: String(port), ...sandbox.env };
  });
  afterAll(async () => {
    await sandbox?.close();
  });

  it("serves both, each seeing its grant complete, and each sees the other's connector", async () => {
    const m = await modernStdio(env);
    let modernId: string;
    try {
      await expect.poll(() => m.stderr(), { timeout: 15_000 }).toContain("oauth callback listener ready");
      modernId = await modernFlow(m, redirectUri, { consentBeforeAnswer: true });
    } finally {
      await m.close();
    }
    const transport = new RecordingStdioTransport({ env });
    const l = await legacyClient(transport);
    try {
      await waitForStderr(transport, "oauth callback listener ready");
      const legacyId = await legacyFlow(l, redirectUri);
      const all = (await l.client.callTool({ name: "list_connectors", arguments: {} })) as Sc;
      expect(all.structuredContent.connectors.map((c: Sc) => c.id).sort()).toEqual([modernId, legacyId].sort());
      // stdout carried only MCP messages.
      for (const line of transport.stdoutLines) expect(JSON.parse(line).jsonrpc).toBe("2.0");
    } finally {
      await l.close();
      await transport.close();
    }
  });
});

describe("Streamable HTTP: one server, a 2026-07-28 client and a 2025-11-25 client at once", () => {
  let sandbox: HubSpotSandbox;
  let h: HttpHarness;
  let redirectUri: string;

  beforeAll(async () => {
    const port = await freePort();
    redirectUri = `http://127.0.0.1:${port}/oauth/callback`;
    sandbox = await startHubSpotSandbox({ redirectUri });
    h = await startHttpHarness({ port, publicUrl: true, env: sandbox.env });
  });
  afterAll(async () => {
    await h?.close();
    await sandbox?.close();
  });

  it("serves both on /mcp, each seeing its grant complete", async () => {
    const m = await modernHttp(h.url, h.a.key);
    const l = await legacyHttp(h.url, h.a.key);
    try {
      const [modernId, legacyId] = await Promise.all([
        modernFlow(m, redirectUri, { consentBeforeAnswer: false }),
        legacyFlow(l, redirectUri),
      ]);
      expect(modernId).not.toBe(legacyId);
      // Only the 2025 client holds a session.
      expect(h.server.sessionCount()).toBe(1);
    } finally {
      await m.close();
      await l.close();
    }
  });

  it("sends wait_for_connector's log to a 2026-07-28 client only when the request asked for it", async () => {
    const m = await modernHttp(h.url, h.a.key);
    const logs: Sc[] = [];
    m.client.setNotificationHandler("notifications/message", (n) => void logs.push(n.params as Sc));
    try {
      const started = (await m.client.callTool({ name: "start_connector_oauth", arguments: { provider: "hubspot" } })) as Sc;
      const id = started.structuredContent.connector_id as string;
      const progress: number[] = [];
      await m.client.callTool(
        { name: "wait_for_connector", arguments: { connector_id: id, timeout_seconds: 1 } },
        { onprogress: (p) => void progress.push(p.progress) },
      );
      expect(logs).toEqual([]);
      expect(progress.length).toBeGreaterThan(0);
      await m.client.callTool({
        name: "wait_for_connector",
        arguments: { connector_id: id, timeout_seconds: 1 },
        _meta: { [LOG_LEVEL]: "info" },
      });
      expect(logs).toEqual([
        expect.objectContaining({ level: "info", data: expect.objectContaining({ connector_id: id, status: "pending" }) }),
      ]);
    } finally {
      await m.close();
    }
  });
});
