/**
 * The per-key request rate limit of HTTP mode (TENEX_RATE_LIMIT): a token bucket per API key
 * (per workspace in key-free loopback mode) holding up to 4 seconds' worth of requests, refilled
 * at the configured rate. A request that finds the bucket empty is answered `rate_limited` (429)
 * with `Retry-After`; other keys are not affected.
 */
export const BURST_SECONDS = 4;

interface Bucket {
  tokens: number;
  at: number;
}

export class RateLimiter {
  private readonly buckets = new Map<string, Bucket>();

  /** `perSecond` 0 turns the limit off; the burst is BURST_SECONDS' worth unless given. */
  constructor(
    readonly perSecond: number,
    private readonly clock: () => number,
    private readonly burstSize?: number,
  ) {}

  get burst(): number {
    return this.burstSize ?? this.perSecond * BURST_SECONDS;
  }

  /** Take one request from `key`'s bucket: 0 when it may go ahead, else the whole seconds until it could. */
  take(key: string): number {
    if (this.perSecond <= 0) return 0;
    const b = this.refilled(key, this.clock());
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return 0;
    }
    return Math.max(1, Math.ceil((1 - b.tokens) / this.perSecond));
  }

  private refilled(key: string, now: number): Bucket {
    let b = this.buckets.get(key);
    if (!b) {
      b = { tokens: this.burst, at: now };
      this.buckets.set(key, b);
    }
    b.tokens = Math.min(this.burst, b.tokens + (Math.max(0, now - b.at) / 1000) * this.perSecond);
    b.at = now;
    return b;
  }

  /** Forget buckets that have filled up again: a new bucket is the same. Keeps the map to active keys. */
  prune(): void {
    const now = this.clock();
    for (const [key, b] of this.buckets) {
      if (b.tokens + (Math.max(0, now - b.at) / 1000) * this.perSecond >= this.burst) this.buckets.delete(key);
    }
  }

  get size(): number {
    return this.buckets.size;
  }
}
