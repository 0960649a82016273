// The database files hold sealed secrets and account facts: owner-only (0600), like master.key.
import fs from "node:fs";
import path from "node:path";
import SQLite from "better-sqlite3";
import { describe, expect, it } from "vitest";
import { openDatabase } from "../src/store/db.js";
import { tempDir } from "./support/stdio.js";

const modeOf = (f: string) => fs.statSync(f).mode & 0o777;
const filesOf = (db: string) => [db, `${db}-wal`, `${db}-shm`];

describe("database file permissions", () => {
  it("creates tenex.db, its -wal and -shm owner-only (0600)", async () => {
    const file = path.join(tempDir("tenex-perm-"), "nested", "tenex.db");
    const opened = await openDatabase(file);
    try {
      await opened.db.insertInto("workspaces").values({ id: "ws_perm", name: "perm", created_at: new Date().toISOString() }).execute();
      for (const f of filesOf(file)) {
        expect(fs.existsSync(f), f).toBe(true);
        expect(modeOf(f).toString(8), f).toBe("600");
      }
    } finally {
      await opened.close();
    }
  });

  it("tightens a database (and its -wal and -shm) created group- and world-readable by an older version", async () => {
    const file = path.join(tempDir("tenex-perm-"), "tenex.db");
    const old = new SQLite(file);
    old.pragma("journal_mode = WAL");
    old.exec("create table t (x)");
    for (const f of filesOf(file)) fs.chmodSync(f, 0o644);
    const opened = await openDatabase(file);
    try {
      for (const f of filesOf(file)) expect(modeOf(f).toString(8), f).toBe("600");
    } finally {
      await opened.close();
      old.close();
    }
  });
});

describe("database settings", () => {
  it("opens with WAL, synchronous FULL, foreign keys, secure_delete and a busy timeout", async () => {
    const opened = await openDatabase(path.join(tempDir("tenex-pragma-"), "tenex.db"));
    try {
      const p = (name: string) => opened.sqlite?.pragma(name, { simple: true });
      expect(p("journal_mode")).toBe("wal");
      expect(p("synchronous")).toBe(2); // FULL
      expect(p("foreign_keys")).toBe(1);
      expect(p("secure_delete")).toBe(1);
      expect(p("busy_timeout")).toBe(5000);
    } finally {
      await opened.close();
    }
  });
});
