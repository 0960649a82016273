// Remote MCP clients (issue 17): dynamic client registration (RFC 7591) as the server does it.
// Redirect URIs match exactly at /authorize, except the port of a loopback redirect URI (RFC 8252
// section 7.3, desktop clients); registration is rate-limited per address (10 an hour, a burst of
// 10); a registration nobody allowed is purged once its expiry passes, and one a member allowed is
// kept.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { purgeExpiredServerRecords, setServerRecordExpiry } from "../src/store/oauth-server.js";
import { recordKey, UNUSED_CLIENT_MS } from "../src/transports/http/authorization/adapter.js";
import { freePort, type HttpHarness, type RawResponse, rawRequest, startHttpHarness } from "./support/http.js";
import { authorizeUrl, reachedConsent, registerClient } from "./support/oauth-requests.js";

let h: HttpHarness;
let base: string;
/** The registration limiter's clock (the server's rate clock), moved by the tests. */
let rateNow = Date.now();

beforeAll(async () => {
  h = await startHttpHarness({ port: await freePort(), publicUrl: true, server: { rateClock: () => rateNow } });
  base = h.url;
});
afterAll(async () => {
  await h?.close();
});
// Every test starts with a full registration bucket (10), whatever the tests before it took.
beforeEach(() => {
  rateNow += 2 * 3600 * 1000;
});

async function register(redirectUris: string[], overrides: Record<string, unknown> = {}): Promise<string> {
  const res = await registerClient(base, redirectUris, overrides);
  expect(res.status, res.body).toBe(201);
  return res.json().client_id;
}

/** /authorize refused the request itself: an error page of ours, no redirect anywhere (not to the client, not to consent). */
function expectRefusedPage(res: RawResponse, what: RegExp): void {
  expect(res.status, res.body).toBe(400);
  expect(res.headers.location).toBeUndefined();
  expect(res.headers["content-type"]).toMatch(/^text\/html/);
  expect(res.body).toContain("This sign-in request cannot go on");
  expect(res.body).toMatch(what);
}

describe("dynamic client registration", () => {
  it("returns a client_id for JSON metadata, a public client with refresh tokens, kept for a day unless allowed", async () => {
    const before = Date.now();
    const res = await registerClient(base, ["https://app.example.test/cb"], { client_name: "Some Desktop App" });
    expect(res.status, res.body).toBe(201);
    const client = res.json();
    expect(client.client_id).toMatch(/^mcpc_[A-Za-z0-9_-]{22}$/);
    expect(client.redirect_uris).toEqual(["https://app.example.test/cb"]);
    expect(client.grant_types).toEqual(expect.arrayContaining(["authorization_code", "refresh_token"]));
    expect(client.token_endpoint_auth_method).toBe("none");
    expect(client.client_secret).toBeUndefined();
    // Stored under a hash of its id, with the unused-registration expiry.
    const row = await h.app.ctx.db
      .withTables<{ oauth_server_records: { key_hash: string; model: string; expires_at: number | null; payload: string } }>()
      .selectFrom("oauth_server_records")
      .selectAll()
      .where("key_hash", "=", recordKey("Client", client.client_id))
      .executeTakeFirstOrThrow();
    expect(row.model).toBe("Client");
    expect(row.payload).not.toContain("Some Desktop App");
    expect(row.expires_at).toBeGreaterThanOrEqual(before + UNUSED_CLIENT_MS);
    expect(row.expires_at).toBeLessThanOrEqual(Date.now() + UNUSED_CLIENT_MS);
  });

  it("refuses metadata that is not JSON, and a redirect URI with a fragment", async () => {
    const notJson = await rawRequest(`${base}/register`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: "{not json",
    });
    expect(notJson.status).toBe(400);
    const fragment = await registerClient(base, ["https://app.example.test/cb#frag"]);
    expect(fragment.status).toBe(400);
    expect(fragment.json().error).toBe("invalid_redirect_uri");
  });
});

describe("redirect URIs at registration", () => {
  it("refuses plain http off loopback, alone or among https ones: the code would travel in clear text", async () => {
    for (const uris of [
      ["http://app.example.test/cb"],
      ["https://app.example.test/cb", "http://app.example.test/cb"],
      ["http://10.0.0.5/cb"],
    ]) {
      const res = await registerClient(base, uris);
      expect(res.status, `${uris}: ${res.body}`).toBe(400);
      expect(res.json()).toMatchObject({ error: "invalid_redirect_uri", error_description: expect.stringMatching(/loopback/) });
    }
    for (const uris of [
      ["http://127.0.0.1:3000/cb"],
      ["http://localhost:3000/cb"],
      ["http://[::1]:3000/cb"],
      ["https://app.example.test/cb"],
    ]) {
      const res = await registerClient(base, uris);
      expect(res.status, `${uris}: ${res.body}`).toBe(201);
    }
  });
});

