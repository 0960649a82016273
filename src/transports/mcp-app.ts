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
export async function readAppResource(
  uri: string,
): Promise<{ contents: Array<{ uri: string; mimeType: string; text: string; _meta: Record<string, unknown> }> } | undefined> {
  if (uri !== CONNECT_CARD_URI) return undefined;
  const { CONNECT_CARD_HTML } = await import("./mcp-app-card.js");
  return { contents: [{ uri, mimeType: MCP_APP_MIME_TYPE, text: CONNECT_CARD_HTML, _meta: CONNECT_CARD._meta }] };
}
