import { randomUUID } from "node:crypto";
import type http from "node:http";
import { NodeStreamableHTTPServerTransport } from "@modelcontextprotocol/node";
import { isInitializeRequest, isLegacyRequest, type Server } from "@modelcontextprotocol/server";
import { SSEServerTransport } from "@modelcontextprotocol/server-legacy/sse";
import type { GrantDeps } from "../../grants/deps.js";
import { endedGrantIds } from "../../store/oauth-server.js";
import { revokedKeyIds } from "../../store/workspaces.js";
import { createMcpServer } from "../mcp-server.js";
import type { ToolDefinition } from "../tool.js";
import { type Caller, principalOf } from "./auth.js";
import { BoundedEventStore, EventBudget } from "./event-store.js";
import { ModernMcp } from "./mcp-modern.js";
import { sendError, sendJson } from "./respond.js";
import { DEFAULT_SESSION_LIMITS, type McpSessionLimits, type Session, sessionsPerKey, whyClose } from "./sessions.js";

export const MCP_PATH = "/mcp";
export const SSE_PATH = "/sse";
export const SSE_MESSAGES_PATH = "/messages";

export { DEFAULT_SESSION_LIMITS, type McpSessionLimits } from "./sessions.js";

/** The reservation key of a caller's key: the keyless loopback caller of a workspace counts as one key. */
const keyOf = (caller: Caller) => `${caller.workspace_id}\u0000${principalOf(caller) ?? ""}`;

/**
 * The request as isLegacyRequest reads it. Given the parsed body, it looks only at the method and
 * the headers, so the body is not serialized into a web Request again (toWebRequest did, ≈ 18 µs
 * of ≈ 58 µs a 2026-07-28 request spent on the check, in-process).
 */
