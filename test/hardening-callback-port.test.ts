// Regression (issue 12, finding 5): in stdio mode a process that cannot bind the callback port
// hands out redirect URIs for it only when the holder proves it shares the database: it answers a
// challenge (an HMAC of a fresh nonce) under the per-database key stored sealed in the database.
// A program on the port echoing the old `x-tenex-connectors` header is not a sibling, and the
// listener answers only loopback Host names.
import http from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type CallbackListener, startCallbackListener } from "../src/transports/callback/listener.js";
import { type HubSpotSandbox, startHubSpotSandbox } from "./sandbox/hubspot.js";
import { type Harness, reservePort, startHarness } from "./support/harness.js";

const TAG = "0123456789abcdef";

describe("finding 5: who may finish grants on a callback port this process does not hold", () => {
  let sandbox: HubSpotSandbox;
  let port: number;
  let owner: Harness;
  const extra: { harnesses: Harness[]; listeners: CallbackListener[]; servers: http.Server[] } = {
    harnesses: [],
    listeners: [],
    servers: [],
  };

  /** A second in-process server whose callback listener finds `onPort` taken. */
  const without = async (onPort: number, share?: Harness) => {
    const h = await startHarness({ env: sandbox.env, port: onPort, listen: false, ...(share ? { share } : {}) });
    const listener = await startCallbackListener(h.ctx, { host: "127.0.0.1", port: onPort, retryMs: 60_000, databaseTag: TAG });
    expect(listener.port()).toBeNull();
    h.ctx.callbackCheck = () => listener.assertCanFinish();
    extra.harnesses.push(h);
    extra.listeners.push(listener);
    return h;
  };

  beforeAll(async () => {
    let redirectUri: string;
    ({ port, redirectUri } = await reservePort());
    sandbox = await startHubSpotSandbox({ redirectUri });
    owner = await startHarness({ env: sandbox.env, port });
  });
  afterAll(async () => {
    for (const l of extra.listeners) await l.close();
    for (const h of extra.harnesses) await h.close();
    for (const s of extra.servers) await new Promise((done) => s.close(done));
    await owner?.close();
    await sandbox?.close();
  });

  it("a process sharing the database proves it and is trusted: its grant is finished by the holder", async () => {
    const sibling = await without(port, owner);
    const started = await sibling.ok("start_connector_oauth", { provider: "hubspot" });
    // The connect link is served on the port the holder has; the grant's redirect URI is the holder's callback.
    expect(started.authorization_url.startsWith(`${new URL(owner.redirectUri).origin}/connect/`)).toBe(true);
    expect(sibling.logs.join("\n")).toContain("held by another tenex-connectors process");
  });

  it("a tenex-connectors server on another database is not a sibling", async () => {
    const stranger = await without(port);
    const err = await stranger.fail("start_connector_oauth", { provider: "hubspot" });
    expect(err.code).toBe("invalid_state");
    expect(err.message).toContain("nothing was started");
  });

  it("a plain HTTP server echoing the old header (and answering the challenge with garbage) is not a sibling", async () => {
    const squatPort = (await reservePort()).port;
    const squatter = http.createServer((req, res) => {
      res.setHeader("x-tenex-connectors", TAG);
      res.setHeader("x-tenex-sibling-proof", String(req.headers["x-tenex-sibling-challenge"] ?? "x"));
      res.end("ok");
    });
    await new Promise<void>((resolve) => squatter.listen(squatPort, "127.0.0.1", resolve));
    extra.servers.push(squatter);

    const victim = await without(squatPort, owner);
    const err = await victim.fail("start_connector_oauth", { provider: "hubspot" });
    expect(err.code).toBe("invalid_state");
    expect(err.message).toContain("cannot prove it");
    expect(err.message).toContain("TENEX_CALLBACK_PORT");
    const log = victim.logs.find((l) => l.includes("cannot prove it"));
    expect(log && JSON.parse(log).level).toBe("error");
    expect(victim.logs.join("\n")).not.toContain("held by another tenex-connectors process");
  });

  it("the listener answers only loopback Host names", async () => {
    const statusFor = (host: string) =>
      new Promise<number>((resolve, reject) => {
        http
          .get({ host: "127.0.0.1", port, path: "/oauth/callback", headers: { host } }, (res) => {
            res.resume();
            resolve(res.statusCode ?? 0);
          })
          .on("error", reject);
      });
    expect(await statusFor("evil.example")).toBe(421);
    expect(await statusFor(`attacker.test:${port}`)).toBe(421);
    for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`]) {
      expect(await statusFor(host)).not.toBe(421);
    }
  });
});
