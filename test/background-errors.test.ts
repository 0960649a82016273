// A failure in a background task must not end the server: the HTTP session sweep catches and
// logs its own errors, and any rejection nobody handled is logged (redacted) instead of fatal.
import { spawnSync } from "node:child_process";
import path from "node:path";
import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectClient, type HttpHarness, rawRequest, startHttpHarness } from "./support/http.js";
import { ROOT } from "./support/stdio.js";

describe("HTTP session sweep", () => {
  let h: HttpHarness;
  beforeAll(async () => {
    h = await startHttpHarness();
  });
  afterAll(async () => {
    await h?.close();
  });

  it("logs a database error of the sweep a bad key starts, and the server keeps serving", async () => {
    const { client, transport } = await connectClient(h.url, h.a.key);
    const sessionId = (transport as { sessionId?: string }).sessionId;
    expect(sessionId).toBeTruthy();
    // The sweep reads api_keys; a malformed key is refused before any read, so only the sweep fails.
    await sql`alter table api_keys rename to api_keys_away`.execute(h.app.ctx.db);
    try {
      const res = await rawRequest(`${h.url}/mcp`, {
        method: "POST",
        headers: {
          authorization: "Bearer tnx_short",
          "mcp-session-id": sessionId!,
          "content-type": "application/json",
          accept: "application/json, text/event-stream",
        },
        body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list" }),
      });
      expect(res.status).toBe(401);
      await expect.poll(() => h.logs.some((l) => l.includes("session sweep failed")), { timeout: 5000 }).toBe(true);
      expect(h.logs.find((l) => l.includes("session sweep failed"))).toContain("api_keys");
      expect((await rawRequest(`${h.url}/healthz`)).status).toBe(200);
    } finally {
      await sql`alter table api_keys_away rename to api_keys`.execute(h.app.ctx.db);
    }
    expect((await client.listTools()).tools.length).toBeGreaterThan(0);
    await client.close();
  });
});

describe("unhandled promise rejections", () => {
  it("are logged to stderr, redacted, and do not end the process", () => {
    const secret = `tnx_${"A".repeat(43)}`;
    const script = `
      import { createLogger, logUnhandledRejections } from ${JSON.stringify(path.join(ROOT, "dist/src/common/log.js"))};
      logUnhandledRejections(createLogger());
      Promise.reject(new Error("sweep failed for Bearer abc.def.ghi and ${secret}"));
      setTimeout(() => process.stdout.write("still running\\n"), 50);
    `;
    const r = spawnSync(process.execPath, ["--input-type=module", "-e", script], { encoding: "utf8" });
    expect(r.status).toBe(0);
    expect(r.stdout).toBe("still running\n");
    const line = JSON.parse(r.stderr.trim().split("\n").at(-1)!);
    expect(line).toMatchObject({ level: "error", msg: expect.stringContaining("unhandled promise rejection"), error: { name: "Error" } });
    expect(line.error.message).toContain("Bearer [redacted]");
    expect(r.stderr).not.toContain(secret);
    expect(r.stderr).not.toContain("abc.def.ghi");
  });
});
