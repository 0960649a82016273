// Issue 10 over HTTP: POST /api/v1/connectors/{id}/call, POST /api/v1/call (by role) and the raw
// proxy ANY /api/v1/connectors/{id}/proxy/{path}, in two workspaces, against a fake Sanity API
// (BYOK: a key per workspace). The raw proxy streams a 20 MB body; the test asserts the bound on
// what the server held, not a duration or an RSS figure.
import http from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type FakeApi, startFakeApi } from "./sandbox/fake-api.js";
import { bearer, type HttpHarness, rawRequest, startHttpHarness } from "./support/http.js";

const KEY_A = "sk-sanity-alpha-0123456789abcdef0123456789";
const KEY_B = "sk-sanity-beta-0123456789abcdef0123456789ab";
const MB = 1024 * 1024;
const CHUNK = 64 * 1024;
const TEXT_BYTES = 20 * MB;
const CEILING = 24 * MB;

let api: FakeApi;
let h: HttpHarness;
let idA: string;
let idB: string;

/** Write `total` bytes of text in 64 KiB chunks, honouring backpressure; KEY_A is split across the first chunk boundary. */
async function writeText(res: http.ServerResponse, total: number): Promise<void> {
  const half = Math.floor(KEY_A.length / 2);
  let sent = 0;
  let first = true;
  while (sent < total) {
    const size = Math.min(CHUNK, total - sent);
    const chunk = Buffer.alloc(size, "a");
    if (first) chunk.write(KEY_A.slice(0, half), size - half);
    else if (sent === CHUNK) chunk.write(KEY_A.slice(half), 0);
    first = false;
    sent += size;
    if (!res.write(chunk)) await new Promise<void>((r) => res.once("drain", r));
    if (res.destroyed) return;
  }
}

beforeAll(async () => {
  api = await startFakeApi(
    {
      "GET /v2025-02-19/data/query/production": () => ({ json: { result: [] } }),
      "GET /v1/docs": (req) => ({ json: { q: req.query.get("q"), auth: req.headers.authorization }, headers: { etag: '"v1"' } }),
      "POST /v1/mutate": (req) => ({ json: { received: req.body } }),
      "GET /v1/text": () => ({ headers: { "content-type": "text/plain" }, stream: (res) => writeText(res, TEXT_BYTES) }),
      "GET /v1/huge": () => ({ headers: { "content-type": "text/plain" }, stream: (res) => writeText(res, CEILING + MB) }),
      "GET /v1/binary": () => ({
        raw: Buffer.concat([Buffer.from([0, 1, 2]), Buffer.from(KEY_A)]),
        headers: { "content-type": "application/octet-stream" },
      }),
    },
    { validate: async (t) => t === KEY_A || t === KEY_B },
  );
  h = await startHttpHarness({
    env: { TENEX_SANITY_API_BASE_URL: api.url, TENEX_PROXY_STREAM_MAX_BYTES: String(CEILING), TENEX_RATE_LIMIT: "0" },
  });
  const submit = async (key: string, apiKey: string) => {
    const res = await fetch(`${h.url}/api/v1/connectors/keys`, {
      method: "POST",
      headers: { ...bearer(key), "content-type": "application/json" },
      body: JSON.stringify({ provider: "sanity", api_key: apiKey, settings: { project_id: "proj1", dataset: "production" } }),
    });
    expect(res.status).toBe(201);
    return ((await res.json()) as { id: string }).id;
  };
  idA = await submit(h.a.key, KEY_A);
  idB = await submit(h.b.key, KEY_B);
});

afterAll(async () => {
  await h?.close();
  await api?.close();
});

