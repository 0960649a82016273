// What a fresh stdio server loads before its first answers (issue 14, cold start). Loading is
// most of a cold start, so the OAuth client (openid-client with oauth4webapi and jose) waits for
// the first grant step, kysely comes from the bundle the build makes (dist/node_modules/kysely,
// a few files instead of its 263 modules), and what a stdio session may never use waits for its
// first use: undici (the first proxied call), pg (a PostgreSQL URL), the admin commands with
// password hashing, the connect page, and the MCP Apps card's document (its resources/read).
// The loaded modules are listed by a module hook: it sees ES modules and the CommonJS modules they
// import (undici's and pg's entry points among them), not what those then require().
import { spawn } from "node:child_process";
import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { CLI, tempDir } from "./support/stdio.js";

const HOOK = `export async function load(url, context, next) { const r = await next(url, context); process.stderr.write("LOADED " + url + "\\n"); return r; }`;
const REGISTER = `import { register } from "node:module"; register(${JSON.stringify(`data:text/javascript,${encodeURIComponent(HOOK)}`)});`;

/**
 * Spawn the built server, send `initialize` then a 2026-07-28 `tools/list`, and list what it loaded
 * by the second answer. `dir` holds the database (a fresh one by default).
 */
async function modulesLoadedBy(dir = tempDir()): Promise<string[]> {
  const child = spawn(process.execPath, ["--import", `data:text/javascript,${encodeURIComponent(REGISTER)}`, CLI, "serve"], {
    env: { PATH: process.env.PATH ?? "", HOME: dir, TENEX_DB: path.join(dir, "tenex.db") },
    stdio: ["pipe", "pipe", "pipe"],
  });
  let stderr = "";
  child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
  const answered = new Promise<void>((resolve, reject) => {
    let out = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => {
      out += d;
      if (out.includes('"id":2')) resolve();
    });
    child.once("exit", (code) => reject(new Error(`server exited (${code}) before answering: ${stderr.slice(-2000)}`)));
  });
  const send = (m: object) => child.stdin.write(`${JSON.stringify({ jsonrpc: "2.0", ...m })}\n`);
  send({
    id: 1,
    method: "initialize",
    params: { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "t", version: "1" } },
  });
  send({ method: "notifications/initialized" });
  send({ id: 2, method: "tools/list", params: {} });
  try {
    await answered;
  } finally {
    const exited = new Promise((r) => child.once("exit", r));
    child.stdin.end();
    await exited;
  }
  return [...stderr.matchAll(/^LOADED (\S+)$/gm)].map((m) => m[1]!);
}

describe("cold start: what the stdio server loads before answering initialize and tools/list", () => {
  let loaded: string[] = [];
  let again: string[] = [];
  beforeAll(async () => {
    const dir = tempDir();
    loaded = await modulesLoadedBy(dir);
    // The same database a second time: every start but the first finds it up to date.
    again = await modulesLoadedBy(dir);
  });

  it("answers tools/list from the listing the build wrote (dist/tools/listing.js), not by converting the tools' zod schemas", () => {
    expect(loaded.filter((u) => u.endsWith("/dist/tools/listing.js"))).toHaveLength(1);
    expect(again.filter((u) => u.endsWith("/dist/tools/listing.js"))).toHaveLength(1);
  });

  it("loads the migrations only for a database that needs them", () => {
    const migrations = (l: string[]) => l.filter((u) => u.includes("/dist/src/store/migrations/"));
    expect(migrations(loaded).length).toBeGreaterThan(10);
    expect(migrations(again)).toEqual([]);
  });

  it("loads neither openid-client nor its dependencies, and kysely from the build's bundle", () => {
    expect(loaded.some((u) => u.includes("/dist/src/cli/stdio.js"))).toBe(true); // the hook saw the server's own modules
    expect(loaded.filter((u) => /\/node_modules\/(openid-client|oauth4webapi|jose)\//.test(u))).toEqual([]);
    const kysely = loaded.filter((u) => u.includes("/node_modules/kysely/"));
    expect(kysely.length).toBeGreaterThan(0);
    expect(kysely.filter((u) => !u.includes("/dist/node_modules/kysely/"))).toEqual([]);
    expect(kysely.length).toBeLessThan(10);
  });

  it("loads neither undici, pg, the admin commands, the connect and sign-in pages, nor the MCP Apps card's document", () => {
    expect(loaded.some((u) => u.includes("/dist/src/transports/mcp-server.js"))).toBe(true);
    expect(loaded.filter((u) => /\/node_modules\/(undici|pg|pg-[a-z-]+)\//.test(u))).toEqual([]);
    const lazy = [
      "src/cli/admin.js",
      "src/credentials/passwords.js",
      "src/credentials/login-oidc.js",
      "src/store/copy.js",
      "src/transports/callback/connect-page.js",
      "src/transports/http/pages.js",
      "src/transports/http/signin.js",
      "src/transports/mcp-app-card.js",
    ];
    expect(loaded.filter((u) => lazy.some((f) => u.endsWith(`/dist/${f}`)))).toEqual([]);
  });
});
