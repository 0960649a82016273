// The MCP Apps connect card (extension io.modelcontextprotocol/ui): start_connector_oauth lists it
// as `_meta.ui.resourceUri`, resources/list and resources/read serve it as text/html;profile=mcp-app
// with no external asset and no secret, a client without apps gets the same tool result as before,
// and in headless Chromium the card, framed by a minimal host page, asks the host to open the
// connect link (ui/open-link) and to call get_connector_status until the status is final.
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CONNECT_CARD_URI, MCP_APP_MIME_TYPE } from "../src/transports/mcp-app.js";
import type { HubSpotSandbox } from "./sandbox/hubspot.js";
import { launchChromium } from "./support/browser.js";
import { type Harness, startHubSpotHarness } from "./support/harness.js";

describe("MCP Apps connect card", () => {
  let sandbox: HubSpotSandbox;
  let h: Harness;
  let html = "";

  beforeAll(async () => {
    ({ sandbox, h } = await startHubSpotHarness());
  });
  afterAll(async () => {
    await h?.close();
    await sandbox?.close();
  });

  it("start_connector_oauth points at the card in tools/list", async () => {
    const { tools } = await h.client.listTools();
    const start = tools.find((t) => t.name === "start_connector_oauth");
    expect(start?._meta).toEqual({ ui: { resourceUri: CONNECT_CARD_URI }, "ui/resourceUri": CONNECT_CARD_URI });
    for (const t of tools.filter((t) => t.name !== "start_connector_oauth")) expect(t._meta, t.name).toBeUndefined();
    expect(h.client.getServerCapabilities()?.resources).toBeDefined();
  });

  it("resources/list and resources/read serve the card as text/html;profile=mcp-app", async () => {
    const { resources } = await h.client.listResources();
    expect(resources).toEqual([expect.objectContaining({ uri: CONNECT_CARD_URI, mimeType: MCP_APP_MIME_TYPE })]);
    const read = await h.client.readResource({ uri: CONNECT_CARD_URI });
    expect(read.contents).toHaveLength(1);
    const [content] = read.contents;
    expect(content).toMatchObject({ uri: CONNECT_CARD_URI, mimeType: MCP_APP_MIME_TYPE });
    html = String((content as { text?: string }).text);
    expect(html).toMatch(/^<!doctype html>/);
    expect(html).toMatch(/<button id="open"[^>]*>Open sign-in<\/button>/);
    expect(html).toMatch(/id="status"[^>]*role="status"/);
    expect(html).toContain('id="provider"');
    expect(html).toContain("Content-Security-Policy");
    for (const m of ["ui/initialize", "ui/notifications/tool-result", "ui/open-link", "tools/call", "get_connector_status"]) {
      expect(html).toContain(m);
    }
    // Self-contained: nothing loaded from anywhere, no frame of the consent page.
    expect(html).not.toMatch(/\b(src|href)\s*=\s*["']?(https?:)?\/\//i);
    expect(html).not.toMatch(/<(iframe|frame|object|embed|link)\b/i);
    expect(html).not.toMatch(/https?:\/\/[a-z0-9]/i);
    // No secret: nothing of the server's keys or the provider's client secret.
    for (const secret of [
      h.masterKey,
      ...Object.entries(sandbox.env)
        .filter(([k]) => /SECRET/.test(k))
        .map(([, v]) => v),
    ]) {
      expect(html.includes(secret)).toBe(false);
    }
  });

  it("an unknown ui:// resource is an error", async () => {
    await expect(h.client.readResource({ uri: "ui://tenex-connectors/nothing.html" })).rejects.toThrow();
  });

  it("a client without apps gets the same start_connector_oauth result", async () => {
    const raw = await h.client.callTool({ name: "start_connector_oauth", arguments: { provider: "hubspot", label: "Sales" } });
    expect(Object.keys(raw.structuredContent ?? {}).sort()).toEqual(["authorization_url", "connector_id", "expires_at", "status"]);
    expect(raw._meta).toBeUndefined();
    const blocks = raw.content as Array<{ type: string }>;
    expect(blocks.every((b) => b.type === "text")).toBe(true);
  });

  describe("in headless Chromium, framed by a minimal host", () => {
    let browser: Browser;
    beforeAll(async () => {
      browser = await launchChromium();
    });
    afterAll(async () => {
      await browser?.close();
    });

    it("opens the connect link through the host and follows the status until connected", async () => {
      expect(html).not.toBe("");
      const started = await h.ok("start_connector_oauth", { provider: "hubspot", label: "Sales" });
      const page = await browser.newPage();
      const external: string[] = [];
      page.on("request", (r) => {
        if (!/^(about|data):/.test(r.url())) external.push(r.url());
      });
      await page.setContent("<!doctype html><title>host</title><body></body>");
      await page.evaluate(
        ({ card, result }) => {
          const w = window as unknown as { seen: Array<{ method: string; params: unknown }> };
          w.seen = [];
          const frame = document.createElement("iframe");
          frame.setAttribute("sandbox", "allow-scripts");
          frame.srcdoc = card;
          document.body.append(frame);
          window.addEventListener("message", (event) => {
            const m = event.data as { id?: number; method?: string; params?: Record<string, unknown> };
            if (!m?.method || event.source !== frame.contentWindow) return;
            w.seen.push({ method: m.method, params: m.params });
            const reply = (body: Record<string, unknown>) => frame.contentWindow?.postMessage({ jsonrpc: "2.0", id: m.id, ...body }, "*");
            const notify = (method: string, params: unknown) => frame.contentWindow?.postMessage({ jsonrpc: "2.0", method, params }, "*");
            if (m.method === "ui/initialize") {
              reply({ result: { protocolVersion: "2026-01-26", hostInfo: { name: "test-host", version: "1" }, hostCapabilities: {} } });
            } else if (m.method === "ui/notifications/initialized") {
              notify("ui/notifications/tool-input", { arguments: { provider: "hubspot", label: "Sales" } });
              notify("ui/notifications/tool-result", { content: [], structuredContent: result });
            } else if (m.method === "ui/open-link") {
              reply({ result: {} });
            } else if (m.method === "tools/call") {
              reply({ result: { content: [], structuredContent: { provider: "hubspot", label: "Sales", status: "connected" } } });
            }
          });
        },
        { card: html, result: started },
      );
      const card = page.frames()[1];
      if (!card) throw new Error("the card frame did not load");
      await card.waitForSelector("#open:not([disabled])");
      expect(await card.textContent("#provider")).toBe("hubspot");
      expect(await card.textContent("#label")).toBe("Sales");
      expect(await card.textContent("#status")).toBe("pending");
      await card.click("#open");
      await card.waitForFunction(() => document.getElementById("status")?.textContent === "connected", undefined, { timeout: 10_000 });
      const seen = (await page.evaluate(() => (window as unknown as { seen: Array<{ method: string; params: unknown }> }).seen)) as Array<{
        method: string;
        params: unknown;
      }>;
      expect(seen.find((m) => m.method === "ui/open-link")?.params).toEqual({ url: started.authorization_url });
      expect(seen.find((m) => m.method === "tools/call")?.params).toEqual({
        name: "get_connector_status",
        arguments: { connector_id: started.connector_id },
      });
      expect(await card.isDisabled("#open")).toBe(true);
      expect(external).toEqual([]);
      await page.close();
    });
  });
});
