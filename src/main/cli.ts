import { StdioServerTransport } from "@modelcontextprotocol/sdk/server/stdio.js";
import { tools } from "../../tools/index.js";
import { createApp, redirectUriFor } from "../app/app.js";
import { startCallbackListener } from "../transports/callback/listener.js";
import { loadConfig } from "../app/config.js";
import { createLogger, logUnhandledRejections } from "../common/log.js";
import { createMcpServer } from "../transports/mcp-server.js";
import { openInBrowser } from "./open-browser.js";
import { listProviders } from "../catalog/listing.js";
import { assertKeyLive, authenticateApiKey, LOCAL_WORKSPACE_ID } from "../store/workspaces.js";
import { buildCatalog } from "../catalog/catalog.js";
import { definitions } from "../../providers/index.js";
import { keysCommand, workspacesCommand } from "./admin.js";
import { UsageError } from "./args.js";
import { serveHttp } from "./http.js";

const USAGE = `Usage:
  tenex-connectors [serve]        stdio MCP server (what mcp.json runs)
    --open-browser                also open authorization URLs in the default browser (or TENEX_OPEN_BROWSER=1)
  tenex-connectors serve --http [--port N] [--host H] [--no-auth-loopback]
                                  HTTP mode: /mcp, /sse + /messages, /api/v1, /oauth/callback, /healthz
                                  (default 127.0.0.1:8080; --no-auth-loopback: requests without a key
                                  act for the local workspace, loopback hosts only)
  tenex-connectors workspaces create NAME               prints { "id", "name" }
  tenex-connectors keys create --workspace ID_OR_NAME   prints a new tnx_ key, once
  tenex-connectors keys list [--workspace ID_OR_NAME]   prints [ { id, workspace_id, prefix, created_at, revoked_at } ] (never the key)
  tenex-connectors keys revoke KEY_ID                   the key stops working at once
  tenex-connectors providers      the catalog, and which providers have OAuth app credentials
  tenex-connectors --help`;

/** Errors go to stderr with a non-zero exit; stdout carries only the result. */
function fail(message: string, code = 1): never {
  process.stderr.write(`tenex-connectors: ${message}\n`);
  process.exit(code);
}

async function serveStdio(opts: { openBrowser: boolean }): Promise<void> {
  const config = loadConfig(process.env);
  if (opts.openBrowser) config.open_browser = true;
  const log = createLogger({ level: config.log_level });
  logUnhandledRejections(log);
  const app = await createApp(config, { mode: "stdio", log });
  let workspaceId = LOCAL_WORKSPACE_ID;
  let authorize: (() => Promise<void>) | undefined;
  if (config.api_key) {
    const auth = await authenticateApiKey(app.ctx.db, config.api_key);
    if (!auth) fail("TENEX_API_KEY is not a valid, unrevoked key");
    workspaceId = auth.workspace_id;
    // Checked again on every tool call: a key revoked while this server runs stops working at once.
    authorize = () => assertKeyLive(app.ctx.db, auth.key_id);
  }
  const listener = await startCallbackListener(app.ctx, { host: config.callback_host, port: config.callback_port });
  // With TENEX_CALLBACK_PORT=0 the port is only known once bound.
  app.ctx.redirectUri = redirectUriFor(config, "stdio", listener.port() ?? config.callback_port);
  const server = createMcpServer(app.ctx, tools, {
    workspace_id: workspaceId,
    ...(authorize ? { authorize } : {}),
    ...(config.open_browser ? { openUrl: (url: string) => openInBrowser(url, log) } : {}),
  });
  const transport = new StdioServerTransport();
  let closing = false;
  const shutdown = async (why: string) => {
    if (closing) return;
    closing = true;
    log.info("shutting down", { why });
    await listener.close().catch(() => undefined);
    await server.close().catch(() => undefined);
    await app.close().catch(() => undefined);
    process.exit(0);
  };
  transport.onclose = () => void shutdown("stdin closed");
  process.stdin.on("end", () => void shutdown("stdin ended"));
  process.on("SIGINT", () => void shutdown("SIGINT"));
  process.on("SIGTERM", () => void shutdown("SIGTERM"));
  await server.connect(transport);
  log.info("tenex-connectors ready on stdio", { workspace_id: workspaceId, db: config.db_path, redirect_uri: app.ctx.redirectUri, open_browser: config.open_browser });
}

function printProviders(): void {
  const config = loadConfig(process.env);
  const catalog = buildCatalog(definitions, config.providers);
  process.stdout.write(JSON.stringify({ providers: listProviders(catalog) }, null, 2) + "\n");
}

async function main(argv: string[]): Promise<void> {
  const [cmd = "serve", ...rest] = argv;
  if (cmd === "--help" || cmd === "-h" || cmd === "help") {
    process.stdout.write(USAGE + "\n");
    return;
  }
  if (cmd === "serve" && rest.includes("--http")) return serveHttp(rest);
  if (cmd === "workspaces") return workspacesCommand(rest);
  if (cmd === "keys") return keysCommand(rest);
  if (cmd === "serve") {
    const openBrowser = rest.includes("--open-browser");
    const unknown = rest.filter((a) => a !== "--open-browser");
    if (unknown.length > 0) fail(`unknown option ${unknown[0]}\n${USAGE}`, 2);
    return serveStdio({ openBrowser });
  }
  if (cmd === "providers") return printProviders();
  fail(`unknown command "${cmd}"\n${USAGE}`, 2);
}

/** Run the command line; errors go to stderr with a non-zero exit. */
export function runCli(argv: string[]): void {
  main(argv).catch((err: unknown) => {
    if (err instanceof UsageError) fail(`${err.message}\n${USAGE}`, 2);
    fail(err instanceof Error ? err.message : String(err));
  });
}
