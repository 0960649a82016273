/**
 * MCP 2026-07-28 over Streamable HTTP: stateless, any instance answers any request. Each request
 * gets a fresh MCP server for the workspace of the key that sent it (the SDK's createMcpHandler
 * checks the `_meta` envelope, the MCP-Protocol-Version / Mcp-Method / Mcp-Name headers, and
 * streams progress on the request's own response).
 */
import type http from "node:http";
import { toNodeHandler } from "@modelcontextprotocol/node";
import { type AuthInfo, createMcpHandler, type McpRequestContext, PROTOCOL_VERSION_META_KEY } from "@modelcontextprotocol/server";
import type { GrantDeps } from "../../grants/deps.js";
import { createMcpServer, MODERN_PROTOCOL_VERSION, SUPPORTED_PROTOCOL_VERSIONS } from "../mcp-server.js";
import type { ToolDefinition } from "../tool.js";
import type { Caller } from "./auth.js";
import { sendJson } from "./respond.js";

type AuthedRequest = http.IncomingMessage & { auth?: AuthInfo };

/** The caller as the SDK's pass-through auth info. No key material: only its id and workspace. */
function authInfoOf(caller: Caller): AuthInfo {
  return { token: "", clientId: caller.key_id ?? "local", scopes: [], extra: { workspace_id: caller.workspace_id } };
}

/** The key a 2026-07-28 request authenticated with (null without one: loopback mode). */
function keyOf(f: McpRequestContext): string | null {
  const id = f.authInfo?.clientId;
  return id && id !== "local" ? id : null;
}

function workspaceOf(f: McpRequestContext): string {
  const ws = f.authInfo?.extra?.workspace_id;
  // Never reached without our auth having run first; refuse rather than guess a workspace.
  if (typeof ws !== "string") throw new Error("a 2026-07-28 request reached the MCP handler without a caller");
  return ws;
}

/** The protocol version a request claims, from the header or the body's `_meta`. */
function claimedVersion(req: http.IncomingMessage, body: unknown): string | undefined {
  const header = req.headers["mcp-protocol-version"];
  if (typeof header === "string" && header !== "") return header;
  const meta = (body as { params?: { _meta?: Record<string, unknown> } } | null)?.params?._meta;
  const v = meta?.[PROTOCOL_VERSION_META_KEY];
  return typeof v === "string" ? v : undefined;
}

export class ModernMcp {
  private readonly handle: ReturnType<typeof toNodeHandler>;

  constructor(ctx: GrantDeps, tools: ToolDefinition[]) {
    const onerror = (err: Error) => ctx.log.debug("mcp 2026-07-28 request refused or failed", { error: err.message });
    const handler = createMcpHandler((f) => createMcpServer(ctx, tools, { workspace_id: workspaceOf(f), key_id: keyOf(f) }), {
      legacy: "reject",
      onerror,
    });
    this.handle = toNodeHandler(handler, { onerror });
  }

  /** A POST that carries the 2026-07-28 `_meta` claim (isLegacyRequest said so). */
  async handle2026(req: http.IncomingMessage, res: http.ServerResponse, caller: Caller, body: unknown): Promise<void> {
    const requested = claimedVersion(req, body);
    if (requested !== undefined && requested !== MODERN_PROTOCOL_VERSION) {
      // The SDK would list only 2026-07-28; this endpoint also serves 2025-11-25 (through initialize).
      const id = (body as { id?: unknown } | null)?.id ?? null;
      return sendJson(res, 400, {
        jsonrpc: "2.0",
        id,
        error: {
          code: -32022,
          message: `Unsupported protocol version: ${requested.slice(0, 40)}. This server speaks ${SUPPORTED_PROTOCOL_VERSIONS.join(" and ")} (2025-11-25 through the initialize handshake).`,
          data: { supported: SUPPORTED_PROTOCOL_VERSIONS, requested: requested.slice(0, 40) },
        },
      });
    }
    (req as AuthedRequest).auth = authInfoOf(caller);
    await this.handle(req, res, body);
  }
}
