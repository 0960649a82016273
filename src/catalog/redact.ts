/**
 * Our secrets out of what a provider sends back: an access token, refresh token or key that a
 * provider echoes (in a header, an error message, a debug field) becomes `[redacted]` before the
 * answer reaches a caller. Works on bytes, so a secret is found whatever the body's encoding says;
 * the rolling form carries the last bytes of a chunk over to the next, so a secret split across
 * chunks of a stream is still caught.
 */
import { Transform, type TransformCallback } from "node:stream";

export const REDACTED = "[redacted]";
const REPLACEMENT = Buffer.from(REDACTED);

/** Shorter values are not treated as secrets: replacing them would mangle ordinary text. */
const MIN_SECRET_LENGTH = 8;

/** The secrets to look for, longest first (a secret that contains another is replaced whole). */
export function secretSet(values: ReadonlyArray<string | undefined | null>): Buffer[] {
  const uniq = new Set(values.filter((v): v is string => typeof v === "string" && v.length >= MIN_SECRET_LENGTH));
  return [...uniq].map((v) => Buffer.from(v)).sort((a, b) => b.length - a.length);
}

/** `buf` with every occurrence of every secret replaced; the same buffer when none occurs. */
export function redactBytes(buf: Buffer, secrets: readonly Buffer[]): Buffer {
  let out = buf;
  for (const secret of secrets) {
    let at = out.indexOf(secret);
    if (at < 0) continue;
    const parts: Buffer[] = [];
    let from = 0;
    while (at >= 0) {
      parts.push(out.subarray(from, at), REPLACEMENT);
      from = at + secret.length;
      at = out.indexOf(secret, from);
    }
    parts.push(out.subarray(from));
    out = Buffer.concat(parts);
  }
  return out;
}

/** A string with every secret replaced. */
export function redactText(text: string, secrets: readonly Buffer[]): string {
  let out = text;
  for (const s of secrets) out = out.split(s.toString()).join(REDACTED);
  return out;
}

/**
 * A stream that redacts through a rolling window: it holds back the last (longest secret − 1) bytes
 * of what it has seen, so an occurrence split across chunks is whole in the next pass. It holds at
 * most that window plus one incoming chunk; `maxHeld` says the most it held at once.
 */
export class RedactingStream extends Transform {
  private tail: Buffer = Buffer.alloc(0);
  private readonly window: number;
  /** The most bytes this stream held at once (window + the chunk being scanned). */
  maxHeld = 0;

  constructor(private readonly secrets: readonly Buffer[]) {
    super();
    this.window = Math.max(0, ...secrets.map((s) => s.length - 1));
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    const joined = this.tail.length ? Buffer.concat([this.tail, chunk]) : chunk;
    this.maxHeld = Math.max(this.maxHeld, joined.length);
    const clean = redactBytes(joined, this.secrets);
    const keep = Math.min(this.window, clean.length);
    // Copy the tail: the chunk's memory is not kept alive by a view into it.
    this.tail = Buffer.from(clean.subarray(clean.length - keep));
    if (clean.length > keep) this.push(clean.subarray(0, clean.length - keep));
    done();
  }

  override _flush(done: TransformCallback): void {
    if (this.tail.length) this.push(this.tail);
    this.tail = Buffer.alloc(0);
    done();
  }
}
