// What a newcomer meets (issue 13): every failure says what to do next, as the person or the
// agent sees it: OAuth probes after a 401, REST 404s, a callback port held by another program,
// SIGTERM during wait_for_connector, a one-shot stdio client leaving before the person approves,
// placeholder credentials, and the command line's messages.
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import http from "node:http";
import path from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { definitions } from "../providers/index.js";
import { loadConfig } from "../src/app/config.js";
import { buildCatalog } from "../src/catalog/catalog.js";
import { consentOverHttp } from "./sandbox/consent.js";
import { type HubSpotSandbox, startHubSpotSandbox } from "./sandbox/hubspot.js";
import { testDatabaseEnv } from "./support/database.js";
import { bearer, type HttpHarness, rawRequest, startHttpHarness } from "./support/http.js";
import { CLI, freePort, progressOnWire, ROOT, type StdioServer, startStdioServer, tempDir, waitForStderr } from "./support/stdio.js";

type Sc = Record<string, any>;
type Result = { isError?: boolean; content: Array<{ type: string; text?: string }>; structuredContent: Sc };
const call = async (s: StdioServer, name: string, args: Record<string, unknown>) =>
  (await s.client.callTool({ name, arguments: args })) as Result;
const FAKE_APP = { TENEX_HUBSPOT_CLIENT_ID: "newcomer-test-id", TENEX_HUBSPOT_CLIENT_SECRET: "newcomer-test-secret" };

describe("HTTP mode: a client without a good key is told to send one", () => {
  let h: HttpHarness;
  beforeAll(async () => (h = await startHttpHarness()));
  afterAll(async () => h?.close());

  it.each([
    ["/.well-known/oauth-protected-resource", "resource"],
    ["/.well-known/oauth-protected-resource/mcp", "resource"],
    ["/.well-known/oauth-authorization-server", "issuer"],
    ["/.well-known/openid-configuration", "issuer"],
  ])("GET %s answers the sign-in metadata (remote clients sign in), not the REST API", async (p, field) => {
    const res = await rawRequest(`${h.url}${p}`);
    expect(res.status).toBe(200);
    expect(res.json()[field]).toMatch(/^http:\/\/127\.0\.0\.1:\d+/);
  });

  it("keeps the 401 text on /mcp, which the SDK client shows", async () => {
    const client = new Client({ name: "newcomer", version: "1.0.0" });
    const transport = new StreamableHTTPClientTransport(new URL(`${h.url}/mcp`), { requestInit: { headers: bearer("tnx_wrong") } });
    const err = await client.connect(transport).then(
      () => null,
      (e: Error) => e,
    );
    expect(err?.message).toMatch(/401|not valid|Unauthorized/i);
    const raw = await rawRequest(`${h.url}/mcp`, { method: "POST", headers: { "content-type": "application/json" }, body: "{}" });
    expect(raw.status).toBe(401);
    expect(raw.json().error.message).toContain("tenex-connectors keys create --workspace");
    expect(raw.headers["www-authenticate"]).toMatch(
      /^Bearer resource_metadata="http:\/\/127\.0\.0\.1:\d+\/\.well-known\/oauth-protected-resource\/mcp"/,
    );
  });

  it("names the REST route, not the MCP tool, in a REST 404", async () => {
    const res = await rawRequest(`${h.url}/api/v1/connectors/con_nosuch`, { headers: bearer(h.a.key) });
    expect(res.status).toBe(404);
    const { message } = res.json().error;
    expect(message).toContain("GET /api/v1/connectors");
    expect(message).not.toContain("list_connectors");
  });
});

