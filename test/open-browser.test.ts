// `serve --open-browser` / TENEX_OPEN_BROWSER=1: the option parses and the opener command is
// chosen per platform. No browser is opened by these tests.
import fs from "node:fs";
import path from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { ElicitRequestSchema } from "@modelcontextprotocol/sdk/types.js";
import { describe, expect, it } from "vitest";
import { browserCommand } from "../src/cli/open-browser.js";
import { testDatabaseEnv } from "./support/database.js";
import { freePort, RecordingStdioTransport, startStdioServer, tempDir, waitForStderr } from "./support/stdio.js";

const URL_WITH_QUERY = "https://app.hubspot.com/oauth/authorize?client_id=a&scope=x%20y&state=s";

describe("browserCommand", () => {
  it("uses xdg-open on Linux, open on macOS, and the URL handler on Windows (so & does not cut the URL)", () => {
    expect(browserCommand(URL_WITH_QUERY, "linux")).toEqual({ command: "xdg-open", args: [URL_WITH_QUERY] });
    expect(browserCommand(URL_WITH_QUERY, "freebsd")).toEqual({ command: "xdg-open", args: [URL_WITH_QUERY] });
    expect(browserCommand(URL_WITH_QUERY, "darwin")).toEqual({ command: "open", args: [URL_WITH_QUERY] });
    expect(browserCommand(URL_WITH_QUERY, "win32")).toEqual({ command: "rundll32", args: ["url.dll,FileProtocolHandler", URL_WITH_QUERY] });
  });

  it("opens only http(s) URLs", () => {
    expect(() => browserCommand("file:///etc/passwd", "linux")).toThrow(/file:/);
    expect(() => browserCommand("javascript:alert(1)", "darwin")).toThrow(/javascript:/);
    expect(() => browserCommand("not a url", "linux")).toThrow();
  });
});

describe("serve --open-browser", () => {
  const serve = async (args: string[], extraEnv: Record<string, string> = {}) => {
    const transport = new RecordingStdioTransport({
      args,
      env: { ...testDatabaseEnv(tempDir()), TENEX_CALLBACK_PORT: String(await freePort()), ...extraEnv },
    });
    const client = new Client({ name: "tenex-test", version: "1.0.0" });
    await client.connect(transport);
    await waitForStderr(transport, "tenex-connectors ready on stdio");
    const ready = JSON.parse(transport.stderr.split("\n").find((l) => l.includes("tenex-connectors ready on stdio"))!);
    await client.close();
    await transport.close();
    return ready.open_browser as boolean;
  };

  it("is on with the flag or TENEX_OPEN_BROWSER=1, and off otherwise", async () => {
    const [flag, env, off] = await Promise.all([
      serve(["serve", "--open-browser"]),
      serve(["serve"], { TENEX_OPEN_BROWSER: "1" }),
      serve(["serve"]),
    ]);
    expect({ flag, env, off }).toEqual({ flag: true, env: true, off: false });
  });

  it("still refuses an unknown option with exit code 2", async () => {
    const transport = new RecordingStdioTransport({
      args: ["serve", "--open-browser", "--bogus"],
      env: { ...testDatabaseEnv(tempDir()) },
    });
    await transport.start();
    expect(await transport.waitForExit()).toBe(2);
    expect(transport.stderr).toContain("unknown option --bogus");
  });
});

describe.runIf(process.platform === "linux")("serve --open-browser with a stand-in xdg-open", () => {
  // A fake xdg-open first on PATH records what it was asked to open: the whole chain runs, no browser starts.
  const fakeOpener = () => {
    const dir = tempDir("tenex-open-");
    const out = path.join(dir, "opened.txt");
    fs.writeFileSync(path.join(dir, "xdg-open"), `#!/bin/sh\nprintf '%s\\n' "$@" > "${out}.tmp" && mv "${out}.tmp" "${out}"\n`, {
      mode: 0o755,
    });
    return { dir, out };
  };
  const env = async (bin: string) => ({
    PATH: `${bin}:${process.env.PATH ?? ""}`,
    ...testDatabaseEnv(tempDir()),
    TENEX_CALLBACK_PORT: String(await freePort()),
    TENEX_OPEN_BROWSER: "1",
    TENEX_HUBSPOT_CLIENT_ID: "open-browser-test",
    TENEX_HUBSPOT_CLIENT_SECRET: "open-browser-test-secret",
  });

  it("opens the authorization URL for a client without URL elicitation", async () => {
    const { dir, out } = fakeOpener();
    const server = await startStdioServer(await env(dir));
    try {
      const res = await server.client.callTool({ name: "start_connector_oauth", arguments: { provider: "hubspot" } });
      await expect.poll(() => fs.existsSync(out), { timeout: 5000 }).toBe(true);
      expect(fs.readFileSync(out, "utf8").trim()).toBe((res.structuredContent as { authorization_url: string }).authorization_url);
      await expect.poll(() => server.transport.stderr).toContain("opened the authorization URL in the default browser");
      expect(server.transport.stderr).not.toContain("open-browser-test-secret");
    } finally {
      await server.close();
    }
  });

  it("leaves opening to a client that declared URL elicitation (no second tab)", async () => {
    const { dir, out } = fakeOpener();
    const server = await startStdioServer(await env(dir), { clientCapabilities: { elicitation: { url: {} } } });
    let asked = 0;
    server.client.setRequestHandler(ElicitRequestSchema, async () => {
      asked++;
      return { action: "accept" };
    });
    try {
      await server.client.callTool({ name: "start_connector_oauth", arguments: { provider: "hubspot" } });
      await waitForStderr(server.transport, "url elicitation answered");
      expect(asked).toBe(1);
      expect(server.transport.stderr).not.toContain("opened the authorization URL");
      expect(fs.existsSync(out)).toBe(false);
    } finally {
      await server.close();
    }
  });
});
