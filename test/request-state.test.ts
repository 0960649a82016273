// The requestState key and token rules behind MCP 2026-07-28 start_connector_oauth: the key is
// generated once into the database sealed by the vault (or comes from TENEX_STATE_KEY), every
// app on the database gets the same one, a nonce is used once, and a token presented after its
// grant's time is refused while the pending grant expires as usual.

import crypto from "node:crypto";
import { Client, type InMemoryTransport as ClientMemory } from "@modelcontextprotocol/client";
import { InMemoryTransport } from "@modelcontextprotocol/server";
import { serveStdio } from "@modelcontextprotocol/server/stdio";
import { describe, expect, it } from "vitest";
import { createApp } from "../src/app/app.js";
import { loadConfig } from "../src/app/config.js";
import { createLogger } from "../src/common/log.js";
import { claimNonce } from "../src/store/server-keys.js";
import { LOCAL_WORKSPACE_ID } from "../src/store/workspaces.js";
import { createMcpServer } from "../src/transports/mcp-server.js";
import { tools } from "../tools/index.js";
import { testDatabaseEnv } from "./support/database.js";
import { startHarness } from "./support/harness.js";
import { tempDir } from "./support/stdio.js";

const quiet = createLogger({ level: "error", write: () => undefined });

describe("the requestState key", () => {
  it("is generated once into the database, sealed, and the same for every app on it; TENEX_STATE_KEY overrides", async () => {
    const dir = tempDir("tenex-rs-");
    const env = { ...testDatabaseEnv(dir), TENEX_MASTER_KEY: crypto.randomBytes(32).toString("base64") };
    // (Two processes starting at once race for the first insert: protocol-two-instances.test.ts.)
    const a = await createApp(loadConfig(env, dir), { mode: "http", log: quiet });
    const b = await createApp(loadConfig(env, dir), { mode: "http", log: quiet });
    try {
      expect(a.ctx.requestStateKey.length).toBe(32);
      expect(a.ctx.requestStateKey.equals(b.ctx.requestStateKey)).toBe(true);
      const rows = await a.ctx.db
        .withTables<{ server_keys: { name: string; ciphertext: string } }>()
        .selectFrom("server_keys")
        .selectAll()
        .where("name", "!=", "master_key_check") // PostgreSQL: the master key check (credentials/key-check.ts)
        .execute();
      expect(rows.map((r) => r.name)).toEqual(["request_state"]);
      expect(rows[0]!.ciphertext).not.toContain(a.ctx.requestStateKey.toString("base64"));
      expect(rows[0]!.ciphertext).toMatch(/^v1\./);
    } finally {
      await a.close();
      await b.close();
    }
    const fixed = crypto.randomBytes(32);
    const c = await createApp(loadConfig({ ...env, TENEX_STATE_KEY: fixed.toString("base64") }, dir), { mode: "http", log: quiet });
    try {
      expect(c.ctx.requestStateKey.equals(fixed)).toBe(true);
    } finally {
      await c.close();
    }
    await expect(createApp(loadConfig({ ...env, TENEX_STATE_KEY: "c2hvcnQ=" }, dir), { mode: "http", log: quiet })).rejects.toThrow(
      /TENEX_STATE_KEY must be 32 bytes/,
    );
  });

  it("uses a nonce once, and forgets nonces past their expiry", async () => {
    const dir = tempDir("tenex-rs-");
    const app = await createApp(loadConfig({ ...testDatabaseEnv(dir), TENEX_MASTER_KEY: crypto.randomBytes(32).toString("base64") }, dir), {
      mode: "http",
      log: quiet,
    });
    try {
      const db = app.ctx.db;
      expect(await claimNonce(db, "n1", "2030-01-01T00:00:00.000Z", "2029-01-01T00:00:00.000Z")).toBe(true);
      expect(await claimNonce(db, "n1", "2030-01-01T00:00:00.000Z", "2029-01-01T00:00:00.000Z")).toBe(false);
      // Once expired it is purged (its token is refused as expired before the nonce is looked at).
      expect(await claimNonce(db, "n2", "2031-01-01T00:00:00.000Z", "2030-06-01T00:00:00.000Z")).toBe(true);
      const left = await db
        .withTables<{ request_state_nonces: { nonce: string } }>()
        .selectFrom("request_state_nonces")
        .select("nonce")
        .execute();
      expect(left.map((r) => r.nonce)).toEqual(["n2"]);
    } finally {
      await app.close();
    }
  });
});

describe("an expired requestState", () => {
  it("is refused with -32602, and the grant the client never completed expires as usual", async () => {
    const h = await startHarness({
      env: { TENEX_HUBSPOT_CLIENT_ID: "hubspot-app", TENEX_HUBSPOT_CLIENT_SECRET: "hubspot-app-secret-0123456789" },
    });
    const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
    const served = serveStdio(() => createMcpServer(h.ctx, tools, { workspace_id: LOCAL_WORKSPACE_ID }), { transport: serverSide });
    const client = new Client(
      { name: "expiry", version: "1.0.0" },
      { capabilities: { elicitation: { url: {} } }, versionNegotiation: { mode: { pin: "2026-07-28" } } },
    );
    let asked: Record<string, unknown> | undefined;
    client.setRequestHandler("elicitation/create", async (req) => {
      asked = req.params as Record<string, unknown>;
      // The person answers after the link's 10 minutes.
      h.advance(11 * 60_000);
      return { action: "accept" };
    });
    try {
      await client.connect(clientSide as unknown as ClientMemory);
      await expect(client.callTool({ name: "start_connector_oauth", arguments: { provider: "hubspot" } })).rejects.toMatchObject({
        code: -32602,
      });
      expect(asked).toMatchObject({ mode: "url" });
      const listed = await h.ok("list_connectors", {});
      expect(listed.connectors).toEqual([expect.objectContaining({ status: "error", status_reason: "state_expired" })]);
    } finally {
      await client.close().catch(() => undefined);
      await served.close();
      await h.close();
    }
  });
});
