// Client ID Metadata Document fetcher: the address allow list, the client_id syntax, and the fetch
// against real local servers (plain http on 127.0.0.1, and an https server for a test host name that
// a test lookup maps to 127.0.0.1).
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import http from "node:http";
import https from "node:https";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  CimdError,
  type CimdLookup,
  type CimdOptions,
  cacheMaxAge,
  fetchClientMetadata,
  isAllowedAddress,
  isClientIdUrl,
} from "../../src/transports/http/authorization/cimd.js";

// ---------------------------------------------------------------------------------------------
// Local servers

interface TestServer {
  origin: string;
  port: number;
  /** Paths requested, in order. */
  paths: string[];
  /** Request headers of every request, in order. */
  headers: http.IncomingHttpHeaders[];
  /** TCP connections accepted. */
  connections: number;
  close(): Promise<void>;
}

type Handler = (req: http.IncomingMessage, res: http.ServerResponse) => void;

const servers: TestServer[] = [];

async function listen(server: http.Server | https.Server, scheme: "http" | "https", host = "127.0.0.1"): Promise<TestServer> {
  const t: TestServer = {
    origin: "",
    port: 0,
    paths: [],
    headers: [],
    connections: 0,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  server.on("connection", () => {
    t.connections++;
  });
  server.prependListener("request", (req: http.IncomingMessage) => {
    t.paths.push(req.url ?? "");
    t.headers.push(req.headers);
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, host, () => resolve());
  });
  t.port = (server.address() as AddressInfo).port;
  t.origin = `${scheme}://${host.includes(":") ? `[${host}]` : host}:${t.port}`;
  servers.push(t);
  return t;
}

const serveHttp = (handler: Handler, host?: string) => listen(http.createServer(handler), "http", host);

/** A certificate for cimd.test, self-signed (so it is its own CA), made with openssl. */
function makeCertificate(): { key: string; cert: string } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tenex-cimd-"));
  try {
    execFileSync(
      "openssl",
      [
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
        "-keyout",
        path.join(dir, "key.pem"),
        "-out",
        path.join(dir, "cert.pem"),
        "-days",
        "2",
        "-subj",
        "/CN=cimd.test",
        "-addext",
        "subjectAltName=DNS:cimd.test",
      ],
      { stdio: "pipe" },
    );
    return { key: fs.readFileSync(path.join(dir, "key.pem"), "utf8"), cert: fs.readFileSync(path.join(dir, "cert.pem"), "utf8") };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

let tls: { key: string; cert: string };
beforeAll(() => {
  tls = makeCertificate();
});

afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

/** A lookup that answers `addresses` for every name and records the names asked. */
function fakeLookup(...addresses: string[]): CimdLookup & { asked: string[] } {
  const asked: string[] = [];
  const fn = async (hostname: string) => {
    asked.push(hostname);
    return addresses.map((address) => ({ address, family: address.includes(":") ? 6 : 4 }));
  };
  return Object.assign(fn, { asked });
}

/** A lookup that must not be called: IP literals and refused URLs never reach DNS. */
const noLookup = (): CimdLookup & { asked: string[] } => fakeLookup();

const json = (res: http.ServerResponse, body: unknown, headers: http.OutgoingHttpHeaders = {}) => {
  res.writeHead(200, { "content-type": "application/json", ...headers }).end(JSON.stringify(body));
};

/** The rejection of `p`, which must be a CimdError. */
async function refusal(p: Promise<unknown>): Promise<CimdError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(CimdError);
  return err as CimdError;
}

/** A document server for `doc(clientId)` at /client.json on loopback http. */
async function documentServer(doc: (clientId: string) => unknown, headers: http.OutgoingHttpHeaders = {}) {
  let clientId = "";
  const s = await serveHttp((_req, res) => json(res, doc(clientId), headers));
  clientId = `${s.origin}/client.json`;
  return { server: s, clientId };
}

const loopback: CimdOptions = { allowLoopback: true };

