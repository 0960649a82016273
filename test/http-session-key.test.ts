// A 2025-11-25 Streamable HTTP session is bound to the key that opened it: another key of the
// same workspace is refused (403), a key of another workspace finds no session (404).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApiKey } from "../src/store/workspaces.js";
import { legacyHttp } from "./support/clients.js";
import { bearer, type HttpHarness, rawRequest, startHttpHarness } from "./support/http.js";

let h: HttpHarness;
beforeAll(async () => {
  h = await startHttpHarness();
});
afterAll(async () => {
  await h?.close();
});

describe("2025-11-25 sessions and keys", () => {
  it("serves the opening key, refuses another key of the workspace with 403 and another workspace's with 404", async () => {
    const l = await legacyHttp(h.url, h.a.key);
    try {
      const sid = (l.client.transport as unknown as { sessionId?: string }).sessionId;
      expect(sid).toMatch(/.+/);
      const second = await createApiKey(h.app.ctx.db, h.a.workspace_id, new Date().toISOString());
      const post = (key: string) =>
        rawRequest(`${h.url}/mcp`, {
          method: "POST",
          headers: {
            ...bearer(key),
            "mcp-session-id": sid!,
            "content-type": "application/json",
            accept: "application/json, text/event-stream",
            "mcp-protocol-version": "2025-11-25",
          },
          body: JSON.stringify({ jsonrpc: "2.0", id: 9, method: "tools/list", params: {} }),
        });
      expect((await post(second.key)).status).toBe(403);
      expect((await post(h.b.key)).status).toBe(404);
      expect((await post(h.a.key)).status).toBe(200);
      expect((await l.client.listTools()).tools.length).toBeGreaterThan(0);
    } finally {
      await l.close();
    }
  });
});
