// wait_for_connector over stdio against the built server: woken by the callback (not by a
// polling loop), progress while waiting and none after the result, a timeout that is not an
// error, cancellation that ends the wait at once, and the contract's error codes.
import path from "node:path";
import type { Progress } from "@modelcontextprotocol/sdk/types.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { consentOverHttp } from "./sandbox/consent.js";
import { startHubSpotSandbox, type HubSpotSandbox } from "./sandbox/hubspot.js";
import { freePort, startStdioServer, tempDir, waitForStderr, type StdioServer } from "./support/stdio.js";

type Sc = Record<string, any>;
type Result = { isError?: boolean; structuredContent: Sc };

describe("wait_for_connector", () => {
  let sandbox: HubSpotSandbox;
  let server: StdioServer;
  let redirectUri: string;
  const clientErrors: Error[] = [];

  const call = async (name: string, args: Record<string, unknown>) => (await server.client.callTool({ name, arguments: args })) as Result;
  const start = async () => {
    const res = await call("start_connector_oauth", { provider: "hubspot" });
    expect(res.isError).toBeFalsy();
    return res.structuredContent as { connector_id: string; authorization_url: string };
  };

  beforeAll(async () => {
    const port = await freePort();
    redirectUri = `http://127.0.0.1:${port}/oauth/callback`;
    sandbox = await startHubSpotSandbox({ redirectUri });
    // A client with form-mode elicitation only: it must get the URL in the result and no URL elicitation.
    server = await startStdioServer({ TENEX_DB: path.join(tempDir(), "tenex.db"), TENEX_CALLBACK_PORT: String(port), ...sandbox.env }, { clientCapabilities: { elicitation: {} } });
    server.client.onerror = (err) => clientErrors.push(err);
    await waitForStderr(server.transport, "oauth callback listener ready");
  });

  afterAll(async () => {
    await server?.close();
    await sandbox?.close();
  });

  it("returns within 1 s of the callback, with progress notifications while it waited", async () => {
    const { connector_id, authorization_url } = await start();
    const progress: Progress[] = [];
    let resolvedAt = 0;
    const waiting = server.client
      .callTool({ name: "wait_for_connector", arguments: { connector_id, timeout_seconds: 60 } }, undefined, { onprogress: (p) => progress.push(p), timeout: 70_000 })
      .then((r) => {
        resolvedAt = Date.now();
        return r as Result;
      });
    // The first progress notification says the wait has begun.
    while (progress.length === 0) await new Promise((r) => setTimeout(r, 10));
    expect(resolvedAt).toBe(0);

    const { callbackUrl } = await consentOverHttp(authorization_url, { login: "wendy", redirectPrefix: redirectUri });
    const callbackSentAt = Date.now();
    const page = await fetch(callbackUrl);
    // The callback answers once the grant is finished (code exchange, test read, status stored).
    const callbackDoneAt = Date.now();
    expect(page.status).toBe(200);
    const res = await waiting;
    const latency = resolvedAt - callbackDoneAt;
    console.info(`in-process: callback took ${callbackDoneAt - callbackSentAt} ms; wait_for_connector returned ${latency} ms after it answered`);
    expect(latency).toBeLessThan(1000);

    expect(res.isError).toBeFalsy();
    expect(res.structuredContent).toMatchObject({ id: connector_id, status: "connected", provider: "hubspot" });
    expect(progress[0]).toMatchObject({ progress: 0, total: 60 });
    expect(progress[0]!.message).toContain("HubSpot");
    for (let i = 1; i < progress.length; i++) expect(progress[i]!.progress).toBeGreaterThan(progress[i - 1]!.progress);
  });

  it("returns a connector that is not pending at once", async () => {
    const list = await call("list_connectors", { status: "connected" });
    const id = list.structuredContent.connectors[0].id as string;
    const res = await call("wait_for_connector", { connector_id: id, timeout_seconds: 30 });
    expect(res.isError).toBeFalsy();
    expect(res.structuredContent.status).toBe("connected");
  });

  it("returns at the timeout with the current status, not an error", async () => {
    const { connector_id } = await start();
    const began = Date.now();
    const res = await call("wait_for_connector", { connector_id, timeout_seconds: 1 });
    expect(Date.now() - began).toBeGreaterThanOrEqual(950);
    expect(res.isError).toBeFalsy();
    expect(res.structuredContent).toMatchObject({ id: connector_id, status: "pending" });
    await waitForStderr(server.transport, `"connector_id":"${connector_id}","end":"timeout"`);
  });

  it("ends the wait at once when the client cancels, and sends nothing after", async () => {
    const { connector_id } = await start();
    const progress: Progress[] = [];
    const abort = new AbortController();
    const waiting = server.client.callTool({ name: "wait_for_connector", arguments: { connector_id, timeout_seconds: 300 } }, undefined, {
      onprogress: (p) => progress.push(p),
      signal: abort.signal,
    });
    while (progress.length === 0) await new Promise((r) => setTimeout(r, 10));
    abort.abort("the person changed their mind");
    await expect(waiting).rejects.toThrow();
    await waitForStderr(server.transport, `"connector_id":"${connector_id}","end":"cancelled"`, 2000);
    // A progress notification after the cancellation would reach the client as "unknown token".
    await server.client.ping();
    expect((await call("get_connector_status", { connector_id })).structuredContent.status).toBe("pending");
    expect(clientErrors.map((e) => e.message)).toEqual([]);
  });

  it("refuses a timeout outside 1-300 seconds and an unknown connector with the contract's codes", async () => {
    const { connector_id } = await start();
    for (const timeout_seconds of [0, 301, 2.5, "60"]) {
      const res = await call("wait_for_connector", { connector_id, timeout_seconds });
      expect(res.isError, String(timeout_seconds)).toBe(true);
      expect(res.structuredContent.error.code).toBe("invalid_input");
      expect(res.structuredContent.error.message).toContain("timeout_seconds");
    }
    const missing = await call("wait_for_connector", { connector_id: "con_000000000000000000000000", timeout_seconds: 5 });
    expect(missing.isError).toBe(true);
    expect(missing.structuredContent.error.code).toBe("not_found");
  });

  it("sent no URL elicitation to a client that declared only form mode, and only JSON-RPC on stdout", () => {
    const lines = server.transport.stdoutLines;
    expect(lines.some((l) => l.includes("elicitation/create"))).toBe(false);
    for (const line of lines) expect(JSON.parse(line).jsonrpc).toBe("2.0");
    expect(clientErrors.map((e) => e.message)).toEqual([]);
  });
});
