/**
 * Timers that settle an abandoned grant on time while someone waits for it (wait_for_connector,
 * a URL elicitation). The rule itself (which grants can still finish) is store/grants.ts.
 */
import { expireAbandonedGrants, grantDeadline } from "../store/grants.js";
import type { GrantDeps } from "./deps.js";

const TIMER_SLACK_MS = 20;

/**
 * Run expireAbandonedGrants for one connector when its grant's time is up (and again at the
 * end of a callback's grace period, if one claimed the grant). Returns a function that stops it.
 */
export function expireWhenDue(ctx: GrantDeps, workspaceId: string, connectorId: string): () => void {
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  const arm = async (): Promise<void> => {
    const due = await grantDeadline(ctx, connectorId);
    if (stopped) return;
    // A little after the deadline: timers may fire a millisecond early by the wall clock.
    const delay = due === null ? 0 : due - ctx.clock() + TIMER_SLACK_MS;
    timer = setTimeout(() => void fire().catch(failed), Math.min(Math.max(0, delay), 2 ** 31 - 1));
    timer.unref();
  };
  const fire = async (): Promise<void> => {
    if (stopped) return;
    const settled = await expireAbandonedGrants(ctx, workspaceId, [connectorId]);
    if (settled.length > 0 || stopped) return;
    // Not settled: the connector left pending, or a callback claimed the grant and its grace runs on.
    const due = await grantDeadline(ctx, connectorId);
    if (due !== null && due > ctx.clock()) await arm();
  };
  const failed = (err: unknown) => ctx.log.warn("could not settle the grant's expiry", { connector_id: connectorId, error: err });
  arm().catch(failed);
  return () => {
    stopped = true;
    if (timer) clearTimeout(timer);
  };
}
