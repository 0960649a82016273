// The connect card's document (transports/mcp-app.ts declares it). A module of its own, imported on
// the first resources/read of the card: a stdio server that never renders it does not load it
// (issue 14, cold start).

/**
 * The card: one document, no external asset (the host's sandbox allows none we do not declare),
 * no secret (it only ever sees start_connector_oauth's result and get_connector_status's). The
 * consent page is never framed: "Open sign-in" asks the host to open it (ui/open-link). Then the
 * card asks the host to call get_connector_status every few seconds until the status is final.
 */
export const CONNECT_CARD_HTML = `<!doctype html>
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
