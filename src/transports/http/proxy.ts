/**
 * `ANY /api/v1/connectors/{id}/proxy/{path}`: the raw proxy for flows that want the provider's bytes.
 * The same rules as call_connector (connectors/proxy.ts), but the provider's status, allowed headers and
 * body are streamed back as they come, with backpressure: the server holds at most the redaction window
 * and a chunk or two per response, whatever its size, up to a ceiling on total bytes
 * (TENEX_PROXY_STREAM_MAX_BYTES); past it the response is cut off (the connection is reset, so a
 * client never mistakes a cut body for a whole one).
 */
import type http from "node:http";
import { Transform, type TransformCallback } from "node:stream";
import { pipeline } from "node:stream/promises";
import { PROXY_METHODS, type ProxyMethod } from "../../catalog/proxy-rules.js";
import { isConnectorError } from "../../common/errors.js";
import { MAX_REQUEST_BODY_BYTES, openProxyStream } from "../../connectors/proxy.js";
import type { GrantDeps } from "../../grants/deps.js";
import type { Caller } from "./auth.js";
import { sendError } from "./respond.js";
import { API_BASE } from "./rest.js";

const PREFIX = /^\/connectors\/([^/?#]+)\/proxy(\/[^?#]*)?(\?.*)?$/;

/** True for `/api/v1/connectors/{id}/proxy/…` (the pathname as the URL parser left it). */
export function isProxyPath(pathname: string): boolean {
  return pathname.startsWith(`${API_BASE}/connectors/`) && PREFIX.test(pathname.slice(API_BASE.length));
}

/** The request body as bytes, at most 1 MiB; null (and a 413 sent) when larger. */
async function bodyBytes(req: http.IncomingMessage, res: http.ServerResponse): Promise<Buffer | null> {
  const declared = Number(req.headers["content-length"]);
  if (Number.isFinite(declared) && declared > MAX_REQUEST_BODY_BYTES) {
    sendError(res, "payload_too_large", "The request body is larger than 1 MiB.", { connection: "close" });
    return null;
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_REQUEST_BODY_BYTES) {
      sendError(res, "payload_too_large", "The request body is larger than 1 MiB.", { connection: "close" });
      return null;
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks, size);
}

/** Counts the bytes going out and fails the stream past the ceiling. */
class Ceiling extends Transform {
  private sent = 0;

  constructor(private readonly max: number) {
    super();
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.sent += chunk.length;
    if (this.sent > this.max) done(new Error(`the response passed the proxy's ceiling of ${this.max} bytes`));
    else done(null, chunk);
  }
}

/** Serve one raw proxy request for `caller`'s workspace. */
export async function serveProxy(ctx: GrantDeps, req: http.IncomingMessage, res: http.ServerResponse, caller: Caller): Promise<void> {
  // The raw target, not the parsed pathname: the URL parser resolves `..` and `%2e%2e`, and those must be refused, not resolved.
  const raw = (req.url ?? "").slice(API_BASE.length);
  const m = PREFIX.exec(raw);
  if (!m) return sendError(res, "not_found", "Use /api/v1/connectors/{id}/proxy/{path below the provider's API base}.");
  let connectorId: string;
  try {
    connectorId = decodeURIComponent(m[1]!);
  } catch {
    return sendError(res, "invalid_input", "The connector id is not validly percent-encoded.");
  }
  if (!PROXY_METHODS.includes(req.method as ProxyMethod))
    return sendError(res, "method_not_allowed", `The proxy passes ${PROXY_METHODS.join(", ")}.`, { allow: PROXY_METHODS.join(", ") });
  const body = await bodyBytes(req, res);
  if (!body) return;
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(req.headers)) if (typeof v === "string") headers[k] = v;
  const abort = new AbortController();
  const onClose = () => {
    if (!res.writableFinished) abort.abort();
  };
  res.once("close", onClose);
  let stream: Awaited<ReturnType<typeof openProxyStream>>;
  try {
    stream = await openProxyStream(
      ctx,
      caller.workspace_id,
      connectorId,
      { method: req.method ?? "GET", path: `${m[2] ?? "/"}${m[3] ?? ""}`, headers, body },
      abort.signal,
    );
  } catch (err) {
    res.off("close", onClose);
    if (!isConnectorError(err)) throw err;
    return sendError(res, err.code, err.message, err.retryable ? { "retry-after": "1" } : {});
  }
  res.writeHead(stream.status, { ...stream.headers, "cache-control": "no-store", "x-content-type-options": "nosniff" });
  try {
    await pipeline(stream.body, new Ceiling(ctx.proxy.streamMaxBytes), res);
  } catch (err) {
    ctx.log.warn("proxy stream ended early", { connector_id: connectorId, error: err instanceof Error ? err.message : String(err) });
    res.destroy();
  } finally {
    res.off("close", onClose);
    stream.finish();
  }
}