describe("stdio: a callback port held by another program", () => {
  let squatter: http.Server;
  let server: StdioServer;
  let port: number;
  beforeAll(async () => {
    port = await freePort();
    squatter = http.createServer((_req, res) => res.writeHead(200, { server: "squatter/1.0" }).end("not tenex"));
    await new Promise<void>((resolve) => squatter.listen(port, "127.0.0.1", resolve));
    server = await startStdioServer({ ...testDatabaseEnv(tempDir()), TENEX_CALLBACK_PORT: String(port), ...FAKE_APP });
    await waitForStderr(server.transport, "tenex-connectors ready on stdio");
  });
  afterAll(async () => {
    // SIGTERM: the grant left pending would otherwise keep the listener up after stdin ends.
    server?.transport.child.kill("SIGTERM");
    await server?.close();
    await new Promise<void>((resolve) => squatter.close(() => resolve()));
  });

  it("refuses start_connector_oauth with what holds the port and what to do, and starts nothing", async () => {
    const res = await call(server, "start_connector_oauth", { provider: "hubspot" });
    expect(res.isError).toBe(true);
    const { error } = res.structuredContent;
    expect(error.code).toBe("invalid_state");
    expect(error.message).toContain(`127.0.0.1:${port}`);
    expect(error.message).toContain('"squatter/1.0"');
    expect(error.message).toContain("TENEX_CALLBACK_PORT");
    expect(error.message).toContain("close that program");
    expect(res.content[0]?.text).toContain("TENEX_CALLBACK_PORT");
    const list = await call(server, "list_connectors", {});
    expect(list.structuredContent.connectors).toEqual([]);
  });

  it("hands out links again once the port is free (the listener takes it over)", async () => {
    await new Promise<void>((resolve) => squatter.close(() => resolve()));
    squatter.closeAllConnections();
    await waitForStderr(server.transport, "oauth callback listener ready");
    const res = await call(server, "start_connector_oauth", { provider: "hubspot" });
    expect(res.isError).toBeFalsy();
    expect(res.structuredContent.status).toBe("pending");
    squatter = http.createServer();
    squatter.listen(0);
  });
});

describe("stdio: SIGTERM while an agent waits", () => {
  it("returns wait_for_connector at once with the connector as it is, then exits 0", async () => {
    const server = await startStdioServer({
      ...testDatabaseEnv(tempDir()),
      TENEX_CALLBACK_PORT: String(await freePort()),
      ...FAKE_APP,
    });
    try {
      const started = await call(server, "start_connector_oauth", { provider: "hubspot" });
      let progressed!: () => void;
      const firstProgress = new Promise<void>((r) => (progressed = r));
      const waiting = server.client.callTool(
        { name: "wait_for_connector", arguments: { connector_id: started.structuredContent.connector_id, timeout_seconds: 300 } },
        undefined,
        { onprogress: () => progressed(), timeout: 600_000 },
      ) as Promise<Result>;
      await firstProgress;
      const events: string[] = [];
      const exited = server.transport.waitForExit().then((code) => {
        events.push("exit");
        return code;
      });
      server.transport.child.kill("SIGTERM");
      const res = await waiting.then((r) => {
        events.push("answer");
        return r;
      });
      expect(res.isError).toBeFalsy();
      expect(res.structuredContent.status).toBe("pending");
      expect(await exited).toBe(0);
      expect(events).toEqual(["answer", "exit"]);
      expect(server.transport.stderr).toContain('"end":"shutdown"');
      expect(server.transport.stderr).not.toContain("grace");
    } finally {
      await server.close();
    }
  });

  it("reports progress up to its total when a wait times out", async () => {
    const server = await startStdioServer({
      ...testDatabaseEnv(tempDir()),
      TENEX_CALLBACK_PORT: String(await freePort()),
      ...FAKE_APP,
    });
    try {
      const started = await call(server, "start_connector_oauth", { provider: "hubspot" });
      // Read on the wire (see progressOnWire): the request names its own progress token.
      await server.client.callTool({
        name: "wait_for_connector",
        arguments: { connector_id: started.structuredContent.connector_id, timeout_seconds: 1 },
        _meta: { progressToken: "wait-1" },
      });
      const { notifications, answeredAfter } = progressOnWire(server.transport, "wait-1");
      expect(notifications.at(-1)).toMatchObject({ progress: 1, total: 1 });
      expect(answeredAfter).toBe(true);
    } finally {
      server.transport.child.kill("SIGTERM");
      await server.close();
    }
  });
});

describe("stdio: a one-shot client leaves before the person approves", () => {
  let sandbox: HubSpotSandbox;
  let redirectUri: string;
  let port: number;
  beforeAll(async () => {
    port = await freePort();
    redirectUri = `http://127.0.0.1:${port}/oauth/callback`;
    sandbox = await startHubSpotSandbox({ redirectUri });
  });
  afterAll(async () => sandbox?.close());

  it("keeps the callback listener up until the grant settles, then exits", async () => {
    const env = { ...testDatabaseEnv(tempDir()), TENEX_CALLBACK_PORT: String(port), ...sandbox.env };
    const server = await startStdioServer(env);
    await waitForStderr(server.transport, "oauth callback listener ready");
    const started = await call(server, "start_connector_oauth", { provider: "hubspot" });
    server.transport.child.stdin.end();
    await waitForStderr(server.transport, "the MCP client has gone; keeping the OAuth callback listener up for 1 pending grant(s)");
    expect(server.transport.child.exitCode).toBeNull();
    const { callbackUrl, cookie } = await consentOverHttp(started.structuredContent.authorization_url, {
      login: "oneshot",
      redirectPrefix: redirectUri,
    });
    const page = await fetch(callbackUrl, { headers: { cookie } });
    expect(page.status).toBe(200);
    expect(await server.transport.waitForExit()).toBe(0);
    expect(server.transport.stderr).toContain("pending grants settled; exiting");
    // The next server on the same database sees the connector connected.
    const next = await startStdioServer(env);
    try {
      const status = await call(next, "get_connector_status", { connector_id: started.structuredContent.connector_id });
      expect(status.structuredContent.status).toBe("connected");
    } finally {
      await next.close();
    }
  }, 60_000); // two servers, one after another, and a sign-in at the sandbox: slow on a loaded 2-core machine
});

