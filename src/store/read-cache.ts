/**
 * Answers to reads asked again while nothing they depend on has changed (issue 14).
 * get_connector_status and list_connectors are polled: an agent or the connect card waiting for
 * consent asks for the same connector every few seconds, a dashboard for the same page. Each
 * answer takes several reads and the decoding of their rows; asked again unchanged, it is
 * taken from here.
 *
 * An answer is reused only while both hold:
 * 1. No connection has changed the database since before the answer was computed. On SQLite two
 *    small statements say so: `total_changes()` moves with every row this connection inserts, updates
 *    or deletes (committed or not, triggers included), `data_version` with every commit of any
 *    other connection, in this process or another. The pair read before computing is kept with
 *    the answer; any write that lands while it is computed moves it, so a half-old answer is
 *    never reused.
 * 2. The clock has not reached the instant the answer stops being true by itself (a pending
 *    connector's grant running out: connectors/status-view.ts says when).
 * While a transaction is open on the connection nothing is read from or put here (the answer is
 * computed as without a cache). PostgreSQL has no check as cheap as the read it would save, so
 * the app makes no cache there. Answers are deep-frozen: a caller that tried to change one throws.
 *
 * On a server whose database changes all the time (many busy workspaces sharing one file), a
 * write anywhere clears every answer: the cache then costs that check (≈4 µs) per read and saves
 * nothing. The bench reports reads with and without a hit.
 */
import type SQLite from "better-sqlite3";

/** The kinds of answer kept, each with its own bound (an answer is about 1.5 KB for a status, up to 100 connectors for a page). */
export const READ_CACHE_LIMITS = { status: 512, page: 32 } as const;
export type ReadKind = keyof typeof READ_CACHE_LIMITS;

interface Entry {
  changes: number;
  version: number;
  validUntil: number;
  value: unknown;
}

/** The database's state as of one moment: see the module comment. */
export interface Generation {
  changes: number;
  version: number;
}

export class ReadCache {
  /** Answers given from here and computed (tests, and anyone asking why a read was fast). */
  readonly stats = { hits: 0, misses: 0 };
  private readonly kinds = new Map<ReadKind, Map<string, Entry>>();
  /** Per kind, the key last put or reused: asked again at once (the usual poll), it needs no move. */
  private readonly newest = new Map<ReadKind, string>();
  // Two statements: reading both through pragma_data_version() costs half as much again (a virtual table).
  private readonly totalChanges: SQLite.Statement;
  private readonly dataVersion: SQLite.Statement;

  constructor(private readonly sqlite: SQLite.Database) {
    this.totalChanges = sqlite.prepare("select total_changes()").pluck();
    this.dataVersion = sqlite.prepare("pragma data_version").pluck();
    for (const kind of Object.keys(READ_CACHE_LIMITS) as ReadKind[]) this.kinds.set(kind, new Map());
  }

  /** The database's generation now, or undefined while a transaction (or a statement) holds the connection. */
  generation(): Generation | undefined {
    if (this.sqlite.inTransaction) return undefined;
    try {
      return { changes: this.totalChanges.get() as number, version: this.dataVersion.get() as number };
    } catch {
      return undefined;
    }
  }

  get(kind: ReadKind, key: string, at: Generation, now: number): unknown {
    const entries = this.kinds.get(kind)!;
    const e = entries.get(key);
    if (!e) return undefined;
    if (e.changes !== at.changes || e.version !== at.version || now >= e.validUntil) {
      entries.delete(key);
      return undefined;
    }
    // Most recently used last: the bound drops the entry used longest ago.
    if (this.newest.get(kind) !== key) {
      entries.delete(key);
      entries.set(key, e);
      this.newest.set(kind, key);
    }
    return e.value;
  }

  set(kind: ReadKind, key: string, at: Generation, value: unknown, validUntil: number): void {
    const entries = this.kinds.get(kind)!;
    entries.delete(key);
    if (entries.size >= READ_CACHE_LIMITS[kind]) {
      const oldest = entries.keys().next().value;
      if (oldest !== undefined) entries.delete(oldest);
    }
    entries.set(key, { changes: at.changes, version: at.version, validUntil, value: deepFreeze(value) });
    this.newest.set(kind, key);
  }

  /** How many answers are kept (tests). */
  size(kind: ReadKind): number {
    return this.kinds.get(kind)!.size;
  }
}

/** Freeze a JSON-shaped value and everything in it. */
export function deepFreeze<T>(value: T): T {
  if (typeof value === "object" && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

/**
 * The answer to `key` from the cache when it still holds, else `compute`'s (kept until its
 * `validUntil`, epoch ms; Infinity when only a write can change it). No cache: always computed.
 */
export async function throughCache<T>(
  reads: ReadCache | undefined,
  clock: () => number,
  kind: ReadKind,
  key: string,
  compute: () => Promise<{ value: T; validUntil: number }>,
): Promise<T> {
  const at = reads?.generation();
  if (!reads || !at) return (await compute()).value;
  const hit = reads.get(kind, key, at, clock());
  if (hit !== undefined) {
    reads.stats.hits++;
    return hit as T;
  }
  reads.stats.misses++;
  const { value, validUntil } = await compute();
  reads.set(kind, key, at, value, validUntil);
  return value;
}
