// The floor: the smallest server the SDK line this project uses can make (v2's McpServer with
// an `echo` tool), plus `list_page`, which returns 25 connector-shaped objects (the serialisation
// any server pays for a page of list_connectors). Plain JavaScript so `node` starts it with no
// compile step, like the project's dist/. `node bench/floor.mjs` serves stdio;
// `node bench/floor.mjs --http PORT` serves Streamable HTTP at /mcp.
import http from "node:http";
import { toNodeHandler } from "@modelcontextprotocol/node";
import { createMcpHandler, McpServer } from "@modelcontextprotocol/server";
import { serveStdio } from "@modelcontextprotocol/server/stdio";
import { z } from "zod";

const connector = (i) => ({
  connector_id: `con_${String(i).padStart(24, "0")}`,
  provider: "hubspot",
  label: "HubSpot",
  auth_type: "oauth2",
  status: "connected",
  status_reason: null,
  status_detail: null,
  health: "ok",
  account: { id: "4242", name: "Acme", email: null },
  scopes: ["crm.objects.contacts.read", "crm.objects.contacts.write", "oauth"],
  roles: ["crm_sink"],
  primary_for: [],
  settings: {},
  access_expires_at: null,
  last_refreshed_at: null,
  last_tested_at: null,
  created_at: "2026-01-01T00:00:00.000Z",
  updated_at: "2026-01-01T00:00:00.000Z",
});
const PAGE = { connectors: Array.from({ length: 25 }, (_, i) => connector(i)), next_cursor: "eyJzIjoxfQ" };

function createServer() {
  const server = new McpServer({ name: "floor", version: "1.0.0" }, { capabilities: { tools: {} } });
  server.registerTool("echo", { description: "Echo", inputSchema: z.object({ text: z.string() }) }, async ({ text }) => ({
    content: [{ type: "text", text }],
  }));
  server.registerTool(
    "list_page",
    { description: "A page of 25 connectors", inputSchema: z.object({ limit: z.number().optional() }) },
    async () => ({
      content: [{ type: "text", text: JSON.stringify(PAGE) }],
      structuredContent: PAGE,
    }),
  );
  return server;
}

const at = process.argv.indexOf("--http");
if (at < 0) {
  serveStdio(createServer);
} else {
  const handle = toNodeHandler(createMcpHandler(createServer, { legacy: "reject" }));
  const srv = http.createServer((req, res) => void handle(req, res));
  srv.listen(Number(process.argv[at + 1]), "127.0.0.1", () => process.stderr.write(`floor ready on http ${srv.address().port}\n`));
}
