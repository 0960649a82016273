// A tiny JSON API server standing in for a provider's REST API.
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export interface FakeRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: IncomingHttpHeaders;
  /** JSON-parsed when the body is JSON, the raw string otherwise, undefined when empty */
  body: unknown;
  /** the bearer token, when an `Authorization: Bearer …` header is present */
  token?: string;
}

export interface FakeResponse {
  status?: number;
  json?: unknown;
  headers?: Record<string, string>;
  /** Sent as it is (with `headers`), instead of `json`: text, bytes. */
  raw?: string | Buffer;
  /** Writes the body itself (after `status` and `headers`), e.g. a large body in chunks with backpressure. */
  stream?: (res: ServerResponse) => Promise<void>;
}

export type FakeRoute = (req: FakeRequest) => FakeResponse | Promise<FakeResponse>;

export interface FakeApiCall {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  status: number;
  /** The query string as it arrived, without `?`. */
  query: string;
  /** The request body as it arrived (a string; empty when none). */
  rawBody: string;
}

export interface FakeApi {
  url: string;
  calls: FakeApiCall[];
  close(): Promise<void>;
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}

export async function startFakeApi(
  routes: Record<string, FakeRoute>,
  opts: { validate?: (token: string) => Promise<boolean> } = {},
): Promise<FakeApi> {
  const calls: FakeApiCall[] = [];

  const server = createServer(async (req, res) => {
    const method = (req.method ?? "GET").toUpperCase();
    const u = new URL(req.url ?? "/", "http://127.0.0.1");
    let rawBody = "";
    const send = (status: number, json: unknown, headers: Record<string, string> = {}) => {
      calls.push({ method, path: u.pathname, headers: req.headers, status, query: u.search.slice(1), rawBody });
      const payload = json === undefined ? "" : JSON.stringify(json);
      res.writeHead(status, {
        ...(json === undefined ? {} : { "content-type": "application/json; charset=utf-8" }),
        ...headers,
      });
      res.end(payload);
    };

    try {
      const raw = await readBody(req);
      rawBody = raw;
      let body: unknown;
      if (raw.length > 0) {
        try {
          body = JSON.parse(raw);
        } catch {
          body = raw;
        }
      }
      const auth = req.headers.authorization;
      const m = auth ? /^Bearer\s+(.+)$/i.exec(auth) : null;
      const token = m?.[1]?.trim();

      if (opts.validate && !(token && (await opts.validate(token)))) {
        send(401, { status: "error", message: "Authentication credentials not found" });
        return;
      }

      const handler = routes[`${method} ${u.pathname}`];
      if (!handler) {
        send(404, { status: "error", message: `No route for ${method} ${u.pathname}` });
        return;
      }
      const out = await handler({ method, path: u.pathname, query: u.searchParams, headers: req.headers, body, token });
      if (out.raw !== undefined || out.stream) {
        calls.push({ method, path: u.pathname, headers: req.headers, status: out.status ?? 200, query: u.search.slice(1), rawBody });
        res.writeHead(out.status ?? 200, out.headers ?? {});
        if (out.stream) await out.stream(res);
        res.end(out.raw);
        return;
      }
      send(out.status ?? 200, out.json, out.headers);
    } catch (err) {
      send(500, { status: "error", message: `fake api handler failed: ${(err as Error).message}` });
    }
  });

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    calls,
    async close() {
      server.closeAllConnections?.();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
