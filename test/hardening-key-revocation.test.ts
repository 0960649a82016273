// Regression (issue 12, finding 12): pending grants started with an API key still completed
// into its workspace after `keys revoke`. Now a grant remembers the key that started it
// (migration 0006), and revoking the key cancels its pending grants: the connector moves to
// `error` with status_reason `cancelled`, and its link no longer completes. Grants of the
// workspace's other keys, and of other workspaces, are untouched. Over HTTP, through /mcp and
// the REST API, against the local OAuth server.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApiKey, revokeApiKey } from "../src/store/workspaces.js";
import { consentOverHttp } from "./sandbox/consent.js";
import { type HubSpotSandbox, startHubSpotSandbox } from "./sandbox/hubspot.js";
import { bearer, connectClient, freePort, type HttpHarness, startHttpHarness } from "./support/http.js";

type Sc = Record<string, any>;

describe("revoking an API key cancels the pending grants it started", () => {
  let sandbox: HubSpotSandbox;
  let h: HttpHarness;
  let redirectUri: string;

  beforeAll(async () => {
    const port = await freePort();
    redirectUri = `http://127.0.0.1:${port}/oauth/callback`;
    sandbox = await startHubSpotSandbox({ redirectUri });
    h = await startHttpHarness({ port, publicUrl: true, env: sandbox.env });
  });
  afterAll(async () => {
    await h?.close();
    await sandbox?.close();
  });

  const rest = async (key: string, method: string, path: string, body?: unknown): Promise<Sc> => {
    const res = await fetch(`${h.url}/api/v1${path}`, {
      method,
      headers: { ...bearer(key), ...(body === undefined ? {} : { "content-type": "application/json" }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return (await res.json()) as Sc;
  };
  const finishConsent = async (authorizationUrl: string) => {
    const { callbackUrl, cookie } = await consentOverHttp(authorizationUrl, { login: "alice", redirectPrefix: redirectUri });
    const res = await fetch(callbackUrl, { headers: { cookie } });
    return { status: res.status, page: await res.text() };
  };

  it("cancels the revoked key's grants (MCP and REST), keeps the other key's and the other workspace's", async () => {
    const other = await createApiKey(h.app.ctx.db, h.a.workspace_id, new Date().toISOString()); // A's second key
    const mcp = await connectClient(h.url, h.a.key);
    let viaMcp: Sc;
    try {
      const res = (await mcp.client.callTool({
        name: "start_connector_oauth",
        arguments: { provider: "hubspot", label: "via MCP" },
      })) as Sc;
      expect(res.isError).toBeFalsy();
      viaMcp = res.structuredContent;
    } finally {
      await mcp.client.close();
    }
    const viaRest = await rest(h.a.key, "POST", "/connectors/oauth", { provider: "hubspot", label: "via REST" });
    const byOtherKey = await rest(other.key, "POST", "/connectors/oauth", { provider: "hubspot", label: "other key" });
    const otherWorkspace = await rest(h.b.key, "POST", "/connectors/oauth", { provider: "hubspot", label: "workspace B" });
    const keyOf = async (connectorId: string) =>
      (
        await h.app.ctx.db
          .selectFrom("oauth_grants")
          .select("started_by_key")
          .where("connector_id", "=", connectorId)
          .executeTakeFirstOrThrow()
      ).started_by_key;
    expect(await keyOf(viaMcp.connector_id)).toBe(h.a.key_id);
    expect(await keyOf(byOtherKey.connector_id)).toBe(other.id);

    const changes: Sc[] = [];
    h.app.ctx.events.on("change", (c) => changes.push(c));
    const revoked = await revokeApiKey(h.app.ctx.db, h.a.key_id, new Date().toISOString(), h.app.ctx);
    expect(revoked.revoked_at).toBeTruthy();
    expect(changes.map((c) => c.connector_id).sort()).toEqual([viaMcp.connector_id, viaRest.connector_id].sort());

    for (const id of [viaMcp.connector_id, viaRest.connector_id]) {
      const c = await rest(other.key, "GET", `/connectors/${id}`);
      expect(c.status).toBe("error");
      expect(c.status_reason).toBe("cancelled");
      expect(c.status_detail).toContain(`The API key that started this grant (${h.a.key_id}) was revoked`);
    }
    // The cancelled link does not complete: its grant is gone, so the connect page has nothing to continue to.
    const late = await fetch(viaMcp.authorization_url);
    expect(late.status).toBe(404);
    expect(await late.text()).not.toContain("Continue");
    expect((await rest(other.key, "GET", `/connectors/${viaMcp.connector_id}`)).status).toBe("error");

    // The other key's grant and the other workspace's still complete.
    expect((await rest(other.key, "GET", `/connectors/${byOtherKey.connector_id}`)).status).toBe("pending");
    expect((await finishConsent(byOtherKey.authorization_url)).page).toContain("Connected HubSpot");
    expect((await rest(other.key, "GET", `/connectors/${byOtherKey.connector_id}`)).status).toBe("connected");
    expect((await finishConsent(otherWorkspace.authorization_url)).page).toContain("Connected HubSpot");
    expect((await rest(h.b.key, "GET", `/connectors/${otherWorkspace.connector_id}`)).status).toBe("connected");

    // A cancelled connector can be reconnected in place with a valid key.
    const again = await rest(other.key, "POST", "/connectors/oauth", { provider: "hubspot", connector_id: viaRest.connector_id });
    expect(again.status).toBe("pending");
    expect((await finishConsent(again.authorization_url)).page).toContain("Connected HubSpot");
  });
});
