// What a fresh stdio server loads before its first answers (issue 14, cold start). Loading is
// most of a cold start, so the OAuth client (openid-client with oauth4webapi and jose) waits for
// the first grant step, kysely comes from the bundle the build makes (dist/node_modules/kysely,
// a few files instead of its 263 modules), and what a stdio session may never use waits for its
// first use: undici (the first proxied call), pg (a PostgreSQL URL), the admin commands with
// password hashing, the connect page, and the MCP Apps card's document (its resources/read).
// Our own code loads as the build's bundle (scripts/bundle-server.mjs: a few chunks instead of
// ≈120 modules, split at each dynamic import so the above still waits), and the first tools/list
// is answered from the listing the build wrote (scripts/build-listing.mjs).
// The loaded modules are listed by a module hook: it sees ES modules and the CommonJS modules they
// import (undici's and pg's entry points among them), not what those then require(). A loaded
// chunk of the bundle counts as loading each of our modules it holds (bundle-meta.json).
import { spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { beforeAll, describe, expect, it } from "vitest";
import { CLI, ROOT, tempDir } from "./support/stdio.js";

// The hook runs on the loader's own thread, whose process.stderr reaches fd 2 through the main thread,
// late or not at all once the server exits: it writes to fd 2 itself, before the module is handed over.
const HOOK = `import { writeSync } from "node:fs"; export async function load(url, context, next) { const r = await next(url, context); writeSync(2, "LOADED " + url + "\\n"); return r; }`;
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

const DIST = path.join(ROOT, "dist");
/** The server bundle's chunks (scripts/bundle-server.mjs), each with the modules it holds, as paths under dist/. */
const bundleChunks = (): Record<string, string[]> =>
  JSON.parse(fs.readFileSync(path.join(DIST, "src", "cli", "bundle-meta.json"), "utf8")) as Record<string, string[]>;

/** `loaded`, plus the modules of ours each loaded chunk of the bundle holds (a loaded chunk evaluates them all). */
function withBundledModules(loaded: string[]): string[] {
  const chunks = bundleChunks();
  const base = pathToFileURL(DIST).href;
  return loaded.flatMap((url) => {
    const inDist = url.startsWith(`${base}/`) ? url.slice(base.length + 1) : undefined;
    const modules = inDist === undefined ? undefined : chunks[inDist];
    return [url, ...(modules ?? []).map((m) => `${base}/${m}`)];
  });
}

describe("cold start: what the stdio server loads before answering initialize and tools/list", () => {
  /** The files a start on an up-to-date database loaded, without the bundle's modules. */
  let againFiles: string[] = [];
  let loaded: string[] = [];
  let again: string[] = [];
  beforeAll(async () => {
    const dir = tempDir();
    loaded = withBundledModules(await modulesLoadedBy(dir));
    // The same database a second time: every start but the first finds it up to date.
    againFiles = await modulesLoadedBy(dir);
    again = withBundledModules(againFiles);
  });

  it("loads our code as the build's bundle: a few chunks, not a file per module", () => {
    const ours = (l: string[]) => l.filter((u) => u.includes("/dist/") && !u.includes("/node_modules/"));
    expect(ours(againFiles).filter((u) => u.includes("/dist/src/cli/bundle-")).length).toBeGreaterThan(0);
    expect(ours(againFiles).length).toBeLessThan(20);
    expect(ours(again).length).toBeGreaterThan(80);
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
