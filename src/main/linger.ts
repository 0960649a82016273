/**
 * One-shot stdio clients (MCP Inspector CLI, `fastmcp call`) end the server right after
 * start_connector_oauth, before the person has approved. When the client goes, this process
 * keeps its OAuth callback listener up for the grants it started, until each settles or its
 * link expires (at most the grant TTL), and only then exits.
 */
import type { Logger } from "../common/log.js";
import type { GrantDeps } from "../grants/deps.js";
import { waitForConnector } from "../grants/wait.js";
import { getConnectorRow } from "../store/connectors.js";
import { GRANT_TTL_MS } from "../store/grants.js";
import type { CallbackListener } from "../transports/callback/listener.js";

/** Remembers the connectors this process moved to `pending` (its own grants). */
export function trackStartedGrants(ctx: GrantDeps): Map<string, string> {
  const started = new Map<string, string>();
  ctx.events.on("change", (c) => {
    if (c.status === "pending") started.set(c.connector_id, c.workspace_id);
  });
  return started;
}

async function stillPending(ctx: GrantDeps, started: Map<string, string>): Promise<Array<[string, string]>> {
  const out: Array<[string, string]> = [];
  for (const [id, ws] of started) {
    const row = await getConnectorRow(ctx.db, ws, id).catch(() => undefined);
    if (row?.status === "pending") out.push([id, ws]);
  }
  return out;
}

/**
 * Keep serving callbacks for this process's pending grants; resolves when they have all settled
 * or expired, or at once when there are none or another process holds the callback port (that
 * one finishes them: it shares the database). `signal` (SIGTERM, SIGINT) ends the wait early.
 */
export async function lingerForGrants(
  ctx: GrantDeps,
  started: Map<string, string>,
  listener: CallbackListener,
  log: Logger,
  signal: AbortSignal,
): Promise<void> {
  if (listener.port() === null) return;
  const pending = await stillPending(ctx, started);
  if (pending.length === 0) return;
  log.info(
    `the MCP client has gone; keeping the OAuth callback listener up for ${pending.length} pending grant(s) until the person finishes or the links expire (at most ${GRANT_TTL_MS / 60_000} minutes). Stop it with SIGTERM.`,
    { connector_ids: pending.map(([id]) => id) },
  );
  const ends = await Promise.all(
    pending.map(([id, ws]) =>
      waitForConnector(ctx, ws, id, { timeoutMs: GRANT_TTL_MS, signal }).then(
        (c) => `${id}: ${c.status}`,
        (err: unknown) => `${id}: ${err instanceof Error && "code" in err ? String(err.code) : "error"}`,
      ),
    ),
  );
  log.info("pending grants settled; exiting", { grants: ends });
}
