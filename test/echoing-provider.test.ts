// A provider that echoes the request back (into the token response's scope, or into the API
// body the account facts come from) must not turn a credential into stored, shown data.
import fs from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { continueOnConnectPage } from "./sandbox/consent.js";
import { type Harness, reservePort, startHarness } from "./support/harness.js";

const CLIENT_SECRET = "cs_echo_client_secret_0123456789";
const WEBFLOW_KEY = "wf_site_token_abcdefghijklmnopqrstuvwxyz";

describe("an echoing provider", () => {
  let server: http.Server;
  let base = "";
  const requests: Array<{ method: string; url: string; headers: http.IncomingHttpHeaders; body: string }> = [];

  beforeAll(async () => {
    server = http.createServer((req, res) => {
      let body = "";
      req.on("data", (c) => (body += c));
      req.on("end", () => {
        requests.push({ method: req.method ?? "", url: req.url ?? "", headers: req.headers, body });
        res.setHeader("content-type", "application/json");
        if (req.url?.startsWith("/token")) {
          // The whole form (client secret, code, verifier) comes back as "scope", next to real scopes.
          const rand = Math.random().toString(36).slice(2);
          res.end(
            JSON.stringify({
              access_token: `AT_${rand}_abcdefghij`,
              refresh_token: `RT_${rand}_klmnopqrst`,
              token_type: "bearer",
              expires_in: 1800,
              scope: `oauth crm.objects.contacts.read ${body} ${CLIENT_SECRET}`,
            }),
          );
        } else if (req.url?.startsWith("/api/account-info")) {
          res.end(
            JSON.stringify({
              portalId: 7,
              timeZone: String(req.headers.authorization),
              companyCurrency: `EUR ${String(req.headers.authorization).slice(7, 30)}`,
            }),
          );
        } else if (req.url?.startsWith("/api/v2/sites")) {
          res.end(JSON.stringify({ sites: [{ id: "site1", displayName: `Site of ${String(req.headers.authorization)}` }] }));
        } else {
          res.end("{}");
        }
      });
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  const everything = (h: Harness, page = "") => {
    const db = [h.dbPath, `${h.dbPath}-wal`].filter((f) => fs.existsSync(f)).map((f) => fs.readFileSync(f).toString("latin1"));
    return [h.results.join("\n"), h.logs.join("\n"), page, ...db].join("\n");
  };

  it("keeps the code, verifier, client secret and tokens out of scopes and account facts (OAuth)", async () => {
    const { port } = await reservePort();
    const h = await startHarness({
      port,
      env: {
        TENEX_HUBSPOT_CLIENT_ID: "cid",
        TENEX_HUBSPOT_CLIENT_SECRET: CLIENT_SECRET,
        TENEX_HUBSPOT_AUTHORIZATION_URL: `${base}/authorize`,
        TENEX_HUBSPOT_TOKEN_URL: `${base}/token`,
        TENEX_HUBSPOT_API_BASE_URL: `${base}/api`,
      },
    });
    try {
      const start = await h.ok("start_connector_oauth", { provider: "hubspot" });
      const { providerUrl, cookie } = await continueOnConnectPage(start.authorization_url);
      const state = new URL(providerUrl).searchParams.get("state")!;
      const res = await fetch(`${h.redirectUri}?code=THE_CODE_1234567890&state=${state}`, { headers: { cookie } });
      const page = await res.text();
      const status = await h.ok("get_connector_status", { connector_id: start.connector_id });
      expect(status.status).toBe("connected");
      expect(status.scopes).toEqual(expect.arrayContaining(["oauth", "crm.objects.contacts.read"]));
      expect(status.account.portal_id).toBe(7);
      expect(status.account.time_zone).toBe("[redacted]");

      const form = new URLSearchParams(requests.find((r) => r.url.startsWith("/token"))!.body);
      const token = String(requests.find((r) => r.url.startsWith("/api/account-info"))!.headers.authorization).slice(7);
      const secrets = {
        client_secret: CLIENT_SECRET,
        code: "THE_CODE_1234567890",
        code_verifier: form.get("code_verifier")!,
        access_token: token,
      };
      const seen = everything(h, page);
      for (const [name, value] of Object.entries(secrets)) {
        expect(value.length, name).toBeGreaterThan(15);
        expect(seen.includes(value), name).toBe(false);
      }
    } finally {
      await h.close();
    }
  });

  it("keeps a submitted API key out of the account facts it validates (BYOK)", async () => {
    const h = await startHarness({ env: { TENEX_WEBFLOW_API_BASE_URL: `${base}/api` } });
    try {
      const c = await h.ok("submit_connector_key", { provider: "webflow", api_key: WEBFLOW_KEY });
      expect(c.status).toBe("connected");
      expect(JSON.stringify(c.account)).toContain("[redacted]");
      expect(everything(h).includes(WEBFLOW_KEY.slice(0, 12))).toBe(false);
    } finally {
      await h.close();
    }
  });
});
