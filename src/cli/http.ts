import { tools } from "../../tools/index.js";
import { type App, createApp, redirectUriFor } from "../app/app.js";
import { loadConfig } from "../app/config.js";
import { isLoopbackHost } from "../catalog/catalog.js";
import { createLogger, logUnhandledRejections } from "../common/log.js";
import { createHttpServer, type HttpServer } from "../transports/http/server.js";
import { BUILT_LISTING, useBuiltListing } from "../transports/mcp-server.js";
import { parseArgs, UsageError } from "./args.js";
import { onShutdown } from "./shutdown.js";

export const DEFAULT_HTTP_PORT = 8080;
export const DEFAULT_HTTP_HOST = "127.0.0.1";

interface HttpArgs {
  port: number;
  host: string;
  noAuthLoopback: boolean;
}

function parseHttpArgs(argv: string[]): HttpArgs {
  const args = parseArgs(argv, { values: ["port", "host"], flags: ["http", "no-auth-loopback"] });
  if (args.positional.length > 0) throw new UsageError(`unexpected argument "${args.positional[0]}"`);
  const portText = args.options.get("port");
  const port = typeof portText === "string" ? Number(portText) : DEFAULT_HTTP_PORT;
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new UsageError(`--port must be a port number (0-65535), got "${String(portText)}"`);
  const hostOpt = args.options.get("host");
  const host = typeof hostOpt === "string" ? hostOpt : DEFAULT_HTTP_HOST;
  const noAuthLoopback = args.options.get("no-auth-loopback") === true;
  if (noAuthLoopback && !isLoopbackHost(host)) {
    throw new Error(`--no-auth-loopback is refused unless --host is a loopback address (127.0.0.1, ::1 or localhost), not "${host}"`);
  }
  return { port, host, noAuthLoopback };
}

/** Bind, or close the database and say why not. */
async function listenOrClose(server: HttpServer, app: App, args: HttpArgs): Promise<number> {
  try {
    return await server.listen();
  } catch (err) {
    await app.close();
    const code = (err as NodeJS.ErrnoException).code;
    const next: Record<string, string> = {
      EADDRINUSE: `another program is listening there; pick another port with --port (for example --port ${args.port === 8080 ? 8081 : 8080}), or stop the other program`,
      EACCES: "this user may not listen on that port; pick one above 1023 with --port",
      EADDRNOTAVAIL: "this machine has no such address; use --host 127.0.0.1, or an address of this machine",
    };
    throw new Error(
      `cannot listen on ${args.host}:${args.port}: ${code ?? (err as Error).message}${code && next[code] ? `: ${next[code]}` : ""}.`,
    );
  }
}

/** `tenex-connectors serve --http [--port N] [--host H] [--no-auth-loopback]` */
export async function serveHttp(argv: string[]): Promise<void> {
  const args = parseHttpArgs(argv);
  const config = loadConfig(process.env);
  const log = createLogger({ level: config.log_level });
  logUnhandledRejections(log);
  const app = await createApp(config, { mode: "http", log });
  useBuiltListing(tools, BUILT_LISTING);
  const server = createHttpServer(app.ctx, {
    tools,
    host: args.host,
    port: args.port,
    publicUrl: config.public_url,
    allowedHosts: config.allowed_hosts,
    noAuthLoopback: args.noAuthLoopback,
    sessionLimits: { maxSessionsPerWorkspace: config.max_sessions_per_workspace },
    rateLimit: config.rate_limit,
    signIn: { oidc: config.login_oidc },
    connectSignIn: config.connect_signin,
  });
  const bound = await listenOrClose(server, app, args);
  const closing = new AbortController();
  app.ctx.closing = closing.signal;
  // Without TENEX_PUBLIC_URL, providers send people back to this listener directly.
  app.ctx.redirectUri = redirectUriFor(config, "http", bound);
  if (!config.public_url && !isLoopbackHost(args.host)) {
    log.warn(
      "TENEX_PUBLIC_URL is not set: OAuth redirect URIs point at this listener's own address; set it to the URL people's browsers reach",
      { redirect_uri: app.ctx.redirectUri },
    );
  }
  onShutdown(
    log,
    [
      // Waits return the connector as it is at once, so in-flight requests finish well within the grace.
      { what: "ending waits", close: async () => closing.abort() },
      { what: "http shutdown", close: () => server.close() },
      { what: "database close", close: () => app.close() },
    ],
    { message: "shutting down: finishing in-flight requests" },
  );
  log.info("tenex-connectors ready on http", {
    url: server.url(),
    mcp: `${server.url()}/mcp`,
    sse: `${server.url()}/sse`,
    rest: `${server.url()}/api/v1`,
    redirect_uri: app.ctx.redirectUri,
    auth: args.noAuthLoopback ? "key-free loopback mode: requests without a key act for the local workspace" : "workspace API keys",
    db: app.database.describe,
  });
}
