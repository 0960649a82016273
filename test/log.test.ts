import { describe, expect, it } from "vitest";
import { createLogger } from "../src/common/log.js";

describe("logger", () => {
  it("redacts the password of a database URL in free text, keeping the rest readable", () => {
    const lines: string[] = [];
    const log = createLogger({ write: (l) => lines.push(l) });
    log.error("cannot open", { error: new Error("connect to postgres://tenex:s3cr%40t-pw@db.internal:5432/tenex failed") });
    expect(lines[0]).not.toContain("s3cr%40t-pw");
    expect(lines[0]).toContain("postgres://tenex:[redacted]@db.internal:5432/tenex");
  });

  it("redacts secrets at the logger: secret-named fields, Bearer tokens, tnx_ keys, token parameters", () => {
    const lines: string[] = [];
    const log = createLogger({ write: (l) => lines.push(l) });
    log.info("calling with Bearer eyJhbGciOi.payload.sig and key tnx_abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG", {
      access_token: "at-123456",
      nested: { refresh_token: "rt-123456", client_secret: "cs-123456", ok: "visible" },
      url: "https://x.example/cb?code=authcode-123&state=s1",
      error: new Error("failed: refresh_token=rt-999999"),
    });
    const out = lines.join("\n");
    for (const s of ["eyJhbGciOi", "tnx_abcdefghijklmnop", "at-123456", "rt-123456", "cs-123456", "authcode-123", "rt-999999"]) {
      expect(out).not.toContain(s);
    }
    expect(out).toContain("visible");
    expect(JSON.parse(lines[0]!)).toMatchObject({ level: "info" });
  });

  it("drops lines below its level", () => {
    const lines: string[] = [];
    const log = createLogger({ level: "warn", write: (l) => lines.push(l) });
    log.info("quiet");
    log.warn("loud");
    expect(lines).toHaveLength(1);
  });
});

describe("redactText on JSON-shaped text", () => {
  it("masks secrets written as JSON or key: value inside a message", () => {
    const lines: string[] = [];
    const log = createLogger({ write: (l) => lines.push(l) });
    log.warn('provider said {"access_token":"at-json-123456","client_secret": "cs-json-123456"} and refresh_token: rt-plain-123456');
    const out = lines.join("\n");
    for (const s of ["at-json-123456", "cs-json-123456", "rt-plain-123456"]) expect(out).not.toContain(s);
  });
});
