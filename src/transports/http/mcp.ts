import { randomUUID } from "node:crypto";
import type http from "node:http";
import { NodeStreamableHTTPServerTransport, toWebRequest } from "@modelcontextprotocol/node";
import { isInitializeRequest, isLegacyRequest, type Server } from "@modelcontextprotocol/server";
import { SSEServerTransport } from "@modelcontextprotocol/server-legacy/sse";
import type { GrantDeps } from "../../grants/deps.js";
import { revokedKeyIds } from "../../store/workspaces.js";
import { createMcpServer } from "../mcp-server.js";
import type { ToolDefinition } from "../tool.js";
import type { Caller } from "./auth.js";
import { BoundedEventStore } from "./event-store.js";
import { ModernMcp } from "./mcp-modern.js";
import { sendError, sendJson } from "./respond.js";

export const MCP_PATH = "/mcp";
export const SSE_PATH = "/sse";
export const SSE_MESSAGES_PATH = "/messages";

export interface McpSessionLimits {
  /** Open sessions (both transports) at most; more are refused with 503. */
  maxSessions: number;
  /** A Streamable HTTP session with no request for this long is closed. */
  idleMs: number;
  /** Per-session bound on the events kept for resumable SSE streams. */
  eventStore: { maxEvents: number; maxBytes: number };
}

export const DEFAULT_SESSION_LIMITS: McpSessionLimits = {
  maxSessions: 1000,
  idleMs: 30 * 60 * 1000,
  // Worst case held in memory: maxSessions × maxBytes = 256 MiB.
  eventStore: { maxEvents: 200, maxBytes: 256 * 1024 },
};

interface Session {
  kind: "streamable" | "sse";
  id: string;
  workspace_id: string;
  /** The key that opened the session: the session ends when that key is revoked. */
  key_id: string | null;
  server: Server;
  transport: NodeStreamableHTTPServerTransport | SSEServerTransport;
  lastSeen: number;
}

function rpcError(res: http.ServerResponse, status: number, code: number, message: string): void {
  sendJson(res, status, { jsonrpc: "2.0", error: { code, message }, id: null });
}

/**
 * MCP over HTTP. At /mcp, a 2026-07-28 request (its `_meta` claim) is answered statelessly by
 * ModernMcp; everything else is a 2025-11-25 session: Streamable HTTP with resumable SSE streams
 * through a bounded per-session event store. The older HTTP+SSE transport (/sse + /messages,
 * deprecated) also opens sessions. Each session has its own MCP server bound to the workspace
 * of the key that opened it: a key of another workspace finds no session, another key of the
 * same workspace is refused (403).
 */
export class McpSessions {
  private readonly sessions = new Map<string, Session>();
  private sweeping: Promise<void> | null = null;
  private readonly modern: ModernMcp;

  constructor(
    private readonly ctx: GrantDeps,
    private readonly tools: ToolDefinition[],
    private readonly limits: McpSessionLimits = DEFAULT_SESSION_LIMITS,
  ) {
    this.modern = new ModernMcp(ctx, tools);
  }

  get size(): number {
    return this.sessions.size;
  }

  has(id: string): boolean {
    return this.sessions.has(id);
  }

  /** The caller's session, "other-key" for a session of its workspace opened with another key, or undefined. */
  private lookup(id: string | null | undefined, kind: Session["kind"], caller: Caller): Session | "other-key" | undefined {
    if (!id) return undefined;
    const s = this.sessions.get(id);
    // Another workspace's session is indistinguishable from one that does not exist.
    if (!s || s.kind !== kind || s.workspace_id !== caller.workspace_id) return undefined;
    if (s.key_id !== caller.key_id) return "other-key";
    s.lastSeen = this.ctx.clock();
    return s;
  }

  private newServer(caller: Caller): Server {
    const server = createMcpServer(this.ctx, this.tools, { workspace_id: caller.workspace_id, key_id: caller.key_id });
    server.onerror = (err) => this.ctx.log.debug("mcp transport error", { error: err });
    return server;
  }

  private full(res: http.ServerResponse): boolean {
    if (this.sessions.size < this.limits.maxSessions) return false;
    sendError(res, "unavailable", "Too many open MCP sessions; try again later.", { "retry-after": "30" });
    return true;
  }

