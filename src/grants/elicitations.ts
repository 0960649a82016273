import type { Logger } from "../common/log.js";
import { CALLBACK_GRACE_MS } from "../store/grants.js";
import type { ConnectorWatcher } from "./watcher.js";

/** The MCP session that started a grant, to be told when its URL elicitation completes. */
export interface SessionHandle {
  notifyElicitationComplete(elicitationId: string): Promise<void>;
}

interface Pending {
  elicitationId: string;
  session: SessionHandle;
  stop: () => void;
  expiry: NodeJS.Timeout;
}

/**
 * URL-mode elicitations waiting for their grant to finish, keyed by connector id.
 *
 * The callback runs outside any MCP request (and maybe in another process sharing the
 * database), so the session that started a grant is remembered here; when the connector
 * leaves `pending` for any outcome, that session gets `notifications/elicitation/complete`.
 * A grant nobody finishes is forgotten when its state expires.
 */
export class PendingElicitations {
  private readonly byConnector = new Map<string, Pending>();

  constructor(private readonly deps: { watcher: ConnectorWatcher; log: Logger }) {}

  /**
   * Remember to notify `session` when `connectorId` settles. After `ttlMs` (the link's expiry)
   * `expireGrant` runs: it settles an abandoned grant, whose change event completes the
   * elicitation like any other outcome. If a callback is still finishing, the elicitation is
   * kept for `graceMs` more, then forgotten.
   */
  track(
    connectorId: string,
    elicitationId: string,
    session: SessionHandle,
    ttlMs: number,
    expireGrant?: () => Promise<unknown>,
    graceMs = CALLBACK_GRACE_MS,
  ): void {
    this.forget(connectorId);
    const stop = this.deps.watcher.watch(connectorId, (status) => void this.complete(connectorId, status));
    const giveUp = () => {
      if (this.byConnector.get(connectorId)?.elicitationId !== elicitationId) return;
      this.deps.log.info("elicitation expired without a callback", { connector_id: connectorId, elicitation_id: elicitationId });
      this.forget(connectorId);
    };
    const expiry = setTimeout(() => {
      if (!expireGrant) return giveUp();
      expireGrant().then(
        () => {
          const p = this.byConnector.get(connectorId);
          if (p?.elicitationId !== elicitationId) return; // completed by the expiry
          p.expiry = setTimeout(
            () =>
              void expireGrant()
                .catch(() => undefined)
                .finally(giveUp),
            graceMs,
          );
          p.expiry.unref();
        },
        (err: unknown) => {
          this.deps.log.warn("could not settle an expired grant", { connector_id: connectorId, error: err });
          giveUp();
        },
      );
    }, Math.max(0, ttlMs) + 20);
    expiry.unref();
    this.byConnector.set(connectorId, { elicitationId, session, stop, expiry });
  }

  /** How many elicitations wait for their grant (for tests and diagnostics). */
  size(): number {
    return this.byConnector.size;
  }

  /** Stop tracking every elicitation of one session (it closed). */
  forgetSession(session: SessionHandle): void {
    for (const [id, p] of this.byConnector) if (p.session === session) this.forget(id);
  }

  close(): void {
    for (const id of [...this.byConnector.keys()]) this.forget(id);
  }

  /** Stop tracking a connector's elicitation (only that one, when `elicitationId` is given). */
  forget(connectorId: string, elicitationId?: string): void {
    const p = this.byConnector.get(connectorId);
    if (!p || (elicitationId !== undefined && p.elicitationId !== elicitationId)) return;
    this.byConnector.delete(connectorId);
    clearTimeout(p.expiry);
    p.stop();
  }

  private async complete(connectorId: string, status: string | null): Promise<void> {
    const p = this.byConnector.get(connectorId);
    if (!p) return;
    this.forget(connectorId);
    try {
      await p.session.notifyElicitationComplete(p.elicitationId);
      this.deps.log.info("elicitation completed", { connector_id: connectorId, elicitation_id: p.elicitationId, status });
    } catch (err) {
      // The session may have closed meanwhile; the outcome is still in the database.
      this.deps.log.warn("could not send the elicitation-complete notification", {
        connector_id: connectorId,
        elicitation_id: p.elicitationId,
        error: err,
      });
    }
  }
}
