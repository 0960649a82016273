// Remote MCP clients (issue 17, DESIGN.md "Remote MCP clients"): the metadata documents a client
// discovers after a 401, checked against the fields their RFCs require and our contract (RFC 9728
// for the protected resource, RFC 8414 for the authorization server), the challenge a 401 carries
// on /mcp and /api/v1, TENEX_PUBLIC_URL as the base of every URL, and the authorization request
// rules: PKCE S256 only, and tokens only for `{base}/mcp` (RFC 8707).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort, type HttpHarness, rawRequest, startHttpHarness } from "./support/http.js";
import { authorizeUrl, reachedConsent, registerClient } from "./support/oauth-requests.js";

type Doc = Record<string, unknown>;

/** RFC 9728 section 2 and our contract: one resource, `{base}/mcp`, served by `{base}`. */
function expectResourceMetadata(doc: Doc, base: string): void {
  expect(doc.resource).toBe(`${base}/mcp`);
  expect(doc.authorization_servers).toEqual([base]);
  expect(doc.scopes_supported).toContain("mcp");
  expect(doc.bearer_methods_supported).toEqual(["header"]);
}

/** RFC 8414 section 2 (issuer, endpoints, response types) and the MCP authorization profile. */
function expectServerMetadata(doc: Doc, base: string): void {
  // RFC 8414 section 3.3: the issuer is exactly the base the client derived the metadata URL from.
  expect(doc.issuer).toBe(base);
  for (const [field, path] of [
    ["authorization_endpoint", "/authorize"],
    ["token_endpoint", "/token"],
    ["registration_endpoint", "/register"],
    ["revocation_endpoint", "/revoke"],
  ] as const) {
    expect(doc[field], field).toBe(`${base}${path}`);
  }
  expect(doc.response_types_supported).toEqual(["code"]);
  expect(doc.code_challenge_methods_supported).toEqual(["S256"]);
  expect(doc.client_id_metadata_document_supported).toBe(true);
  expect(doc.authorization_response_iss_parameter_supported).toBe(true);
  expect(doc.token_endpoint_auth_methods_supported).toContain("none");
  expect(doc.grant_types_supported).toContain("authorization_code");
  expect(doc.grant_types_supported).toContain("refresh_token");
}

/** Every string in a document that looks like a URL. */
function urlsIn(doc: unknown): string[] {
  if (typeof doc === "string") return /^[a-z][a-z0-9+.-]*:\/\//i.test(doc) ? [doc] : [];
  if (Array.isArray(doc)) return doc.flatMap(urlsIn);
  if (doc && typeof doc === "object") return Object.values(doc).flatMap(urlsIn);
  return [];
}

const getJson = async (url: string, headers: Record<string, string> = {}) => {
  const res = await rawRequest(url, { headers });
  expect(res.status, res.body).toBe(200);
  expect(res.headers["content-type"]).toMatch(/^application\/json/);
  return res.json<Doc>();
};

