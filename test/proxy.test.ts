// Issue 10: call_connector through a real MCP client, against the sandbox OAuth server and a fake
// provider API. Every refusal is checked to reach no provider; order is asserted with gates.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createProxyEngine } from "../src/connectors/proxy-engine.js";
import { LOCAL_WORKSPACE_ID } from "../src/store/workspaces.js";
import { type FakeApi, startFakeApi } from "./sandbox/fake-api.js";
import { HUBSPOT_SCOPES, portalIdFor } from "./sandbox/hubspot.js";
import { issuedBy } from "./sandbox/oauth-server.js";
import { type ProviderSandbox, startProviderSandbox } from "./sandbox/provider.js";
import { type Harness, movableClock, reservePort, startHarness } from "./support/harness.js";

let sandbox: ProviderSandbox;
let other: FakeApi;
let h: Harness;
let id: string;
let flaky = 0;
let held: Promise<void> = Promise.resolve();
let heldHits = 0;
const PNG = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0xff, 0xfe, 0x80]);

const grants = (type: string) => sandbox.oauth.tokenCalls.filter((c) => c.grant_type === type && c.status === 200);
const latestToken = () => issuedBy([...sandbox.oauth.tokenCalls].reverse().find((c) => c.status === 200)).access_token;
const apiCalls = (path?: string) => sandbox.api.calls.filter((c) => path === undefined || c.path === path);
const clock = movableClock(() => h);

beforeAll(async () => {
  const { port, redirectUri } = await reservePort();
  other = await startFakeApi({ "GET /landing": () => ({ json: { landed: true } }) });
  sandbox = await startProviderSandbox({
    provider: "hubspot",
    redirectUri,
    scopes: HUBSPOT_SCOPES,
    routes: {
      "GET /account-info/2026-03/details": async (req) => ({
        json: { portalId: portalIdFor((await sandbox.oauth.validateAccessToken(req.token ?? ""))?.accountId ?? "x") },
      }),
      "GET /crm/objects/2026-03/contacts/1": () => ({
        json: { id: "1", properties: { email: "ada@example.com", firstname: "Ada" } },
        headers: { "x-hubspot-ratelimit-remaining": "109", "set-cookie": "session=provider-cookie", "x-internal": "no" },
      }),
      "POST /echo": (req) => ({ json: { query: req.query.toString(), headers: req.headers, body: req.body } }),
      "GET /flaky": () => (flaky-- > 0 ? { status: 401, json: { message: "token expired" } } : { json: { ok: true } }),
      "GET /limited": () => ({
        status: 429,
        json: { message: "slow down" },
        headers: { "retry-after": "7", "x-hubspot-ratelimit-remaining": "0" },
      }),
      "GET /redirect": () => ({ status: 302, json: { moved: true }, headers: { location: `${other.url}/landing` } }),
      "GET /big": () => ({ json: { items: Array.from({ length: 500 }, (_, i) => ({ i, name: `contact number ${i}` })) } }),
      "GET /image": () => ({ raw: PNG, headers: { "content-type": "image/png" } }),
      "GET /notes": () => ({ raw: "plain words", headers: { "content-type": "text/plain; charset=utf-8" } }),
      "GET /paged": (req) => ({
        json: { results: [] },
        headers: { link: `<https://api.hubapi.com/next?access_token=${req.token}>; rel="next"` },
      }),
      "GET /held": async () => {
        heldHits++;
        await held;
        return { json: { ok: true } };
      },
    },
  });
  h = await startHarness({ env: sandbox.env, port });
  const connected = await h.connect("hubspot");
  id = connected.connector_id;
});

afterAll(async () => {
  await h?.close();
  await sandbox?.close();
  await other?.close();
});

