// The server in-process with an injected fetch (createApp's `fetch`): the real app, the real callback listener and
// an SDK Client over InMemoryTransport. Like test/support/harness.ts, minus what these tests do not need.
import crypto from "node:crypto";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { InMemoryTransport } from "@modelcontextprotocol/sdk/inMemory.js";
import { type App, createApp } from "../../src/app/app.js";
import { loadConfig } from "../../src/app/config.js";
import { createLogger } from "../../src/common/log.js";
import { LOCAL_WORKSPACE_ID } from "../../src/store/workspaces.js";
import { type CallbackListener, startCallbackListener } from "../../src/transports/callback/listener.js";
import { createMcpServer } from "../../src/transports/mcp-server.js";
import { tools } from "../../tools/index.js";
import { testDatabaseEnv } from "../support/database.js";
import { freePort, tempDir } from "../support/stdio.js";

export type Sc = Record<string, any>;

export interface FetchHarness {
  app: App;
  redirectUri: string;
  logs: string[];
  results: string[];
  advance(ms: number): void;
  ok(name: string, args?: Record<string, unknown>): Promise<Sc>;
  fail(name: string, args?: Record<string, unknown>): Promise<{ code: string; message: string }>;
  close(): Promise<void>;
}

export async function startFetchHarness(opts: {
  env: Record<string, string>;
  fetch: typeof fetch;
  port?: number;
  clockOffsetMs?: number;
}): Promise<FetchHarness> {
  const dir = tempDir("tenex-fidelity-");
  const port = opts.port ?? (await freePort());
  const config = loadConfig(
    {
      ...testDatabaseEnv(dir),
      TENEX_MASTER_KEY: crypto.randomBytes(32).toString("base64"),
      TENEX_CALLBACK_PORT: String(port),
      ...opts.env,
    },
    dir,
  );
  const logs: string[] = [];
  let offset = opts.clockOffsetMs ?? 0;
  const redirectUri = `http://127.0.0.1:${port}/oauth/callback`;
  const app = await createApp(config, {
    mode: "stdio",
    log: createLogger({ level: "debug", write: (line) => logs.push(line) }),
    clock: () => Date.now() + offset,
    fetch: opts.fetch,
    redirectUri,
  });
  const listener: CallbackListener = await startCallbackListener(app.ctx, { host: "127.0.0.1", port });
  const server = createMcpServer(app.ctx, tools, { workspace_id: LOCAL_WORKSPACE_ID });
  const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
  await server.connect(serverSide);
  const client = new Client({ name: "tenex-fidelity-test", version: "1.0.0" });
  await client.connect(clientSide);
  const results: string[] = [];
  const call = async (name: string, args: Record<string, unknown> = {}) => {
    const res = (await client.callTool({ name, arguments: args })) as { isError?: boolean; structuredContent: Sc };
    results.push(JSON.stringify(res));
    return res;
  };
  return {
    app,
    redirectUri,
    logs,
    results,
    advance: (ms) => {
      offset += ms;
    },
    ok: async (name, args) => {
      const res = await call(name, args);
      if (res.isError) throw new Error(`${name} failed: ${JSON.stringify(res.structuredContent)}`);
      return res.structuredContent;
    },
    fail: async (name, args) => {
      const res = await call(name, args);
      if (!res.isError) throw new Error(`${name} unexpectedly succeeded: ${JSON.stringify(res.structuredContent)}`);
      return res.structuredContent.error;
    },
    close: async () => {
      await client.close().catch(() => undefined);
      await server.close().catch(() => undefined);
      await listener.close();
      await app.close();
    },
  };
}