// ---------------------------------------------------------------------------------------------

describe("isAllowedAddress (the connect-time allow list)", () => {
  it.each([
    "8.8.8.8",
    "93.184.216.34",
    "1.1.1.1",
    "172.15.255.255",
    "172.32.0.0",
    "100.63.255.255",
    "100.128.0.0",
    "223.255.255.255",
    "2606:4700:4700::1111",
    "2001:4860:4860::8888",
    "2a00:1450:4001:82a::200e",
    "::ffff:8.8.8.8",
    "64:ff9b::808:808",
  ])("allows public unicast %s", (ip) => {
    expect(isAllowedAddress(ip, { allowLoopback: false })).toBe(true);
  });

  it.each([
    ["0.0.0.0", "this network"],
    ["0.1.2.3", "this network"],
    ["10.0.0.1", "private"],
    ["10.255.255.255", "private"],
    ["172.16.0.1", "private"],
    ["172.31.255.255", "private"],
    ["192.168.1.1", "private"],
    ["100.64.0.1", "carrier-grade NAT"],
    ["100.127.255.255", "carrier-grade NAT"],
    ["127.0.0.1", "loopback"],
    ["127.255.255.254", "loopback"],
    ["169.254.169.254", "link-local (cloud metadata)"],
    ["192.0.0.8", "IETF protocol assignments"],
    ["192.0.2.1", "documentation"],
    ["198.18.0.1", "benchmarking"],
    ["198.51.100.1", "documentation"],
    ["203.0.113.1", "documentation"],
    ["224.0.0.1", "multicast"],
    ["239.255.255.250", "multicast"],
    ["240.0.0.1", "reserved"],
    ["255.255.255.255", "broadcast"],
    ["::", "unspecified"],
    ["::1", "IPv6 loopback"],
    ["fc00::1", "unique local"],
    ["fd12:3456:789a::1", "unique local"],
    ["fe80::1", "link-local"],
    ["fe80::1%eth0", "link-local with a zone"],
    ["ff02::1", "multicast"],
    ["::ffff:10.0.0.1", "IPv4-mapped private"],
    ["::ffff:a00:1", "IPv4-mapped private, hex form"],
    ["::ffff:127.0.0.1", "IPv4-mapped loopback"],
    ["::ffff:169.254.169.254", "IPv4-mapped link-local"],
    ["64:ff9b::a00:1", "NAT64 of a private address"],
    ["64:ff9b::7f00:1", "NAT64 of loopback"],
    ["64:ff9b:1::808:808", "local-use NAT64"],
    ["::a00:1", "IPv4-compatible (deprecated)"],
    ["2001:db8::1", "documentation"],
    ["2002:a00:1::1", "6to4"],
    ["2001::1", "Teredo"],
    ["3fff::1", "documentation"],
    ["not-an-ip", "not an address"],
    ["", "empty"],
    ["example.com", "a name"],
    ["1.2.3", "short IPv4"],
    ["[::1]", "bracketed"],
  ])("refuses %s (%s)", (ip) => {
    expect(isAllowedAddress(ip, { allowLoopback: false })).toBe(false);
  });

  it.each(["127.0.0.1", "127.1.2.3", "::1", "::ffff:127.0.0.1"])("allows loopback %s only with allowLoopback", (ip) => {
    expect(isAllowedAddress(ip, { allowLoopback: true })).toBe(true);
    expect(isAllowedAddress(ip, { allowLoopback: false })).toBe(false);
  });

  it.each(["10.0.0.1", "169.254.169.254", "192.168.0.1", "fe80::1", "fc00::1", "64:ff9b::7f00:1", "0.0.0.0", "::"])(
    "still refuses %s with allowLoopback",
    (ip) => {
      expect(isAllowedAddress(ip, { allowLoopback: true })).toBe(false);
    },
  );
});

