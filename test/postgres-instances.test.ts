// Several `serve --http` instances (built server processes) on one PostgreSQL database, as
// behind a load balancer (issue 15). Runs on the PostgreSQL pass only (TENEX_TEST_PG, see
// scripts/test.mjs). Order is asserted with the sandbox's gates, never with durations.
import { spawnSync } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { Vault } from "../src/credentials/vault.js";
import { openDatabase } from "../src/store/db.js";
import { consentOverHttp } from "./sandbox/consent.js";
import { type HubSpotSandbox, startHubSpotSandbox } from "./sandbox/hubspot.js";
import { databaseEnv, onPostgres, testDatabase, testMasterKey } from "./support/database.js";
import { startHarness } from "./support/harness.js";
import { freePort, tempDir } from "./support/http.js";
import { CLI, type HttpInstance, ROOT, startHttpInstance, waitForOutput } from "./support/stdio.js";

/** The newest migration, from the migrations folder (the schema an instance reports once migrated). */
const LATEST_MIGRATION = fs
  .readdirSync(path.join(ROOT, "src", "store", "migrations"))
  .filter((f) => /^\d{4}_.*\.ts$/.test(f))
  .sort()
  .at(-1)!
  .replace(/\.ts$/, "");

type Json = Record<string, any>;

type Instance = HttpInstance;

const ready = (i: Instance) => waitForOutput(i.child, i.child.stderr!, i.stderr, "ready on http");

async function stop(i: Instance): Promise<void> {
  if (i.child.exitCode === null && i.child.signalCode === null) i.child.kill("SIGTERM");
  await i.exited;
}

/** Read or write the shared database directly, as an operator would. */
async function withDb<T>(db: string, fn: (d: Awaited<ReturnType<typeof openDatabase>>["db"]) => Promise<T>): Promise<T> {
  const opened = await openDatabase(db);
  try {
    return await fn(opened.db);
  } finally {
    await opened.close();
  }
}

