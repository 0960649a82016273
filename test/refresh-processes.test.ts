// The refresh engine across real processes: two built stdio servers on one database (SQLite file or PostgreSQL), a real
// OAuth server (rotating and non-rotating refresh tokens), and SIGKILL in the middle of a refresh.
//
// What is guaranteed (and tested here):
// - Concurrent refreshes in several processes cause one refresh-token grant (lease + version CAS).
// - A rotated refresh token is written, together with its access token, in one transaction as the
//   very first step after the token response arrives. A process killed at any later point (here:
//   while it retries the provider call that got a 401) leaves the new pair stored; the next process
//   refreshes with it.
// - A process killed before the token response reaches it leaves the previous pair intact and
//   decryptable, and its lease expires so another process can take over. If the provider completed
//   that grant for the dead process and rotated the refresh token, no client could have kept the
//   new one: the next refresh gets invalid_grant and the connector turns `expired` with a detail
//   asking for consent again (then reconnects in place). Never a half-written or unreadable secret.

import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { Vault } from "../src/credentials/vault.js";
import { openDatabase } from "../src/store/db.js";
import { consentOverHttp } from "./sandbox/consent.js";
import type { FakeRoute } from "./sandbox/fake-api.js";
import { HUBSPOT_SCOPES } from "./sandbox/hubspot.js";
import { issuedBy, type TokenBody } from "./sandbox/oauth-server.js";
import { type ProviderSandbox, startProviderSandbox } from "./sandbox/provider.js";
import { testDatabase } from "./support/database.js";
import { type Harness, startHarness } from "./support/harness.js";
import { freePort, type StdioServer, startStdioServer, tempDir, waitForStderr } from "./support/stdio.js";

