import http from "node:http";
import type { AddressInfo } from "node:net";
import { ConnectorError } from "../../common/errors.js";
import { completeCallback } from "../../grants/callback.js";
import { isConnectPath } from "../../grants/connect.js";
import type { GrantDeps } from "../../grants/deps.js";
import { loadCallbackSiblingKey } from "../../grants/request-state.js";
import { type CookiePolicy, cookieName, readCookies } from "../http/cookies.js";
import type { ConnectPages } from "./connect-page.js";
import { renderPage } from "./html.js";
import { callbackPage } from "./page.js";
import { answerChallenge, describeHolder, type Holder, hostAllowed, MARKER_HEADER, SIBLING_PATH } from "./sibling.js";

export type { Holder } from "./sibling.js";

export const CALLBACK_PATH = "/oauth/callback";

const PAGE_HEADERS = {
  "content-type": "text/html; charset=utf-8",
  "cache-control": "no-store",
  "referrer-policy": "no-referrer",
  "x-content-type-options": "nosniff",
  "x-frame-options": "DENY",
  "content-security-policy": "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
};

/**
 * Serve one callback request (shared by the stdio listener and HTTP mode). The browser's cookies
 * carry the connect page's binding (`policy` says how they are named).
 */
export async function serveCallback(
  ctx: GrantDeps,
  req: http.IncomingMessage,
  res: http.ServerResponse,
  policy: CookiePolicy = { secure: false },
): Promise<void> {
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
    const cookies = readCookies(req);
    const { status, html } = callbackPage(await completeCallback(ctx, url.searchParams, (base) => cookies.get(cookieName(policy, base))));
    res.writeHead(status, PAGE_HEADERS).end(html);
  } catch (err) {
    ctx.log.error("callback failed", { error: err });
    const html = renderPage({
      tone: "error",
      title: "Connection failed",
      heading: "Something went wrong",
      paragraphs: [
        "The connection could not be finished because of an error on this server. You can close this tab and ask your assistant to try again.",
      ],
    });
    res.writeHead(500, PAGE_HEADERS).end(html);
  }
}

function notFound(res: http.ServerResponse): void {
  res
    .writeHead(404, PAGE_HEADERS)
    .end(
      renderPage({ tone: "error", title: "Not found", heading: "Not found", paragraphs: ["This address serves only OAuth callbacks."] }),
    );
}

export interface CallbackListener {
  /** The bound port, or null while another process holds it. */
  port(): number | null;
  /**
   * Throws invalid_state (retryable) when a grant started now could not finish: the port is
   * held by anything but a tenex-connectors sibling on the same database. Asks the holder anew.
   */
  assertCanFinish(): Promise<void>;
  close(): Promise<void>;
}

function holderText(h: Holder): string {
  if (h.kind === "other_database") return "another tenex-connectors server that uses a different database";
  if (h.kind === "unproven")
    return "a program that claims to be a tenex-connectors server on this database but cannot prove it (it does not hold this database's key)";
  if (h.kind === "other") return h.server ? `another program (it answers HTTP as "${h.server}")` : "another program (a web server)";
  return "another program";
}

/** What to do about a port another program holds: one text for the log and for the tool result. */
export function busyPortAdvice(host: string, port: number, h: Holder): string {
  return (
    `The OAuth callback port ${host}:${port} is held by ${holderText(h)}, so a sign-in link started here could not finish. ` +
    `Either close that program (find it with \`lsof -i :${port}\` or \`ss -ltnp 'sport = :${port}'\`); this server takes the port over within seconds; ` +
    `or start this server with TENEX_CALLBACK_PORT set to a free port and register http://${host}:<that port>${CALLBACK_PATH} as a redirect URI of the provider's OAuth app.`
  );
}

/** Say once, in the log, why grants cannot finish in this process while the port is taken. */
async function reportBusyPort(ctx: GrantDeps, opts: ListenerOptions): Promise<void> {
  const holder = await describeHolder(opts.host, opts.port, opts.key, opts.tag);
  if (holder.kind === "sibling") {
    ctx.log.info(
      `callback port ${opts.port} is held by another tenex-connectors process; it will finish grants started here (shared database). This process takes the port over when that one exits.`,
    );
  } else {
    ctx.log.error(`${busyPortAdvice(opts.host, opts.port, holder)} Retrying every ${opts.retryMs / 1000}s.`);
  }
}

interface ListenerOptions {
  host: string;
  port: number;
  retryMs: number;
  /** The database's tag (a hint for the log) and its sibling key (the proof). */
  tag: string;
  key: Buffer;
}

/**
 * The stdio-mode listener: binds host:port, and while the port is taken keeps retrying (so it
 * takes the port over when its owner exits). `ready` settles after the first attempt, bound or not.
 */
class RetryingListener implements CallbackListener {
  private bound: number | null = null;
  private closed = false;
  private timer: NodeJS.Timeout | undefined;
  private reportedBusy = false;
  private first = true;
  private readonly server: http.Server;
  /**
   * The connect page, for loopback peers only (stdio mode has no sign-in: the link and this computer
   * are the check). Its module is imported at the first request for it, not at start (issue 14, cold start).
   */
  private connect: Promise<ConnectPages> | undefined;
  /** Requests being answered: close() lets them finish (the callback that settles the last grant ends the process). */
  private inFlight = 0;
  private drained: (() => void) | undefined;
  readonly ready: Promise<CallbackListener>;
  private settle!: { resolve: (l: CallbackListener) => void; reject: (err: Error) => void };

