import { createHash } from "node:crypto";
import { serveStdio as serveMcpStdio } from "@modelcontextprotocol/server/stdio";
import { tools } from "../../tools/index.js";
import { type App, createApp, redirectUriFor } from "../app/app.js";
import { type Config, loadConfig } from "../app/config.js";
import { createLogger, logUnhandledRejections } from "../common/log.js";
import { assertKeyLive, authenticateApiKey, LOCAL_WORKSPACE_ID } from "../store/workspaces.js";
import { startCallbackListener } from "../transports/callback/listener.js";
import { InFlightCalls } from "../transports/in-flight.js";
import { BUILT_LISTING, createMcpServer, useBuiltListing } from "../transports/mcp-server.js";
import { lingerForGrants, trackStartedGrants } from "./linger.js";
import { openInBrowser } from "./open-browser.js";
import { onShutdown } from "./shutdown.js";

/** The workspace this process acts for: TENEX_API_KEY's, checked again before every tool call; else the local one. */
async function workspaceFor(
  db: Parameters<typeof authenticateApiKey>[0],
  apiKey: string | undefined,
): Promise<{ workspaceId: string; keyId?: string; authorize?: () => Promise<void> }> {
  if (!apiKey) return { workspaceId: LOCAL_WORKSPACE_ID };
  const auth = await authenticateApiKey(db, apiKey);
  if (!auth)
    throw new Error(
      "TENEX_API_KEY is not a valid, unrevoked key. Create one with `tenex-connectors keys create --workspace NAME`, or unset TENEX_API_KEY to act for the local workspace.",
    );
  // A key revoked while this server runs stops working at once.
  return { workspaceId: auth.workspace_id, keyId: auth.key_id, authorize: () => assertKeyLive(db, auth.key_id) };
}

/** Which database a callback listener serves, a hint for the log of a process probing the port (a hash: the path itself may carry a password); a sibling is trusted only on proof (transports/callback/sibling.ts). */
function databaseTag(dbPath: string): string {
  return createHash("sha256").update(dbPath).digest("hex").slice(0, 16);
}

/** The OAuth callback listener, and the redirect URI and port check that depend on it. */
async function listenForCallbacks(app: App, config: Config) {
  const listener = await startCallbackListener(app.ctx, {
    host: config.callback_host,
    port: config.callback_port,
    databaseTag: databaseTag(config.db_path),
  });
  // With TENEX_CALLBACK_PORT=0 the port is only known once bound.
  app.ctx.redirectUri = redirectUriFor(config, "stdio", listener.port() ?? config.callback_port);
  app.ctx.callbackCheck = () => listener.assertCanFinish();
  return listener;
}

/** `tenex-connectors [serve] [--open-browser]`: the MCP server on stdio, with the OAuth callback listener. */
export async function serveStdio(opts: { openBrowser: boolean }): Promise<void> {
  const config = loadConfig(process.env);
  if (opts.openBrowser) config.open_browser = true;
  const log = createLogger({ level: config.log_level });
  logUnhandledRejections(log);
  const app = await createApp(config, { mode: "stdio", log });
  const { workspaceId, keyId, authorize } = await workspaceFor(app.ctx.db, config.api_key).catch(async (err: unknown) => {
    await app.close();
    throw err;
  });
  const listener = await listenForCallbacks(app, config);
  const closing = new AbortController();
  app.ctx.closing = closing.signal;
  const started = trackStartedGrants(app.ctx);
  const calls = new InFlightCalls();
  const session = {
    workspace_id: workspaceId,
    key_id: keyId ?? null,
    calls,
    ...(authorize ? { authorize } : {}),
    ...(config.open_browser ? { openUrl: (url: string) => openInBrowser(url, log) } : {}),
  };
  useBuiltListing(tools, BUILT_LISTING);
  // Both generations: the connection's first message picks the era (an `initialize` gets
  // 2025-11-25, a request with the 2026-07-28 `_meta` gets that) and the SDK pins it.
  const mcp = serveMcpStdio(() => createMcpServer(app.ctx, tools, session), {
    onerror: (err) => log.debug("mcp stdio error", { error: err.message }),
  });
  const shutdown = onShutdown(log, [
    // Waits return the connector as it is, and their answers go out before the transport closes.
    {
      what: "ending waits",
      close: () => {
        closing.abort();
        return calls.drained();
      },
    },
    { what: "callback listener close", close: () => listener.close() },
    { what: "mcp server close", close: () => mcp.close() },
    { what: "database close", close: () => app.close() },
  ]);
  let gone = false;
  const clientGone = async (why: string) => {
    if (gone || closing.signal.aborted) return;
    gone = true;
    await lingerForGrants(app.ctx, started, listener, log, closing.signal).catch((err: unknown) =>
      log.error("keeping the callback listener up failed", { error: err }),
    );
    await shutdown(why);
  };
  process.stdin.on("end", () => void clientGone("stdin ended"));
  process.stdin.on("close", () => void clientGone("stdin closed"));
  log.info("tenex-connectors ready on stdio", {
    workspace_id: workspaceId,
    db: app.database.describe,
    redirect_uri: app.ctx.redirectUri,
    open_browser: config.open_browser,
  });
}