describe("call_connector through a real MCP client", () => {
  it("an agent that just connected HubSpot through the OAuth flow reads a contact through it", async () => {
    // What the agent reads first: the version its path carries and where the API reference is.
    const hubspot = (await h.call("list_providers", {})).providers.find((p) => p.id === "hubspot");
    expect(hubspot).toMatchObject({ api_version: "2026-03", api_docs_url: expect.stringContaining("developers.hubspot.com") });
    const status = await h.call("get_connector_status", { connector_id: id });
    expect(status.status).toBe("connected");
    const res = await h.call("call_connector", { connector_id: id, method: "GET", path: "/crm/objects/2026-03/contacts/1" });
    expect(res).toMatchObject({ connector_id: id, status: 200, truncated: false, refreshed: false });
    expect(res.body).toEqual({ id: "1", properties: { email: "ada@example.com", firstname: "Ada" } });
    // Rate-limit headers are kept; cookies and other headers are not.
    expect(res.headers).toEqual({ "content-type": "application/json; charset=utf-8", "x-hubspot-ratelimit-remaining": "109" });
    const seen = apiCalls("/crm/objects/2026-03/contacts/1").at(-1)!;
    expect(seen.headers.authorization).toBe(`Bearer ${latestToken()}`);
    expect(h.results.at(-1)).not.toContain(latestToken());
    const after = await h.call("get_connector_status", { connector_id: id });
    expect(after.recent_calls?.[0]).toMatchObject({
      method: "GET",
      path: "/crm/objects/2026-03/contacts/1",
      status: 200,
      refreshed: false,
    });
    // Calls are kept apart from events: they never push out connected or refreshed.
    expect(after.recent_events?.map((e) => e.type)).toContain("connected");
  });

  it("forwards query, body and allowed headers exactly, adds the credential, and redacts it where the provider echoes it", async () => {
    const res = await h.call("call_connector", {
      connector_id: id,
      method: "POST",
      path: "/echo",
      query: { a: "1", b: ["x", "y z"], c: true, n: 5 },
      headers: { "If-Match": "etag-1", accept: "application/json" },
      body: { x: 1, nested: { y: [1, 2] } },
    });
    const seen = apiCalls("/echo").at(-1)!;
    expect(seen.query).toBe("a=1&b=x&b=y+z&c=true&n=5");
    expect(seen.rawBody).toBe('{"x":1,"nested":{"y":[1,2]}}');
    expect(seen.headers["if-match"]).toBe("etag-1");
    expect(seen.headers["content-type"]).toBe("application/json");
    expect(seen.headers.authorization).toBe(`Bearer ${latestToken()}`);
    const body = res.body as { headers: Record<string, string>; body: unknown };
    expect(body.body).toEqual({ x: 1, nested: { y: [1, 2] } });
    expect(body.headers.authorization).toBe("Bearer [redacted]");
    expect(JSON.stringify(res)).not.toContain(latestToken());
    // The record keeps the path, never the query values.
    const status = await h.call("get_connector_status", { connector_id: id });
    expect(status.recent_calls?.[0]).toMatchObject({ method: "POST", path: "/echo", status: 200 });
    expect(JSON.stringify(status.recent_calls)).not.toContain("y+z");
  });

  it("sends a string body as it is, with the caller's content-type", async () => {
    await h.call("call_connector", {
      connector_id: id,
      method: "POST",
      path: "/echo",
      headers: { "content-type": "text/csv" },
      body: "email\nada@example.com\n",
    });
    const seen = apiCalls("/echo").at(-1)!;
    expect(seen.rawBody).toBe("email\nada@example.com\n");
    expect(seen.headers["content-type"]).toBe("text/csv");
  });

  it("redacts a token the provider echoes in a kept header", async () => {
    const res = await h.call("call_connector", { connector_id: id, method: "GET", path: "/paged" });
    expect(res.headers.link).toBe('<https://api.hubapi.com/next?access_token=[redacted]>; rel="next"');
  });

  it("picks the connector by role as resolve_connector would", async () => {
    const res = await h.call("call_connector", {
      role: "crm_sink",
      provider: "hubspot",
      method: "GET",
      path: "/crm/objects/2026-03/contacts/1",
    });
    expect(res.connector_id).toBe(id);
    const none = await h.callError("call_connector", { role: "crm_sink", provider: "salesforce", method: "GET", path: "/x" });
    expect(none.code).toBe("not_found");
    const both = await h.callError("call_connector", { connector_id: id, role: "crm_sink", method: "GET", path: "/x" });
    expect(both.code).toBe("invalid_input");
  });

  it("refuses other hosts, path tricks, forbidden headers and bad bodies before any request reaches the provider", async () => {
    const api = new URL(sandbox.api.url);
    const refused: Array<Record<string, unknown>> = [
      { path: "https://evil.example/x" },
      { path: `${other.url}/landing` },
      { path: "//evil.example/x" },
      { path: "/a/../crm/objects/2026-03/contacts/1" },
      { path: "/a/%2e%2E/crm" },
      { path: "/a/.%2e/crm" },
      { path: "/a/%252e%252e/crm" },
      { path: "/a/%2F..%2Fcrm" },
      { path: `http://user:pw@${api.host}/echo` },
      { path: `http://${api.host}@evil.example/echo` },
      { path: "/a\\b" },
      { path: "/a b" },
      { path: "crm/objects" },
      { path: "javascript:alert(1)" },
      { path: "/x#frag" },
      { path: "/x", headers: { authorization: "Bearer mine" } },
      { path: "/x", headers: { Cookie: "a=b" } },
      { path: "/x", headers: { host: "evil.example" } },
      { path: "/x", headers: { "proxy-authorization": "Basic x" } },
      { path: "/x", headers: { "transfer-encoding": "chunked" } },
      { path: "/x", headers: { "x-forwarded-for": "1.2.3.4" } },
      { path: "/x", headers: { "x-anything": "1" } },
      { path: "/x", headers: { accept: "a\r\nx-injected: 1" } },
      { path: "/x", body: { a: 1 } },
      { path: "/x", method: "POST", body: "text without a type" },
      { path: "/x", method: "POST", body: "x".repeat(1024 * 1024 + 1), headers: { "content-type": "text/plain" } },
      { path: "/x", max_bytes: 2 * 1024 * 1024 },
      { path: "/x", method: "TRACE" },
    ];
    const before = sandbox.api.calls.length;
    for (const args of refused) {
      const err = await h.callError("call_connector", { connector_id: id, method: "GET", ...args });
      expect(err.code, JSON.stringify(args).slice(0, 200)).toBe("invalid_input");
    }
    expect(sandbox.api.calls.length).toBe(before);
    expect(other.calls).toHaveLength(0);
  });

  it("cuts the body at max_bytes and says so", async () => {
    const res = await h.call("call_connector", { connector_id: id, method: "GET", path: "/big", max_bytes: 1000 });
    expect(res.truncated).toBe(true);
    expect(typeof res.body).toBe("string");
    expect(Buffer.byteLength(res.body as string)).toBeLessThanOrEqual(1000);
    const whole = await h.call("call_connector", { connector_id: id, method: "GET", path: "/big" });
    expect(whole.truncated).toBe(false);
    expect((whole.body as { items: unknown[] }).items).toHaveLength(500);
  });

  it("returns binary bodies as base64 and text as text", async () => {
    const img = await h.call("call_connector", { connector_id: id, method: "GET", path: "/image" });
    expect(img.encoding).toBe("base64");
    expect(Buffer.from(img.body as string, "base64").equals(PNG)).toBe(true);
    const text = await h.call("call_connector", { connector_id: id, method: "GET", path: "/notes" });
    expect(text.body).toBe("plain words");
    expect(text.encoding).toBeUndefined();
  });

  it("after a 401 makes exactly one refresh grant at the OAuth server and retries once", async () => {
    const before = grants("refresh_token").length;
    const tokenBefore = latestToken();
    flaky = 1;
    const res = await h.call("call_connector", { connector_id: id, method: "GET", path: "/flaky" });
    expect(res).toMatchObject({ status: 200, refreshed: true, body: { ok: true } });
    expect(grants("refresh_token").length - before).toBe(1);
    const [first, second] = apiCalls("/flaky").slice(-2);
    expect(first!.headers.authorization).toBe(`Bearer ${tokenBefore}`);
    expect(second!.headers.authorization).toBe(`Bearer ${latestToken()}`);
    expect(latestToken()).not.toBe(tokenBefore);
  });

  it("returns a 429 as it came, with retry-after and the rate-limit headers, without retrying", async () => {
    const before = apiCalls("/limited").length;
    const res = await h.call("call_connector", { connector_id: id, method: "GET", path: "/limited" });
    expect(res.status).toBe(429);
    expect(res.headers["retry-after"]).toBe("7");
    expect(res.headers["x-hubspot-ratelimit-remaining"]).toBe("0");
    expect(apiCalls("/limited").length - before).toBe(1);
  });

  it("returns a provider 4xx as a normal result the agent can read", async () => {
    const raw = await h.callRaw("call_connector", { connector_id: id, method: "GET", path: "/no/such/thing" });
    expect(raw.isError).toBeFalsy();
    expect(raw.structuredContent).toMatchObject({ status: 404, body: { message: "No route for GET /no/such/thing" } });
  });

  it("never follows a redirect: the 3xx comes back with its location", async () => {
    const res = await h.call("call_connector", { connector_id: id, method: "GET", path: "/redirect" });
    expect(res.status).toBe(302);
    expect(res.headers.location).toBe(`${other.url}/landing`);
    expect(other.calls).toHaveLength(0);
  });

  it("concurrent calls on an expiring token make exactly one refresh grant", async () => {
    clock.advance((1800 - 60) * 1000); // within the refresh margin
    const before = grants("refresh_token").length;
    const gate = sandbox.oauth.holdTokenRequests();
    const calls = Promise.all(
      Array.from({ length: 6 }, () =>
        h.call("call_connector", { connector_id: id, method: "GET", path: "/crm/objects/2026-03/contacts/1" }),
      ),
    );
    await expect.poll(() => gate.waiting()).toBe(1);
    // Every call shares the refresh before it ends: a call that first reads the token after the new
    // one is stored uses it as it is, and rightly says refreshed: false.
    await expect.poll(() => h.ctx.refresh.flights.get(id)?.callers).toBe(6);
    gate.release();
    const results = await calls;
    for (const r of results) expect(r).toMatchObject({ status: 200, refreshed: true });
    expect(grants("refresh_token").length - before).toBe(1);
  });

  it("runs at most TENEX_PROXY_CONCURRENCY (8) calls per connector at once: the next wait in line, past the line they are refused", async () => {
    let open = () => {};
    held = new Promise<void>((r) => (open = r));
    heldHits = 0;
    const call = () => h.callRaw("call_connector", { connector_id: id, method: "GET", path: "/held" });
    const running = Array.from({ length: 8 + 32 }, call);
    await expect.poll(() => heldHits).toBe(8);
    await expect.poll(() => h.ctx.proxy.slots.waiting(id)).toBe(32);
    const refused = await h.callError("call_connector", { connector_id: id, method: "GET", path: "/held" });
    expect(refused).toMatchObject({ code: "rate_limited", retryable: true });
    expect(heldHits).toBe(8);
    open();
    const results = await Promise.all(running);
    for (const r of results) expect(r.structuredContent).toMatchObject({ status: 200 });
    expect(heldHits).toBe(40);
    expect(h.ctx.proxy.slots.running(id)).toBe(0);
  });

  it("a provider that does not answer in time is provider_error (the timeout is 30 s; a short one here), and the slot is freed", async () => {
    let open = () => {};
    held = new Promise<void>((r) => (open = r));
    const normal = h.ctx.proxy;
    h.ctx.proxy = createProxyEngine(
      { db: h.ctx.db, clock: h.ctx.clock, log: h.ctx.log },
      { concurrency: 8, streamMaxBytes: 1024, timeoutMs: 100 },
    );
    try {
      const err = await h.callError("call_connector", { connector_id: id, method: "GET", path: "/held" });
      expect(err).toMatchObject({ code: "provider_error", retryable: true });
      expect(err.message).toMatch(/did not answer within 0.1 s/);
      expect(h.ctx.proxy.slots.running(id)).toBe(0);
      const status = await h.call("get_connector_status", { connector_id: id });
      // Found by path: an earlier test moved the clock 29 minutes ahead and back, so its records sort as newer.
      expect(status.recent_calls?.find((c) => c.path === "/held")).toMatchObject({ path: "/held", status: null });
    } finally {
      open();
      await h.ctx.proxy.close();
      h.ctx.proxy = normal;
    }
  });

  it("calls only a connected connector: disabled stops calls at once, revoked says what to do", async () => {
    await h.call("disable_connector", { connector_id: id });
    const before = sandbox.api.calls.length;
    const off = await h.callError("call_connector", { connector_id: id, method: "GET", path: "/crm/objects/2026-03/contacts/1" });
    expect(off.code).toBe("invalid_state");
    expect(off.message).toMatch(/enable_connector/);
    expect(sandbox.api.calls.length).toBe(before);
    await h.call("enable_connector", { connector_id: id });
    expect((await h.call("call_connector", { connector_id: id, method: "GET", path: "/crm/objects/2026-03/contacts/1" })).status).toBe(200);

    const second = (await h.connect("hubspot", {}, "bob")).connector_id;
    await h.call("revoke_connector", { connector_id: second });
    const calledBefore = sandbox.api.calls.length;
    const revoked = await h.callError("call_connector", { connector_id: second, method: "GET", path: "/crm/objects/2026-03/contacts/1" });
    expect(revoked.code).toBe("invalid_state");
    expect(revoked.message).toMatch(/start_connector_oauth/);
    expect(sandbox.api.calls.length).toBe(calledBefore);
    const unknown = await h.callError("call_connector", { connector_id: "con_nope", method: "GET", path: "/x" });
    expect(unknown.code).toBe("not_found");
  });

  it("never writes a body, a query value or a credential into the call records", async () => {
    await h.ctx.proxy.recorder.flush();
    const rows = await h.ctx.db.selectFrom("call_records").selectAll().where("workspace_id", "=", LOCAL_WORKSPACE_ID).execute();
    expect(rows.length).toBeGreaterThan(10);
    const all = JSON.stringify(rows);
    for (const c of sandbox.oauth.tokenCalls) {
      if (c.body?.access_token) expect(all).not.toContain(c.body.access_token);
      if (c.body?.refresh_token) expect(all).not.toContain(c.body.refresh_token);
    }
    expect(all).not.toContain("ada@example.com");
    expect(all).not.toContain("y+z");
    const status = await h.call("get_connector_status", { connector_id: id });
    expect(status.recent_calls).toHaveLength(10);
  });
});