describe("redirect URIs at /authorize", () => {
  it("match exactly: a registered https://app.example.test/cb does not admit /cb2, /cb/, a query or http", async () => {
    const clientId = await register(["https://app.example.test/cb"]);
    const ok = await rawRequest(authorizeUrl(base, { client_id: clientId, redirect_uri: "https://app.example.test/cb" }));
    expect(reachedConsent(ok, base), `${ok.status} ${ok.headers.location}`).toBe(true);
    for (const other of [
      "https://app.example.test/cb2",
      "https://app.example.test/cb/",
      "https://app.example.test/cb?x=1",
      "http://app.example.test/cb",
      "https://APP.example.test:443/cb/../cb2",
    ]) {
      const res = await rawRequest(authorizeUrl(base, { client_id: clientId, redirect_uri: other }));
      expectRefusedPage(res, /redirect_uri/);
    }
  });

  it("admit a loopback redirect registered as http://127.0.0.1:3000/callback on another port (RFC 8252), but not another path", async () => {
    const clientId = await register(["http://127.0.0.1:3000/callback"]);
    for (const port of [3000, 49152, 61234]) {
      const res = await rawRequest(authorizeUrl(base, { client_id: clientId, redirect_uri: `http://127.0.0.1:${port}/callback` }));
      expect(reachedConsent(res, base), `port ${port}: ${res.status} ${res.headers.location}`).toBe(true);
    }
    const otherPath = await rawRequest(authorizeUrl(base, { client_id: clientId, redirect_uri: "http://127.0.0.1:49152/elsewhere" }));
    expectRefusedPage(otherPath, /redirect_uri/);
  });
});

describe("the registration rate limit", () => {
  it("answers the 11th registration from one address within the hour with 429 and Retry-After, and admits one again after it", async () => {
    for (let i = 1; i <= 10; i++) {
      const res = await registerClient(base, ["https://app.example.test/cb"]);
      expect(res.status, `registration ${i}: ${res.body}`).toBe(201);
    }
    const eleventh = await registerClient(base, ["https://app.example.test/cb"]);
    expect(eleventh.status).toBe(429);
    const wait = Number(eleventh.headers["retry-after"]);
    expect(Number.isInteger(wait)).toBe(true);
    expect(wait).toBeGreaterThan(0);
    expect(wait).toBeLessThanOrEqual(3600);
    expect(eleventh.json()).toMatchObject({ error: "temporary_unavailable" });
    // Still refused a moment before Retry-After; admitted once it has passed.
    rateNow += (wait - 1) * 1000;
    expect((await registerClient(base, ["https://app.example.test/cb"])).status).toBe(429);
    rateNow += 1000;
    expect((await registerClient(base, ["https://app.example.test/cb"])).status).toBe(201);
  });
});

describe("unused registrations", () => {
  it("are purged once their expiry passes, while a client a member allowed is kept", async () => {
    const unused = await register(["https://unused.example.test/cb"]);
    const allowed = await register(["https://allowed.example.test/cb"]);
    // What the consent page's Allow does for a dynamic registration.
    await setServerRecordExpiry(h.app.ctx.db, recordKey("Client", allowed), null);
    const authorizeUnused = () => rawRequest(authorizeUrl(base, { client_id: unused, redirect_uri: "https://unused.example.test/cb" }));
    const authorizeAllowed = () => rawRequest(authorizeUrl(base, { client_id: allowed, redirect_uri: "https://allowed.example.test/cb" }));
    expect(reachedConsent(await authorizeUnused(), base)).toBe(true);

    // The sweep, run just after the unused registration's expiry (the harness's clock is the real one).
    const purged = await purgeExpiredServerRecords(h.app.ctx.db, Date.now() + UNUSED_CLIENT_MS + 60_000);
    expect(purged).toBeGreaterThanOrEqual(1);
    const left = await h.app.ctx.db
      .withTables<{ oauth_server_records: { key_hash: string } }>()
      .selectFrom("oauth_server_records")
      .select("key_hash")
      .where("key_hash", "in", [recordKey("Client", unused), recordKey("Client", allowed)])
      .execute();
    expect(left.map((r) => r.key_hash)).toEqual([recordKey("Client", allowed)]);

    const gone = await authorizeUnused();
    expect(reachedConsent(gone, base)).toBe(false);
    expectRefusedPage(gone, /client/i);
    expect(gone.headers.location).toBeUndefined();
    expect(reachedConsent(await authorizeAllowed(), base)).toBe(true);
  });
});