/** A request whose target is sent byte for byte as given. */
function exactTarget(target: string, key: string): Promise<{ status: number; body: string }> {
  const u = new URL(h.url);
  return new Promise((resolve, reject) => {
    const req = http.request({ host: u.hostname, port: u.port, path: target, headers: bearer(key) }, (res) => {
      let body = "";
      res.on("data", (c: Buffer) => {
        body += c.toString();
      });
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on("error", reject);
    req.end();
  });
}

const post = (path: string, key: string, body: unknown) =>
  fetch(`${h.url}/api/v1${path}`, {
    method: "POST",
    headers: { ...bearer(key), "content-type": "application/json" },
    body: JSON.stringify(body),
  });

describe("the proxy over REST", () => {
  it("POST /connectors/{id}/call answers the tool's JSON, with the workspace's own key added and redacted from the answer", async () => {
    const res = await post(`/connectors/${idA}/call`, h.a.key, { method: "GET", path: "/v1/docs", query: { q: "*[_type=='post']" } });
    expect(res.status).toBe(200);
    const out = (await res.json()) as Record<string, unknown>;
    expect(out).toMatchObject({
      connector_id: idA,
      status: 200,
      body: { q: "*[_type=='post']", auth: "Bearer [redacted]" },
      headers: { etag: '"v1"' },
    });
    expect(api.calls.at(-1)!.headers.authorization).toBe(`Bearer ${KEY_A}`);
    const mutate = await post(`/connectors/${idA}/call`, h.a.key, {
      method: "POST",
      path: "/v1/mutate",
      body: { mutations: [{ create: { _type: "post" } }] },
    });
    expect(((await mutate.json()) as { body: unknown }).body).toEqual({ received: { mutations: [{ create: { _type: "post" } }] } });
  });

  it("POST /call picks the connector by role, in the caller's workspace only", async () => {
    const a = await post("/call", h.a.key, { role: "source", provider: "sanity", method: "GET", path: "/v1/docs" });
    expect(((await a.json()) as { connector_id: string }).connector_id).toBe(idA);
    const b = await post("/call", h.b.key, { role: "source", method: "GET", path: "/v1/docs" });
    expect(((await b.json()) as { connector_id: string }).connector_id).toBe(idB);
    expect(api.calls.at(-1)!.headers.authorization).toBe(`Bearer ${KEY_B}`);
  });

  it("another workspace's connector is not_found, through the call route and the raw proxy, and reaches no provider", async () => {
    const before = api.calls.length;
    const call = await post(`/connectors/${idA}/call`, h.b.key, { method: "GET", path: "/v1/docs" });
    expect(call.status).toBe(404);
    expect(((await call.json()) as { error: { code: string } }).error.code).toBe("not_found");
    const raw = await fetch(`${h.url}/api/v1/connectors/${idA}/proxy/v1/docs`, { headers: bearer(h.b.key) });
    expect(raw.status).toBe(404);
    const none = await fetch(`${h.url}/api/v1/connectors/${idA}/proxy/v1/docs`);
    expect(none.status).toBe(401);
    expect(api.calls.length).toBe(before);
  });

  it("the raw proxy passes status, allowed headers and body, drops other request headers, and refuses path tricks before any request", async () => {
    const ok = await rawRequest(`${h.url}/api/v1/connectors/${idA}/proxy/v1/docs?q=abc`, {
      headers: { ...bearer(h.a.key), "if-none-match": '"v0"', cookie: "a=b", "x-other": "1" },
    });
    expect(ok.status).toBe(200);
    expect(ok.headers.etag).toBe('"v1"');
    expect(ok.json()).toEqual({ q: "abc", auth: "Bearer [redacted]" });
    const seen = api.calls.at(-1)!;
    expect(seen.query).toBe("q=abc");
    expect(seen.headers["if-none-match"]).toBe('"v0"');
    expect(seen.headers.cookie).toBeUndefined();
    expect(seen.headers["x-other"]).toBeUndefined();
    expect(seen.headers.authorization).toBe(`Bearer ${KEY_A}`);

    const before = api.calls.length;
    for (const path of ["/v1/../v1/docs", "/v1/%2e%2e/docs", "/v1/.%2E/v1/docs", "//evil.example/x", "/v1/a%5cb"]) {
      // The request target exactly as written (a URL string would be normalized by the client first).
      const res = await exactTarget(`/api/v1/connectors/${idA}/proxy${path}`, h.a.key);
      expect(res.status, path).toBe(400);
      expect(JSON.parse(res.body).error.code, path).toBe("invalid_input");
    }
    const options = await rawRequest(`${h.url}/api/v1/connectors/${idA}/proxy/v1/docs`, { method: "OPTIONS", headers: bearer(h.a.key) });
    expect(options.status).toBe(405);
    expect(options.headers.allow).toBe("GET, POST, PUT, PATCH, DELETE");
    expect(api.calls.length).toBe(before);
  });

  it("streams a 20 MB body through a bounded window, redacting a key split across chunks", async () => {
    h.app.ctx.proxy.stats.maxStreamHeldBytes = 0;
    let received = 0;
    let tail = "";
    let found = 0;
    let leaked = false;
    const status = await new Promise<number>((resolve, reject) => {
      http
        .get(`${h.url}/api/v1/connectors/${idA}/proxy/v1/text`, { headers: bearer(h.a.key) }, (res) => {
          res.on("data", (chunk: Buffer) => {
            received += chunk.length;
            const text = tail + chunk.toString("latin1");
            found += text.split("[redacted]").length - 1 - (tail.split("[redacted]").length - 1);
            if (text.includes(KEY_A)) leaked = true;
            tail = text.slice(-64);
          });
          res.on("end", () => resolve(res.statusCode ?? 0));
          res.on("error", reject);
        })
        .on("error", reject);
    });
    expect(status).toBe(200);
    expect(leaked).toBe(false);
    expect(found).toBe(1);
    expect(received).toBe(TEXT_BYTES - KEY_A.length + "[redacted]".length);
    // What the server held at once: the redaction window plus one chunk, far below the 20 MB that passed.
    const held = h.app.ctx.proxy.stats.maxStreamHeldBytes;
    expect(held).toBeGreaterThan(0);
    expect(held).toBeLessThanOrEqual(CHUNK + KEY_A.length);
  });

  it("passes binary bodies unchanged (documented: no redaction in binary)", async () => {
    const res = await fetch(`${h.url}/api/v1/connectors/${idA}/proxy/v1/binary`, { headers: bearer(h.a.key) });
    expect(
      Buffer.from(await res.arrayBuffer())
        .subarray(3)
        .toString(),
    ).toBe(KEY_A);
  });

  it("cuts a response off at TENEX_PROXY_STREAM_MAX_BYTES", async () => {
    const outcome = await new Promise<{ received: number; complete: boolean }>((resolve) => {
      let received = 0;
      http
        .get(`${h.url}/api/v1/connectors/${idA}/proxy/v1/huge`, { headers: bearer(h.a.key) }, (res) => {
          res.on("data", (c: Buffer) => {
            received += c.length;
          });
          res.on("end", () => resolve({ received, complete: res.complete }));
          res.on("error", () => resolve({ received, complete: false }));
          res.on("aborted", () => resolve({ received, complete: false }));
        })
        .on("error", () => resolve({ received, complete: false }));
    });
    expect(outcome.complete).toBe(false);
    expect(outcome.received).toBeLessThanOrEqual(CEILING);
  });

  it("records raw proxy calls in recent_calls, and a disabled connector stops at once", async () => {
    const status = await fetch(`${h.url}/api/v1/connectors/${idA}`, { headers: bearer(h.a.key) });
    const calls = ((await status.json()) as { recent_calls: Array<{ path: string; method: string }> }).recent_calls;
    expect(calls[0]).toMatchObject({ method: "GET", path: "/v1/huge" });
    expect(JSON.stringify(calls)).not.toContain("abc");

    expect((await post(`/connectors/${idA}/disable`, h.a.key, {})).status).toBe(200);
    const before = api.calls.length;
    const call = await post(`/connectors/${idA}/call`, h.a.key, { method: "GET", path: "/v1/docs" });
    expect(call.status).toBe(409);
    expect(((await call.json()) as { error: { code: string; message: string } }).error).toMatchObject({ code: "invalid_state" });
    const raw = await fetch(`${h.url}/api/v1/connectors/${idA}/proxy/v1/docs`, { headers: bearer(h.a.key) });
    expect(raw.status).toBe(409);
    expect(api.calls.length).toBe(before);
  });
});
