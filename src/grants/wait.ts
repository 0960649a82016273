import { ConnectorError } from "../common/errors.js";
import { type ConnectorObject, getConnector, getConnectorRow } from "../store/connectors.js";
import { expireAbandonedGrants, grantTtlText } from "../store/grants.js";
import type { GrantDeps } from "./deps.js";
import { expireWhenDue } from "./expiry.js";

/** Seconds between progress notifications while waiting (elapsed seconds are the progress). */
export const PROGRESS_EVERY_MS = 1000;

export interface WaitOptions {
  timeoutMs: number;
  signal: AbortSignal;
  /** Sends a progress notification; a no-op when the client did not ask for progress. */
  progress?: (progress: number, total?: number, message?: string) => Promise<void>;
  progressEveryMs?: number;
}

export type WaitEnd = "settled" | "timeout" | "cancelled" | "not_pending" | "shutdown";

/**
 * Wait until a connector leaves `pending`, the timeout passes, or the caller cancels; then
 * return the connector as it is (a timeout is not an error). Woken by the watcher: at once
 * by the callback in this process, within a poll interval when another process sharing the
 * database finished the grant. Progress stops before this resolves, so no notification
 * can follow the result.
 */
export async function waitForConnector(
  ctx: GrantDeps,
  workspaceId: string,
  connectorId: string,
  opts: WaitOptions,
): Promise<ConnectorObject> {
  // An abandoned grant settles now; a live one is settled by a timer at its expiry below.
  await expireAbandonedGrants(ctx, workspaceId, [connectorId]);
  const row = await getConnectorRow(ctx.db, workspaceId, connectorId);
  if (row.status !== "pending" || opts.signal.aborted || ctx.closing?.aborted)
    return outcomeOf(await getConnector(ctx.db, workspaceId, connectorId));

  const started = Date.now();
  const totalS = Math.round(opts.timeoutMs / 1000);
  const providerName = ctx.catalog.list().find((p) => p.id === row.provider)?.def.name ?? row.provider;
  let stopWatching = () => {};
  let stopExpiry = () => {};
  let progressTimer: NodeJS.Timeout | undefined;
  let timeoutTimer: NodeJS.Timeout | undefined;
  let onAbort = () => {};
  // Shutdown ends the wait at once with the connector as it is (still pending): the agent can wait again on a new server.
  let onClosing = () => {};
  const progress = opts.progress ? progressReporter(opts.progress, started, totalS, providerName) : undefined;
  progress?.tick();

  const end = await new Promise<WaitEnd>((resolve) => {
    stopWatching = ctx.watcher.watch(connectorId, () => resolve("settled"));
    timeoutTimer = setTimeout(() => resolve("timeout"), opts.timeoutMs);
    // The link's expiry ends the wait too: the connector is settled as error (state_expired) and the watch fires.
    stopExpiry = expireWhenDue(ctx, workspaceId, connectorId);
    onAbort = () => resolve("cancelled");
    opts.signal.addEventListener("abort", onAbort, { once: true });
    onClosing = () => resolve("shutdown");
    ctx.closing?.addEventListener("abort", onClosing, { once: true });
    if (progress) progressTimer = setInterval(() => progress.tick(), opts.progressEveryMs ?? PROGRESS_EVERY_MS);
    // The connector may have settled between the first read and the watch.
    void getConnectorRow(ctx.db, workspaceId, connectorId).then(
      (r) => r.status !== "pending" && resolve("not_pending"),
      () => resolve("settled"),
    );
  });

  stopWatching();
  stopExpiry();
  clearTimeout(timeoutTimer);
  clearInterval(progressTimer);
  opts.signal.removeEventListener("abort", onAbort);
  ctx.closing?.removeEventListener("abort", onClosing);
  // A wait that ended (settled or timed out) reports its total, so a client's progress bar completes.
  if (end === "settled" || end === "not_pending" || end === "timeout") progress?.finish();
  await progress?.flushed();
  ctx.log.info("wait_for_connector ended", { connector_id: connectorId, end, waited_ms: Date.now() - started });
  return outcomeOf(await getConnector(ctx.db, workspaceId, connectorId));
}

/** Progress notifications in elapsed seconds, strictly increasing, sent one after another. */
function progressReporter(send: NonNullable<WaitOptions["progress"]>, started: number, totalS: number, providerName: string) {
  let last = -1;
  let chain: Promise<void> = Promise.resolve();
  const emit = (value: number, message: string) => {
    // Progress must increase with every notification.
    if (value <= last) return;
    last = value;
    chain = chain.then(() => send(value, totalS, message)).catch(() => undefined);
  };
  return {
    tick: () => {
      const elapsedS = Math.min(totalS, Math.floor((Date.now() - started) / 1000));
      emit(elapsedS, `Waiting for the person to approve ${providerName} in the browser (${elapsedS} s of ${totalS} s).`);
    },
    finish: () => emit(totalS, `Done waiting for ${providerName}.`),
    flushed: () => chain,
  };
}

/**
 * The wait's answer: the connector, or the contract's error code when the grant ended without
 * connecting because its link expired (`state_expired`) or the person declined (`consent_denied`).
 * get_connector_status still shows the connector with its status_reason.
 */
export function outcomeOf(connector: ConnectorObject): ConnectorObject {
  if (connector.status !== "error") return connector;
  const keep = `Start again with start_connector_oauth (pass connector_id "${connector.id}" to keep this connector) and give the person the new authorization_url.`;
  if (connector.status_reason === "state_expired") {
    throw new ConnectorError(
      "state_expired",
      `The authorization link for connector ${connector.id} (${connector.label}) expired before the person finished signing in (links last ${grantTtlText()}); nothing was connected. ${keep}`,
    );
  }
  if (connector.status_reason === "account_mismatch") {
    throw new ConnectorError(
      "conflict",
      connector.status_detail ?? `Another account consented to connector ${connector.id}; nothing changed.`,
    );
  }
  if (connector.status_reason === "consent_denied") {
    throw new ConnectorError(
      "consent_denied",
      `The person declined access for connector ${connector.id} (${connector.label}); nothing was connected. Ask them whether they want to connect; if so, ${keep.charAt(0).toLowerCase()}${keep.slice(1)}`,
    );
  }
  return connector;
}
