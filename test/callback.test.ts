// Every way a callback can arrive: unknown, tampered, reused and expired state; denial; a
// missing code; a token endpoint error. Refusals change nothing; the rest is recorded.
import crypto from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Vault } from "../src/credentials/vault.js";
import { consentOverHttp } from "./sandbox/consent.js";
import type { HubSpotSandbox } from "./sandbox/hubspot.js";
import { type Harness, startHubSpotHarness } from "./support/harness.js";

describe("OAuth callback", () => {
  let sandbox: HubSpotSandbox;
  let t: Harness;
  let redirectUri: string;

  beforeAll(async () => {
    ({ sandbox, h: t } = await startHubSpotHarness());
    redirectUri = t.redirectUri;
  });
  afterAll(async () => {
    await t?.close();
    await sandbox?.close();
  });

  const start = () => t.call("start_connector_oauth", { provider: "hubspot" });
  const status = (id: string) => t.call("get_connector_status", { connector_id: id });
  const rowSnapshot = async (id: string) =>
    t.app.ctx.db.selectFrom("connectors").selectAll().where("id", "=", id).executeTakeFirstOrThrow();

  it("refuses an unknown state and changes nothing", async () => {
    const { connector_id } = await start();
    const before = await rowSnapshot(connector_id);
    const res = await fetch(`${redirectUri}?code=abc&state=not-a-state-we-made`);
    expect(res.status).toBe(400);
    expect(await res.text()).toContain("not one this server started");
    expect(await rowSnapshot(connector_id)).toEqual(before);
  });

  it("refuses a tampered state (one character changed) and a missing state", async () => {
    const { connector_id, authorization_url } = await start();
    const { callbackUrl, cookie } = await consentOverHttp(authorization_url, { login: "bob", redirectPrefix: redirectUri });
    const u = new URL(callbackUrl);
    const state = u.searchParams.get("state")!;
    u.searchParams.set("state", state.slice(0, -1) + (state.endsWith("A") ? "B" : "A"));
    expect((await fetch(u)).status).toBe(400);
    const noState = new URL(callbackUrl);
    noState.searchParams.delete("state");
    expect((await fetch(noState)).status).toBe(400);
    expect((await status(connector_id)).status).toBe("pending");
    // The genuine callback still works afterwards.
    expect((await fetch(callbackUrl, { headers: { cookie } })).status).toBe(200);
    expect((await status(connector_id)).status).toBe("connected");
  });

  it("refuses a reused state without touching the connected connector", async () => {
    const { connector_id, authorization_url } = await start();
    const { callbackUrl, cookie } = await consentOverHttp(authorization_url, { login: "carol", redirectPrefix: redirectUri });
    expect((await fetch(callbackUrl, { headers: { cookie } })).status).toBe(200);
    const before = await rowSnapshot(connector_id);
    const calls = sandbox.oauth.tokenCalls.length;
    const again = await fetch(callbackUrl, { headers: { cookie } });
    expect(again.status).toBe(400);
    expect(await again.text()).toContain("already used");
    expect(await rowSnapshot(connector_id)).toEqual(before);
    expect(sandbox.oauth.tokenCalls.length).toBe(calls);
  });

  it("refuses an expired state (after 10 minutes) and leaves the connector pending", async () => {
    const { connector_id, authorization_url } = await start();
    const { callbackUrl, cookie } = await consentOverHttp(authorization_url, { login: "dave", redirectPrefix: redirectUri });
    const before = await rowSnapshot(connector_id);
    t.advance(10 * 60 * 1000 + 1000);
    const res = await fetch(callbackUrl, { headers: { cookie } }).finally(() => t.advance(-(10 * 60 * 1000 + 1000)));
    expect(res.status).toBe(400);
    const html = await res.text();
    expect(html).toContain("expired");
    expect(await rowSnapshot(connector_id)).toEqual(before);
    expect(before.status).toBe("pending");
  });

  it("records a denial as error with a detail that says what to do", async () => {
    const { connector_id, authorization_url } = await start();
    const { callbackUrl, cookie } = await consentOverHttp(authorization_url, { login: "erin", deny: true, redirectPrefix: redirectUri });
    expect(new URL(callbackUrl).searchParams.get("error")).toBe("access_denied");
    const res = await fetch(callbackUrl, { headers: { cookie } });
    expect(res.status).toBe(200);
    expect(await res.text()).toContain("You declined access at HubSpot");
    const s = await status(connector_id);
    expect(s.status).toBe("error");
    expect(s.status_reason).toBe("consent_denied");
    expect(s.status_detail).toMatch(/^The person declined access at HubSpot\./);
    expect(s.status_detail).toContain(`start_connector_oauth (connector_id "${connector_id}"`);
    // wait_for_connector answers the contract's code for a denial, with what to do next.
    const waited = await t.callRaw("wait_for_connector", { connector_id, timeout_seconds: 5 });
    expect(waited.isError).toBe(true);
    expect(waited.structuredContent.error?.code).toBe("consent_denied");
    expect(waited.structuredContent.error?.message).toContain(`start_connector_oauth (pass connector_id "${connector_id}"`);
  });

  it("records a callback without a code as error", async () => {
    const { connector_id, authorization_url } = await start();
    const { callbackUrl, cookie } = await consentOverHttp(authorization_url, { login: "fay", redirectPrefix: redirectUri });
    const u = new URL(callbackUrl);
    u.searchParams.delete("code");
    const res = await fetch(u, { headers: { cookie } });
    expect(res.status).toBe(502);
    const s = await status(connector_id);
    expect(s.status).toBe("error");
    expect(s.status_reason).toBe("provider_error");
    expect(s.status_detail).toContain("no authorization code");
  });

  it("records a token endpoint error as error, without the provider's raw body", async () => {
    const { connector_id, authorization_url } = await start();
    const { callbackUrl, cookie } = await consentOverHttp(authorization_url, { login: "gus", redirectPrefix: redirectUri });
    sandbox.oauth.failNextTokenCalls(1, 400, { error: "invalid_grant", error_description: "SECRET-ISH provider text that must not leak" });
    const res = await fetch(callbackUrl, { headers: { cookie } });
    expect(res.status).toBe(502);
    const page = await res.text();
    expect(page).not.toContain("SECRET-ISH");
    const s = await status(connector_id);
    expect(s.status).toBe("error");
    expect(s.status_reason).toBe("provider_error");
    expect(s.status_detail).toContain("invalid_grant");
    expect(JSON.stringify(s)).not.toContain("SECRET-ISH");
  });

  it("fails a re-consent whose stored tokens do not open (another master key): logged, before any exchange, nothing half-written", async () => {
    const { connector_id, authorization_url } = await start();
    const { callbackUrl, cookie } = await consentOverHttp(authorization_url, { login: "ivan", redirectPrefix: redirectUri });
    expect((await fetch(callbackUrl, { headers: { cookie } })).status).toBe(200);
    // The stored tokens were sealed by a server with another master key; the connector needs consent again.
    const foreign = new Vault(crypto.randomBytes(32)).seal(
      JSON.stringify({ kind: "oauth2", tokens: { access_token: "x" } }),
      `connector_secrets:${connector_id}`,
    );
    await t.app.ctx.db.updateTable("connector_secrets").set({ ciphertext: foreign }).where("connector_id", "=", connector_id).execute();
    await t.app.ctx.db.updateTable("connectors").set({ status: "expired" }).where("id", "=", connector_id).execute();
    const again = await t.callRaw("start_connector_oauth", { provider: "hubspot", connector_id });
    expect(again.isError).toBeFalsy();
    const retry = await consentOverHttp(again.structuredContent.authorization_url, { login: "ivan", redirectPrefix: redirectUri });
    const calls = sandbox.oauth.tokenCalls.length;
    const res = await fetch(retry.callbackUrl, { headers: { cookie: retry.cookie } });
    expect(res.status).toBe(502);
    const page = await res.text();
    const logId = /server log under (err_[0-9a-f]+)/.exec(page)?.[1];
    expect(logId).toBeDefined();
    expect(t.logs.some((l) => l.includes("a stored secret could not be opened during the OAuth callback") && l.includes(logId!))).toBe(
      true,
    );
    expect(sandbox.oauth.tokenCalls.length).toBe(calls); // no code exchange, so no tokens issued
    const s = await status(connector_id);
    expect(s.status).toBe("error");
    expect(s.status_detail).toContain(logId);
    const secret = await t.app.ctx.db
      .selectFrom("connector_secrets")
      .select("ciphertext")
      .where("connector_id", "=", connector_id)
      .executeTakeFirstOrThrow();
    expect(secret.ciphertext).toBe(foreign);
  });

  it("answers only /oauth/callback on the listener", async () => {
    const res = await fetch(redirectUri.replace("/oauth/callback", "/admin"));
    expect(res.status).toBe(404);
    expect(res.headers.get("content-security-policy")).toContain("default-src 'none'");
  });

  it("does not use up the state on a HEAD request (link previews, prefetch)", async () => {
    const { connector_id, authorization_url } = await start();
    const { callbackUrl, cookie } = await consentOverHttp(authorization_url, { login: "hana", redirectPrefix: redirectUri });
    const head = await fetch(callbackUrl, { method: "HEAD", headers: { cookie } });
    expect(head.status).toBe(200);
    expect((await status(connector_id)).status).toBe("pending");
    expect((await fetch(callbackUrl, { headers: { cookie } })).status).toBe(200);
    expect((await status(connector_id)).status).toBe("connected");
  });
});