  constructor(
    private readonly ctx: GrantDeps,
    private readonly opts: ListenerOptions,
  ) {
    this.server = http.createServer((req, res) => {
      this.inFlight++;
      res.once("close", () => {
        this.inFlight--;
        if (this.inFlight === 0) this.drained?.();
      });
      // A page for another host name (DNS rebinding, a proxy) is not served: loopback names only.
      if (!hostAllowed(req.headers.host, opts.host)) {
        res.writeHead(421, { "content-type": "text/plain; charset=utf-8", "cache-control": "no-store" }).end("Misdirected request\n");
        return;
      }
      res.setHeader(MARKER_HEADER, opts.tag);
      const path = new URL(req.url ?? "/", "http://callback.invalid").pathname;
      if (path === CALLBACK_PATH) void serveCallback(ctx, req, res);
      else if (isConnectPath(path))
        void this.connectPages()
          .then((pages) => pages.serve(req, res, path))
          .catch((err: unknown) => this.failed(res, err));
      else if (path === SIBLING_PATH && this.bound !== null) answerChallenge(req, res, opts.key, this.bound);
      else notFound(res);
    });
    this.server.requestTimeout = 30_000;
    this.server.headersTimeout = 10_000;
    this.ready = new Promise((resolve, reject) => (this.settle = { resolve, reject }));
    this.attempt();
  }

  port(): number | null {
    return this.bound;
  }

  private connectPages(): Promise<ConnectPages> {
    this.connect ??= import("./connect-page.js").then(({ ConnectPages, loopbackOnly }) => new ConnectPages(this.ctx, loopbackOnly));
    return this.connect;
  }

  private failed(res: http.ServerResponse, err: unknown): void {
    this.ctx.log.error("connect page failed", { error: err });
    if (!res.headersSent) res.writeHead(500, PAGE_HEADERS);
    res.end();
  }

  async assertCanFinish(): Promise<void> {
    if (this.bound !== null || this.closed) return;
    const holder = await describeHolder(this.opts.host, this.opts.port, this.opts.key, this.opts.tag);
    if (holder.kind === "sibling") return;
    const advice = busyPortAdvice(this.opts.host, this.opts.port, holder);
    throw new ConnectorError("invalid_state", `${advice} Then call start_connector_oauth again; nothing was started.`, { retryable: true });
  }

  /**
   * Stop listening; a request being answered finishes first (up to 5 s): the callback whose grant
   * settles the last pending one wakes the shutdown before its page is written.
   */
  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.bound === null) return;
    const stopped = new Promise<void>((done) => this.server.close(() => done()));
    this.server.closeIdleConnections();
    if (this.inFlight > 0) {
      await new Promise<void>((done) => {
        this.drained = done;
        setTimeout(done, 5_000).unref();
      });
    }
    this.server.closeAllConnections();
    await stopped;
  }

  private readonly onError = (err: NodeJS.ErrnoException): void => {
    if (err.code !== "EADDRINUSE") {
      if (this.first)
        this.settle.reject(
          new Error(`cannot listen for OAuth callbacks on ${this.opts.host}:${this.opts.port}: ${err.code ?? err.message}`),
        );
      else this.ctx.log.error("oauth callback listener failed", { error: err });
      return;
    }
    void this.retryLater();
  };

  private attempt(): void {
    if (this.closed) return;
    this.server.once("error", this.onError);
    this.server.listen(this.opts.port, this.opts.host, () => {
      this.server.off("error", this.onError);
      this.bound = (this.server.address() as AddressInfo).port;
      this.ctx.log.info("oauth callback listener ready", {
        url: `http://${this.opts.host}:${this.bound}${CALLBACK_PATH}`,
        took_over: !this.first,
      });
      this.settleFirst();
    });
  }

  private async retryLater(): Promise<void> {
    if (!this.reportedBusy) {
      this.reportedBusy = true;
      await reportBusyPort(this.ctx, this.opts);
    }
    this.settleFirst();
    if (this.closed) return;
    this.timer = setTimeout(() => this.attempt(), this.opts.retryMs);
    this.timer.unref();
  }

  private settleFirst(): void {
    if (!this.first) return;
    this.first = false;
    this.settle.resolve(this);
  }
}

/**
 * Listen for OAuth callbacks on host:port (stdio mode). When the port is taken, the server
 * keeps serving tools and retries, so it takes the port over when its owner exits; grants
 * it starts meanwhile are finished by the owner, once it proves it shares the database (sibling.ts).
 */
export async function startCallbackListener(
  ctx: GrantDeps,
  opts: { host: string; port: number; retryMs?: number; databaseTag?: string },
): Promise<CallbackListener> {
  const key = await loadCallbackSiblingKey(ctx);
  return new RetryingListener(ctx, { host: opts.host, port: opts.port, retryMs: opts.retryMs ?? 2000, tag: opts.databaseTag ?? "1", key })
    .ready;
}