describe("Salesforce: calls go to the connection's instance_url", () => {
  let sf: ProviderSandbox;
  let s: Harness;

  beforeAll(async () => {
    const { port, redirectUri } = await reservePort();
    sf = await startProviderSandbox({
      provider: "salesforce",
      redirectUri,
      scopes: ["api", "refresh_token"],
      apiBaseOverride: false, // the API host must come from instance_url
      routes: {
        "GET /services/oauth2/userinfo": () => ({ json: { email: "alice@acme.example", organization_id: "00D1", user_id: "0051" } }),
        "GET /services/data/v68.0/query": (req) => ({ json: { totalSize: 1, records: [{ Name: "Acme" }], q: req.query.get("q") } }),
      },
      oauth: {
        rewriteTokenResponse: (body, { grant_type }) => {
          delete body.expires_in;
          if (grant_type === "authorization_code") body.instance_url = sf.api.url;
          return body;
        },
      },
    });
    s = await startHarness({ env: sf.env, port });
  });

  afterAll(async () => {
    await s?.close();
    await sf?.close();
  });

  it("sends the call to instance_url, takes an absolute URL on it, and refuses another host", async () => {
    const { connector_id } = await s.connect("salesforce");
    const res = await s.call("call_connector", {
      connector_id,
      method: "GET",
      path: "/services/data/v68.0/query",
      query: { q: "SELECT Name FROM Account LIMIT 1" },
    });
    expect(res).toMatchObject({ status: 200, body: { totalSize: 1, q: "SELECT Name FROM Account LIMIT 1" } });
    const abs = await s.call("call_connector", { connector_id, method: "GET", path: `${sf.api.url}/services/data/v68.0/query?q=x` });
    expect(abs.status).toBe(200);
    expect(sf.api.calls.filter((c) => c.path === "/services/data/v68.0/query")).toHaveLength(2);
    const before = sf.api.calls.length;
    const off = await s.callError("call_connector", { connector_id, method: "GET", path: "https://login.salesforce.com/services/data" });
    expect(off.code).toBe("invalid_input");
    expect(sf.api.calls.length).toBe(before);
  });
});
