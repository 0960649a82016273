import http from "node:http";
import type { AddressInfo } from "node:net";
import { callbackPage } from "./page.js";
import { completeCallback } from "../../grants/callback.js";
import { renderPage } from "./html.js";
import type { GrantDeps } from "../../grants/deps.js";

export const CALLBACK_PATH = "/oauth/callback";
const MARKER_HEADER = "x-tenex-connectors";

const PAGE_HEADERS = {
  "content-type": "text/html; charset=utf-8",
  "cache-control": "no-store",
  "referrer-policy": "no-referrer",
  "x-content-type-options": "nosniff",
  "x-frame-options": "DENY",
  "content-security-policy": "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  [MARKER_HEADER]: "1",
};

/** Serve one callback request (shared by the stdio listener and HTTP mode). */
export async function serveCallback(ctx: GrantDeps, req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  const url = new URL(req.url ?? "/", "http://callback.invalid");
  if (req.method === "HEAD") {
    // A link preview or a prefetch must not use up the single-use state: only GET finishes a grant.
    res.writeHead(200, PAGE_HEADERS).end();
    return;
  }
  if (req.method !== "GET") {
    res.writeHead(405, { ...PAGE_HEADERS, allow: "GET, HEAD" }).end();
    return;
  }
  try {
    const { status, html } = callbackPage(await completeCallback(ctx, url.searchParams));
    res.writeHead(status, PAGE_HEADERS).end(html);
  } catch (err) {
    ctx.log.error("callback failed", { error: err });
    const html = renderPage({
      tone: "error",
      title: "Connection failed",
      heading: "Something went wrong",
      paragraphs: ["The connection could not be finished because of an error on this server. You can close this tab and ask your assistant to try again."],
    });
    res.writeHead(500, PAGE_HEADERS).end(html);
  }
}

function notFound(res: http.ServerResponse): void {
  res.writeHead(404, PAGE_HEADERS).end(renderPage({ tone: "error", title: "Not found", heading: "Not found", paragraphs: ["This address serves only OAuth callbacks."] }));
}

export interface CallbackListener {
  /** The bound port, or null while another process holds it. */
  port(): number | null;
  close(): Promise<void>;
}

/**
 * Listen for OAuth callbacks on host:port (stdio mode). When the port is taken, the server
 * keeps serving tools and retries, so it takes the port over when its owner exits; grants
 * it starts meanwhile are finished by the owner, which shares the database.
 */
export function startCallbackListener(ctx: GrantDeps, opts: { host: string; port: number; retryMs?: number }): Promise<CallbackListener> {
  const retryMs = opts.retryMs ?? 2000;
  let bound: number | null = null;
  let closed = false;
  let timer: NodeJS.Timeout | undefined;
  let reportedBusy = false;
  const server = http.createServer((req, res) => {
    const path = new URL(req.url ?? "/", "http://callback.invalid").pathname;
    if (path === CALLBACK_PATH) void serveCallback(ctx, req, res);
    else notFound(res);
  });
  server.requestTimeout = 30_000;
  server.headersTimeout = 10_000;

  const describeHolder = async (): Promise<string> => {
    try {
      const r = await fetch(`http://${opts.host.includes(":") ? `[${opts.host}]` : opts.host}:${opts.port}${CALLBACK_PATH}`, { signal: AbortSignal.timeout(1000) });
      await r.body?.cancel();
      return r.headers.get(MARKER_HEADER) ? "another tenex-connectors process" : "another program";
    } catch {
      return "another program";
    }
  };

  return new Promise((resolve, reject) => {
    let first = true;
    const attempt = () => {
      if (closed) return;
      server.once("error", onError);
      server.listen(opts.port, opts.host, () => {
        server.off("error", onError);
        bound = (server.address() as AddressInfo).port;
        ctx.log.info("oauth callback listener ready", { url: `http://${opts.host}:${bound}${CALLBACK_PATH}`, took_over: !first });
        if (first) {
          first = false;
          resolve(listener);
        }
      });
    };
    const onError = (err: NodeJS.ErrnoException) => {
      if (err.code !== "EADDRINUSE") {
        if (first) reject(new Error(`cannot listen for OAuth callbacks on ${opts.host}:${opts.port}: ${err.code ?? err.message}`));
        else ctx.log.error("oauth callback listener failed", { error: err });
        return;
      }
      void (async () => {
        if (!reportedBusy) {
          reportedBusy = true;
          const holder = await describeHolder();
          if (holder === "another tenex-connectors process") {
            ctx.log.info(`callback port ${opts.port} is held by another tenex-connectors process; it will finish grants started here (shared database). This process takes the port over when that one exits.`);
          } else {
            ctx.log.error(
              `callback port ${opts.host}:${opts.port} is used by another program, so OAuth grants cannot finish here. Set TENEX_CALLBACK_PORT to a free port (and register that redirect URI with your OAuth apps), or stop the other program. Retrying every ${retryMs / 1000}s.`,
            );
          }
        }
        if (first) {
          first = false;
          resolve(listener);
        }
        if (!closed) {
          timer = setTimeout(attempt, retryMs);
          timer.unref();
        }
      })();
    };
    const listener: CallbackListener = {
      port: () => bound,
      close: () =>
        new Promise<void>((done) => {
          closed = true;
          if (timer) clearTimeout(timer);
          if (bound === null) return done();
          server.close(() => done());
          server.closeAllConnections();
        }),
    };
    attempt();
  });
}
