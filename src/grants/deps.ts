import type { ProxyDeps } from "../connectors/proxy-engine.js";
import type { PendingElicitations } from "./elicitations.js";
import type { ConnectorWatcher } from "./watcher.js";

/** Everything the core needs to run a grant, and so everything a tool handler may use. */
export interface GrantDeps extends ProxyDeps {
  /** Wakes waiters when a pending connector settles, in this process or another sharing the database. */
  watcher: ConnectorWatcher;
  /** URL-mode elicitations waiting for their grant, keyed by connector id. */
  elicitations: PendingElicitations;
  /** The redirect URI registered with providers: `{base}/oauth/callback`. */
  redirectUri: string;
  /**
   * Throws a ConnectorError when a grant started now could not finish at `redirectUri` (stdio
   * mode: another program holds the callback port). Absent when the redirect is always served.
   */
  callbackCheck?: () => Promise<void>;
  /** Aborted when the process shuts down: waits return the connector as it is instead of being cut. */
  closing?: AbortSignal;
  /** Signs MCP 2026-07-28 `requestState` tokens; the same on every instance sharing the database (request-state.ts). */
  requestStateKey: Buffer;
}
