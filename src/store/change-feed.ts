/**
 * How a process learns that another process committed a change it may be waiting for (a grant
 * finished by the instance that got the callback). The watcher (grants/watcher.ts) asks
 * `changed()` on each tick while someone watches, and re-reads the watched rows only when it says
 * so; `onChange` lets a feed that is told at once (PostgreSQL NOTIFY) wake the watcher early.
 *
 * - SQLite: `PRAGMA data_version`, which moves only when another connection commits.
 * - PostgreSQL: LISTEN on CHANGE_CHANNEL on a connection of its own (migration 0009's trigger
 *   notifies at every status change); while that connection is down, and every FALLBACK_MS even
 *   when it is up, `changed()` says yes, so a lost notification costs at most a short delay.
 */
import type { Kysely } from "kysely";
import { sql } from "kysely";
import type pg from "pg";

/** The NOTIFY channel of connector status changes (migration 0009). */
export const CHANGE_CHANNEL = "tenex_connector_change";

/** PostgreSQL: how often the watched rows are re-read without a notification (the fallback). */
export const FALLBACK_MS = 2_000;

/** Delay before the LISTEN connection is made again after it dropped (doubles up to RECONNECT_MAX_MS). */
const RECONNECT_MIN_MS = 100;
const RECONNECT_MAX_MS = 5_000;

export interface ChangeFeed {
  /** True when another process may have committed a change since the last call. */
  changed(): Promise<boolean>;
  /** Forget the baseline: nobody watches any more. */
  reset(): void;
  /** Be told at once when a change is announced; returns a function that stops it. SQLite never calls it. */
  onChange(listener: () => void): () => void;
  close(): Promise<void>;
}

export function sqliteChangeFeed<T>(db: Kysely<T>): ChangeFeed {
  let version: number | undefined;
  return {
    async changed() {
      const { rows } = await sql<{ data_version: number }>`PRAGMA data_version`.execute(db);
      const next = rows[0]?.data_version;
      const moved = next !== version;
      version = next;
      return moved;
    },
    reset() {
      version = undefined;
    },
    onChange: () => () => undefined,
    close: async () => undefined,
  };
}

/**
 * LISTEN on its own client (a pooled connection would be handed to queries and lose it). The
 * client is made lazily, on the first `changed()`, and made again with backoff when it drops.
 */
export function postgresChangeFeed(
  newClient: () => pg.Client,
  opts: { onError?: (err: unknown) => void; clock?: () => number; fallbackMs?: number } = {},
): ChangeFeed {
  const clock = opts.clock ?? Date.now;
  const fallbackMs = opts.fallbackMs ?? FALLBACK_MS;
  const listeners = new Set<() => void>();
  let client: pg.Client | undefined;
  let listening = false;
  let connecting: Promise<void> | undefined;
  let dirty = true;
  let lastTrue = 0;
  let closed = false;
  let delay = RECONNECT_MIN_MS;
  let retry: NodeJS.Timeout | undefined;

  const announce = () => {
    dirty = true;
    for (const l of listeners) l();
  };

  const drop = (c: pg.Client, err?: unknown) => {
    if (client !== c) return;
    client = undefined;
    listening = false;
    if (err) opts.onError?.(err);
    c.removeAllListeners();
    c.on("error", () => undefined);
    void c.end().catch(() => undefined);
    if (closed || retry) return;
    retry = setTimeout(() => {
      retry = undefined;
      void connect();
    }, delay);
    retry.unref();
    delay = Math.min(delay * 2, RECONNECT_MAX_MS);
  };

  const connect = (): Promise<void> => {
    if (closed || client || connecting) return connecting ?? Promise.resolve();
    const c = newClient();
    client = c;
    c.on("error", (err) => drop(c, err));
    c.on("end", () => drop(c));
    c.on("notification", (n) => {
      if (n.channel === CHANGE_CHANNEL) announce();
    });
    connecting = (async () => {
      try {
        await c.connect();
        await c.query(`LISTEN ${CHANGE_CHANNEL}`);
        if (client !== c) return;
        listening = true;
        delay = RECONNECT_MIN_MS;
        // Whatever was committed while nobody listened is looked at once.
        announce();
      } catch (err) {
        drop(c, err);
      } finally {
        connecting = undefined;
      }
    })();
    return connecting;
  };

  return {
    async changed() {
      if (!client && !retry) await connect();
      const now = clock();
      const yes = dirty || !listening || now - lastTrue >= fallbackMs;
      if (yes) {
        dirty = false;
        lastTrue = now;
      }
      return yes;
    },
    reset() {
      dirty = true;
    },
    onChange(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    async close() {
      closed = true;
      if (retry) clearTimeout(retry);
      retry = undefined;
      listeners.clear();
      const c = client;
      client = undefined;
      listening = false;
      if (c) {
        c.removeAllListeners();
        c.on("error", () => undefined);
        await c.end().catch(() => undefined);
      }
    },
  };
}
