import { EventEmitter } from "node:events";
import type { Catalog } from "./catalog.js";
import type { Config } from "./config.js";
import type { DB } from "./db/index.js";
import type { PendingElicitations } from "./elicitations.js";
import type { Logger } from "./log.js";
import type { Credential } from "./refresh.js";
import type { Vault } from "./vault.js";
import type { ConnectorWatcher } from "./watcher.js";

/** Emitted whenever a connector's status changes in this process. */
export interface ConnectorChange {
  workspace_id: string;
  connector_id: string;
  status: string;
}

export class ConnectorEvents extends EventEmitter<{ change: [ConnectorChange] }> {}

/** Everything the core needs, passed in; nothing below the entry point reads globals. */
export interface Context {
  db: DB;
  catalog: Catalog;
  vault: Vault;
  config: Config;
  log: Logger;
  /** Milliseconds since the epoch; injectable so expiry can be tested. */
  clock: () => number;
  /** Used for every provider call (token endpoint, test reads); injectable for tests. */
  fetch: typeof fetch;
  events: ConnectorEvents;
  /** Wakes waiters when a pending connector settles, in this process or another sharing the database. */
  watcher: ConnectorWatcher;
  /** URL-mode elicitations waiting for their grant, keyed by connector id. */
  elicitations: PendingElicitations;
  /** The redirect URI registered with providers: `{base}/oauth/callback`. */
  redirectUri: string;
  /** Token refreshes in flight in this process, by connector id: concurrent callers share one (single-flight). */
  refreshFlights: Map<string, Promise<Credential>>;
}

export function nowIso(ctx: Pick<Context, "clock">): string {
  return new Date(ctx.clock()).toISOString();
}
