/** The 2025-11-25 and HTTP+SSE sessions' limits, their record, and when the sweep closes one. */
import type { NodeStreamableHTTPServerTransport } from "@modelcontextprotocol/node";
import type { Server } from "@modelcontextprotocol/server";
import type { SSEServerTransport } from "@modelcontextprotocol/server-legacy/sse";
import type { EventStoreLimits } from "./event-store.js";

export interface McpSessionLimits {
  /** Open sessions (both transports, all workspaces) at most; more are refused with 503. */
  maxSessions: number;
  /**
   * Open sessions of one workspace at most (TENEX_MAX_SESSIONS_PER_WORKSPACE); more are refused
   * with `quota_exceeded`. One key may hold `sessionsPerKey` of them.
   */
  maxSessionsPerWorkspace: number;
  /** A session (either transport) with no request for this long is closed. */
  idleMs: number;
  /** A session with no request after the one that opened it is closed this soon. */
  unusedIdleMs: number;
  /** Per-session bound on the events kept for resumable SSE streams, and `maxTotalBytes` across all sessions. */
  eventStore: EventStoreLimits & { maxTotalBytes: number };
}

export const DEFAULT_SESSION_LIMITS: McpSessionLimits = {
  maxSessions: 1000,
  maxSessionsPerWorkspace: 100,
  idleMs: 30 * 60 * 1000,
  unusedIdleMs: 60 * 1000,
  // Held in memory at most: 64 MiB across sessions (bytes of serialized messages), 256 KiB a session.
  eventStore: { maxEvents: 200, maxBytes: 256 * 1024, maxTotalBytes: 64 * 1024 * 1024 },
};

/**
 * The sessions one API key (or the keyless loopback caller) may hold: its workspace's share less
 * a quarter of it, kept for the workspace's other keys, so one runaway agent cannot take the whole
 * share from its teammates. A share under 4 has no reserve (one key can use it all): small shares
 * are set for single-key workspaces. Derived, not a variable of its own: an operator raising the
 * workspace share raises this with it.
 */
export function sessionsPerKey(maxSessionsPerWorkspace: number): number {
  return maxSessionsPerWorkspace - Math.floor(maxSessionsPerWorkspace / 4);
}

export interface Session {
  kind: "streamable" | "sse";
  id: string;
  workspace_id: string;
  /** The key that opened the session: the session ends when that key is revoked. */
  key_id: string | null;
  /** The OAuth grant whose token opened the session: the session ends when the grant does. */
  grant_id: string | null;
  /** The credential (principalOf): only it may use the session. */
  principal: string | null;
  server: Server;
  transport: NodeStreamableHTTPServerTransport | SSEServerTransport;
  lastSeen: number;
  /** A request came after the one that opened the session. */
  used: boolean;
}

/** Why the sweep closes this session now, or null to keep it. */
export function whyClose(s: Session, revokedKeys: ReadonlySet<string>, now: number, limits: McpSessionLimits): string | null {
  if (s.key_id && revokedKeys.has(s.key_id)) return "key revoked";
  if (s.grant_id && revokedKeys.has(`oauth:${s.grant_id}`)) return "oauth grant ended";
  if (!s.used && s.lastSeen < now - limits.unusedIdleMs) return "unused";
  if (s.lastSeen < now - limits.idleMs) return "idle";
  return null;
}