  /** POST, GET or DELETE /mcp. `body` is the parsed JSON body of a POST. */
  async handleStreamable(req: http.IncomingMessage, res: http.ServerResponse, caller: Caller, body: unknown): Promise<void> {
    if (req.method === "POST" && !(await isLegacyRequest(await toWebRequest(req, body), body))) {
      return this.modern.handle2026(req, res, caller, body);
    }
    const sid = req.headers["mcp-session-id"];
    if (typeof sid === "string" && sid !== "") {
      const s = this.lookup(sid, "streamable", caller);
      if (!s) return rpcError(res, 404, -32001, "Session not found");
      if (s === "other-key")
        return rpcError(res, 403, -32000, "Forbidden: this session was opened with another API key; open a new one with initialize.");
      await (s.transport as NodeStreamableHTTPServerTransport).handleRequest(req, res, body);
      return;
    }
    const initializing =
      req.method === "POST" && (Array.isArray(body) ? body.some((m) => isInitializeRequest(m)) : isInitializeRequest(body));
    if (!initializing) return rpcError(res, 400, -32000, "Bad Request: No valid session ID provided");
    if (this.full(res)) return;

    const server = this.newServer(caller);
    const transport: NodeStreamableHTTPServerTransport = new NodeStreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      eventStore: new BoundedEventStore(this.limits.eventStore),
      onsessioninitialized: (id) => {
        this.sessions.set(id, {
          kind: "streamable",
          id,
          workspace_id: caller.workspace_id,
          key_id: caller.key_id,
          server,
          transport,
          lastSeen: this.ctx.clock(),
        });
        this.ctx.log.debug("mcp session opened", { session: id, workspace_id: caller.workspace_id, transport: "streamable-http" });
      },
    });
    transport.onclose = () => {
      if (transport.sessionId && this.sessions.get(transport.sessionId)?.transport === transport) this.sessions.delete(transport.sessionId);
    };
    await server.connect(transport);
    await transport.handleRequest(req, res, body);
    // An initialize that failed leaves no session behind.
    if (!transport.sessionId || !this.sessions.has(transport.sessionId)) await server.close().catch(() => undefined);
  }

  /** GET /sse: opens an HTTP+SSE session; the endpoint event names /messages?sessionId=…. */
  async openSse(res: http.ServerResponse, caller: Caller): Promise<void> {
    if (this.full(res)) return;
    const server = this.newServer(caller);
    const transport = new SSEServerTransport(SSE_MESSAGES_PATH, res);
    const id = transport.sessionId;
    this.sessions.set(id, {
      kind: "sse",
      id,
      workspace_id: caller.workspace_id,
      key_id: caller.key_id,
      server,
      transport,
      lastSeen: this.ctx.clock(),
    });
    // Comments keep proxies from closing a quiet stream.
    const keepAlive = setInterval(() => res.write(": keep-alive\n\n"), 25_000);
    keepAlive.unref();
    transport.onclose = () => {
      clearInterval(keepAlive);
      if (this.sessions.get(id)?.transport === transport) this.sessions.delete(id);
    };
    await server.connect(transport);
    this.ctx.log.debug("mcp session opened", { session: id, workspace_id: caller.workspace_id, transport: "sse" });
  }

  /** POST /messages?sessionId=… */
  async postSse(req: http.IncomingMessage, res: http.ServerResponse, caller: Caller, body: unknown): Promise<void> {
    const id = new URL(req.url ?? "/", "http://mcp.invalid").searchParams.get("sessionId");
    const s = this.lookup(id, "sse", caller);
    if (!s) return sendError(res, "not_found", "No such SSE session. Open one with GET /sse.");
    if (s === "other-key")
      return sendError(res, "forbidden", "This SSE session was opened with another API key; open a new one with GET /sse.");
    await (s.transport as SSEServerTransport).handlePostMessage(req, res, body);
  }

  /**
   * Close sessions whose opening key was revoked (the key is also checked on every request;
   * this ends open streams too) and Streamable HTTP sessions idle for too long. Read-only.
   */
  sweep(): Promise<void> {
    this.sweeping ??= (async () => {
      try {
        const keyIds = [...new Set([...this.sessions.values()].map((s) => s.key_id).filter((k): k is string => k !== null))];
        const revoked = await revokedKeyIds(this.ctx.db, keyIds);
        const idleBefore = this.ctx.clock() - this.limits.idleMs;
        for (const s of [...this.sessions.values()]) {
          const why =
            s.key_id && revoked.has(s.key_id) ? "key revoked" : s.kind === "streamable" && s.lastSeen < idleBefore ? "idle" : null;
          if (!why) continue;
          this.ctx.log.info("closing mcp session", { session: s.id, workspace_id: s.workspace_id, why });
          this.sessions.delete(s.id);
          await s.server.close().catch(() => undefined);
        }
      } finally {
        this.sweeping = null;
      }
    })();
    return this.sweeping;
  }

  async closeAll(): Promise<void> {
    const all = [...this.sessions.values()];
    this.sessions.clear();
    await Promise.all(all.map((s) => s.server.close().catch(() => undefined)));
  }
}
