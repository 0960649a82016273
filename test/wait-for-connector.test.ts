// wait_for_connector over stdio against the built server: woken by the callback (not by its
// timeout), progress while waiting and none after the result, a timeout that is not an error,
// cancellation that ends the wait at once, and the contract's error codes. Tests assert the order
// of events; how fast the wake-up is, `npm run bench` measures.
import type { Progress } from "@modelcontextprotocol/sdk/types.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { consentOverHttp } from "./sandbox/consent.js";
import {
  progressOnWire,
  type StdioHubSpot,
  type StdioServer,
  startStdioHubSpot,
  type WireProgress,
  waitForStderr,
} from "./support/stdio.js";

describe("wait_for_connector", () => {
  let stdio: StdioHubSpot;
  let server: StdioServer;
  let redirectUri: string;
  const clientErrors: Error[] = [];

  const start = () => server.call("start_connector_oauth", { provider: "hubspot" });
  /** The log line the server writes when a wait ends, and why it ended. */
  const waitEnded = (connectorId: string, end: string) => waitForStderr(server.transport, `"connector_id":"${connectorId}","end":"${end}"`);

  /**
   * Errors the client reported, but for the 1.x SDK client's "unknown token" for a wait's final
   * progress notification that arrived in the same read as its result (see the first test).
   */
  const unexpectedClientErrors = () =>
    clientErrors.map((e) => e.message).filter((m) => !/^Received a progress notification for an unknown token: .*Done waiting/.test(m));

  beforeAll(async () => {
    // A client with form-mode elicitation only: it must get the URL in the result and no URL elicitation.
    stdio = await startStdioHubSpot({ clientCapabilities: { elicitation: {} } });
    ({ server, redirectUri } = stdio);
    server.client.onerror = (err) => clientErrors.push(err);
  });

  afterAll(async () => {
    await stdio?.close();
  });

  it("is woken by the callback, not by its timeout, with progress notifications while it waited", async () => {
    const { connector_id, authorization_url } = await start();
    const progress: Progress[] = [];
    const events: string[] = [];
    const waiting = server.client
      .callTool({ name: "wait_for_connector", arguments: { connector_id, timeout_seconds: 60 } }, undefined, {
        onprogress: (p) => progress.push(p),
        timeout: 70_000,
      })
      .then((r) => {
        events.push("wait returned");
        return r;
      });
    // The first progress notification says the wait has begun.
    await expect.poll(() => progress.length).toBeGreaterThan(0);

    const { callbackUrl, cookie } = await consentOverHttp(authorization_url, { login: "wendy", redirectPrefix: redirectUri });
    events.push("callback sent");
    const page = await fetch(callbackUrl, { headers: { cookie } });
    // The callback answers once the grant is finished (code exchange, test read, status stored).
    expect(page.status).toBe(200);
    const res = await waiting;
    // It ended because the connector settled, long before its 60 s: the server says so.
    await waitEnded(connector_id, "settled");
    expect(events).toEqual(["callback sent", "wait returned"]);
    // Progress completes at its total when the wait ends (so a client's bar finishes), written to stdout
    // before the result; the ticks before it counted the time actually waited. Read on the wire (see
    // progressOnWire): the client's own handler can miss the last notification on a loaded machine.
    const done = server.transport.stdoutLines
      .map((l) => JSON.parse(l) as { method?: string; params?: WireProgress })
      .find((m) => m.method === "notifications/progress" && /^Done waiting/.test(String(m.params?.message)));
    expect(done).toBeDefined();
    const { notifications, answeredAfter } = progressOnWire(server.transport, done!.params!.progressToken);
    expect(notifications.at(-1)).toMatchObject({ progress: 60, total: 60, message: expect.stringMatching(/^Done waiting/) });
    expect(answeredAfter).toBe(true);
    expect(notifications.at(-2)?.progress ?? 0).toBeLessThan(60);

    expect(res.isError).toBeFalsy();
    expect(res.structuredContent).toMatchObject({ id: connector_id, status: "connected", provider: "hubspot" });
    expect(progress[0]).toMatchObject({ progress: 0, total: 60 });
    expect(progress[0]!.message).toContain("HubSpot");
    for (let i = 1; i < progress.length; i++) expect(progress[i]!.progress).toBeGreaterThan(progress[i - 1]!.progress);
  });

  it("returns a connector that is not pending at once", async () => {
    const list = await server.call("list_connectors", { status: "connected" });
    const id = list.connectors[0]!.id;
    const res = await server.call("wait_for_connector", { connector_id: id, timeout_seconds: 30 });
    expect(res.status).toBe("connected");
  });

  it("returns at the timeout with the current status, not an error", async () => {
    const { connector_id } = await start();
    const res = await server.call("wait_for_connector", { connector_id, timeout_seconds: 1 });
    expect(res).toMatchObject({ id: connector_id, status: "pending" });
    // The timeout ended it (not a settled connector, not a cancellation).
    await waitEnded(connector_id, "timeout");
  });

  it("ends the wait at once when the client cancels, and sends nothing after", async () => {
    const { connector_id } = await start();
    const progress: Progress[] = [];
    const abort = new AbortController();
    const waiting = server.client.callTool({ name: "wait_for_connector", arguments: { connector_id, timeout_seconds: 300 } }, undefined, {
      onprogress: (p) => progress.push(p),
      signal: abort.signal,
    });
    await expect.poll(() => progress.length).toBeGreaterThan(0);
    abort.abort("the person changed their mind");
    await expect(waiting).rejects.toThrow();
    await waitEnded(connector_id, "cancelled");
    // A progress notification after the cancellation would reach the client as "unknown token".
    await server.client.ping();
    expect((await server.call("get_connector_status", { connector_id })).status).toBe("pending");
    expect(unexpectedClientErrors()).toEqual([]);
  });

  it("refuses a timeout outside 1-300 seconds and an unknown connector with the contract's codes", async () => {
    const { connector_id } = await start();
    for (const timeout_seconds of [0, 301, 2.5, "60"]) {
      const err = await server.callError("wait_for_connector", { connector_id, timeout_seconds });
      expect(err.code, String(timeout_seconds)).toBe("invalid_input");
      expect(err.message).toContain("timeout_seconds");
    }
    const missing = await server.callError("wait_for_connector", { connector_id: "con_000000000000000000000000", timeout_seconds: 5 });
    expect(missing.code).toBe("not_found");
  });

  it("sent no URL elicitation to a client that declared only form mode, and only JSON-RPC on stdout", () => {
    const lines = server.transport.stdoutLines;
    expect(lines.some((l) => l.includes("elicitation/create"))).toBe(false);
    for (const line of lines) expect(JSON.parse(line).jsonrpc).toBe("2.0");
    expect(unexpectedClientErrors()).toEqual([]);
  });
});
