// Regression (issue 12, finding 10): with TENEX_DB=/tmp/x.db the master key is /tmp/master.key,
// and a key or database another user created there first was used silently. Now such files are
// created exclusively (O_EXCL, 0600), and an existing master key, database, -wal or -shm is
// refused when another user owns it (or a link to it), when anyone may write it, or when its
// group may write it without TENEX_ALLOW_GROUP_WRITABLE=1; the message names the file.
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { createApp } from "../src/app/app.js";
import { loadConfig } from "../src/app/config.js";
import { createLogger } from "../src/common/log.js";
import { loadOrCreateMasterKey } from "../src/credentials/vault.js";
import { openDatabase } from "../src/store/db.js";
import { tempDir } from "./support/stdio.js";

const isRoot = process.getuid?.() === 0;
const OTHER_UID = 4242;
const quiet = createLogger({ write: () => undefined });

/** A shared directory (like /tmp) with a file another user could have planted. */
function plant(name: string, content: string | Buffer, mode: number): { dir: string; file: string } {
  const dir = tempDir("tenex-plant-");
  const file = path.join(dir, name);
  fs.writeFileSync(file, content, { mode });
  fs.chmodSync(file, mode);
  return { dir, file };
}
const someKey = () => crypto.randomBytes(32).toString("base64") + "\n";

describe("planted master key files", () => {
  it("refuses a world-writable master.key, naming the file and what to do", () => {
    const { dir, file } = plant("master.key", someKey(), 0o666);
    expect(() => loadOrCreateMasterKey({ dataDir: dir })).toThrow(
      `Refusing to use the master key file ${file}: anyone on this machine may write it (mode 0666)`,
    );
    expect(() => loadOrCreateMasterKey({ dataDir: dir })).toThrow(/Move it out of the way/);
  });

  it.skipIf(!isRoot)("refuses a master.key owned by another user, even one only they can write", () => {
    const { dir, file } = plant("master.key", someKey(), 0o600);
    fs.chownSync(file, OTHER_UID, OTHER_UID);
    expect(() => loadOrCreateMasterKey({ dataDir: dir })).toThrow(
      `Refusing to use the master key file ${file}: it is owned by another user (uid ${OTHER_UID}`,
    );
  });

  it("refuses a group-writable master.key unless TENEX_ALLOW_GROUP_WRITABLE=1, through the real start", async () => {
    const { dir, file } = plant("master.key", someKey(), 0o660);
    const env = { TENEX_DB: path.join(dir, "tenex.db") };
    await expect(createApp(loadConfig(env, dir), { mode: "stdio", log: quiet })).rejects.toThrow(
      `Refusing to use the master key file ${file}: its group may write it (mode 0660). Remove group write access (chmod g-w ${file}); or, on a volume shared with a group on purpose, set TENEX_ALLOW_GROUP_WRITABLE=1.`,
    );
    expect(fs.existsSync(path.join(dir, "tenex.db"))).toBe(false); // refused before the database was touched
    const app = await createApp(loadConfig({ ...env, TENEX_ALLOW_GROUP_WRITABLE: "1" }, dir), { mode: "stdio", log: quiet });
    await app.close();
  });

  it("never writes a new key through a link planted where the key would go", () => {
    const dir = tempDir("tenex-plant-");
    const target = path.join(tempDir("tenex-elsewhere-"), "stolen.key");
    fs.symlinkSync(target, path.join(dir, "master.key"));
    expect(() => loadOrCreateMasterKey({ dataDir: dir })).toThrow();
    expect(fs.existsSync(target)).toBe(false);
  });

  it("creates a new master.key owner-only and uses it again", () => {
    const dir = tempDir("tenex-plant-");
    const key = loadOrCreateMasterKey({ dataDir: dir });
    expect((fs.statSync(path.join(dir, "master.key")).mode & 0o777).toString(8)).toBe("600");
    expect(loadOrCreateMasterKey({ dataDir: dir }).equals(key)).toBe(true);
  });
});

describe("planted database files", () => {
  it("refuses a world-writable database, and a world-writable -wal or -shm left next to a good one", async () => {
    const { file } = plant("tenex.db", "", 0o666);
    await expect(openDatabase(file)).rejects.toThrow(
      `Refusing to use the database file ${file}: anyone on this machine may write it (mode 0666)`,
    );
    for (const suffix of ["-wal", "-shm"]) {
      const dir = tempDir("tenex-plant-");
      const db = path.join(dir, "tenex.db");
      await (await openDatabase(db)).close();
      fs.writeFileSync(`${db}${suffix}`, "", { mode: 0o666 });
      fs.chmodSync(`${db}${suffix}`, 0o666);
      await expect(openDatabase(db)).rejects.toThrow(`${db}${suffix}: anyone on this machine may write it`);
    }
  });

  it.skipIf(!isRoot)("refuses a database, -wal or -shm owned by another user, and a link to one planted by another user", async () => {
    for (const suffix of ["", "-wal", "-shm"]) {
      const dir = tempDir("tenex-plant-");
      const db = path.join(dir, "tenex.db");
      if (suffix) await (await openDatabase(db)).close();
      fs.writeFileSync(`${db}${suffix}`, "", { mode: 0o600 });
      fs.chownSync(`${db}${suffix}`, OTHER_UID, OTHER_UID);
      await expect(openDatabase(db), suffix).rejects.toThrow(`${db}${suffix}: it is owned by another user (uid ${OTHER_UID}`);
    }
    const dir = tempDir("tenex-plant-");
    const db = path.join(dir, "tenex.db");
    const target = path.join(tempDir("tenex-elsewhere-"), "wal");
    fs.symlinkSync(target, `${db}-wal`);
    fs.lchownSync(`${db}-wal`, OTHER_UID, OTHER_UID);
    await expect(openDatabase(db)).rejects.toThrow(`${db}-wal: it is a symbolic link owned by another user`);
    expect(fs.existsSync(target)).toBe(false);
  });

  it("opens a group-writable database only with the override", async () => {
    const dir = tempDir("tenex-plant-");
    const db = path.join(dir, "tenex.db");
    await (await openDatabase(db)).close();
    fs.chmodSync(db, 0o660);
    await expect(openDatabase(db)).rejects.toThrow(/its group may write it \(mode 0660\).*TENEX_ALLOW_GROUP_WRITABLE=1/);
    const opened = await openDatabase(db, { allowGroupWritable: true });
    await opened.close();
  });
});