describe.skipIf(!onPostgres)("several HTTP instances on one PostgreSQL database", () => {
  let sandbox: HubSpotSandbox;
  let db: string;
  let env: Record<string, string>;
  let key: string;
  let a: Instance;
  let b: Instance;

  beforeAll(async () => {
    const dir = tempDir("tenex-pgi-");
    db = testDatabase(dir);
    const [portA, portB] = [await freePort(), await freePort()];
    // One public URL, as behind a load balancer: the provider sends the person back to B.
    const publicUrl = `http://127.0.0.1:${portB}`;
    sandbox = await startHubSpotSandbox({ redirectUri: `${publicUrl}/oauth/callback` });
    env = {
      PATH: process.env.PATH ?? "",
      ...databaseEnv(db),
      TENEX_PUBLIC_URL: publicUrl,
      TENEX_ALLOWED_HOSTS: "127.0.0.1",
      // Connect links are followed without a member signed in (test/people-connect.test.ts covers sign-in).
      TENEX_CONNECT_SIGNIN: "optional",
      TENEX_RATE_LIMIT: "0",
      TENEX_REFRESH_LEASE_SECONDS: "2",
      ...sandbox.env,
    };
    const run = (...args: string[]) => spawnSync(process.execPath, [CLI, ...args], { env, cwd: ROOT, encoding: "utf8" });
    expect(run("workspaces", "create", "acme").status).toBe(0);
    key = run("keys", "create", "--workspace", "acme").stdout.trim();
    a = startHttpInstance(portA, env);
    b = startHttpInstance(portB, env);
    await Promise.all([ready(a), ready(b)]);
  });
  afterEach(() => sandbox?.oauth.releaseGates());
  afterAll(async () => {
    for (const i of [a, b]) if (i) await stop(i);
    await sandbox?.close();
  });

  const api = async (i: Instance, method: string, route: string, body?: unknown): Promise<{ status: number; json: Json }> => {
    const res = await fetch(`${i.url}/api/v1${route}`, {
      method,
      headers: { Authorization: `Bearer ${key}`, ...(body ? { "Content-Type": "application/json" } : {}) },
      ...(body ? { body: JSON.stringify(body) } : {}),
    });
    return { status: res.status, json: (await res.json()) as Json };
  };

  async function connect(start: Instance): Promise<string> {
    const started = await api(start, "POST", "/connectors/oauth", { provider: "hubspot" });
    expect(started.status, JSON.stringify(started.json)).toBe(201);
    const { callbackUrl, cookie } = await consentOverHttp(started.json.authorization_url, {
      login: "alice",
      redirectPrefix: `${b.url}/oauth/callback`,
    });
    expect((await fetch(callbackUrl, { headers: { cookie } })).status).toBe(200);
    return started.json.connector_id;
  }

  it("prints which database it opened, dialect and version, never the password", () => {
    for (const i of [a, b]) {
      expect(i.stderr()).toContain('"dialect":"postgres"');
      expect(i.stderr()).toContain(`"schema":"${LATEST_MIGRATION}"`);
      expect(i.stderr()).not.toContain(env.TENEX_MASTER_KEY!);
      expect(i.stderr()).not.toContain(key);
    }
  });

  it("a grant started on A completes through B's callback, and A's wait_for_connector returns once it has", async () => {
    const started = await api(a, "POST", "/connectors/oauth", { provider: "hubspot" });
    expect(started.status).toBe(201);
    const id: string = started.json.connector_id;
    const order: string[] = [];
    // The code exchange is held at the provider: B's callback cannot finish until released.
    const gate = sandbox.oauth.holdTokenRequests({ first: 1 });
    const waited = api(a, "GET", `/connectors/${id}/wait?timeout_seconds=60`).then((r) => {
      order.push("wait returned");
      return r;
    });
    const { callbackUrl, cookie } = await consentOverHttp(started.json.authorization_url, {
      login: "alice",
      redirectPrefix: `${b.url}/oauth/callback`,
    });
    const callback = fetch(callbackUrl, { headers: { cookie } }).then((r) => {
      order.push("callback answered");
      return r;
    });
    await expect.poll(() => gate.waiting()).toBe(1);
    // The wait is still open on A while B's callback is held.
    expect(order).toEqual([]);
    order.push("released");
    gate.release();
    expect((await callback).status).toBe(200);
    const w = await waited;
    expect(w.status).toBe(200);
    expect(w.json).toMatchObject({ id, status: "connected" });
    expect(order[0]).toBe("released");
    expect(order).toContain("wait returned");
  });

  it("1,000 concurrent test_connector calls split across A and B on a token inside the refresh margin make exactly one refresh grant", async () => {
    const id = await connect(a);
    // Age the stored token as time would: 60 s left of a one-hour lifetime (the margin is 5 minutes).
    const vault = new Vault(Buffer.from(env.TENEX_MASTER_KEY!, "base64"));
    await withDb(db, async (d) => {
      const row = await d.selectFrom("connector_secrets").select("ciphertext").where("connector_id", "=", id).executeTakeFirstOrThrow();
      const secret = JSON.parse(vault.open(row.ciphertext, `connector_secrets:${id}`)) as Json;
      const now = Math.floor(Date.now() / 1000);
      secret.tokens.expires_at = now + 60;
      secret.tokens.obtained_at = now - 3540;
      await d
        .updateTable("connector_secrets")
        .set({ ciphertext: vault.seal(JSON.stringify(secret), `connector_secrets:${id}`), access_expires_at: now + 60 })
        .where("connector_id", "=", id)
        .execute();
    });
    const grants = () => sandbox.oauth.tokenCalls.filter((c) => c.grant_type === "refresh_token").length;
    const before = grants();
    const t0 = performance.now();
    const results = await Promise.all(Array.from({ length: 1000 }, (_, n) => api(n % 2 ? b : a, "POST", `/connectors/${id}/test`)));
    console.log(`1,000 test_connector calls over two instances: ${Math.round(performance.now() - t0)} ms`);
    const failed = results.filter((r) => r.status !== 200 || r.json.ok !== true);
    expect(failed.slice(0, 3)).toEqual([]);
    expect(grants() - before).toBe(1);
    const status = await api(b, "GET", `/connectors/${id}`);
    expect(status.json).toMatchObject({ status: "connected", health: "healthy" });
  }, 120_000);

  it("concurrent update_connector calls through both instances all survive", async () => {
    const id = await connect(a);
    for (let round = 1; round <= 10; round++) {
      const roles = round % 2 ? ["source"] : ["crm_sink"];
      const res = await Promise.all([
        api(a, "PATCH", `/connectors/${id}`, { label: `label ${round}` }),
        api(b, "PATCH", `/connectors/${id}`, { roles }),
      ]);
      for (const r of res) expect(r.status, JSON.stringify(r.json)).toBe(200);
      const c = await api(round % 2 ? a : b, "GET", `/connectors/${id}`);
      expect({ round, label: c.json.label, roles: c.json.roles }).toEqual({ round, label: `label ${round}`, roles });
    }
  });

  it("an instance killed with SIGKILL while holding the refresh lease: the other takes over once the lease ends, nothing lost", async () => {
    const id = await connect(b);
    const stored = () =>
      withDb(db, (d) =>
        d
          .selectFrom("connector_secrets")
          .select(["version", "lease_owner", "ciphertext"])
          .where("connector_id", "=", id)
          .executeTakeFirstOrThrow(),
      );
    const before = await stored();
    // A's token request is held at the provider while A holds the lease…
    const gate = sandbox.oauth.holdTokenRequests({ first: 1 });
    void api(a, "POST", `/connectors/${id}/refresh`).catch(() => undefined);
    await expect.poll(() => gate.waiting()).toBe(1);
    expect((await stored()).lease_owner).not.toBeNull();
    // …when A dies.
    a.child.kill("SIGKILL");
    await a.exited;
    const mid = await stored();
    expect(mid.version).toBe(before.version);
    expect(mid.ciphertext).toBe(before.ciphertext);
    // B waits for the lease to run out (2 s here), then refreshes itself.
    const r = await api(b, "POST", `/connectors/${id}/refresh`);
    expect(r.status, JSON.stringify(r.json)).toBe(200);
    expect(r.json.refreshed).toBe(true);
    const after = await stored();
    expect(after.version).toBe(before.version + 1);
    expect(after.lease_owner).toBeNull();
    expect((await api(b, "POST", `/connectors/${id}/test`)).json.ok).toBe(true);
  });
});

