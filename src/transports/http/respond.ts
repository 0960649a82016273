import type http from "node:http";
import type { ErrorCode } from "../../common/errors.js";

/**
 * HTTP status for each contract error code (REST API). Documented in the OpenAPI document
 * and the README; the codes themselves are the tools' codes, unchanged.
 */
export const STATUS_FOR_CODE: Record<ErrorCode, number> = {
  invalid_input: 400,
  auth_type_unsupported: 400,
  role_not_allowed: 400,
  unknown_provider: 400,
  not_found: 404,
  conflict: 409,
  provider_not_configured: 409,
  invalid_state: 409,
  consent_denied: 409,
  state_expired: 410,
  provider_error: 502,
  internal: 500,
};

/** Transport-level failures that happen before any tool runs. */
export const HTTP_ERROR_CODES = ["unauthorized", "forbidden", "method_not_allowed", "payload_too_large", "unsupported_media_type", "unavailable"] as const;
export type HttpErrorCode = (typeof HTTP_ERROR_CODES)[number];

const BASE_HEADERS = {
  "cache-control": "no-store",
  "x-content-type-options": "nosniff",
};

export function sendJson(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  const text = JSON.stringify(body);
  res.writeHead(status, { ...BASE_HEADERS, "content-type": "application/json; charset=utf-8", "content-length": Buffer.byteLength(text), ...headers });
  res.end(text);
}

export function sendError(
  res: http.ServerResponse,
  status: number,
  code: ErrorCode | HttpErrorCode,
  message: string,
  headers: Record<string, string> = {},
): void {
  sendJson(res, status, { error: { code, message } }, headers);
}

export type BodyResult = { ok: true; text: string } | { ok: false; status: 413 | 400; message: string };

/** Read a request body up to `limit` bytes; a larger body is refused without reading the rest. */
export function readBody(req: http.IncomingMessage, limit: number): Promise<BodyResult> {
  const declared = Number(req.headers["content-length"]);
  if (Number.isFinite(declared) && declared > limit) {
    return Promise.resolve({ ok: false, status: 413, message: `The request body is larger than ${limit} bytes.` });
  }
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    const finish = (r: BodyResult) => {
      if (done) return;
      done = true;
      req.off("data", onData);
      resolve(r);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        req.pause();
        finish({ ok: false, status: 413, message: `The request body is larger than ${limit} bytes.` });
        return;
      }
      chunks.push(chunk);
    };
    req.on("data", onData);
    req.once("end", () => finish({ ok: true, text: Buffer.concat(chunks).toString("utf8") }));
    req.once("error", () => finish({ ok: false, status: 400, message: "The request body could not be read." }));
    req.once("aborted", () => finish({ ok: false, status: 400, message: "The request was aborted." }));
  });
}

/** Parse a JSON body; undefined for an empty body. */
export function parseJson(text: string): { ok: true; value: unknown } | { ok: false } {
  if (text.trim() === "") return { ok: true, value: undefined };
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch {
    return { ok: false };
  }
}
