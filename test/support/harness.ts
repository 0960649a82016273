// The server in-process: a real app (SQLite file, vault, catalog), the real callback listener,
// and the SDK Client talking to createMcpServer over the SDK's InMemoryTransport. The clock
// can be moved forward to make tokens "about to expire" without waiting.
import crypto from "node:crypto";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { InMemoryTransport } from "@modelcontextprotocol/sdk/inMemory.js";
import { afterEach } from "vitest";
import { type App, createApp } from "../../src/app/app.js";
import { loadConfig } from "../../src/app/config.js";
import type { Context } from "../../src/app/context.js";
import { createLogger } from "../../src/common/log.js";
import { LOCAL_WORKSPACE_ID } from "../../src/store/workspaces.js";
import { type CallbackListener, startCallbackListener } from "../../src/transports/callback/listener.js";
import { createMcpServer } from "../../src/transports/mcp-server.js";
import type { ToolInput } from "../../tools/index.js";
import { tools } from "../../tools/index.js";
import { consentOverHttp, continueOnConnectPage } from "../sandbox/consent.js";
import { type HubSpotSandbox, startHubSpotSandbox } from "../sandbox/hubspot.js";
import { type ToolCalls, toolCalls } from "./calls.js";
import { testDatabase } from "./database.js";
import { freePort, tempDir } from "./stdio.js";

export { type CallResult, type ToolCalls, type ToolError, textOf, toolCalls } from "./calls.js";

export interface Harness extends ToolCalls {
  app: App;
  ctx: Context;
  client: Client;
  dir: string;
  dbPath: string;
  masterKey: string;
  redirectUri: string;
  logs: string[];
  /** Every tool result's JSON, for leak checks. */
  results: string[];
  /** Move this harness's clock forward (or back). */
  advance(ms: number): void;
  /** Same as call (expect success, typed result); the short name many tests use. */
  ok: ToolCalls["call"];
  /** Same as callError (expect failure, the error object). */
  fail: ToolCalls["callError"];
  /**
   * start_connector_oauth, Continue on the connect page, consent as `login` in the sandbox, follow
   * the callback. `provider_url` is where Continue sent the browser (the provider's authorization URL).
   */
  connect(
    provider: string,
    args?: Omit<ToolInput<"start_connector_oauth">, "provider">,
    login?: string,
  ): Promise<{ connector_id: string; authorization_url: string; provider_url: string; page: string; status: number }>;
  close(): Promise<void>;
}

export async function reservePort(): Promise<{ port: number; redirectUri: string }> {
  const port = await freePort();
  return { port, redirectUri: `http://127.0.0.1:${port}/oauth/callback` };
}

export async function startHarness(opts: {
  env: Record<string, string>;
  port?: number;
  /** Share another harness's database and master key (a second "process"). */
  share?: Pick<Harness, "dir" | "dbPath" | "masterKey">;
  /** Start the callback listener (default: when a port is given). */
  listen?: boolean;
  clockOffsetMs?: number;
  /** The workspace the MCP session acts for (default: the local workspace). */
  workspaceId?: string;
  /** The fetch the server's provider calls go through (default: the global one). */
  fetch?: typeof fetch;
}): Promise<Harness> {
  const dir = opts.share?.dir ?? tempDir("tenex-lc-");
  const dbPath = opts.share?.dbPath ?? testDatabase(dir);
  const masterKey = opts.share?.masterKey ?? crypto.randomBytes(32).toString("base64");
  const port = opts.port ?? 0;
  const config = loadConfig({ TENEX_DB: dbPath, TENEX_MASTER_KEY: masterKey, TENEX_CALLBACK_PORT: String(port), ...opts.env }, dir);
  const logs: string[] = [];
  const log = createLogger({ level: "debug", write: (line) => logs.push(line) });
  let offset = opts.clockOffsetMs ?? 0;
  const redirectUri = `http://127.0.0.1:${port}/oauth/callback`;
  const app = await createApp(config, {
    mode: "stdio",
    log,
    clock: () => Date.now() + offset,
    redirectUri,
    ...(opts.fetch ? { fetch: opts.fetch } : {}),
  });
  let listener: CallbackListener | undefined;
  if (opts.listen ?? opts.port !== undefined) {
    listener = await startCallbackListener(app.ctx, { host: "127.0.0.1", port });
    // A port picked free and bound later can be taken meanwhile: fail loudly, not with callbacks sent elsewhere.
    if (port !== 0 && listener.port() !== port) {
      await listener.close();
      await app.close();
      throw new Error(`callback port ${port} was taken before the test harness could bind it`);
    }
  }
  const server = createMcpServer(app.ctx, tools, { workspace_id: opts.workspaceId ?? LOCAL_WORKSPACE_ID });
  const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
  await server.connect(serverSide);
  const client = new Client({ name: "tenex-lifecycle-test", version: "1.0.0" });
  await client.connect(clientSide);
  const results: string[] = [];
  const calls = toolCalls(client, results);
  const h: Harness = {
    ...calls,
    ok: calls.call,
    fail: calls.callError,
    app,
    ctx: app.ctx,
    client,
    dir,
    dbPath,
    masterKey,
    redirectUri,
    logs,
    results,
    advance: (ms) => {
      offset += ms;
    },
    connect: async (provider, args = {}, login = "alice") => {
      const start = await h.call("start_connector_oauth", { provider, ...args });
      const { providerUrl, cookie } = await continueOnConnectPage(start.authorization_url);
      const { callbackUrl } = await consentOverHttp(providerUrl, { login, redirectPrefix: redirectUri });
      const res = await fetch(callbackUrl, { headers: { cookie } });
      const page = await res.text();
      return {
        connector_id: start.connector_id,
        authorization_url: start.authorization_url,
        provider_url: providerUrl,
        page,
        status: res.status,
      };
    },
    close: async () => {
      await client.close().catch(() => undefined);
      await server.close().catch(() => undefined);
      await listener?.close();
      await app.close();
    },
  };
  return h;
}

export interface MovableClock {
  /** Move the harness's clock forward (or back) for the rest of this test. */
  advance(ms: number): void;
  /** Undo every move so far (runs by itself after each test). */
  reset(): void;
}

/**
 * The clock of a harness shared by a file's tests, moved only for the test that moves it: every
 * advance() is undone after each test. Call at file or describe level (it registers afterEach).
 */
export function movableClock(harness: () => Harness): MovableClock {
  let moved = 0;
  const clock: MovableClock = {
    advance: (ms) => {
      moved += ms;
      harness().advance(ms);
    },
    reset: () => {
      if (moved !== 0) harness().advance(-moved);
      moved = 0;
    },
  };
  afterEach(() => clock.reset());
  return clock;
}

/** The usual pair: a HubSpot stand-in and an in-process server pointed at it, on a fresh callback port. */
export async function startHubSpotHarness(): Promise<{ sandbox: HubSpotSandbox; h: Harness }> {
  const { port, redirectUri } = await reservePort();
  const sandbox = await startHubSpotSandbox({ redirectUri });
  return { sandbox, h: await startHarness({ env: sandbox.env, port }) };
}
