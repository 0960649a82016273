// Issue 12: a per-key request rate limit (TENEX_RATE_LIMIT, a token bucket with a 4× burst):
// one key's flood is answered 429 `rate_limited` with Retry-After and never slows another key.
// The clock is injected: nothing here waits for a bucket to refill.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../src/app/config.js";
import { RateLimiter } from "../src/transports/http/rate-limit.js";
import { bearer, type HttpHarness, rawRequest, startHttpHarness } from "./support/http.js";

describe("RateLimiter", () => {
  it("allows a burst of 4× the rate, then says how long to wait, and refills with time", () => {
    let now = 1_000_000;
    const limiter = new RateLimiter(2, () => now);
    for (let i = 0; i < 8; i++) expect(limiter.take("k1")).toBe(0);
    expect(limiter.take("k1")).toBe(1);
    expect(limiter.take("k2")).toBe(0);
    now += 500;
    expect(limiter.take("k1")).toBe(0);
    expect(limiter.take("k1")).toBe(1);
    now += 10_000;
    limiter.prune();
    expect(limiter.size).toBe(0);
  });

  it("is off at 0, and TENEX_RATE_LIMIT defaults to 50 and refuses nonsense", () => {
    const limiter = new RateLimiter(0, () => 0);
    for (let i = 0; i < 1000; i++) expect(limiter.take("k")).toBe(0);
    expect(loadConfig({ TENEX_DB: "/tmp/x/tenex.db" }).rate_limit).toBe(50);
    expect(loadConfig({ TENEX_DB: "/tmp/x/tenex.db", TENEX_RATE_LIMIT: "0" }).rate_limit).toBe(0);
    expect(() => loadConfig({ TENEX_DB: "/tmp/x/tenex.db", TENEX_RATE_LIMIT: "-1" })).toThrow(/TENEX_RATE_LIMIT/);
  });
});

describe("per-key request rate limit in HTTP mode", () => {
  let h: HttpHarness;
  let now = 5_000_000;
  beforeAll(async () => {
    h = await startHttpHarness({ server: { rateLimit: 1, rateClock: () => now } });
  });
  afterAll(async () => {
    await h?.close();
  });

  it("lets key A burst 4 requests, then answers 429 rate_limited with Retry-After; key B is unaffected", async () => {
    const get = (key: string) => rawRequest(`${h.url}/api/v1/connectors`, { headers: bearer(key) });
    for (let i = 0; i < 4; i++) expect((await get(h.a.key)).status).toBe(200);
    const limited = await get(h.a.key);
    expect(limited.status).toBe(429);
    expect(limited.headers["retry-after"]).toBe("1");
    expect(limited.json().error).toMatchObject({ code: "rate_limited" });
    expect(limited.json().error.message).toContain("TENEX_RATE_LIMIT");
    // The MCP endpoint shares the key's bucket.
    expect(
      (
        await rawRequest(`${h.url}/mcp`, {
          method: "POST",
          headers: { ...bearer(h.a.key), "content-type": "application/json" },
          body: "{}",
        })
      ).status,
    ).toBe(429);
    expect((await get(h.b.key)).status).toBe(200);
    now += 1000;
    expect((await get(h.a.key)).status).toBe(200);
    expect((await get(h.a.key)).status).toBe(429);
  });
});