describe("configuration and the command line", () => {
  const run = (env: Record<string, string>, ...args: string[]) =>
    spawnSync(process.execPath, [CLI, ...args], { env: { PATH: process.env.PATH ?? "", ...env }, cwd: "/", encoding: "utf8" });

  it("does not count the placeholder credentials of mcp.json and the README as configured", () => {
    for (const [id, secret] of [
      ["your-hubspot-client-id", "your-hubspot-client-secret"],
      ["…", "…"],
      ["real-id", "..."],
    ]) {
      const catalog = buildCatalog(
        definitions,
        loadConfig({ TENEX_HUBSPOT_CLIENT_ID: id!, TENEX_HUBSPOT_CLIENT_SECRET: secret! }).providers,
      );
      expect(catalog.get("hubspot").configured).toBe(false);
    }
    const real = buildCatalog(
      definitions,
      loadConfig({ TENEX_HUBSPOT_CLIENT_ID: "1234-abcd", TENEX_HUBSPOT_CLIENT_SECRET: "s3cr3t-value" }).providers,
    );
    expect(real.get("hubspot").configured).toBe(true);
  });

  it("puts the default database in the package's data/ or the XDG data folder, never the working directory", () => {
    const config = loadConfig({ HOME: "/nonexistent-home" }, "/");
    const candidates = [path.join(ROOT, "data", "tenex.db"), "/nonexistent-home/.local/share/tenex-connectors/tenex.db"];
    expect(candidates).toContain(config.db_path);
    expect(config.db_path.startsWith("/data/")).toBe(false);
  });

  it("lists workspaces, and an unknown workspace names the ones there are and the command", () => {
    const env = { ...testDatabaseEnv(tempDir()) };
    run(env, "workspaces", "create", "acme");
    const list = JSON.parse(run(env, "workspaces", "list").stdout);
    expect(list).toEqual([
      { id: "ws_local", name: "local", created_at: expect.any(String) },
      { id: expect.stringMatching(/^ws_/), name: "acme", created_at: expect.any(String) },
    ]);
    const missing = run(env, "keys", "create", "--workspace", "nosuch");
    expect(missing.status).not.toBe(0);
    expect(missing.stderr).toContain('No workspace "nosuch". The workspaces are: local, acme.');
    expect(missing.stderr).toContain("tenex-connectors workspaces list");
  }, 60_000); // three CLI processes, one after another

  it("says --port when the HTTP port is taken", async () => {
    const holder = http.createServer();
    const port = await freePort();
    await new Promise<void>((resolve) => holder.listen(port, "127.0.0.1", resolve));
    try {
      const { spawn } = await import("node:child_process");
      const child = spawn(process.execPath, [CLI, "serve", "--http", "--port", String(port)], {
        env: { PATH: process.env.PATH ?? "", ...testDatabaseEnv(tempDir()) },
      });
      let stderr = "";
      child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
      const code = await new Promise<number | null>((resolve) => child.once("exit", resolve));
      expect(code).not.toBe(0);
      expect(stderr).toContain(`cannot listen on 127.0.0.1:${port}: EADDRINUSE`);
      expect(stderr).toContain("--port");
    } finally {
      holder.close();
    }
  });

  it("says TENEX_DB when the database folder cannot be written", () => {
    const dir = tempDir("tenex-ro-");
    const file = path.join(dir, "not-a-folder");
    fs.writeFileSync(file, "");
    // A file where the folder should be fails for root too (ENOTDIR); EACCES is the same advice.
    const res = run({ TENEX_DB: path.join(file, "sub", "tenex.db") }, "workspaces", "list");
    expect(res.status).not.toBe(0);
    expect(res.stderr).toContain("TENEX_DB");
  });
});
