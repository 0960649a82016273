/**
 * The one reader of provider response bodies: never more than a cap, whatever the provider sends
 * (a hostile or broken provider can stream hundreds of MiB; reading it whole costs that much memory).
 *
 * Caps, and why:
 * - API reads and hook answers (test reads, Meta's account list): 1 MiB. The lightest authenticated
 *   read answers a few KiB; a first page of ad accounts or sites stays well under 100 KiB.
 * - Token, revocation and discovery answers: 256 KiB. A token response is a few KiB even with an
 *   id_token and Salesforce's extras; a quarter MiB is generous and keeps eight at once near 2 MiB.
 */
import { ConnectorError } from "../common/errors.js";

export const API_BODY_LIMIT = 1024 * 1024;
export const TOKEN_BODY_LIMIT = 256 * 1024;

const size = (bytes: number) => (bytes >= 1024 * 1024 ? `${bytes / (1024 * 1024)} MiB` : `${bytes / 1024} KiB`);

/** A provider answered with more than the cap: nothing past the cap was read. */
export class BodyTooLargeError extends ConnectorError {
  readonly limit: number;

  constructor(what: string, limit: number) {
    super("provider_error", `${what} sent an answer larger than ${size(limit)}; it was not read`);
    this.name = "BodyTooLargeError";
    this.limit = limit;
  }

  /** Short phrase for sentences: "an answer over 256 KiB". */
  get short(): string {
    return `an answer over ${size(this.limit)}`;
  }
}

/**
 * The body of `res` as text, reading at most `limit` bytes: a declared or actual size past it
 * cancels the stream and throws `BodyTooLargeError` (`provider_error`) naming `what`.
 */
export async function readBoundedText(res: Response, limit: number, what: string): Promise<string> {
  const declared = Number(res.headers.get("content-length"));
  if (Number.isFinite(declared) && declared > limit) {
    await res.body?.cancel().catch(() => undefined);
    throw new BodyTooLargeError(what, limit);
  }
  if (!res.body) return "";
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > limit) {
      await reader.cancel().catch(() => undefined);
      throw new BodyTooLargeError(what, limit);
    }
    chunks.push(value);
  }
  return new TextDecoder().decode(Buffer.concat(chunks, total));
}

/** The body parsed as JSON (undefined when empty or not JSON), read within `limit`. */
export async function readBoundedJson(res: Response, limit: number, what: string): Promise<unknown> {
  const text = await readBoundedText(res, limit, what);
  try {
    return text ? JSON.parse(text) : undefined;
  } catch {
    return undefined;
  }
}

/** The BodyTooLargeError behind `err`, when there is one (openid-client wraps what its fetch threw). */
export function bodyTooLarge(err: unknown): BodyTooLargeError | undefined {
  let e: unknown = err;
  for (let depth = 0; depth < 4 && e; depth++) {
    if (e instanceof BodyTooLargeError) return e;
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}

/**
 * `fetch` for provider hooks that carry secrets (token swaps, revocations): a redirect is never
 * followed, whatever the hook asked for, so a 3xx comes back as itself (and is not `ok`).
 */
export function noRedirects(fetchFn: typeof fetch): typeof fetch {
  return (input, init) => fetchFn(input, { ...init, redirect: "manual" });
}

/**
 * Up to `limit` bytes of a body given as chunks (an undici response body, a web stream): the reading
 * stops at the cap and `truncated` says that more was there. `stop` is called to release the rest.
 */
export async function readUpTo(
  chunks: AsyncIterable<Uint8Array>,
  limit: number,
  stop: () => void,
): Promise<{ bytes: Buffer; truncated: boolean }> {
  const parts: Buffer[] = [];
  let total = 0;
  for await (const chunk of chunks) {
    const room = limit - total;
    if (chunk.byteLength > room) {
      if (room > 0) parts.push(Buffer.from(chunk.buffer, chunk.byteOffset, room));
      total += Math.max(0, room);
      stop();
      return { bytes: Buffer.concat(parts, total), truncated: true };
    }
    parts.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
    total += chunk.byteLength;
  }
  return { bytes: Buffer.concat(parts, total), truncated: false };
}
