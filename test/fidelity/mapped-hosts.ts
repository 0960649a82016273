// Real provider host names (login.salesforce.com, login.microsoftonline.com, …) served by local stand-ins, for
// the server's injected fetch only: a test CA and a server certificate made with openssl, one local TLS front
// that routes by host and path to the stand-ins, and an undici dispatcher that connects those names to it.
// Any other host is refused by the dispatcher, so a real provider is never reached.
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import http from "node:http";
import https from "node:https";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { Agent, buildConnector, fetch as undiciFetch } from "undici";

/** Where a request to a mapped host goes: a local http origin and the path there, or a JSON answer. */
export type Route = { to: string; path: string } | { json: unknown; status?: number };
/** Routes one mapped host's requests by path; undefined answers 404. */
export type HostRoutes = (pathname: string, search: string) => Route | undefined;

export interface MappedHosts {
  /** fetch for createApp: mapped hosts reach the TLS front, 127.0.0.1 passes, anything else fails. */
  fetch: typeof fetch;
  /** Every request the front served: host, method and path (no query). */
  seen: Array<{ host: string; method: string; path: string }>;
  /** Host names the dispatcher was asked to connect to and refused. */
  refused: string[];
  close(): Promise<void>;
}

/** A test CA and a certificate for `names`, signed by it. */
function makeCertificates(names: string[]): { ca: string; key: string; cert: string } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tenex-ca-"));
  const f = (n: string) => path.join(dir, n);
  const ossl = (...args: string[]) => execFileSync("openssl", args, { stdio: "pipe" });
  try {
    ossl(
      "req",
      "-x509",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-keyout",
      f("ca.key"),
      "-out",
      f("ca.pem"),
      "-days",
      "2",
      "-subj",
      "/CN=tenex test CA",
    );
    ossl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", f("srv.key"), "-out", f("srv.csr"), "-subj", `/CN=${names[0]}`);
    fs.writeFileSync(f("ext.cnf"), `subjectAltName=${names.map((n) => `DNS:${n}`).join(",")}\nbasicConstraints=CA:FALSE\n`);
    ossl(
      "x509",
      "-req",
      "-in",
      f("srv.csr"),
      "-CA",
      f("ca.pem"),
      "-CAkey",
      f("ca.key"),
      "-CAcreateserial",
      "-out",
      f("srv.pem"),
      "-days",
      "2",
      "-extfile",
      f("ext.cnf"),
    );
    return {
      ca: fs.readFileSync(f("ca.pem"), "utf8"),
      key: fs.readFileSync(f("srv.key"), "utf8"),
      cert: fs.readFileSync(f("srv.pem"), "utf8"),
    };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

function forward(req: http.IncomingMessage, res: http.ServerResponse, to: string, pathAndQuery: string): void {
  const target = new URL(to);
  const up = http.request(
    { host: target.hostname, port: target.port, method: req.method, path: pathAndQuery, headers: { ...req.headers, host: target.host } },
    (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    },
  );
  up.on("error", () => {
    res.writeHead(502).end();
  });
  req.pipe(up);
}

/** Start the TLS front for `hosts` (name → routes) and the dispatcher that sends those names to it. */
export async function startMappedHosts(hosts: Record<string, HostRoutes>): Promise<MappedHosts> {
  const names = Object.keys(hosts);
  const { ca, key, cert } = makeCertificates(names);
  const seen: MappedHosts["seen"] = [];
  const refused: string[] = [];
  const front = https.createServer({ key, cert }, (req, res) => {
    const host = (req.headers.host ?? "").replace(/:\d+$/, "").toLowerCase();
    const u = new URL(req.url ?? "/", "https://front.invalid");
    seen.push({ host, method: req.method ?? "GET", path: u.pathname });
    const route = hosts[host]?.(u.pathname, u.search);
    if (!route) return void res.writeHead(404, { "content-type": "application/json" }).end('{"error":"not_found"}');
    if ("json" in route)
      return void res.writeHead(route.status ?? 200, { "content-type": "application/json" }).end(JSON.stringify(route.json));
    forward(req, res, route.to, route.path + u.search);
  });
  await new Promise<void>((resolve) => front.listen(0, "127.0.0.1", resolve));
  const frontPort = (front.address() as AddressInfo).port;
  const tls = buildConnector({ ca });
  const plain = buildConnector({});
  const agent = new Agent({
    connect: (opts, cb) => {
      const name = opts.hostname.toLowerCase();
      if (names.includes(name) && opts.protocol === "https:") {
        return tls({ ...opts, hostname: "127.0.0.1", port: String(frontPort), servername: name }, cb);
      }
      if (name === "127.0.0.1" && opts.protocol === "http:") return plain(opts, cb);
      refused.push(name);
      return cb(new Error(`test dispatcher: ${opts.protocol}//${name} is not a mapped host`), null);
    },
  });
  const mappedFetch = ((input: string | URL | Request, init?: RequestInit) =>
    undiciFetch(input as Parameters<typeof undiciFetch>[0], {
      ...(init as Parameters<typeof undiciFetch>[1]),
      dispatcher: agent,
    })) as unknown as typeof fetch;
  return {
    fetch: mappedFetch,
    seen,
    refused,
    close: async () => {
      await agent.close();
      front.closeAllConnections();
      await new Promise<void>((resolve) => front.close(() => resolve()));
    },
  };
}
