import { tools } from "../../tools/index.js";
import { createApp, redirectUriFor } from "../app/app.js";
import { isLoopbackHost } from "../catalog/catalog.js";
import { loadConfig } from "../app/config.js";
import { createHttpServer } from "../transports/http/server.js";
import { createLogger, logUnhandledRejections } from "../common/log.js";
import { parseArgs, UsageError } from "./args.js";

export const DEFAULT_HTTP_PORT = 8080;
export const DEFAULT_HTTP_HOST = "127.0.0.1";

/** `tenex-connectors serve --http [--port N] [--host H] [--no-auth-loopback]` */
export async function serveHttp(argv: string[]): Promise<void> {
  const args = parseArgs(argv, { values: ["port", "host"], flags: ["http", "no-auth-loopback"] });
  if (args.positional.length > 0) throw new UsageError(`unexpected argument "${args.positional[0]}"`);
  const portText = args.options.get("port");
  const port = typeof portText === "string" ? Number(portText) : DEFAULT_HTTP_PORT;
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError(`--port must be a port number (0-65535), got "${String(portText)}"`);
  const hostOpt = args.options.get("host");
  const host = typeof hostOpt === "string" ? hostOpt : DEFAULT_HTTP_HOST;
  const noAuthLoopback = args.options.get("no-auth-loopback") === true;

  const config = loadConfig(process.env);
  const log = createLogger({ level: config.log_level });
  logUnhandledRejections(log);
  if (noAuthLoopback && !isLoopbackHost(host)) {
    throw new Error(`--no-auth-loopback is refused unless --host is a loopback address (127.0.0.1, ::1 or localhost), not "${host}"`);
  }
  const app = await createApp(config, { mode: "http", log });
  const server = createHttpServer(app.ctx, {
    tools,
    host,
    port,
    publicUrl: config.public_url,
    allowedHosts: config.allowed_hosts,
    noAuthLoopback,
  });
  let bound: number;
  try {
    bound = await server.listen();
  } catch (err) {
    await app.close();
    const code = (err as NodeJS.ErrnoException).code;
    throw new Error(`cannot listen on ${host}:${port}: ${code ?? (err as Error).message}`);
  }
  // Without TENEX_PUBLIC_URL, providers send people back to this listener directly.
  app.ctx.redirectUri = redirectUriFor(config, "http", bound);
  if (!config.public_url && !isLoopbackHost(host)) {
    log.warn("TENEX_PUBLIC_URL is not set: OAuth redirect URIs point at this listener's own address; set it to the URL people's browsers reach", { redirect_uri: app.ctx.redirectUri });
  }

  let closing = false;
  const shutdown = async (why: string) => {
    if (closing) return;
    closing = true;
    log.info("shutting down: finishing in-flight requests", { why });
    await server.close().catch((err: unknown) => log.error("http shutdown failed", { error: err }));
    await app.close().catch((err: unknown) => log.error("database close failed", { error: err }));
    log.info("stopped");
    process.exit(0);
  };
  process.on("SIGINT", () => void shutdown("SIGINT"));
  process.on("SIGTERM", () => void shutdown("SIGTERM"));
  log.info("tenex-connectors ready on http", {
    url: server.url(),
    mcp: `${server.url()}/mcp`,
    sse: `${server.url()}/sse`,
    rest: `${server.url()}/api/v1`,
    redirect_uri: app.ctx.redirectUri,
    auth: noAuthLoopback ? "key-free loopback mode: requests without a key act for the local workspace" : "workspace API keys",
    db: config.db_path,
  });
}
