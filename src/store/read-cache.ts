/**
 * Answers to reads asked again while nothing they depend on has changed (issue 14).
 * get_connector_status and list_connectors are polled: an agent or the connect card waiting for
 * consent asks for the same connector every few seconds, a dashboard for the same page. Each
 * answer takes several reads and the decoding of their rows; asked again unchanged, it is
 * taken from here.
 *
 * An answer is reused only while both hold:
 * 1. No connection has changed the database since before the answer was computed. On SQLite two
 *    readings say so: `total_changes()` moves with every row this connection inserts, updates
 *    or deletes (committed or not, triggers included); the wal-index header (WalIndexHeader
 *    below; `PRAGMA data_version` where it cannot be read) with every commit of any connection,
 *    in this process or another. The pair read before computing is kept with the answer; any
 *    write that lands while it is computed moves it, so a half-old answer is never reused.
 * 2. The clock has not reached the instant the answer stops being true by itself (a pending
 *    connector's grant running out: connectors/status-view.ts says when).
 * While a transaction is open on the connection nothing is read from or put here (the answer is
 * computed as without a cache). PostgreSQL has no check as cheap as the read it would save, so
 * the app makes no cache there. Answers are deep-frozen: a caller that tried to change one throws.
 *
 * On a server whose database changes all the time (many busy workspaces sharing one file), a
 * write anywhere clears every answer: the cache then costs that check (a statement and a pread,
 * a few µs) per read and saves nothing. The bench reports reads with and without a hit.
 */
import fs from "node:fs";
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
  // data_version is read only where the wal-index header cannot be.
  private readonly totalChanges: SQLite.Statement;
  private readonly dataVersion: SQLite.Statement;

  /** Other connections' commits seen through the wal-index header, when it can be read (else the pragma). */
  private walIndex: WalIndexHeader | undefined;

  constructor(private readonly sqlite: SQLite.Database) {
    this.totalChanges = sqlite.prepare("select total_changes()").pluck();
    this.dataVersion = sqlite.prepare("pragma data_version").pluck();
    for (const kind of Object.keys(READ_CACHE_LIMITS) as ReadKind[]) this.kinds.set(kind, new Map());
    this.walIndex = WalIndexHeader.open(sqlite);
  }

  /** How other connections' commits are seen: "wal-index" (one read of a file) or "pragma" (a read lock). */
  get commitsSeenThrough(): "wal-index" | "pragma" {
    return this.walIndex ? "wal-index" : "pragma";
  }

  /** The database's generation now, or undefined while a transaction (or a statement) holds the connection. */
  generation(): Generation | undefined {
    if (this.sqlite.inTransaction) return undefined;
    try {
      const changes = this.totalChanges.get() as number;
      if (this.walIndex) {
        const seen = this.walIndex.commits();
        if (seen !== undefined) return { changes, version: seen };
        // The header stopped being readable: the pragma from now on, and nothing kept under the header's counts.
        this.close();
        for (const entries of this.kinds.values()) entries.clear();
      }
      // data_version counts up from 1; the header's count is kept negative, so the two never meet.
      return { changes, version: this.dataVersion.get() as number };
    } catch {
      return undefined;
    }
  }

  /** Let go of the wal-index file (the app closes this with the database). */
  close(): void {
    this.walIndex?.close();
    this.walIndex = undefined;
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

/**
 * Commits of any connection, seen in the wal-index header (https://www.sqlite.org/walformat.html,
 * "The WAL-Index Header"). In WAL mode every commit rewrites the header at the start of the
 * database's `-shm` file (its change counter and last frame move) before any reader can see the
 * commit (so does a WAL restart or a recovery, which only costs a recomputation); SQLite maps the
 * file into memory, so one pread sees what every connection sees. `PRAGMA data_version` answers the same question by taking and releasing a read
 * lock, two `fcntl` calls: on this project's 2-core machine that was most of a cached answer's own
 * cost (issue 14). Opened only for a WAL file whose header says the layout is the one described
 * (version 3007000, unchanged since SQLite 3.7.0); anything else, or a read that fails, keeps the
 * pragma. A read that catches the header half-written differs from the last one and only costs a
 * recomputation.
 */
class WalIndexHeader {
  private static readonly SIZE = 48;
  private static readonly VERSION = 3007000;
  private readonly now = Buffer.alloc(WalIndexHeader.SIZE);
  private readonly last = Buffer.alloc(WalIndexHeader.SIZE);
  private count = 0;

  private constructor(private fd: number | undefined) {}

  static open(sqlite: SQLite.Database): WalIndexHeader | undefined {
    if (sqlite.memory) return undefined;
    let fd: number | undefined;
    try {
      if (String(sqlite.pragma("journal_mode", { simple: true })).toLowerCase() !== "wal") return undefined;
      // SQLite names the file after the database's real path (symbolic links resolved).
      fd = fs.openSync(`${fs.realpathSync(sqlite.name)}-shm`, "r");
      const header = new WalIndexHeader(fd);
      if (header.commits() === undefined || header.now.readUInt32LE(0) !== WalIndexHeader.VERSION) throw new Error("layout");
      return header;
    } catch {
      if (fd !== undefined) fs.closeSync(fd);
      return undefined;
    }
  }

  /** A count that moves (down) whenever the header changed since the last call; undefined when it cannot be read. */
  commits(): number | undefined {
    if (this.fd === undefined) return undefined;
    try {
      if (fs.readSync(this.fd, this.now, 0, WalIndexHeader.SIZE, 0) !== WalIndexHeader.SIZE) return undefined;
    } catch {
      return undefined;
    }
    if (!this.now.equals(this.last)) {
      this.now.copy(this.last);
      this.count--;
    }
    return this.count;
  }

  close(): void {
    if (this.fd !== undefined) fs.closeSync(this.fd);
    this.fd = undefined;
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
