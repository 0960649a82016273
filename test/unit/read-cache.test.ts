// The read cache's rule (src/store/read-cache.ts) on real SQLite files: an answer is reused only
// while neither this connection nor any other has changed the database since before it was
// computed, and only until its own end; never while a transaction is open; at most the bound.
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import SQLite from "better-sqlite3";
import { afterEach, describe, expect, it } from "vitest";
import { deepFreeze, READ_CACHE_LIMITS, ReadCache, throughCache } from "../../src/store/read-cache.js";

const opened: SQLite.Database[] = [];
/** Two connections to one new file (a WAL file unless another journal mode is asked for). */
function openPair(journalMode: "WAL" | "DELETE" = "WAL"): [SQLite.Database, SQLite.Database] {
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "tenex-rc-")), "t.db");
  const a = new SQLite(file);
  a.pragma(`journal_mode = ${journalMode}`);
  a.exec("create table t (k text primary key, v text)");
  a.prepare("insert into t values ('k', 'one')").run();
  const b = new SQLite(file);
  opened.push(a, b);
  return [a, b];
}
afterEach(() => {
  for (const d of opened.splice(0)) d.close();
});

/** A read of `t` through the cache, counting how often it really ran. */
function reader(sqlite: SQLite.Database, cache: ReadCache, now: () => number, validFor = Number.POSITIVE_INFINITY) {
  let runs = 0;
  const read = () =>
    throughCache(cache, now, "status", "k", async () => {
      runs++;
      const v = sqlite.prepare("select v from t where k = 'k'").pluck().get() as string;
      return { value: { v }, validUntil: now() + validFor };
    });
  return { read, runs: () => runs };
}

describe("the read cache", () => {
  it("answers a repeated read from the cache until this connection writes", async () => {
    const [a] = openPair();
    const cache = new ReadCache(a);
    const r = reader(a, cache, () => 0);
    expect(await r.read()).toEqual({ v: "one" });
    expect(await r.read()).toEqual({ v: "one" });
    expect(r.runs()).toBe(1);
    expect(cache.stats).toEqual({ hits: 1, misses: 1 });
    a.prepare("update t set v = 'two'").run();
    expect(await r.read()).toEqual({ v: "two" });
    expect(r.runs()).toBe(2);
  });

  it("sees another connection's commit at once", async () => {
    const [a, b] = openPair();
    const cache = new ReadCache(a);
    const r = reader(a, cache, () => 0);
    await r.read();
    await r.read();
    b.prepare("update t set v = 'from b'").run();
    expect(await r.read()).toEqual({ v: "from b" });
    expect(r.runs()).toBe(2);
  });

  it("sees another process's commit at once", async () => {
    const [a] = openPair();
    const cache = new ReadCache(a);
    expect(cache.commitsSeenThrough).toBe("wal-index");
    const r = reader(a, cache, () => 0);
    await r.read();
    await r.read();
    const script = `const D = require("better-sqlite3"); const d = new D(process.argv[1]); d.prepare("update t set v = 'from a process'").run(); d.close();`;
    execFileSync(process.execPath, ["-e", script, a.name], { cwd: process.cwd() });
    expect(await r.read()).toEqual({ v: "from a process" });
    expect(r.runs()).toBe(2);
  });

  it("sees commits through the pragma where there is no wal-index header to read, and after close", async () => {
    const [a, b] = openPair("DELETE");
    const memory = new SQLite(":memory:");
    opened.push(memory);
    expect(new ReadCache(memory).commitsSeenThrough).toBe("pragma");
    const [w, other] = openPair();
    for (const [mine, theirs, cache] of [
      [a, b, new ReadCache(a)],
      [w, other, new ReadCache(w)],
    ] as const) {
      if (mine === w) {
        cache.close(); // a WAL file whose header is let go of: the pragma from then on
      }
      expect(cache.commitsSeenThrough).toBe("pragma");
      const r = reader(mine, cache, () => 0);
      await r.read();
      await r.read();
      expect(r.runs()).toBe(1);
      theirs.prepare("update t set v = 'theirs'").run();
      expect(await r.read()).toEqual({ v: "theirs" });
      expect(r.runs()).toBe(2);
    }
  });

  it("does not keep an answer computed while a write landed (the generation is taken before)", async () => {
    const [a] = openPair();
    const cache = new ReadCache(a);
    let first = true;
    const read = () =>
      throughCache(
        cache,
        () => 0,
        "status",
        "k",
        async () => {
          const v = a.prepare("select v from t").pluck().get() as string;
          // A write lands after this answer's read, before it is kept.
          if (first) a.prepare("update t set v = 'late'").run();
          first = false;
          return { value: { v }, validUntil: Number.POSITIVE_INFINITY };
        },
      );
    expect(await read()).toEqual({ v: "one" });
    expect(await read()).toEqual({ v: "late" });
  });

  it("ends an answer at its validUntil", async () => {
    const [a] = openPair();
    const cache = new ReadCache(a);
    let now = 1_000;
    const r = reader(a, cache, () => now, 500);
    await r.read();
    now = 1_499;
    await r.read();
    expect(r.runs()).toBe(1);
    now = 1_500;
    await r.read();
    expect(r.runs()).toBe(2);
  });

  it("neither reads nor keeps anything while a transaction is open on the connection", async () => {
    const [a] = openPair();
    const cache = new ReadCache(a);
    a.exec("begin immediate");
    expect(cache.generation()).toBeUndefined();
    const r = reader(a, cache, () => 0);
    await r.read();
    await r.read();
    expect(r.runs()).toBe(2);
    expect(cache.size("status")).toBe(0);
    a.exec("rollback");
    expect(cache.generation()).toBeDefined();
  });

  it("keeps at most its bound, dropping the answer used longest ago", () => {
    const [a] = openPair();
    const cache = new ReadCache(a);
    const at = cache.generation()!;
    const max = READ_CACHE_LIMITS.page;
    for (let i = 0; i <= max; i++) {
      cache.set("page", `p${i}`, at, { i }, Number.POSITIVE_INFINITY);
      if (i === 1) expect(cache.get("page", "p0", at, 0)).toEqual({ i: 0 }); // p0 used: p1 is now the oldest
    }
    expect(cache.size("page")).toBe(max);
    expect(cache.get("page", "p0", at, 0)).toEqual({ i: 0 });
    expect(cache.get("page", "p1", at, 0)).toBeUndefined();
  });

  it("freezes what it keeps, all the way down", () => {
    const v = deepFreeze({ a: { b: [1, { c: 2 }] } });
    expect(() => {
      (v.a.b[1] as { c: number }).c = 3;
    }).toThrow(TypeError);
  });
});
