// Remote MCP clients (issue 17): Client ID Metadata Documents through the real /authorize. A
// loopback http server plays the client's document host (the server fetches loopback documents
// because its own base is loopback) and serves good and hostile documents: a redirect URI the
// document does not list, a document over 16 KiB, a host that never answers, a client_id naming a
// private address, a document naming another client_id. Each refusal is an error page of ours
// that never echoes the document.
import http from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hashPassword } from "../src/credentials/passwords.js";
import { addMember } from "../src/store/members.js";
import { CIMD_DEFAULT_MAX_BYTES } from "../src/transports/http/authorization/cimd.js";
import { freePort, type HttpHarness, type RawResponse, rawRequest, startHttpHarness } from "./support/http.js";
import { authorizeUrl, reachedConsent } from "./support/oauth-requests.js";
import { getForm, Jar, signInRaw } from "./support/pages.js";

const PASSWORD = "a member's long password";
const REDIRECT = "https://app.example.test/cb";
/** Put in every served document: a refusal page must never show it. */
const MARKER = "DOCUMENT-BODY-MARKER-7f3a9c";
const NAME = "Hostile Doc Client 51e2";

let h: HttpHarness;
let docs: http.Server;
let docBase: string;
const sockets = new Set<Socket>();
/** Requests the document host received, by path. */
const received: string[] = [];
/** Resolved when the never-answering path has been asked for. */
let hangReceived: Promise<void>;
let onHang: () => void;

const doc = (path: string, extra: Record<string, unknown> = {}) => ({
  client_id: `${docBase}${path}`,
  client_name: NAME,
  redirect_uris: [REDIRECT],
  grant_types: ["authorization_code", "refresh_token"],
  response_types: ["code"],
  token_endpoint_auth_method: "none",
  software_id: MARKER,
  ...extra,
});

function sendJson(res: http.ServerResponse, value: unknown): void {
  const body = JSON.stringify(value);
  res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(body) });
  res.end(body);
}