describe("isClientIdUrl", () => {
  it.each([
    "https://app.example.com/oauth/client-metadata.json",
    "https://app.example.com:8443/client",
    "https://app.example.com/client?v=2",
    "http://127.0.0.1:8080/client",
    "http://localhost/client.json",
    "http://[::1]:9000/c",
    "https://93.184.216.34/client",
  ])("accepts %s", (id) => {
    expect(isClientIdUrl(id)).toBe(true);
  });

  it.each([
    ["http://app.example.com/client", "plain http off loopback"],
    ["ftp://app.example.com/client", "another scheme"],
    ["https://app.example.com", "no path"],
    ["https://app.example.com/", "path /"],
    ["https://app.example.com/client#x", "fragment"],
    ["https://app.example.com/client#", "empty fragment"],
    ["https://user:pw@app.example.com/client", "userinfo"],
    ["https://@app.example.com/client", "empty userinfo"],
    ["https://app.example.com/a/../client", "dot-dot segment"],
    ["https://app.example.com/./client", "dot segment"],
    ["https://app.example.com/a/%2e%2E/client", "encoded dot-dot segment"],
    ["https://APP.example.com/client", "not canonical (host case)"],
    ["https://app.example.com:443/client", "not canonical (default port)"],
    ["https://app.example.com\\client", "backslash"],
    ["not a url", "not a URL"],
    ["", "empty"],
    [`https://app.example.com/${"a".repeat(2100)}`, "too long"],
  ])("refuses %s (%s)", (id) => {
    expect(isClientIdUrl(id)).toBe(false);
  });
});

describe("cacheMaxAge", () => {
  it.each([
    [undefined, 3600],
    ["", 3600],
    ["public", 3600],
    ["max-age=600", 600],
    ["public, max-age=7200", 7200],
    ['max-age="900"', 900],
    ["max-age=10", 300],
    ["max-age=0", 300],
    ["max-age=999999", 86400],
    ["no-store", 300],
    ["no-cache, max-age=7200", 300],
    ["max-age=abc", 3600],
    [["public", "max-age=1200"], 1200],
  ])("%j → %i seconds", (header, expected) => {
    expect(cacheMaxAge(header)).toBe(expected);
  });
});

