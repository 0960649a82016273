// The command line of HTTP mode: workspaces and keys (JSON on stdout, errors on stderr with
// a non-zero exit, a key printed once and stored only as a hash), `serve --http` refusing
// key-free mode off loopback, and the stdio server acting for TENEX_API_KEY's workspace.
import { spawn, spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { storedBytes, testDatabaseEnv } from "./support/database.js";
import { bearer, freePort, tempDir } from "./support/http.js";
import { CLI, ROOT, startStdioServer, waitForOutput } from "./support/stdio.js";

function cliIn(dir: string) {
  const env = { PATH: process.env.PATH ?? "", ...testDatabaseEnv(dir) };
  return {
    env,
    run: (...args: string[]) => spawnSync(process.execPath, [CLI, ...args], { env, cwd: ROOT, encoding: "utf8" }),
  };
}

describe("command line: workspaces and keys", () => {
  it("creates workspaces and keys, lists and revokes keys, with JSON on stdout and errors on stderr", async () => {
    const dir = tempDir("tenex-cli-");
    const { run, env } = cliIn(dir);

    const ws = run("workspaces", "create", "acme");
    expect(ws.status).toBe(0);
    const created = JSON.parse(ws.stdout);
    expect(created).toEqual({ id: expect.stringMatching(/^ws_/), name: "acme" });

    const dup = run("workspaces", "create", "acme");
    expect(dup.status).not.toBe(0);
    expect(dup.stdout).toBe("");
    expect(dup.stderr).toContain("already exists");

    const k1 = run("keys", "create", "--workspace", "acme");
    expect(k1.status).toBe(0);
    expect(k1.stdout).toMatch(/^tnx_[A-Za-z0-9_-]{43,}\n$/);
    const key = k1.stdout.trim();
    const list = run("keys", "list", `--workspace=${created.id}`);
    expect(list.status).toBe(0);
    const keys = JSON.parse(list.stdout);
    expect(Array.isArray(keys)).toBe(true);
    expect(keys).toHaveLength(1);
    for (const k of keys) {
      expect(Object.keys(k).sort()).toEqual(["created_at", "id", "prefix", "revoked_at", "workspace_id"]);
      expect(k.workspace_id).toBe(created.id);
      expect(k.revoked_at).toBeNull();
    }
    expect(list.stdout).not.toContain(key);
    expect(key.startsWith(keys[0].prefix)).toBe(true);
    expect(keys[0].prefix.length).toBeLessThan(16);

    const revoked = run("keys", "revoke", keys[0].id);
    expect(revoked.status).toBe(0);
    expect(JSON.parse(revoked.stdout)).toEqual({ ...keys[0], revoked_at: expect.any(String) });

    // The key itself is nowhere on disk: only its hash.
    const raw = await storedBytes(env.TENEX_DB);
    expect(raw.includes(Buffer.from(key))).toBe(false);

    for (const [args, code, text] of [
      [["keys", "revoke", "key_nope"], 1, "No API key"],
      [["keys", "create"], 2, "needs --workspace"],
      [["serve", "--http", "--host", "0.0.0.0", "--no-auth-loopback"], 1, "--no-auth-loopback is refused"],
    ] as const) {
      const r = run(...args);
      expect(r.status, args.join(" ")).toBe(code);
      expect(r.stdout, args.join(" ")).toBe("");
      expect(r.stderr, args.join(" ")).toMatch(/^tenex-connectors: /);
      expect(r.stderr).toContain(text);
    }
  }, 90_000); // about fifteen CLI processes, one after another: slow on a loaded 2-core machine

  it("serves REST for a key's workspace over HTTP and the same workspace over stdio with TENEX_API_KEY", async () => {
    const dir = tempDir("tenex-cli-");
    const { env, run } = cliIn(dir);
    run("workspaces", "create", "shared");
    const key = run("keys", "create", "--workspace", "shared").stdout.trim();
    const port = await freePort();
    const httpEnv = { ...env, TENEX_HUBSPOT_CLIENT_ID: "id", TENEX_HUBSPOT_CLIENT_SECRET: "secret-secret-secret" };
    const child = spawn(process.execPath, [CLI, "serve", "--http", "--port", String(port)], {
      env: httpEnv,
      cwd: ROOT,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stderr = "";
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    const exited = new Promise((resolve) => child.once("exit", resolve));
    try {
      await waitForOutput(child, child.stderr!, () => stderr, "ready on http");
      const res = await fetch(`http://127.0.0.1:${port}/api/v1/connectors/oauth`, {
        method: "POST",
        headers: { ...bearer(key), "content-type": "application/json" },
        body: JSON.stringify({ provider: "hubspot", label: "made over REST" }),
      });
      expect(res.status).toBe(201);
      const { connector_id } = (await res.json()) as { connector_id: string };

      const stdio = await startStdioServer({ ...env, TENEX_API_KEY: key, TENEX_CALLBACK_PORT: "0" });
      try {
        const listed = await stdio.call("list_connectors", {});
        expect(listed.connectors.map((c) => c.id)).toEqual([connector_id]);
      } finally {
        await stdio.close();
      }
      expect(stderr).not.toContain(key);
    } finally {
      child.kill("SIGTERM");
      await exited;
    }
  });
});