beforeAll(async () => {
  hangReceived = new Promise<void>((r) => {
    onHang = r;
  });
  docs = http.createServer((req, res) => {
    const path = req.url ?? "";
    received.push(path);
    if (path === "/good.json") return sendJson(res, doc(path));
    if (path === "/other-redirect.json") return sendJson(res, doc(path, { redirect_uris: ["https://app.example.test/other"] }));
    if (path === "/native.json") return sendJson(res, doc(path, { redirect_uris: ["com.example.app:/oauth/callback"] }));
    if (path === "/wrong-id.json") return sendJson(res, doc(path, { client_id: `${docBase}/good.json` }));
    if (path === "/huge-declared.json") {
      return sendJson(res, doc(path, { padding: MARKER.repeat(Math.ceil((CIMD_DEFAULT_MAX_BYTES + 1) / MARKER.length)) }));
    }
    if (path === "/huge-chunked.json") {
      // No content-length: the size is only known while reading.
      res.writeHead(200, { "content-type": "application/json" });
      const body = JSON.stringify(doc(path, { padding: MARKER.repeat(Math.ceil((2 * CIMD_DEFAULT_MAX_BYTES) / MARKER.length)) }));
      for (let i = 0; i < body.length; i += 1024) res.write(body.slice(i, i + 1024));
      res.end();
      return;
    }
    if (path === "/hang.json") {
      // Accept the request and never answer.
      onHang();
      return;
    }
    res.writeHead(404).end();
  });
  docs.on("connection", (s) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  await new Promise<void>((r) => docs.listen(0, "127.0.0.1", () => r()));
  docBase = `http://127.0.0.1:${(docs.address() as AddressInfo).port}`;
  h = await startHttpHarness({ port: await freePort(), publicUrl: true });
  await addMember(h.app.ctx.db, {
    workspace_id: h.a.workspace_id,
    email: "ann@alpha.example",
    password_hash: await hashPassword(PASSWORD),
    now: new Date().toISOString(),
  });
});
afterAll(async () => {
  await h?.close();
  for (const s of sockets) s.destroy();
  await new Promise<void>((r) => (docs ? docs.close(() => r()) : r()));
});

const authorize = (clientId: string, redirectUri = REDIRECT) =>
  rawRequest(authorizeUrl(h.url, { client_id: clientId, redirect_uri: redirectUri }));

/** Why the adapter refused a client id's document, from the server's log (`code: message`). */
function refusalLogged(clientId: string): string | undefined {
  for (const line of h.logs) {
    const rec = JSON.parse(line) as { msg?: string; message?: string; client_id?: string; why?: string };
    if ((rec.msg ?? rec.message) === "client metadata document refused" && rec.client_id === clientId) return rec.why;
  }
  return undefined;
}

/** Refused at /authorize: our error page, no redirect (to the client or to consent), nothing of the document in it. */
function expectRefused(res: RawResponse): void {
  expect(reachedConsent(res, h.url)).toBe(false);
  expect(res.status, res.body).toBe(400);
  expect(res.headers.location).toBeUndefined();
  expect(res.body).toContain("This sign-in request cannot go on");
  expect(res.body).not.toContain(MARKER);
  expect(res.body).not.toContain(NAME);
}

describe("a Client ID Metadata Document at /authorize", () => {
  it("(a) a good document's client reaches the consent flow: 303 to /consent/…, sign-in, then a page naming the client and the document host", async () => {
    const clientId = `${docBase}/good.json`;
    const res = await authorize(clientId);
    expect(res.status).toBe(303);
    expect(reachedConsent(res, h.url), String(res.headers.location)).toBe(true);
    expect(received).toContain("/good.json");
    const consent = new URL(String(res.headers.location), h.url).pathname;
    const jar = new Jar();
    jar.take(res.headers["set-cookie"]);
    // Not signed in: the consent flow sends the person to sign in first, and back.
    const first = await rawRequest(`${h.url}${consent}`, { headers: { cookie: jar.header() } });
    expect(first.status).toBe(303);
    expect(first.headers.location).toBe(`/login?return_to=${encodeURIComponent(consent)}`);
    const signedIn = await signInRaw(h.url, jar, "ann@alpha.example", PASSWORD, consent);
    expect(signedIn.status).toBe(303);
    const page = await getForm(`${h.url}${consent}`, jar);
    expect(page.status, page.body).toBe(200);
    expect(page.body).toContain(`Allow ${NAME}`);
    expect(page.body).toContain(`identified by a document at ${new URL(docBase).host}`);
    expect(page.body).toContain("app.example.test");
    expect(page.body).toContain("alpha");
  });

  it("(a) a native app's document, whose redirect URI is a private-use scheme, reaches the consent flow too", async () => {
    const res = await authorize(`${docBase}/native.json`, "com.example.app:/oauth/callback");
    expect(reachedConsent(res, h.url), `${res.status} ${res.headers.location} ${res.body.slice(0, 2000)}`).toBe(true);
    const other = await authorize(`${docBase}/native.json`, "com.example.app:/elsewhere");
    expectRefused(other);
  });

  it("(b) refuses a redirect_uri the document does not list", async () => {
    const clientId = `${docBase}/other-redirect.json`;
    const res = await authorize(clientId, REDIRECT);
    expectRefused(res);
    expect(res.body).toMatch(/redirect_uri/);
    // The document itself was fine: the refusal is the redirect URI check, not the fetch.
    expect(received).toContain("/other-redirect.json");
    expect(refusalLogged(clientId)).toBeUndefined();
  });

  it("(c) refuses a document bigger than 16 KiB, declared or not", async () => {
    for (const path of ["/huge-declared.json", "/huge-chunked.json"]) {
      const clientId = `${docBase}${path}`;
      const res = await authorize(clientId);
      expectRefused(res);
      expect(received).toContain(path);
      expect(refusalLogged(clientId), path).toMatch(/^too_large: /);
    }
  });

  it("(d) refuses a host that accepts the request and never answers, once the fetcher's timeout passes", async () => {
    const clientId = `${docBase}/hang.json`;
    const pending = authorize(clientId);
    // The document host has the request: from here only the fetcher's deadline (5 s) can end it.
    await hangReceived;
    const res = await pending;
    expectRefused(res);
    expect(refusalLogged(clientId)).toMatch(/^timeout: /);
  }, 30_000);

  it("(e) refuses a client_id naming a private or link-local address without connecting anywhere", async () => {
    for (const clientId of ["https://10.0.0.1/client.json", "https://169.254.169.254/x.json", "https://[fd00::1]/client.json"]) {
      const res = await authorize(clientId);
      expectRefused(res);
      // Refused by the address rules before any socket is opened (an attempt would be fetch_failed or timeout).
      expect(refusalLogged(clientId), clientId).toMatch(/^address_not_allowed: /);
    }
  });

  it("(f) refuses a document whose client_id is not its own URL", async () => {
    const clientId = `${docBase}/wrong-id.json`;
    const res = await authorize(clientId);
    expectRefused(res);
    expect(received).toContain("/wrong-id.json");
    expect(refusalLogged(clientId)).toMatch(/^invalid_client_metadata: .*different client_id/);
  });
});