describe("refresh across processes (built stdio servers on one database, rotating refresh tokens)", () => {
  let sandbox: ProviderSandbox;
  let dir: string;
  let db: string;
  const masterKey = Buffer.alloc(32, 7).toString("base64");
  let port: number;
  let redirectUri: string;
  const servers: StdioServer[] = [];
  let survivor: Harness | undefined;
  /** How the fake HubSpot API answers: normally, or 401 once and then hang (to kill a process mid-retry). */
  let apiMode: "normal" | "401-then-hang" = "normal";
  let apiCalls = 0;
  let releaseHeld: () => void = () => undefined;

  const routes: Record<string, FakeRoute> = {
    "GET /account-info/2026-03/details": async () => {
      apiCalls += 1;
      if (apiMode === "401-then-hang") {
        if (apiCalls === 1) return { status: 401, json: { status: "error", message: "expired" } };
        await new Promise<void>((r) => (releaseHeld = r));
      }
      return { json: { portalId: 4242, timeZone: "Europe/Berlin" } };
    },
  };

  beforeAll(async () => {
    port = await freePort();
    redirectUri = `http://127.0.0.1:${port}/oauth/callback`;
    sandbox = await startProviderSandbox({
      provider: "hubspot",
      redirectUri,
      scopes: HUBSPOT_SCOPES,
      routes,
      oauth: { rotateRefreshToken: true },
    });
    dir = tempDir("tenex-proc-");
    db = testDatabase(dir);
  });
  afterEach(() => sandbox.oauth.releaseGates());
  afterAll(async () => {
    releaseHeld();
    for (const s of servers) if (alive(s)) await s.close();
    await survivor?.close();
    await sandbox?.close();
  });

  const alive = (s: StdioServer) => s.transport.child.exitCode === null && s.transport.child.signalCode === null;

  async function spawnServer(opts: { callbackPort?: number } = {}): Promise<StdioServer> {
    const env = {
      TENEX_DB: db,
      TENEX_MASTER_KEY: masterKey,
      TENEX_CALLBACK_PORT: String(opts.callbackPort ?? 0),
      TENEX_REFRESH_LEASE_SECONDS: "1",
      ...sandbox.env,
    };
    const server = await startStdioServer(env);
    servers.push(server);
    await waitForStderr(server.transport, opts.callbackPort ? "oauth callback listener ready" : "tenex-connectors ready on stdio");
    return server;
  }

  async function kill(s: StdioServer): Promise<void> {
    s.transport.child.kill("SIGKILL");
    await s.transport.waitForExit();
  }

  async function connectVia(start: () => Promise<{ connector_id: string; authorization_url: string }>): Promise<string> {
    const started = await start();
    const { callbackUrl, cookie } = await consentOverHttp(started.authorization_url, { login: "alice", redirectPrefix: redirectUri });
    expect((await fetch(callbackUrl, { headers: { cookie } })).status).toBe(200);
    return started.connector_id;
  }

  /** The in-process survivor: a real app on the same file, owning the callback port once the first process is gone. */
  async function theSurvivor(): Promise<Harness> {
    survivor ??= await startHarness({ env: sandbox.env, port, share: { dir, dbPath: db, masterKey } });
    return survivor;
  }

  /** Read the stored secret straight from the database, opened with the master key. */
  async function stored(id: string): Promise<{ version: number; lease_owner: string | null; tokens: TokenBody }> {
    const conn = await openDatabase(db);
    try {
      const row = await conn.db
        .selectFrom("connector_secrets")
        .select(["ciphertext", "version", "lease_owner"])
        .where("connector_id", "=", id)
        .executeTakeFirstOrThrow();
      const secret = JSON.parse(new Vault(Buffer.from(masterKey, "base64")).open(row.ciphertext, `connector_secrets:${id}`)) as {
        tokens: TokenBody;
      };
      return { version: row.version, lease_owner: row.lease_owner, tokens: secret.tokens };
    } finally {
      await conn.close();
    }
  }
  const refreshGrants = () => sandbox.oauth.tokenCalls.filter((c) => c.grant_type === "refresh_token");
  const lastIssued = () =>
    issuedBy(
      refreshGrants()
        .filter((c) => c.status === 200)
        .at(-1),
    );

  let a: StdioServer;
  let b: StdioServer;

  it("two processes refreshing the same connector concurrently cause exactly one grant", async () => {
    a = await spawnServer({ callbackPort: port });
    b = await spawnServer();
    const id = await connectVia(() => a.call("start_connector_oauth", { provider: "hubspot" }));
    const before = refreshGrants().length;
    // The grant is held at the provider so that every call overlaps it.
    const gate = sandbox.oauth.holdTokenRequests();
    const calls = Promise.all([a, b, a, b, a, b, a, b].map((s) => s.call("refresh_connector", { connector_id: id })));
    await expect.poll(() => gate.waiting()).toBe(1);
    // A read through each process queues behind the refresh calls it received first. (A refresh
    // that read the token only after the release would make a second grant and fail below.)
    await Promise.all([a, b].map((s) => s.call("get_connector_status", { connector_id: id })));
    gate.release();
    const results = await calls;
    for (const r of results) expect(r.refreshed, JSON.stringify(r)).toBe(true);
    expect(refreshGrants().length - before).toBe(1);
    const s = await stored(id);
    expect(s.tokens.refresh_token).toBe(lastIssued().refresh_token); // rotated once, the pair the provider issued
    expect(s.lease_owner).toBeNull();
    expect((await b.call("test_connector", { connector_id: id })).ok).toBe(true);
  });

  it("a rotated refresh token survives a crash right after the grant: it is written with the access token before anything else", async () => {
    const id = await connectVia(() => a.call("start_connector_oauth", { provider: "hubspot" }));
    const before = await stored(id);
    apiMode = "401-then-hang";
    apiCalls = 0;
    void a.callRaw("test_connector", { connector_id: id }).catch(() => undefined); // 401 → refresh → retry…
    await expect.poll(() => apiCalls, { message: "the retried read after the refresh" }).toBeGreaterThanOrEqual(2);
    await kill(a); // …and the process dies while the retry is in flight
    releaseHeld();
    apiMode = "normal";

    const rotated = lastIssued();
    expect(rotated.refresh_token).not.toBe(before.tokens.refresh_token);
    const after = await stored(id);
    expect(after.version).toBe(before.version + 1);
    expect(after.tokens.refresh_token).toBe(rotated.refresh_token);
    expect(after.tokens.access_token).toBe(rotated.access_token);

    // Another process refreshes with the rotated token (reusing the old one would be invalid_grant).
    const r = await b.callRaw("refresh_connector", { connector_id: id });
    expect(r.isError, JSON.stringify(r.structuredContent)).toBeFalsy();
    expect(refreshGrants().at(-1)!.status).toBe(200);
  });

  it("a process killed while the provider holds its token request leaves the old pair intact; another process takes over when the lease ends", async () => {
    const h = await theSurvivor();
    const id = await connectVia(() => h.ok("start_connector_oauth", { provider: "hubspot" }));
    const before = await stored(id);
    // Its token request is held at the provider (only that one) while it holds the lease.
    const gate = sandbox.oauth.holdTokenRequests({ first: 1 });
    void b.callRaw("refresh_connector", { connector_id: id }).catch(() => undefined);
    await expect.poll(() => gate.waiting(), { message: "the refreshing process's token request" }).toBe(1);
    await kill(b);

    const mid = await stored(id);
    expect(mid.version).toBe(before.version);
    expect(mid.tokens).toEqual(before.tokens);
    expect(mid.lease_owner).not.toBeNull(); // left by the dead process; it runs out after 1 s (the survivor waits for that)

    const r = await h.ok("refresh_connector", { connector_id: id });
    expect(r.refreshed).toBe(true);
    const after = await stored(id);
    expect(after.version).toBe(before.version + 1);
    expect(after.lease_owner).toBeNull();
    expect((await h.ok("test_connector", { connector_id: id })).ok).toBe(true);
  });

  it("when the provider rotated the token for a process that died before reading the answer, the connector turns expired (consent again), never corrupt", async () => {
    const h = await theSurvivor();
    const c = await spawnServer();
    const id = await connectVia(() => h.ok("start_connector_oauth", { provider: "hubspot" }));
    const before = await stored(id);
    const grantsBefore = refreshGrants().length;
    const gate = sandbox.oauth.holdTokenResponses({ first: 1 });
    void c.callRaw("refresh_connector", { connector_id: id }).catch(() => undefined);
    // The provider has processed the grant (rotating the refresh token) but holds its answer…
    await expect.poll(() => gate.waiting(), { message: "the grant at the provider" }).toBe(1);
    expect(refreshGrants().length).toBe(grantsBefore + 1);
    await kill(c); // …when the process dies.

    const mid = await stored(id);
    expect(mid.version).toBe(before.version);
    expect(mid.tokens).toEqual(before.tokens); // the previous pair, whole and readable

    const err = await h.fail("refresh_connector", { connector_id: id });
    expect(err.code).toBe("invalid_state"); // the connector just turned expired: using it is invalid_state
    expect(err.message).toContain("invalid_grant");
    const status = await h.ok("get_connector_status", { connector_id: id });
    expect(status.status).toBe("expired");
    expect(status.status_detail).toContain("consent again");

    // Reconnecting in place brings the same connector back.
    const again = await connectVia(() => h.ok("start_connector_oauth", { provider: "hubspot", connector_id: id }));
    expect(again).toBe(id);
    expect((await h.ok("get_connector_status", { connector_id: id })).status).toBe("connected");
    expect((await h.ok("refresh_connector", { connector_id: id })).refreshed).toBe(true);
  });
});
