// A stdio server started with TENEX_API_KEY acts for that key's workspace for as long as the key
// lives: `keys revoke` stops it at the next tool call, without a restart.

import { spawnSync } from "node:child_process";
import { afterAll, describe, expect, it } from "vitest";
import type { ToolName } from "../tools/index.js";
import { testDatabaseEnv } from "./support/database.js";
import { CLI, ROOT, type StdioServer, startStdioServer, tempDir } from "./support/stdio.js";

describe("stdio server with TENEX_API_KEY", () => {
  let server: StdioServer | undefined;
  afterAll(async () => {
    await server?.close();
  });

  it("stops serving tools at once when its key is revoked with `keys revoke`", async () => {
    const dir = tempDir("tenex-key-");
    const env = { PATH: process.env.PATH ?? "", ...testDatabaseEnv(dir) };
    const run = (...args: string[]) => spawnSync(process.execPath, [CLI, ...args], { env, cwd: ROOT, encoding: "utf8" });
    expect(run("workspaces", "create", "team").status).toBe(0);
    const key = run("keys", "create", "--workspace", "team").stdout.trim();
    const keyId = (JSON.parse(run("keys", "list", "--workspace", "team").stdout) as Array<{ id: string }>)[0]!.id;

    server = await startStdioServer({ ...env, TENEX_API_KEY: key, TENEX_CALLBACK_PORT: "0" });
    const before = await server.callRaw("list_connectors", {});
    expect(before.isError).toBeUndefined();
    expect(before.structuredContent).toEqual({ connectors: [], next_cursor: null });

    const revoked = run("keys", "revoke", keyId);
    expect(revoked.status).toBe(0);

    for (const name of ["list_connectors", "list_providers", "no_such_tool"]) {
      const res = await server.callRaw(name as ToolName, {});
      expect(res.isError, name).toBe(true);
      expect(res.structuredContent.error?.code, name).toBe("invalid_state");
      expect(res.structuredContent.error?.message, name).toContain(`${keyId}) was revoked`);
      expect(JSON.stringify(res), name).not.toContain(key);
    }
    // The process is still up and answering MCP; it just refuses tool calls.
    expect((await server.client.listTools()).tools.length).toBeGreaterThan(0);
    expect(server.transport.child.exitCode).toBeNull();
    expect(server.transport.stderr).not.toContain(key);
  }, 90_000); // five processes, one after another (four CLI runs and the server): slow on a loaded 2-core machine
});
