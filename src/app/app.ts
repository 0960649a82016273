import { definitions } from "../../providers/index.js";
import { buildCatalog } from "../catalog/catalog.js";
import { ConnectorEvents } from "../common/events.js";
import { createLogger, type Logger } from "../common/log.js";
import { createProxyEngine } from "../connectors/proxy-engine.js";
import { createRefreshEngine } from "../credentials/deps.js";
import { verifyMasterKey } from "../credentials/key-check.js";
import { loadOrCreateMasterKey, parseMasterKey, Vault } from "../credentials/vault.js";
import { PendingElicitations } from "../grants/elicitations.js";
import { loadRequestStateKey } from "../grants/request-state.js";
import { ConnectorWatcher } from "../grants/watcher.js";
import { type OpenedDatabase, openDatabase } from "../store/db.js";
import { isPostgresUrl } from "../store/dialect.js";
import { ReadCache } from "../store/read-cache.js";
import { CALLBACK_PATH } from "../transports/callback/listener.js";
import type { Config } from "./config.js";
import type { Context } from "./context.js";

export interface App {
  ctx: Context;
  database: OpenedDatabase;
  close(): Promise<void>;
}

/** The redirect URI providers send the person back to. */
export function redirectUriFor(config: Config, mode: "stdio" | "http", boundPort?: number): string {
  if (mode === "http" && config.public_url) return `${config.public_url}${CALLBACK_PATH}`;
  const host = config.callback_host.includes(":") ? `[${config.callback_host}]` : config.callback_host;
  return `http://${host}:${boundPort ?? config.callback_port}${CALLBACK_PATH}`;
}

/** Open storage and build the context; starts no listener and connects no transport. */
export async function createApp(
  config: Config,
  opts: { mode: "stdio" | "http"; log?: Logger; fetch?: typeof fetch; clock?: () => number; redirectUri?: string },
): Promise<App> {
  const log = opts.log ?? createLogger({ level: config.log_level });
  const shared = isPostgresUrl(config.db_path);
  if (shared && !config.master_key) {
    throw new Error(
      "TENEX_DB is a PostgreSQL database, so TENEX_MASTER_KEY is required: every instance sharing the database must seal and open " +
        "secrets with the same key. Set it to 32 random bytes in base64 (openssl rand -base64 32), the same on every instance, and keep it safe.",
    );
  }
  const catalog = buildCatalog(definitions, config.providers);
  const vault = new Vault(
    loadOrCreateMasterKey({ masterKey: config.master_key, dataDir: config.data_dir, allowGroupWritable: config.allow_group_writable }),
    config.previous_master_keys.map((k, i) => parseMasterKey(k, `TENEX_MASTER_KEY_PREVIOUS[${i}]`)),
  );
  const database = await openDatabase(config.db_path, {
    allowGroupWritable: config.allow_group_writable,
    onError: (err) => log.warn("database connection error; the next query reconnects", { error: err }),
  });
  const clock = opts.clock ?? Date.now;
  const requestStateKey = await (async () => {
    // A database several instances share: refuse a master key that cannot open what the others sealed.
    if (shared) await verifyMasterKey({ db: database.db, vault, clock });
    return loadRequestStateKey({ db: database.db, vault, clock }, config.state_key);
  })().catch(async (err: unknown) => {
    await database.close();
    throw err;
  });
  const events = new ConnectorEvents();
  events.setMaxListeners(0);
  const watcher = new ConnectorWatcher({ db: database.db, events, log, feed: database.changes });
  const ctx: Context = {
    db: database.db,
    reads: database.sqlite ? new ReadCache(database.sqlite) : undefined,
    catalog,
    vault,
    log,
    clock,
    fetch: opts.fetch ?? globalThis.fetch,
    events,
    watcher,
    elicitations: new PendingElicitations({ watcher, log }),
    redirectUri: opts.redirectUri ?? redirectUriFor(config, opts.mode),
    refresh: createRefreshEngine(config.refresh_lease_ms),
    requestStateKey,
    limits: config.limits,
    proxy: createProxyEngine(
      { db: database.db, clock, log },
      { concurrency: config.proxy_concurrency, streamMaxBytes: config.proxy_stream_max_bytes },
    ),
  };
  return {
    ctx,
    database,
    close: async () => {
      ctx.elicitations.close();
      watcher.close();
      // Queued call records are written before the database closes.
      await ctx.proxy.close();
      ctx.reads?.close();
      await database.close();
    },
  };
}
