// The server in this process: real SQLite file, real vault and catalog, the SDK Client over an
// in-memory transport, and (optionally) the real callback listener. Faster than spawning.
import path from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { InMemoryTransport } from "@modelcontextprotocol/sdk/inMemory.js";
import { tools } from "../../tools/index.js";
import { createApp, type App } from "../../src/app.js";
import { startCallbackListener, type CallbackListener } from "../../src/callback-server.js";
import { loadConfig } from "../../src/config.js";
import { createLogger } from "../../src/log.js";
import { createMcpServer } from "../../src/mcp/server.js";
import { LOCAL_WORKSPACE_ID } from "../../src/workspaces.js";
import { tempDir } from "./stdio.js";

export interface TestApp {
  app: App;
  client: Client;
  logs: string[];
  dir: string;
  listener?: CallbackListener;
  call(name: string, args?: Record<string, unknown>): Promise<{ isError?: boolean; structuredContent: Record<string, any> }>;
  close(): Promise<void>;
}

export async function startTestApp(opts: {
  env?: Record<string, string>;
  clock?: () => number;
  callbackPort?: number;
  workspaceId?: string;
  dir?: string;
}): Promise<TestApp> {
  const dir = opts.dir ?? tempDir();
  const env = { TENEX_DB: path.join(dir, "tenex.db"), ...(opts.callbackPort ? { TENEX_CALLBACK_PORT: String(opts.callbackPort) } : {}), ...opts.env };
  const config = loadConfig(env, dir);
  const logs: string[] = [];
  const log = createLogger({ level: "debug", write: (l) => logs.push(l) });
  const app = await createApp(config, { mode: "stdio", log, ...(opts.clock ? { clock: opts.clock } : {}) });
  const listener = opts.callbackPort ? await startCallbackListener(app.ctx, { host: "127.0.0.1", port: opts.callbackPort }) : undefined;
  const server = createMcpServer(app.ctx, tools, { workspace_id: opts.workspaceId ?? LOCAL_WORKSPACE_ID });
  const [a, b] = InMemoryTransport.createLinkedPair();
  const client = new Client({ name: "tenex-inprocess-test", version: "1.0.0" });
  await Promise.all([server.connect(a), client.connect(b)]);
  return {
    app,
    client,
    logs,
    dir,
    ...(listener ? { listener } : {}),
    call: async (name, args = {}) => (await client.callTool({ name, arguments: args })) as never,
    close: async () => {
      await client.close();
      await server.close();
      await listener?.close();
      await app.close();
    },
  };
}