describe("fetchClientMetadata", () => {
  it("accepts a good document and normalises it (defaults filled, unknown fields dropped)", async () => {
    const { server, clientId } = await documentServer(
      (id) => ({
        client_id: id,
        client_name: "Example Desktop",
        client_uri: "https://example.com",
        logo_uri: "https://example.com/logo.png",
        redirect_uris: ["http://127.0.0.1:51234/callback", "com.example.app:/oauth/cb", "https://example.com/cb"],
        scope: "mcp",
        software_id: "example-desktop",
        software_version: "1.2.3",
        contacts: ["ops@example.com"],
        jwks_uri: "https://example.com/jwks.json",
      }),
      { "cache-control": "public, max-age=600" },
    );
    const got = await fetchClientMetadata(clientId, loopback);
    expect(got).toStrictEqual({
      metadata: {
        client_id: clientId,
        client_name: "Example Desktop",
        client_uri: "https://example.com",
        logo_uri: "https://example.com/logo.png",
        redirect_uris: ["http://127.0.0.1:51234/callback", "com.example.app:/oauth/cb", "https://example.com/cb"],
        grant_types: ["authorization_code"],
        response_types: ["code"],
        token_endpoint_auth_method: "none",
        scope: "mcp",
        software_id: "example-desktop",
        software_version: "1.2.3",
      },
      maxAgeSeconds: 600,
    });
    expect(server.paths).toEqual(["/client.json"]);
    const sent = server.headers[0] ?? {};
    expect(sent.cookie).toBeUndefined();
    expect(sent.authorization).toBeUndefined();
    expect(sent.accept).toBe("application/json");
  });

  it("accepts refresh_token, an application/*+json type and a document without Cache-Control (1 hour)", async () => {
    const s = await serveHttp((req, res) => {
      const clientId = `http://127.0.0.1:${(req.socket.address() as AddressInfo).port}/c`;
      res.writeHead(200, { "content-type": "application/vnd.example+json; charset=utf-8" }).end(
        JSON.stringify({
          client_id: clientId,
          redirect_uris: ["https://chatgpt.com/connector_platform_oauth_redirect"],
          grant_types: ["authorization_code", "refresh_token", "refresh_token"],
          response_types: ["code"],
          token_endpoint_auth_method: "none",
        }),
      );
    });
    const got = await fetchClientMetadata(`${s.origin}/c`, loopback);
    expect(got.metadata.grant_types).toEqual(["authorization_code", "refresh_token"]);
    expect(got.maxAgeSeconds).toBe(3600);
  });

  it("accepts a good document from a host name that resolves to loopback, over https, when allowLoopback", async () => {
    let clientId = "";
    const s = await listen(
      https.createServer(tls, (_req, res) =>
        json(
          res,
          { client_id: clientId, client_name: "TLS client", redirect_uris: ["https://cimd.test/cb"] },
          { "cache-control": "no-store" },
        ),
      ),
      "https",
    );
    clientId = `https://cimd.test:${s.port}/client.json`;
    const lookup = fakeLookup("127.0.0.1");
    const got = await fetchClientMetadata(clientId, { allowLoopback: true, lookup, ca: tls.cert });
    expect(got.metadata.client_name).toBe("TLS client");
    expect(got.maxAgeSeconds).toBe(300);
    expect(lookup.asked).toEqual(["cimd.test"]);
    expect(s.paths).toEqual(["/client.json"]);
  });

  it("refuses at connect time a host name that resolves to loopback when allowLoopback is false: no connection", async () => {
    const s = await listen(
      https.createServer(tls, (_req, res) => json(res, {})),
      "https",
    );
    const lookup = fakeLookup("127.0.0.1");
    const err = await refusal(
      fetchClientMetadata(`https://cimd.test:${s.port}/client.json`, { allowLoopback: false, lookup, ca: tls.cert }),
    );
    expect(err.code).toBe("address_not_allowed");
    expect(lookup.asked).toEqual(["cimd.test"]);
    expect(s.connections).toBe(0);
  });

  it.each([
    [["10.1.2.3"], "private"],
    [["169.254.169.254"], "link-local"],
    [["fd00::1"], "unique local IPv6"],
    [["::ffff:192.168.0.1"], "IPv4-mapped private"],
    [["8.8.8.8", "192.168.1.1"], "one public and one private address"],
  ])("refuses a host name resolving to %j (%s)", async (addresses) => {
    const lookup = fakeLookup(...addresses);
    const err = await refusal(fetchClientMetadata("https://internal.example/client.json", { allowLoopback: true, lookup }));
    expect(err.code).toBe("address_not_allowed");
    expect(lookup.asked).toEqual(["internal.example"]);
  });

  it.each([
    "https://10.0.0.1/x",
    "https://169.254.169.254/latest/meta-data",
    "https://[::1]/x",
    "https://[::ffff:10.0.0.1]/x",
    "https://[fe80::1]/x",
    "https://192.168.0.10/client",
    "https://100.64.0.1/client",
    "https://0.0.0.0/client",
    "https://localhost/client",
  ])("refuses the address literal or loopback name in %s without DNS or a connection", async (id) => {
    const lookup = noLookup();
    const err = await refusal(fetchClientMetadata(id, { allowLoopback: false, lookup, timeoutMs: 60_000 }));
    expect(err.code).toBe("address_not_allowed");
    expect(lookup.asked).toEqual([]);
  });

  it("refuses loopback literals of a live server when allowLoopback is false, and that server sees no connection", async () => {
    const s = await serveHttp((_req, res) => json(res, {}));
    const v6 = await serveHttp((_req, res) => json(res, {}), "::1").catch(() => undefined);
    const ids = [
      `http://127.0.0.1:${s.port}/client`,
      `https://127.0.0.1:${s.port}/client`,
      `https://[::ffff:127.0.0.1]:${s.port}/client`,
      ...(v6 ? [`http://[::1]:${v6.port}/client`, `https://[::1]:${v6.port}/client`] : []),
    ];
    for (const id of ids) {
      const err = await refusal(fetchClientMetadata(id, { allowLoopback: false }));
      expect(err.code, id).toBe("address_not_allowed");
    }
    expect(s.connections).toBe(0);
    expect(v6?.connections ?? 0).toBe(0);
  });

  it("refuses plain http off loopback without DNS", async () => {
    const lookup = noLookup();
    const err = await refusal(fetchClientMetadata("http://app.example.com/client.json", { allowLoopback: true, lookup }));
    expect(err.code).toBe("invalid_client_id");
    expect(err.message).toMatch(/https/);
    expect(lookup.asked).toEqual([]);
  });

  it.each([
    "https://app.example.com/client#frag",
    "https://u:p@app.example.com/client",
    "https://app.example.com/",
    "https://app.example.com/a/../client",
  ])("refuses the malformed client_id %s without DNS", async (id) => {
    const lookup = noLookup();
    const err = await refusal(fetchClientMetadata(id, { allowLoopback: true, lookup }));
    expect(err.code).toBe("invalid_client_id");
    expect(lookup.asked).toEqual([]);
  });

  it("refuses a document whose client_id differs from its URL", async () => {
    const { clientId } = await documentServer(() => ({
      client_id: "https://other.example/client.json",
      redirect_uris: ["https://example.com/cb"],
    }));
    const err = await refusal(fetchClientMetadata(clientId, loopback));
    expect(err.code).toBe("invalid_client_metadata");
    expect(err.message).toMatch(/client_id/);
    expect(err.message).not.toContain("other.example");
  });

  it.each([
    ["javascript:alert(1)", "a script URL"],
    ["data:text/html,hi", "a data URL"],
    ["file:///etc/passwd", "a file URL"],
    ["myapp:/cb", "a custom scheme without a domain"],
    ["http://evil.example/cb", "plain http off loopback"],
    ["https://example.com/cb#frag", "a fragment"],
    ["/relative/cb", "not absolute"],
    ["https://user:pw@example.com/cb", "userinfo"],
  ])("refuses the redirect URI %s (%s)", async (uri) => {
    const { clientId } = await documentServer((id) => ({ client_id: id, redirect_uris: ["https://example.com/ok", uri] }));
    const err = await refusal(fetchClientMetadata(clientId, loopback));
    expect(err.code).toBe("invalid_redirect_uri");
    expect(err.message).toContain("redirect_uris[1]");
    expect(err.message).not.toContain(uri);
  });

  it.each([
    [{ redirect_uris: [] }, "invalid_redirect_uri"],
    [{ redirect_uris: "https://example.com/cb" }, "invalid_redirect_uri"],
    [{}, "invalid_redirect_uri"],
  ])("refuses missing or empty redirect_uris %j", async (fields, code) => {
    const { clientId } = await documentServer((id) => ({ client_id: id, ...fields }));
    expect((await refusal(fetchClientMetadata(clientId, loopback))).code).toBe(code);
  });

  it.each([
    [{ token_endpoint_auth_method: "client_secret_post" }, /token_endpoint_auth_method/],
    [{ token_endpoint_auth_method: "private_key_jwt" }, /token_endpoint_auth_method/],
    [{ client_secret: "s3cret-value" }, /client_secret/],
    [{ client_secret_expires_at: 0 }, /client_secret_expires_at/],
    [{ grant_types: ["client_credentials"] }, /grant_types/],
    [{ grant_types: ["authorization_code", "implicit"] }, /grant_types/],
    [{ grant_types: ["refresh_token"] }, /authorization_code/],
    [{ response_types: ["token"] }, /response_types/],
    [{ response_types: [] }, /response_types/],
    [{ client_name: "x".repeat(201) }, /client_name/],
    [{ client_name: "Good\u202eevil" }, /client_name/],
    [{ client_uri: "javascript:alert(1)" }, /client_uri/],
    [{ logo_uri: "http://example.com/logo.png" }, /logo_uri/],
    [{ scope: 'mcp "quoted"' }, /scope/],
    [{ client_id: 42 }, /client_id/],
  ])("refuses the document with %j", async (fields, mentions) => {
    const { clientId } = await documentServer((id) => ({ client_id: id, redirect_uris: ["https://example.com/cb"], ...fields }));
    const err = await refusal(fetchClientMetadata(clientId, loopback));
    expect(err.code).toBe("invalid_client_metadata");
    expect(err.message).toMatch(mentions);
    expect(err.message).not.toContain("s3cret-value");
    expect(err.message).not.toContain("xxxxxxxxxx");
  });

  it.each([
    ["[1, 2]", "an array"],
    ["null", "null"],
    ['{"client_id": ', "truncated JSON"],
    ["", "empty"],
  ])("refuses a body that is not a JSON object: %s (%s)", async (body) => {
    const s = await serveHttp((_req, res) => res.writeHead(200, { "content-type": "application/json" }).end(body));
    const err = await refusal(fetchClientMetadata(`${s.origin}/c`, loopback));
    expect(err.code).toBe("invalid_client_metadata");
  });

  it("refuses a document larger than maxBytes by its content-length, without waiting for the body", async () => {
    let closed!: () => void;
    const connectionClosed = new Promise<void>((resolve) => {
      closed = resolve;
    });
    const s = await serveHttp((req, res) => {
      req.socket.on("close", closed);
      // Declares a megabyte, sends one kilobyte, then waits forever: only the declaration can end this fetch.
      res.writeHead(200, { "content-type": "application/json", "content-length": String(1024 * 1024) });
      res.write(`{"client_id": "${"a".repeat(1000)}`);
    });
    const err = await refusal(fetchClientMetadata(`${s.origin}/c`, { allowLoopback: true, timeoutMs: 60_000 }));
    expect(err.code).toBe("too_large");
    await connectionClosed;
  });

  it("refuses a chunked document that grows past maxBytes, and stops reading it", async () => {
    let done!: (finished: boolean) => void;
    const serverResult = new Promise<boolean>((resolve) => {
      done = resolve;
    });
    const s = await serveHttp(async (_req, res) => {
      res.writeHead(200, { "content-type": "application/json" }); // no content-length: chunked
      res.on("close", () => done(false));
      const chunk = `${" ".repeat(4095)}\n`;
      // 256 MiB: far more than socket buffers hold, so finishing would mean the client read it all.
      for (let sent = 0; sent < 256 * 1024 * 1024; sent += chunk.length) {
        if (res.destroyed) return;
        if (!res.write(chunk)) await new Promise((resolve) => res.once("drain", resolve).once("close", resolve));
      }
      res.end();
      done(true);
    });
    const err = await refusal(fetchClientMetadata(`${s.origin}/c`, { allowLoopback: true, maxBytes: 8 * 1024, timeoutMs: 60_000 }));
    expect(err.code).toBe("too_large");
    expect(err.message).toContain("8192 bytes");
    expect(await serverResult).toBe(false);
  });

  it("times out on a server that never answers", async () => {
    let received!: () => void;
    const requestReceived = new Promise<void>((resolve) => {
      received = resolve;
    });
    const s = await serveHttp(() => received());
    const err = await refusal(fetchClientMetadata(`${s.origin}/c`, { allowLoopback: true, timeoutMs: 300 }));
    await requestReceived;
    expect(err.code).toBe("timeout");
    expect(s.paths).toEqual(["/c"]);
  });

  it("times out on a server that sends headers and then stalls the body", async () => {
    let received!: () => void;
    const headersSent = new Promise<void>((resolve) => {
      received = resolve;
    });
    const s = await serveHttp((_req, res) => {
      res.writeHead(200, { "content-type": "application/json" });
      res.write("{");
      received();
    });
    const err = await refusal(fetchClientMetadata(`${s.origin}/c`, { allowLoopback: true, timeoutMs: 300 }));
    await headersSent;
    expect(err.code).toBe("timeout");
  });

  it.each([301, 302, 303, 307, 308])("refuses a %i redirect and does not follow it", async (status) => {
    const s = await serveHttp((req, res) => {
      if (req.url === "/c") return void res.writeHead(status, { location: "/elsewhere" }).end();
      json(res, { client_id: "x", redirect_uris: ["https://example.com/cb"] });
    });
    const err = await refusal(fetchClientMetadata(`${s.origin}/c`, loopback));
    expect(err.code).toBe("redirect_refused");
    expect(s.paths).toEqual(["/c"]);
  });

  it.each([404, 500, 204])("refuses status %i", async (status) => {
    const s = await serveHttp((_req, res) => res.writeHead(status, { "content-type": "application/json" }).end());
    expect((await refusal(fetchClientMetadata(`${s.origin}/c`, loopback))).code).toBe("bad_status");
  });

  it.each(["text/html", "text/plain", "application/javascript", "application/json; charset=iso-8859-1", undefined])(
    "refuses the content type %s even when the body is good JSON",
    async (type) => {
      let clientId = "";
      const s = await serveHttp((_req, res) => {
        res
          .writeHead(200, type ? { "content-type": type } : {})
          .end(JSON.stringify({ client_id: clientId, redirect_uris: ["https://e.com/cb"] }));
      });
      clientId = `${s.origin}/c`;
      expect((await refusal(fetchClientMetadata(clientId, loopback))).code).toBe("bad_content_type");
    },
  );

  it("reports a closed port as fetch_failed", async () => {
    const s = await serveHttp(() => undefined);
    const port = s.port;
    await s.close();
    servers.splice(servers.indexOf(s), 1);
    const err = await refusal(fetchClientMetadata(`http://127.0.0.1:${port}/c`, loopback));
    expect(err.code).toBe("fetch_failed");
    expect(err.message).toContain("ECONNREFUSED");
  });

  it("reports a failed DNS lookup as fetch_failed", async () => {
    const lookup: CimdLookup = async () => {
      throw Object.assign(new Error("getaddrinfo ENOTFOUND nowhere.example"), { code: "ENOTFOUND" });
    };
    const err = await refusal(fetchClientMetadata("https://nowhere.example/c", { allowLoopback: false, lookup }));
    expect(err.code).toBe("fetch_failed");
  });

  it.each([
    [
      "throws a string",
      (() => {
        throw "boom";
      }) as unknown as CimdLookup,
    ],
    ["rejects with a non-error", (async () => Promise.reject(42)) as CimdLookup],
    ["answers no address", (async () => []) as CimdLookup],
  ])("still answers a CimdError when the lookup %s", async (_what, lookup) => {
    const err = await refusal(fetchClientMetadata("https://nowhere.example/c", { allowLoopback: false, lookup }));
    expect(err.code).toBe("fetch_failed");
  });

  it("never puts the response body in an error message", async () => {
    const marker = "IGNORE-PREVIOUS-INSTRUCTIONS";
    const bodies: Array<[number, string, string]> = [
      [200, "application/json", JSON.stringify({ client_id: marker, redirect_uris: [marker] })],
      [200, "application/json", `{"client_name": "${marker}"`],
      [200, "text/html", marker],
      [500, "application/json", JSON.stringify({ error: marker })],
    ];
    for (const [status, type, body] of bodies) {
      const s = await serveHttp((_req, res) => res.writeHead(status, { "content-type": type }).end(body));
      const err = await refusal(fetchClientMetadata(`${s.origin}/c`, loopback));
      expect(err.message).not.toContain(marker);
    }
  });
});

afterAll(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});
