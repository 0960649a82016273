// Isolation: two workspaces on one server. Every tool in the registry that takes a
// connector_id, and every REST route with a connector in its path, answers not_found for a
// connector of the other workspace, and changes nothing of it. The walk is generic over the
// registry and the route table, so tools and routes merged later are covered too.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { API_BASE, activeRoutes } from "../src/transports/http/rest.js";
import { type ToolName, tools } from "../tools/index.js";
import { consentOverHttp } from "./sandbox/consent.js";
import { type HubSpotSandbox, startHubSpotSandbox } from "./sandbox/hubspot.js";
import { toolCalls } from "./support/calls.js";
import { bearer, connectClient, freePort, type HttpHarness, rawRequest, startHttpHarness } from "./support/http.js";
import { inputSchemaOf, synthArgs, synthObject } from "./support/synth.js";

describe("isolation between workspaces, over every tool and every route", () => {
  let sandbox: HubSpotSandbox;
  let h: HttpHarness;
  let connected: string;
  let pending: string;

  const rest = (method: string, path: string, key: string, body?: unknown) =>
    rawRequest(`${h.url}${path}`, {
      method,
      headers: { ...bearer(key), ...(body !== undefined ? { "content-type": "application/json" } : {}) },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });

  /** Everything stored about workspace A, to prove B's calls changed none of it. */
  const snapshotA = async () => {
    const db = h.app.ctx.db;
    const ws = h.a.workspace_id;
    return JSON.stringify({
      connectors: await db.selectFrom("connectors").selectAll().where("workspace_id", "=", ws).orderBy("seq").execute(),
      secrets: await db
        .selectFrom("connector_secrets")
        .innerJoin("connectors", "connectors.id", "connector_secrets.connector_id")
        .select(["connector_secrets.connector_id", "connector_secrets.ciphertext", "connector_secrets.version"])
        .where("connectors.workspace_id", "=", ws)
        .orderBy("connector_secrets.connector_id")
        .execute(),
      primaries: await db.selectFrom("primaries").selectAll().where("workspace_id", "=", ws).orderBy("role").execute(),
      grants: await db.selectFrom("oauth_grants").selectAll().where("workspace_id", "=", ws).orderBy("state_hash").execute(),
      events: await db.selectFrom("connector_events").selectAll().where("workspace_id", "=", ws).orderBy("id").execute(),
    });
  };

  beforeAll(async () => {
    const port = await freePort();
    const redirectUri = `http://127.0.0.1:${port}/oauth/callback`;
    sandbox = await startHubSpotSandbox({ redirectUri });
    h = await startHttpHarness({ port, publicUrl: true, env: sandbox.env });

    // Workspace A: one connector connected through the real OAuth server and our /oauth/callback, one pending.
    const start = await rest("POST", `${API_BASE}/connectors/oauth`, h.a.key, {
      provider: "hubspot",
      label: "A's CRM",
      roles: ["crm_sink"],
    });
    expect(start.status).toBe(201);
    connected = start.json().connector_id;
    const { callbackUrl, cookie } = await consentOverHttp(start.json().authorization_url, { login: "alice", redirectPrefix: redirectUri });
    const page = await fetch(callbackUrl, { headers: { cookie } });
    expect(page.status).toBe(200);
    expect(await page.text()).toContain("Connected HubSpot");
    expect((await rest("GET", `${API_BASE}/connectors/${connected}`, h.a.key)).json().status).toBe("connected");
    pending = (await rest("POST", `${API_BASE}/connectors/oauth`, h.a.key, { provider: "hubspot", label: "A pending" })).json()
      .connector_id;
  });

  afterAll(async () => {
    await h?.close();
    await sandbox?.close();
  });

  it("answers not_found in every tool that takes a connector_id, for both of A's connectors, and changes nothing of A", async () => {
    const withId = tools.filter((t) => "connector_id" in (inputSchemaOf(t).properties ?? {}));
    expect(withId.map((t) => t.name)).toContain("get_connector_status");
    const before = await snapshotA();
    const b = await connectClient(h.url, h.b.key);
    try {
      for (const tool of withId) {
        for (const id of [connected, pending]) {
          const args = synthArgs(tool, { connector_id: id, provider: "hubspot", role: "crm_sink" });
          const res = await toolCalls(b.client).callRaw(tool.name as ToolName, args);
          expect(res.isError, `${tool.name} ${JSON.stringify(args)}`).toBe(true);
          expect(res.structuredContent.error?.code, `${tool.name}: ${res.structuredContent.error?.message}`).toBe("not_found");
          expect(JSON.stringify(res)).not.toContain("alice");
        }
      }
    } finally {
      await b.client.close();
    }
    expect(await snapshotA()).toBe(before);

    // The same calls from A do reach the connectors (the ids are right; the walk can fail).
    const a = await connectClient(h.url, h.a.key);
    try {
      const res = await toolCalls(a.client).call("get_connector_status", { connector_id: connected });
      expect(res.status).toBe("connected");
    } finally {
      await a.client.close();
    }
  });

  it("answers 404 not_found on every REST route with a connector in its path, and changes nothing of A", async () => {
    const routes = activeRoutes(tools).filter(({ route }) => route.params);
    expect(routes.length).toBeGreaterThan(0);
    const before = await snapshotA();
    for (const { route, tool } of routes) {
      for (const id of [connected, pending]) {
        const schema = inputSchemaOf(tool);
        const args = synthObject(schema, {});
        for (const arg of Object.values(route.params ?? {})) delete args[arg];
        let path = `${API_BASE}${route.path.replace("{id}", id)}`;
        if (route.from === "query" && Object.keys(args).length)
          path += `?${new URLSearchParams(Object.entries(args).map(([k, v]): [string, string] => [k, String(v)]))}`;
        const res = await rest(route.method, path, h.b.key, route.from === "body" ? args : undefined);
        expect(res.status, `${route.method} ${path}: ${res.body}`).toBe(404);
        expect(res.json().error.code).toBe("not_found");
        expect(res.body).not.toContain("alice");
      }
    }
    expect(await snapshotA()).toBe(before);
  });

  it("never shows A's connectors to B in any tool or route without a connector_id", async () => {
    const others = tools.filter((t) => !("connector_id" in (inputSchemaOf(t).properties ?? {})));
    const before = await snapshotA();
    const b = await connectClient(h.url, h.b.key);
    try {
      for (const tool of others) {
        for (const hints of [{}, { provider: "hubspot", role: "crm_sink" }]) {
          const res = await b.client.callTool({ name: tool.name, arguments: synthArgs(tool, hints) });
          const text = JSON.stringify(res);
          expect(text, tool.name).not.toContain(connected);
          expect(text, tool.name).not.toContain(pending);
        }
      }
    } finally {
      await b.client.close();
    }
    for (const { route, tool } of activeRoutes(tools).filter(({ route }) => !route.params)) {
      const args = synthArgs(tool, { provider: "hubspot", role: "crm_sink" });
      const path =
        `${API_BASE}${route.path}` +
        (route.from === "query" && Object.keys(args).length
          ? `?${new URLSearchParams(Object.entries(args).map(([k, v]): [string, string] => [k, String(v)]))}`
          : "");
      const res = await rest(route.method, path, h.b.key, route.from === "body" ? args : undefined);
      expect(res.body, `${route.method} ${path}`).not.toContain(connected);
      expect(res.body).not.toContain(pending);
    }
    expect(await snapshotA()).toBe(before);
    // A still sees both.
    const mine = (await rest("GET", `${API_BASE}/connectors`, h.a.key))
      .json<{ connectors: Array<{ id: string }> }>()
      .connectors.map((c) => c.id);
    expect(mine).toEqual(expect.arrayContaining([connected, pending]));
  });
});