describe.skipIf(!onPostgres)("PostgreSQL start-up", () => {
  it("two instances started at once on an empty database both come up, and the migrations ran once", async () => {
    const db = testDatabase(tempDir("tenex-pgm-"));
    const env = { PATH: process.env.PATH ?? "", ...databaseEnv(db), TENEX_ALLOWED_HOSTS: "127.0.0.1" };
    const instances = [startHttpInstance(await freePort(), env), startHttpInstance(await freePort(), env)];
    try {
      await Promise.all(instances.map(ready));
      const names = await withDb(db, async (d) => {
        const { rows } = await (await import("kysely")).sql<{ name: string }>`select name from kysely_migration order by name`.execute(d);
        return rows.map((r) => r.name);
      });
      expect(names).toEqual([...new Set(names)]);
      expect(names.at(-1)).toBe(LATEST_MIGRATION);
      // Both agree on the master key check written by whichever came first.
      for (const i of instances) expect(i.stderr()).not.toContain("cannot open");
    } finally {
      await Promise.all(instances.map(stop));
    }
  });

  it("refuses to start without TENEX_MASTER_KEY, and with a key that cannot open the database's check; the password never shows", async () => {
    const url = new URL(testDatabase(tempDir("tenex-pgk-")));
    url.password = "hunter2-not-logged"; // the throwaway cluster trusts loopback: any password works
    const db = url.toString();
    const serve = (extra: Record<string, string>) =>
      spawnSync(process.execPath, [CLI, "serve", "--http", "--port", "0"], {
        env: { PATH: process.env.PATH ?? "", TENEX_DB: db, ...extra },
        cwd: ROOT,
        encoding: "utf8",
        timeout: 20_000,
      });
    const none = serve({});
    expect(none.status).not.toBe(0);
    expect(none.stderr).toContain("TENEX_MASTER_KEY is required");
    // A first instance writes the check with its key (then stops: the start is only for that).
    const h = await startHarness({ env: { TENEX_DB: db }, share: { dir: tempDir(), dbPath: db, masterKey: testMasterKey(db) } });
    await h.close();
    const wrong = serve({ TENEX_MASTER_KEY: crypto.randomBytes(32).toString("base64") });
    expect(wrong.status).not.toBe(0);
    expect(wrong.stderr).toContain("cannot open this database's master key check");
    for (const r of [none, wrong]) expect(`${r.stdout}${r.stderr}`).not.toContain("hunter2-not-logged");
  });

  it("db copy moves a SQLite database into an empty PostgreSQL one, keeping ids: sealed secrets open, the sequence continues", async () => {
    const dir = tempDir("tenex-pgc-");
    const masterKey = crypto.randomBytes(32).toString("base64");
    const port = await freePort();
    const sandbox = await startHubSpotSandbox({ redirectUri: `http://127.0.0.1:${port}/oauth/callback` });
    try {
      const source = path.join(dir, "source.db");
      const h = await startHarness({ env: sandbox.env, port, share: { dir, dbPath: source, masterKey } });
      const first = await h.connect("hubspot");
      const second = await h.connect("hubspot");
      await h.close();
      const target = testDatabase(dir);
      const copy = spawnSync(process.execPath, [CLI, "db", "copy", "--to", target], {
        env: { PATH: process.env.PATH ?? "", TENEX_DB: source, TENEX_MASTER_KEY: masterKey },
        cwd: ROOT,
        encoding: "utf8",
      });
      expect(copy.status, copy.stderr).toBe(0);
      expect(JSON.parse(copy.stdout).tables).toContainEqual({ table: "connectors", rows: 2 });
      const again = spawnSync(process.execPath, [CLI, "db", "copy", "--to", target], {
        env: { PATH: process.env.PATH ?? "", TENEX_DB: source, TENEX_MASTER_KEY: masterKey },
        cwd: ROOT,
        encoding: "utf8",
      });
      expect(again.status).not.toBe(0);
      expect(again.stderr).toContain("not empty");

      const p = await startHarness({ env: sandbox.env, port, share: { dir, dbPath: target, masterKey } });
      try {
        expect((await p.ok("test_connector", { connector_id: first.connector_id })).ok).toBe(true);
        expect((await p.ok("refresh_connector", { connector_id: second.connector_id })).refreshed).toBe(true);
        const third = await p.connect("hubspot");
        const listed = await p.ok("list_connectors", {});
        expect(listed.connectors.map((c) => c.id)).toEqual([third.connector_id, second.connector_id, first.connector_id]);
      } finally {
        await p.close();
      }
    } finally {
      await sandbox.close();
    }
  });
});
