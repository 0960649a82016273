// Hostile provider parts for the hardening tests: a listener that streams a body without end, a
// listener that records whatever reaches it, and a fetch that counts the body bytes the server read.
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";

export interface Listener {
  url: string;
  /** Every request that reached it: method, path, headers, body. */
  received: Array<{ method: string; path: string; headers: IncomingHttpHeaders; body: string }>;
  close(): Promise<void>;
}

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

function closer(server: Server): () => Promise<void> {
  return () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
}

/**
 * Answers every request 200 with a JSON-looking body streamed in 64 KiB chunks, up to `totalBytes`
 * (default 256 MiB), without a content-length, until the client stops reading.
 */
export async function startStreamingListener(totalBytes = 256 * 1024 * 1024): Promise<Listener> {
  const received: Listener["received"] = [];
  const chunk = Buffer.alloc(64 * 1024, "x");
  const server = createServer((req, res) => {
    received.push({ method: req.method ?? "GET", path: req.url ?? "/", headers: req.headers, body: "" });
    req.resume();
    res.writeHead(200, { "content-type": "application/json" });
    res.write('{"access_token":"');
    let sent = 0;
    const pump = () => {
      while (sent < totalBytes && !res.destroyed) {
        sent += chunk.length;
        if (!res.write(chunk)) return void res.once("drain", pump);
      }
      if (!res.destroyed) res.end('"}');
    };
    res.on("close", () => {
      sent = totalBytes;
    });
    pump();
  });
  return { url: await listen(server), received, close: closer(server) };
}

/** Records every request and answers `answer` (default 200 {}). */
export async function startRecordingListener(
  answer: { status: number; headers?: Record<string, string>; body?: string } = { status: 200, body: "{}" },
): Promise<Listener> {
  const received: Listener["received"] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      received.push({
        method: req.method ?? "GET",
        path: req.url ?? "/",
        headers: req.headers,
        body: Buffer.concat(chunks).toString("utf8"),
      });
      res.writeHead(answer.status, { "content-type": "application/json", ...answer.headers });
      res.end(answer.body ?? "");
    });
  });
  return { url: await listen(server), received, close: closer(server) };
}

/** A fetch that counts, per URL origin, the response body bytes the caller actually pulled. */
export function countingFetch(): { fetch: typeof fetch; bytesFrom(origin: string): number } {
  const counts = new Map<string, number>();
  const wrapped: typeof fetch = async (input, init) => {
    const res = await fetch(input, init);
    const origin = new URL(input instanceof Request ? input.url : String(input)).origin;
    if (!res.body || [101, 204, 205, 304].includes(res.status)) return res;
    const reader = res.body.getReader();
    // A pull stream with no queue of its own: a byte is counted only when the caller asks for it.
    const body = new ReadableStream<Uint8Array>(
      {
        async pull(controller) {
          const { done, value } = await reader.read();
          if (done) return controller.close();
          counts.set(origin, (counts.get(origin) ?? 0) + value.byteLength);
          controller.enqueue(value);
        },
        cancel: (reason) => reader.cancel(reason),
      },
      { highWaterMark: 0 },
    );
    return new Response(body, { status: res.status, statusText: res.statusText, headers: res.headers });
  };
  return { fetch: wrapped, bytesFrom: (origin) => counts.get(origin) ?? 0 };
}