describe("metadata on the server's own address", () => {
  let h: HttpHarness;
  let base: string;
  let clientId: string;
  const redirect = "https://app.example.test/cb";

  beforeAll(async () => {
    h = await startHttpHarness({ port: await freePort(), publicUrl: true });
    base = h.url;
    const reg = await registerClient(base, [redirect]);
    expect(reg.status, reg.body).toBe(201);
    clientId = reg.json().client_id;
  });
  afterAll(async () => {
    await h?.close();
  });

  it("serves RFC 9728 protected resource metadata at /.well-known/oauth-protected-resource/mcp and the path-less form", async () => {
    const suffixed = await getJson(`${base}/.well-known/oauth-protected-resource/mcp`);
    expectResourceMetadata(suffixed, base);
    const pathless = await getJson(`${base}/.well-known/oauth-protected-resource`);
    expectResourceMetadata(pathless, base);
  });

  it("serves RFC 8414 authorization server metadata whose issuer is the base exactly", async () => {
    const doc = await getJson(`${base}/.well-known/oauth-authorization-server`);
    expectServerMetadata(doc, base);
    expect(String(doc.issuer).endsWith("/")).toBe(false);
  });

  it("answers a 401 from /mcp without credentials with the resource_metadata challenge, and invalid_token for a bad token", async () => {
    const challenge = `Bearer resource_metadata="${base}/.well-known/oauth-protected-resource/mcp"`;
    const body = JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list" });
    const headers = { "content-type": "application/json", accept: "application/json, text/event-stream" };
    const none = await rawRequest(`${base}/mcp`, { method: "POST", headers, body });
    expect(none.status).toBe(401);
    expect(none.headers["www-authenticate"]).toContain(challenge);
    expect(none.headers["www-authenticate"]).not.toContain("error=");
    const bad = await rawRequest(`${base}/mcp`, {
      method: "POST",
      headers: { ...headers, authorization: "Bearer not-a-token-this-server-issued-0123456789" },
      body,
    });
    expect(bad.status).toBe(401);
    expect(bad.headers["www-authenticate"]).toContain(challenge);
    expect(bad.headers["www-authenticate"]).toContain('error="invalid_token"');
  });

  it("answers a 401 from /api/v1/connectors without credentials with the same challenge, and invalid_token for a bad token", async () => {
    const challenge = `Bearer resource_metadata="${base}/.well-known/oauth-protected-resource/mcp"`;
    const none = await rawRequest(`${base}/api/v1/connectors`);
    expect(none.status).toBe(401);
    expect(none.headers["www-authenticate"]).toContain(challenge);
    const badKey = await rawRequest(`${base}/api/v1/connectors`, { headers: { authorization: "Bearer tnx_not_a_key_of_this_server" } });
    expect(badKey.status).toBe(401);
    expect(badKey.headers["www-authenticate"]).toContain(challenge);
    expect(badKey.headers["www-authenticate"]).toContain('error="invalid_token"');
    const badToken = await rawRequest(`${base}/api/v1/connectors`, {
      headers: { authorization: "Bearer not-a-token-this-server-issued-0123456789" },
    });
    expect(badToken.status).toBe(401);
    expect(badToken.headers["www-authenticate"]).toContain('error="invalid_token"');
  });

  it("goes on to the consent page for a well-formed request (the baseline the refusals below differ from)", async () => {
    const res = await rawRequest(authorizeUrl(base, { client_id: clientId, redirect_uri: redirect }));
    expect(reachedConsent(res, base), `${res.status} ${res.headers.location}`).toBe(true);
  });

  it("refuses an authorization request without code_challenge: the library's invalid_request, not a consent page", async () => {
    const res = await rawRequest(
      authorizeUrl(base, { client_id: clientId, redirect_uri: redirect, code_challenge: undefined, code_challenge_method: undefined }),
    );
    expect(reachedConsent(res, base)).toBe(false);
    const back = new URL(String(res.headers.location));
    expect(back.href.startsWith(redirect)).toBe(true);
    expect(back.searchParams.get("error")).toBe("invalid_request");
    expect(back.searchParams.get("error_description")).toMatch(/PKCE/);
    expect(back.searchParams.get("iss")).toBe(base);
  });

  it("refuses code_challenge_method plain", async () => {
    const res = await rawRequest(
      authorizeUrl(base, { client_id: clientId, redirect_uri: redirect, code_challenge: "a".repeat(43), code_challenge_method: "plain" }),
    );
    expect(reachedConsent(res, base)).toBe(false);
    const back = new URL(String(res.headers.location));
    expect(back.href.startsWith(redirect)).toBe(true);
    expect(back.searchParams.get("error")).toBe("invalid_request");
    expect(back.searchParams.get("error_description")).toMatch(/code_challenge_method/);
  });

  it("refuses a resource other than {base}/mcp with invalid_target", async () => {
    for (const resource of [`${base}/api/v1`, "https://other.example.test/mcp", `${base}/mcp/`]) {
      const res = await rawRequest(authorizeUrl(base, { client_id: clientId, redirect_uri: redirect, resource }));
      expect(reachedConsent(res, base), resource).toBe(false);
      const back = new URL(String(res.headers.location));
      expect(back.href.startsWith(redirect)).toBe(true);
      expect(back.searchParams.get("error"), resource).toBe("invalid_target");
    }
  });
});

describe("metadata behind TENEX_PUBLIC_URL", () => {
  const PUBLIC = "https://mcp.example.test";
  let h: HttpHarness;

  beforeAll(async () => {
    // The server still listens on loopback; every URL it publishes uses the public base.
    h = await startHttpHarness({ port: await freePort(), env: { TENEX_PUBLIC_URL: PUBLIC } });
  });
  afterAll(async () => {
    await h?.close();
  });

  it("builds every URL in both documents on TENEX_PUBLIC_URL", async () => {
    const host = { host: "mcp.example.test" };
    const resource = await getJson(`${h.url}/.well-known/oauth-protected-resource/mcp`, host);
    expectResourceMetadata(resource, PUBLIC);
    const server = await getJson(`${h.url}/.well-known/oauth-authorization-server`, host);
    expectServerMetadata(server, PUBLIC);
    const urls = [...urlsIn(resource), ...urlsIn(server)];
    expect(urls.length).toBeGreaterThan(5);
    for (const u of urls) expect(u === PUBLIC || u.startsWith(`${PUBLIC}/`), u).toBe(true);
    // Asked on the loopback address, the documents are the same: the base is configuration, not the Host header.
    expect(await getJson(`${h.url}/.well-known/oauth-authorization-server`)).toEqual(server);
  });

  it("names the public base in the 401 challenge of /mcp and /api/v1", async () => {
    const challenge = `Bearer resource_metadata="${PUBLIC}/.well-known/oauth-protected-resource/mcp"`;
    const mcp = await rawRequest(`${h.url}/mcp`, {
      method: "POST",
      headers: { host: "mcp.example.test", "content-type": "application/json", accept: "application/json, text/event-stream" },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list" }),
    });
    expect(mcp.status).toBe(401);
    expect(mcp.headers["www-authenticate"]).toContain(challenge);
    const api = await rawRequest(`${h.url}/api/v1/connectors`, { headers: { host: "mcp.example.test" } });
    expect(api.status).toBe(401);
    expect(api.headers["www-authenticate"]).toContain(challenge);
  });
});