function headersOnlyRequest(req: http.IncomingMessage): Request {
  const headers = new Headers();
  for (const [name, value] of Object.entries(req.headers)) {
    if (value === undefined || name.startsWith(":")) continue;
    if (Array.isArray(value)) for (const v of value) headers.append(name, v);
    else headers.set(name, value);
  }
  return new Request(`http://localhost${req.url ?? "/"}`, { method: req.method ?? "POST", headers });
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
  /** Sessions being initialized, per workspace and per key: counted against the caps before they exist. */
  private readonly opening = new Map<string, number>();
  private readonly openingByKey = new Map<string, number>();
  private sweeping: Promise<void> | null = null;
  private readonly modern: ModernMcp;
  /** The event stores' shared byte budget. */
  readonly eventBudget: EventBudget;

  constructor(
    private readonly ctx: GrantDeps,
    private readonly tools: ToolDefinition[],
    private readonly limits: McpSessionLimits = DEFAULT_SESSION_LIMITS,
  ) {
    this.modern = new ModernMcp(ctx, tools);
    this.eventBudget = new EventBudget(limits.eventStore.maxTotalBytes);
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
    if (s.principal !== principalOf(caller)) return "other-key";
    s.lastSeen = this.ctx.clock();
    s.used = true;
    return s;
  }

  private newServer(caller: Caller): Server {
    const server = createMcpServer(this.ctx, this.tools, { workspace_id: caller.workspace_id, key_id: caller.key_id });
    server.onerror = (err) => this.ctx.log.debug("mcp transport error", { error: err });
    return server;
  }

  /** Open sessions of a workspace, and of the caller's key in it, counting those still being initialized. */
  private openIn(caller: Caller): { workspace: number; key: number } {
    let workspace = this.opening.get(caller.workspace_id) ?? 0;
    let key = this.openingByKey.get(keyOf(caller)) ?? 0;
    for (const s of this.sessions.values()) {
      if (s.workspace_id !== caller.workspace_id) continue;
      workspace++;
      if (s.principal === principalOf(caller)) key++;
    }
    return { workspace, key };
  }

  /**
   * Refuse a new session when the caller's workspace has its share, its key has its own part of
   * that share (sessionsPerKey), or the server is full; else reserve a place for it (release with
   * `unreserve`) so concurrent initializes cannot overshoot.
   */
  private reserve(res: http.ServerResponse, caller: Caller, transport: Session["kind"]): boolean {
    const { maxSessions, maxSessionsPerWorkspace: cap, unusedIdleMs, idleMs } = this.limits;
    const perKey = sessionsPerKey(cap);
    const open = this.openIn(caller);
    const total = this.sessions.size + [...this.opening.values()].reduce((a, b) => a + b, 0);
    const why = open.workspace >= cap ? "workspace cap" : open.key >= perKey ? "key cap" : total >= maxSessions ? "server cap" : null;
    if (why) {
      this.ctx.log.info("mcp session refused", {
        workspace_id: caller.workspace_id,
        // The key's id (never the key itself): which of the workspace's keys holds the sessions.
        ...(why === "key cap" ? { key_id: caller.key_id } : {}),
        transport,
        why,
        open: why === "key cap" ? open.key : open.workspace,
        cap: why === "workspace cap" ? cap : why === "key cap" ? perKey : maxSessions,
      });
      const wait = `sessions never used after they opened close after ${Math.round(unusedIdleMs / 1000)} s, idle ones after ${Math.round(idleMs / 60_000)} min`;
      if (why === "server cap")
        sendError(
          res,
          "unavailable",
          `The server has its maximum of ${maxSessions} open MCP sessions across all workspaces; try again in 30 seconds.`,
          { "retry-after": "30" },
        );
      else if (why === "key cap")
        sendError(
          res,
          "quota_exceeded",
          `This API key already has ${open.key} open MCP sessions, the most one key may hold (${perKey} of its workspace's ${cap}; the rest stay for the workspace's other keys). Reuse an open session, end ones you no longer need (DELETE /mcp with their Mcp-Session-Id, or close their /sse stream), or wait: ${wait}. An operator can raise TENEX_MAX_SESSIONS_PER_WORKSPACE, which raises this with it.`,
        );
      else
        sendError(
          res,
          "quota_exceeded",
          `This workspace already has ${open.workspace} open MCP sessions, its share (TENEX_MAX_SESSIONS_PER_WORKSPACE=${cap}). Reuse an open session, end ones you no longer need (DELETE /mcp with their Mcp-Session-Id, or close their /sse stream), or wait: ${wait}. An operator can raise TENEX_MAX_SESSIONS_PER_WORKSPACE.`,
        );
      return false;
    }
    this.opening.set(caller.workspace_id, (this.opening.get(caller.workspace_id) ?? 0) + 1);
    this.openingByKey.set(keyOf(caller), (this.openingByKey.get(keyOf(caller)) ?? 0) + 1);
    return true;
  }

  private unreserve(caller: Caller): void {
    const n = (this.opening.get(caller.workspace_id) ?? 1) - 1;
    if (n > 0) this.opening.set(caller.workspace_id, n);
    else this.opening.delete(caller.workspace_id);
    const k = (this.openingByKey.get(keyOf(caller)) ?? 1) - 1;
    if (k > 0) this.openingByKey.set(keyOf(caller), k);
    else this.openingByKey.delete(keyOf(caller));
  }

  private opened(s: Session): void {
    this.sessions.set(s.id, s);
    this.ctx.log.info("mcp session opened", {
      session: s.id,
      workspace_id: s.workspace_id,
      transport: s.kind === "sse" ? "sse" : "streamable-http",
      open: [...this.sessions.values()].filter((o) => o.workspace_id === s.workspace_id).length,
    });
  }

  /** POST, GET or DELETE /mcp. `body` is the parsed JSON body of a POST. */
  async handleStreamable(req: http.IncomingMessage, res: http.ServerResponse, caller: Caller, body: unknown): Promise<void> {
    if (req.method === "POST" && !(await isLegacyRequest(headersOnlyRequest(req), body))) {
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
    if (!this.reserve(res, caller, "streamable")) return;
    try {
      await this.initialize(req, res, caller, body);
    } finally {
      this.unreserve(caller);
    }
  }

  private async initialize(req: http.IncomingMessage, res: http.ServerResponse, caller: Caller, body: unknown): Promise<void> {
    const server = this.newServer(caller);
    const events = new BoundedEventStore(this.limits.eventStore, this.eventBudget);
    const transport: NodeStreamableHTTPServerTransport = new NodeStreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      eventStore: events,
      onsessioninitialized: (id) => {
        this.opened({
          kind: "streamable",
          id,
          workspace_id: caller.workspace_id,
          key_id: caller.key_id,
          grant_id: caller.grant_id ?? null,
          principal: principalOf(caller),
          server,
          transport,
          lastSeen: this.ctx.clock(),
          used: false,
        });
      },
    });
    transport.onclose = () => {
      events.clear();
      if (transport.sessionId && this.sessions.get(transport.sessionId)?.transport === transport) this.sessions.delete(transport.sessionId);
    };
    await server.connect(transport);
    await transport.handleRequest(req, res, body);
    // An initialize that failed leaves no session behind.
    if (!transport.sessionId || !this.sessions.has(transport.sessionId)) {
      await server.close().catch(() => undefined);
      events.clear();
    }
  }

  /** GET /sse: opens an HTTP+SSE session; the endpoint event names /messages?sessionId=…. */
  async openSse(res: http.ServerResponse, caller: Caller): Promise<void> {
    if (!this.reserve(res, caller, "sse")) return;
    this.unreserve(caller);
    const server = this.newServer(caller);
    const transport = new SSEServerTransport(SSE_MESSAGES_PATH, res);
    const id = transport.sessionId;
    // Registered at once (nothing is awaited between the check and here), so no reservation is kept.
    this.opened({
      kind: "sse",
      id,
      workspace_id: caller.workspace_id,
      key_id: caller.key_id,
      grant_id: caller.grant_id ?? null,
      principal: principalOf(caller),
      server,
      transport,
      lastSeen: this.ctx.clock(),
      used: false,
    });
    // Comments keep proxies from closing a quiet stream.
    const keepAlive = setInterval(() => res.write(": keep-alive\n\n"), 25_000);
    keepAlive.unref();
    transport.onclose = () => {
      clearInterval(keepAlive);
      if (this.sessions.get(id)?.transport === transport) this.sessions.delete(id);
    };
    await server.connect(transport);
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
   * this ends open streams too), sessions never used after they opened (`unusedIdleMs`) and
   * sessions idle for too long (`idleMs`), Streamable HTTP and SSE alike. Read-only.
   */
  sweep(): Promise<void> {
    this.sweeping ??= (async () => {
      try {
        const keyIds = [...new Set([...this.sessions.values()].map((s) => s.key_id).filter((k): k is string => k !== null))];
        const revoked = await revokedKeyIds(this.ctx.db, keyIds);
        const grantIds = [...new Set([...this.sessions.values()].map((s) => s.grant_id).filter((g): g is string => g !== null))];
        for (const g of await endedGrantIds(this.ctx.db, grantIds)) revoked.add(`oauth:${g}`);
        const now = this.ctx.clock();
        for (const s of [...this.sessions.values()]) {
          const why = whyClose(s, revoked, now, this.limits);
          if (!why) continue;
          this.ctx.log.info("closing mcp session", {
            session: s.id,
            workspace_id: s.workspace_id,
            transport: s.kind === "sse" ? "sse" : "streamable-http",
            why,
          });
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
