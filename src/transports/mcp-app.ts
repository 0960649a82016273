// The MCP Apps connect card (extension io.modelcontextprotocol/ui, SEP-1865): a `ui://` resource
// that hosts which render apps show next to start_connector_oauth's result. Written by hand rather
// than with @modelcontextprotocol/ext-apps: its server helpers register on the high-level McpServer
// (this server uses the low-level Server with its own dispatch), its app side would need a bundler
// to inline it into one self-contained document, and it requires @modelcontextprotocol/client as a
// peer of a server. The protocol pieces used here are few: the MIME type, the tool's
// `_meta.ui.resourceUri`, and five postMessage JSON-RPC methods in the card.

/** The extension's identifier, as capabilities carry it. */
export const MCP_APPS_EXTENSION = "io.modelcontextprotocol/ui";
/** The MIME type of an MCP App's HTML resource. */
export const MCP_APP_MIME_TYPE = "text/html;profile=mcp-app";
/** The connect card start_connector_oauth points at. */
export const CONNECT_CARD_URI = "ui://tenex-connectors/connect-card.html";

/** A tool's `_meta` for an app: the nested key, and the deprecated flat key that hosts predating it read. */
export function appToolMeta(resourceUri: string): Record<string, unknown> {
  return { ui: { resourceUri }, "ui/resourceUri": resourceUri };
}

/**
 * The card: one document, no external asset (the host's sandbox allows none we do not declare),
 * no secret (it only ever sees start_connector_oauth's result and get_connector_status's). The
 * consent page is never framed: "Open sign-in" asks the host to open it (ui/open-link). Then the
 * card asks the host to call get_connector_status every few seconds until the status is final.
 */
const CONNECT_CARD_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Connect an account</title>
<style>
  :root { color-scheme: light dark; font-family: system-ui, sans-serif; }
  body { margin: 0; padding: 12px 16px; }
  h1 { font-size: 1rem; margin: 0 0 8px; }
  dl { display: grid; grid-template-columns: max-content 1fr; gap: 4px 12px; margin: 0 0 12px; }
  dt { color: GrayText; }
  dd { margin: 0; }
  button { font: inherit; padding: 6px 14px; border-radius: 6px; cursor: pointer; }
  button[disabled] { cursor: default; opacity: 0.6; }
  #status[data-status="connected"] { color: #1a7f37; font-weight: 600; }
  #status[data-status="error"], #status[data-status="expired"], #status[data-status="revoked"] { color: #cf222e; }
  #note { margin: 8px 0 0; font-size: 0.9rem; }
</style>
</head>
<body>
<main>
  <h1>Connect an account</h1>
  <dl>
    <dt>Provider</dt><dd id="provider">…</dd>
    <dt>Label</dt><dd id="label">—</dd>
    <dt>Status</dt><dd id="status" role="status" aria-live="polite">waiting for the tool result</dd>
  </dl>
  <button id="open" type="button" disabled>Open sign-in</button>
  <p id="note">The sign-in page opens in a new tab of your browser; this card follows the status.</p>
