import type { ConnectorChange, ConnectorEvents } from "../common/events.js";
import type { Logger } from "../common/log.js";
import type { ChangeFeed } from "../store/change-feed.js";
import type { DB } from "../store/db.js";

/** How often the database is checked for commits by other processes while anyone watches. */
export const DEFAULT_POLL_MS = 250;

/** Called once, when the connector has left `pending` (its new status), or with null when it is gone. */
export type SettledListener = (status: string | null) => void;

/**
 * Tells interested parties when a pending connector settles (leaves `pending`).
 *
 * In this process the callback emits `ctx.events` "change", which wakes listeners at once.
 * A grant may also be finished by another process sharing the database (the one that owns
 * the callback port, another instance behind the load balancer); that is noticed through the
 * database's change feed (store/change-feed.ts): SQLite's `PRAGMA data_version`, read every
 * `pollMs`, or PostgreSQL's LISTEN/NOTIFY, which wakes the watcher at once (with a fallback
 * re-read every few seconds). The feed is asked only while someone watches, and the watched rows
 * are re-read only when it says something was committed. One watcher per process, however many
 * waits and sessions.
 */
export class ConnectorWatcher {
  private readonly listeners = new Map<string, Set<SettledListener>>();
  private timer: NodeJS.Timeout | undefined;
  private ticking = false;
  /** A commit was announced while a check ran: check again as soon as it ends, not a poll later. */
  private kickedWhileTicking = false;
  private readonly stopFeed: () => void;
  /** A watch was added since the last check: re-read once even if nothing was committed. */
  private fresh = false;
  private closed = false;
  private readonly onChange = (c: ConnectorChange) => {
    if (c.status !== "pending") this.settle(c.connector_id, c.status);
  };

  constructor(
    private readonly deps: { db: DB; events: ConnectorEvents; log: Logger; feed: ChangeFeed },
    private readonly pollMs = DEFAULT_POLL_MS,
  ) {
    deps.events.on("change", this.onChange);
    this.stopFeed = deps.feed.onChange(() => this.kick());
  }

  /** Watch one connector; returns a function that stops watching (safe to call twice). */
  watch(connectorId: string, listener: SettledListener): () => void {
    if (this.closed) throw new Error("the connector watcher is closed");
    let set = this.listeners.get(connectorId);
    if (!set) {
      set = new Set();
      this.listeners.set(connectorId, set);
    }
    set.add(listener);
    this.fresh = true;
    this.schedule();
    return () => this.remove(connectorId, listener);
  }

  /** How many connectors are watched (for tests and diagnostics). */
  watchedCount(): number {
    return this.listeners.size;
  }

  close(): void {
    this.closed = true;
    this.deps.events.off("change", this.onChange);
    this.stopFeed();
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.listeners.clear();
  }

  private remove(connectorId: string, listener: SettledListener): void {
    const set = this.listeners.get(connectorId);
    if (!set) return;
    set.delete(listener);
    if (set.size === 0) this.listeners.delete(connectorId);
    this.idleIfUnwatched();
  }

  /** Nobody watches: stop checking; the next watch starts from a fresh baseline. */
  private idleIfUnwatched(): void {
    if (this.listeners.size > 0) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.deps.feed.reset();
  }

  private settle(connectorId: string, status: string | null): void {
    const set = this.listeners.get(connectorId);
    if (!set) return;
    this.listeners.delete(connectorId);
    for (const listener of set) {
      try {
        listener(status);
      } catch (err) {
        this.deps.log.error("connector watch listener failed", { connector_id: connectorId, error: err });
      }
    }
    this.idleIfUnwatched();
  }

  private schedule(): void {
    if (this.timer || this.ticking || this.closed || this.listeners.size === 0) return;
    this.timer = setTimeout(() => void this.tick(), this.pollMs);
    this.timer.unref();
  }

  /** Another process announced a commit: check now instead of at the next tick. */
  private kick(): void {
    if (this.closed || this.listeners.size === 0) return;
    if (this.ticking) {
      this.kickedWhileTicking = true;
      return;
    }
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    void this.tick();
  }

  private async tick(): Promise<void> {
    this.timer = undefined;
    this.ticking = true;
    try {
      const changed = await this.deps.feed.changed();
      if ((changed || this.fresh) && this.listeners.size > 0) {
        this.fresh = false;
        const ids = [...this.listeners.keys()];
        const found = await this.deps.db.selectFrom("connectors").select(["id", "status"]).where("id", "in", ids).execute();
        const status = new Map(found.map((r) => [r.id, r.status]));
        for (const id of ids) {
          const s = status.get(id);
          if (s === undefined) this.settle(id, null);
          else if (s !== "pending") this.settle(id, s);
        }
      }
    } catch (err) {
      this.deps.log.warn("checking the database for connector changes failed; retrying", { error: err });
    } finally {
      this.ticking = false;
      if (this.kickedWhileTicking) {
        this.kickedWhileTicking = false;
        this.kick();
      } else this.schedule();
    }
  }
}
