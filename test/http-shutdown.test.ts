// Graceful shutdown of HTTP mode: stop accepting, finish what is in flight, close the
// database, lose no completed write. In process (a request caught mid-body) and as the real
// CLI process receiving SIGTERM in the middle of a burst of tool calls.
import { spawn } from "node:child_process";
import http from "node:http";
import { describe, expect, it } from "vitest";
import { openDatabase } from "../src/store/db.js";
import { createApiKey, createWorkspace } from "../src/store/workspaces.js";
import { API_BASE } from "../src/transports/http/rest.js";
import { toolCalls } from "./support/calls.js";
import { testDatabaseEnv } from "./support/database.js";
import { bearer, connectClient, freePort, startHttpHarness, tempDir } from "./support/http.js";
import { CLI, ROOT, waitForOutput } from "./support/stdio.js";

const HUBSPOT = { TENEX_HUBSPOT_CLIENT_ID: "hubspot-client", TENEX_HUBSPOT_CLIENT_SECRET: "hubspot-secret-value-1234567890" };

describe("graceful shutdown", () => {
  it("finishes a request that is in flight when close() starts, and refuses new connections", async () => {
    const h = await startHttpHarness({ env: HUBSPOT });
    const body = JSON.stringify({ provider: "hubspot", label: "in flight during shutdown" });
    let closed = false;
    try {
      const response = new Promise<{ status: number; json: { connector_id: string } }>((resolve, reject) => {
        const req = http.request(`${h.url}${API_BASE}/connectors/oauth`, {
          method: "POST",
          headers: { ...bearer(h.a.key), "content-type": "application/json", "content-length": String(Buffer.byteLength(body)) },
        });
        req.on("response", (res) => {
          let text = "";
          res.on("data", (d) => (text += d));
          res.on("end", () => resolve({ status: res.statusCode!, json: JSON.parse(text) }));
        });
        req.on("error", reject);
        req.write(body.slice(0, 10));
        (async () => {
          await expect.poll(() => h.server.inFlight()).toBeGreaterThan(0);
          const closing = h.server.close().then(() => (closed = true));
          // Not accepting any more.
          await expect(fetch(`${h.url}/healthz`)).rejects.toThrow();
          expect(closed).toBe(false);
          req.end(body.slice(10));
          await closing;
        })().catch(reject);
      });
      const res = await response;
      expect(res.status).toBe(201);
      await expect.poll(() => closed).toBe(true);
      const row = await h.app.ctx.db
        .selectFrom("connectors")
        .select(["id", "label"])
        .where("id", "=", res.json.connector_id)
        .executeTakeFirst();
      expect(row?.label).toBe("in flight during shutdown");
    } finally {
      await h.close();
    }
  });

  it("loses no completed write when SIGTERM arrives during a burst of tool calls, and exits 0", async () => {
    const dir = tempDir("tenex-sigterm-");
    const env = { PATH: process.env.PATH ?? "", ...testDatabaseEnv(dir), ...HUBSPOT };
    const setup = await openDatabase(env.TENEX_DB);
    const ws = await createWorkspace(setup.db, "burst", new Date().toISOString());
    const { key } = await createApiKey(setup.db, ws.id, new Date().toISOString());
    await setup.close();
    const port = await freePort();
    const child = spawn(process.execPath, [CLI, "serve", "--http", "--port", String(port)], {
      env,
      cwd: ROOT,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stderr = "";
    let stdout = "";
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
    await waitForOutput(child, child.stderr!, () => stderr, "ready on http");
    const url = `http://127.0.0.1:${port}`;
    const clients = await Promise.all([0, 1, 2, 3].map(() => connectClient(url, key)));
    const succeeded: string[] = [];
    let failed = 0;
    let sentBeforeSignalDoneAfter = 0;
    let signalled = false;
    const worker = async (c: (typeof clients)[number], n: number) => {
      for (let i = 0; ; i++) {
        const before = signalled;
        try {
          const res = await toolCalls(c.client).call("start_connector_oauth", { provider: "hubspot", label: `burst ${n}-${i}` });
          succeeded.push(res.connector_id);
          if (!before && signalled) sentBeforeSignalDoneAfter++;
          if (succeeded.length === 40 && !signalled) {
            signalled = true;
            child.kill("SIGTERM");
          }
        } catch {
          failed++;
          return;
        }
      }
    };
    await Promise.all(clients.flatMap((c, i) => [0, 1, 2].map((j) => worker(c, i * 3 + j))));
    expect(await exited).toBe(0);
    await Promise.all(clients.map((c) => c.client.close().catch(() => undefined)));
    expect(stderr).toContain('"msg":"stopped"');
    expect(stdout).toBe("");

    const after = await openDatabase(env.TENEX_DB);
    try {
      const stored = new Set((await after.db.selectFrom("connectors").select("id").execute()).map((r) => r.id));
      const lost = succeeded.filter((id) => !stored.has(id));
      expect(succeeded.length).toBeGreaterThanOrEqual(40);
      expect(lost).toEqual([]);
      expect(failed).toBe(12);
      // Nothing half-written either: every stored connector has its grant.
      const orphans = await after.db
        .selectFrom("connectors as c")
        .select((eb) => eb.fn.countAll<number>().as("n"))
        .where(({ not, exists, selectFrom }) =>
          not(exists(selectFrom("oauth_grants as g").select("g.state_hash").whereRef("g.connector_id", "=", "c.id"))),
        )
        .executeTakeFirstOrThrow();
      expect(Number(orphans.n)).toBe(0);
    } finally {
      await after.close();
    }
    console.log(
      `burst: ${succeeded.length} calls succeeded (${sentBeforeSignalDoneAfter} finished after SIGTERM), ${failed} refused after it, 0 lost`,
    );
  });

  it("also stops cleanly on SIGINT", async () => {
    const dir = tempDir("tenex-sigint-");
    const port = await freePort();
    const child = spawn(process.execPath, [CLI, "serve", "--http", "--port", String(port)], {
      env: { PATH: process.env.PATH ?? "", ...testDatabaseEnv(dir) },
      cwd: ROOT,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stderr = "";
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
    await waitForOutput(child, child.stderr!, () => stderr, "ready on http");
    expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200);
    child.kill("SIGINT");
    expect(await exited).toBe(0);
    expect(stderr).toContain('"why":"SIGINT"');
  });
});
