// The tools/list listing the build writes (scripts/build-listing.mjs → dist/tools/listing.js),
// which a fresh server serves instead of converting every zod schema on its first tools/list
// (issue 14, cold start). The live listing stays the source of truth: the built module must equal
// it (a stale one fails here), the built server serves it on both protocol generations, and a
// module that is missing, broken or lists another registry falls back to the live listing.
import { spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { InMemoryTransport } from "@modelcontextprotocol/sdk/inMemory.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BUILT_LISTING, createMcpServer, toolListing, useBuiltListing } from "../src/transports/mcp-server.js";
import type { ToolDefinition } from "../src/transports/tool.js";
import { tools } from "../tools/index.js";
import { type Harness, startHarness } from "./support/harness.js";
import { CLI, ROOT, tempDir } from "./support/stdio.js";

const BUILT = path.join(ROOT, "dist", "tools", "listing.js");
/** The built listing, as the server imports it. */
const built = async () => ((await import(pathToFileURL(BUILT).href)) as { default: unknown[] }).default;
/** The live listing as it goes over the wire (JSON: no undefined members). */
const live = () => JSON.parse(JSON.stringify(toolListing(tools))) as unknown[];

/** A listing module as the build writes it. */
const moduleOf = (listing: unknown[]) => `export default JSON.parse(${JSON.stringify(JSON.stringify(listing))});\n`;

type Line = { id?: number; result?: { tools?: unknown[] }; error?: unknown };

/** Spawn the built stdio server, send `messages`, and return the answer with id `want`. */
async function builtServerAnswer(messages: object[], want: number): Promise<Line> {
  const dir = tempDir();
  const child = spawn(process.execPath, [CLI, "serve"], {
    env: { PATH: process.env.PATH ?? "", HOME: dir, TENEX_DB: path.join(dir, "tenex.db"), TENEX_CALLBACK_PORT: "0" },
    stdio: ["pipe", "pipe", "pipe"],
  });
  let stderr = "";
  child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
  const answer = new Promise<Line>((resolve, reject) => {
    let out = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => {
      out += d;
      for (const line of out.split("\n").slice(0, -1)) {
        const m = JSON.parse(line) as Line;
        if (m.id === want) resolve(m);
      }
    });
    child.once("exit", (code) => reject(new Error(`server exited (${code}) before answering: ${stderr.slice(-2000)}`)));
  });
  for (const m of messages) child.stdin.write(`${JSON.stringify({ jsonrpc: "2.0", ...m })}\n`);
  try {
    return await answer;
  } finally {
    const exited = new Promise((r) => child.once("exit", r));
    child.stdin.end();
    await exited;
  }
}

describe("the built tools/list listing", () => {
  it("is what the live code lists (rebuild with npm run build when this fails)", async () => {
    expect(fs.existsSync(BUILT), `${BUILT} is missing: run npm run build`).toBe(true);
    expect(await built()).toEqual(live());
    // From the sources the server looks for a module that is never there, and lists live.
    expect(fs.existsSync(BUILT_LISTING)).toBe(false);
  });

  it("is what the built stdio server lists, on 2026-07-28 and on 2025-11-25", async () => {
    const listing = await built();
    const modern = await builtServerAnswer(
      [
        {
          id: 1,
          method: "tools/list",
          params: {
            _meta: {
              "io.modelcontextprotocol/protocolVersion": "2026-07-28",
              "io.modelcontextprotocol/clientInfo": { name: "t", version: "1" },
              "io.modelcontextprotocol/clientCapabilities": {},
            },
          },
        },
      ],
      1,
    );
    expect(modern.result?.tools).toEqual(listing);
    const legacy = await builtServerAnswer(
      [
        {
          id: 1,
          method: "initialize",
          params: { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "t", version: "1" } },
        },
        { method: "notifications/initialized" },
        { id: 2, method: "tools/list", params: {} },
      ],
      2,
    );
    expect(legacy.result?.tools).toEqual(listing);
  });
});

describe("a registry given a built listing", () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ env: {} });
  });
  afterAll(async () => {
    await h.close();
  });

  /** tools/list from a fresh server over a copy of the registry given a built listing module with `source` (or none). */
  async function listedWith(source: string | undefined): Promise<unknown[]> {
    const registry: ToolDefinition[] = [...tools];
    const file = path.join(tempDir(), "listing.js");
    if (source !== undefined) fs.writeFileSync(file, source);
    useBuiltListing(registry, pathToFileURL(file));
    const server = createMcpServer(h.app.ctx, registry, { workspace_id: "ws_local" });
    const [a, b] = InMemoryTransport.createLinkedPair();
    const client = new Client({ name: "c", version: "1" });
    await Promise.all([server.connect(a), client.connect(b)]);
    try {
      return JSON.parse(JSON.stringify((await client.listTools()).tools)) as unknown[];
    } finally {
      await client.close();
    }
  }

  it("serves the file, not the live listing", async () => {
    const marked = live().map((t) => ({ ...(t as object), description: "from the built file" }));
    expect(await listedWith(moduleOf(marked))).toEqual(marked);
  });

  it("builds the listing live when the file is missing, unreadable or lists other tools", async () => {
    const expected = live();
    expect(await listedWith(undefined)).toEqual(expected);
    expect(await listedWith("export default [{ not javascript")).toEqual(expected);
    expect(await listedWith("export default {};")).toEqual(expected);
    expect(await listedWith("export const listing = [];")).toEqual(expected);
    const renamed = expected.map((t, i) => (i === 0 ? { ...(t as object), name: "renamed" } : t));
    expect(await listedWith(moduleOf(renamed))).toEqual(expected);
    expect(await listedWith(moduleOf(expected.slice(1)))).toEqual(expected);
  });
});
