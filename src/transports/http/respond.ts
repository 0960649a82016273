import type http from "node:http";
import { type ErrorCode, httpStatusOf, type TransportErrorCode } from "../../common/errors.js";

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
  res.writeHead(status, {
    ...BASE_HEADERS,
    "content-type": "application/json; charset=utf-8",
    "content-length": Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}

/** `{ error: { code, message } }` with the code's status from the one table (HTTP_STATUS in common/errors.ts). */
export function sendError(
  res: http.ServerResponse,
  code: ErrorCode | TransportErrorCode,
  message: string,
  headers: Record<string, string> = {},
): void {
  sendJson(res, httpStatusOf(code), { error: { code, message } }, headers);
}

export type BodyResult = { ok: true; text: string } | { ok: false; code: "payload_too_large" | "invalid_input"; message: string };

/** Answer a body that could not be read; a too-large one also ends the connection (the rest is not read). */
export function sendBodyError(res: http.ServerResponse, body: Extract<BodyResult, { ok: false }>): void {
  sendError(res, body.code, body.message, body.code === "payload_too_large" ? { connection: "close" } : {});
}

/** Read a request body up to `limit` bytes; a larger body is refused without reading the rest. */
export function readBody(req: http.IncomingMessage, limit: number): Promise<BodyResult> {
  const declared = Number(req.headers["content-length"]);
  if (Number.isFinite(declared) && declared > limit) {
    return Promise.resolve({ ok: false, code: "payload_too_large", message: `The request body is larger than ${limit} bytes.` });
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
        finish({ ok: false, code: "payload_too_large", message: `The request body is larger than ${limit} bytes.` });
        return;
      }
      chunks.push(chunk);
    };
    req.on("data", onData);
    req.once("end", () => finish({ ok: true, text: Buffer.concat(chunks).toString("utf8") }));
    req.once("error", () => finish({ ok: false, code: "invalid_input", message: "The request body could not be read." }));
    req.once("aborted", () => finish({ ok: false, code: "invalid_input", message: "The request was aborted." }));
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