</main>
<script>
(() => {
  "use strict";
  const FINAL = ["connected", "error", "expired", "disabled", "revoked"];
  const POLL_MS = 3000;
  const POLL_LIMIT = 400;
  const el = (id) => document.getElementById(id);
  let nextId = 1;
  const pending = new Map();
  let connectorId = null;
  let link = null;
  let polls = 0;
  let timer = null;

  function send(message) { window.parent.postMessage(Object.assign({ jsonrpc: "2.0" }, message), "*"); }
  function request(method, params) {
    const id = nextId++;
    send({ id, method, params });
    return new Promise((resolve, reject) => pending.set(id, { resolve, reject }));
  }
  function show(id, text) { if (typeof text === "string" && text) el(id).textContent = text; }
  function setStatus(status, detail) {
    el("status").dataset.status = status;
    el("status").textContent = detail ? status + " (" + detail + ")" : status;
    if (FINAL.includes(status)) {
      el("open").disabled = true;
      if (timer) clearTimeout(timer);
      timer = null;
      el("note").textContent = status === "connected" ? "Connected." : "The connection did not complete.";
    }
  }
  function structured(result) {
    return result && typeof result === "object" && result.structuredContent && typeof result.structuredContent === "object"
      ? result.structuredContent : null;
  }
  function onToolResult(result) {
    const out = structured(result);
    if (!out || out.error) { setStatus("error", out && out.error && out.error.code); return; }
    if (typeof out.connector_id === "string") connectorId = out.connector_id;
    if (typeof out.authorization_url === "string" && /^https?:\\/\\//.test(out.authorization_url)) link = out.authorization_url;
    if (typeof out.status === "string") setStatus(out.status);
    if (link && out.status === "pending") el("open").disabled = false;
    if (out.status === "pending") schedule();
  }
  function schedule() {
    if (timer || !connectorId || polls >= POLL_LIMIT) return;
    timer = setTimeout(poll, POLL_MS);
  }
  async function poll() {
    timer = null;
    polls++;
    try {
      const out = structured(await request("tools/call", { name: "get_connector_status", arguments: { connector_id: connectorId } }));
      if (out && !out.error) {
        show("provider", out.provider);
        show("label", out.label);
        if (typeof out.status === "string") setStatus(out.status, out.status_detail);
        if (FINAL.includes(out.status)) return;
      }
    } catch (_e) { /* the host refused or failed: try again later */ }
    schedule();
  }
  el("open").addEventListener("click", () => {
    if (link) request("ui/open-link", { url: link }).catch(() => { el("note").textContent = "Open this link in your browser: " + link; });
  });
  window.addEventListener("message", (event) => {
    if (event.source !== window.parent) return;
    const m = event.data;
    if (!m || m.jsonrpc !== "2.0") return;
    if (m.id !== undefined && !m.method && pending.has(m.id)) {
      const p = pending.get(m.id);
      pending.delete(m.id);
      if (m.error) p.reject(m.error); else p.resolve(m.result);
      return;
    }
    if (m.method === "ui/notifications/tool-input") {
      const args = (m.params && m.params.arguments) || {};
      show("provider", args.provider);
      show("label", args.label);
    } else if (m.method === "ui/notifications/tool-result") {
      onToolResult(m.params);
    } else if (m.method === "ui/resource-teardown" && m.id !== undefined) {
      if (timer) clearTimeout(timer);
      send({ id: m.id, result: {} });
    } else if (m.id !== undefined && m.method) {
      send({ id: m.id, error: { code: -32601, message: "Method not found" } });
    }
  });
  request("ui/initialize", {
    appInfo: { name: "tenex-connectors connect card", version: "1.0.0" },
    appCapabilities: {},
    protocolVersion: "2026-01-26",
  }).then(() => send({ method: "ui/notifications/initialized", params: {} }), () => {});
})();
</script>
</body>
</html>
`;

export interface AppResource {
  uri: string;
  name: string;
  title: string;
  description: string;
  mimeType: string;
  _meta: Record<string, unknown>;
}

const CONNECT_CARD: AppResource = {
  uri: CONNECT_CARD_URI,
  name: "connect-card",
  title: "Connect an account",
  description: "MCP Apps card for start_connector_oauth: the provider, the status, and an Open sign-in button.",
  mimeType: MCP_APP_MIME_TYPE,
  _meta: { ui: { prefersBorder: true } },
};

/** resources/list: the app resources this server serves. */
export function appResources(): AppResource[] {
  return [CONNECT_CARD];
}

/** resources/read of one app resource, or undefined for an unknown URI. */
export function readAppResource(
  uri: string,
): { contents: Array<{ uri: string; mimeType: string; text: string; _meta: Record<string, unknown> }> } | undefined {
  if (uri !== CONNECT_CARD_URI) return undefined;
  return { contents: [{ uri, mimeType: MCP_APP_MIME_TYPE, text: CONNECT_CARD_HTML, _meta: CONNECT_CARD._meta }] };
}
