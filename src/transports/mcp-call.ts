/**
 * One tools/call on either protocol generation. The era is the request's: a 2026-07-28 request
 * carries its protocol version in the `_meta` envelope, a 2025-11-25 one arrives on a session
 * opened by `initialize`. The call itself always goes through the SDK-independent boundary.
 */
import {
  type CallToolResult,
  CLIENT_CAPABILITIES_META_KEY,
  type ClientCapabilities,
  type InputRequiredResult,
  inputRequired,
  LOG_LEVEL_META_KEY,
  PROTOCOL_VERSION_META_KEY,
  ProtocolError,
  ProtocolErrorCode,
  type Server,
  type ServerContext,
} from "@modelcontextprotocol/server";
import type { GrantDeps } from "../grants/deps.js";
import { errorResult, invokeTool, refusal, unknownToolMessage } from "./boundary.js";
import type { InFlightCalls } from "./in-flight.js";
import { CONSENT_INPUT, type ConsentState, consentAnswerOf, mintConsentState } from "./request-state.js";
import type { AnyToolDefinition, SessionHandle, ToolContext } from "./tool.js";

export interface SessionOptions {
  workspace_id: string;
  /** The API key the session authenticated with (revoking it cancels the grants it started). */
  key_id?: string | null;
  /** Opens an authorization URL in the person's browser (stdio mode with --open-browser). */
  openUrl?: (url: string) => void;
  /**
   * Runs before every tool call; a ConnectorError it throws fails the call with that error
   * (stdio mode with TENEX_API_KEY: the key is checked again, so a revoked key stops at once).
   */
  authorize?: () => Promise<void>;
  /** Counts running calls, so shutdown can let them answer first (stdio mode). */
  calls?: InFlightCalls;
}

export interface CallDeps {
  ctx: GrantDeps;
  server: Server;
  tools: Map<string, AnyToolDefinition>;
  session: SessionOptions;
  /** The 2025-11-25 session's handle for elicitation-complete notifications, when the client declared URL elicitation. */
  sessionHandle: () => SessionHandle | undefined;
}

export type CallResult = CallToolResult | InputRequiredResult;

const isPlainObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/** The request's `_meta` envelope (the SDK types it as `{}`), present on 2026-07-28 requests only. */
function envelope(sctx: ServerContext): Record<string, unknown> | undefined {
  return sctx.mcpReq.envelope as Record<string, unknown> | undefined;
}

/** True for a 2026-07-28 request (protocol version in its `_meta`), false on a 2025-11-25 session. */
export function isModernRequest(sctx: ServerContext): boolean {
  return typeof envelope(sctx)?.[PROTOCOL_VERSION_META_KEY] === "string";
}

/** tools/call params the SDK's wire schema refuses before any handler runs; they get our invalid_input instead. */
export function isMalformedCall(params: unknown): boolean {
  if (!isPlainObject(params) || typeof params.name !== "string") return true;
  return params.arguments !== undefined && !isPlainObject(params.arguments);
}

/** A tools/call handler over the tool registry, for both generations. */
export function toolCaller(d: CallDeps): (params: unknown, sctx: ServerContext) => Promise<CallResult> {
  const call = oneCall(d);
  return (params, sctx) => (d.session.calls ? d.session.calls.track(call(params, sctx)) : call(params, sctx));
}

function oneCall(d: CallDeps): (params: unknown, sctx: ServerContext) => Promise<CallResult> {
  return async (params, sctx) => {
    if (!isPlainObject(params) || typeof params.name !== "string") {
      return refusal(
        d.ctx.log,
        "invalid_input",
        "tools/call needs params { name, arguments }: name is the tool's name (a string), arguments an object. Call tools/list to see the tools.",
        "tools/call",
      );
    }
    const name = params.name;
    const modern = isModernRequest(sctx);
    if (d.session.authorize) {
      try {
        await d.session.authorize();
      } catch (err) {
        return errorResult(d.ctx.log, err, name);
      }
    }
    const tool = d.tools.get(name);
    if (!tool) {
      // 2026-07-28 names an unknown tool with the spec's JSON-RPC error; 2025-11-25 keeps the contract's not_found.
      if (modern) throw new ProtocolError(ProtocolErrorCode.InvalidParams, unknownToolMessage(name));
      return refusal(d.ctx.log, "not_found", unknownToolMessage(name), "tools/call");
    }
    return modern ? callModern(d, tool, params.arguments, sctx) : invokeTool(tool, params.arguments, legacyContext(d, sctx));
  };
}

/** The client's own name: from a 2026-07-28 request's `_meta` clientInfo, else the 2025-11-25 session's initialize. */
function clientName(d: CallDeps, sctx: ServerContext): string | undefined {
  const info = envelope(sctx)?.["io.modelcontextprotocol/clientInfo"];
  const name = isPlainObject(info) && typeof info.name === "string" ? info.name : d.server.getClientVersion()?.name;
  return typeof name === "string" && name.trim() ? name : undefined;
}

/** The part of every call's ToolContext that is the same for the whole session (made once per session). */
const sessionContexts = new WeakMap<CallDeps, ToolContext>();

/**
 * What every request's ToolContext has: the workspace, cancellation, progress on the request's own
 * stream. The app's context and the session's fields are the prototype (copying the twenty-odd
 * fields on every call showed in `--cpu-prof`, issue 14); nothing copies a ToolContext with spread.
 */
function baseContext(d: CallDeps, sctx: ServerContext): ToolContext {
  let session = sessionContexts.get(d);
  if (!session) {
    session = Object.assign(Object.create(d.ctx) as ToolContext, {
      workspace_id: d.session.workspace_id,
      key_id: d.session.key_id ?? null,
      ...(d.session.openUrl ? { openUrl: d.session.openUrl } : {}),
    });
    sessionContexts.set(d, session);
  }
  const progressToken = sctx.mcpReq._meta?.progressToken;
  const signal = sctx.mcpReq.signal;
  const toolCtx = Object.create(session) as ToolContext;
  toolCtx.client_name = clientName(d, sctx);
  toolCtx.signal = signal;
  toolCtx.progress = async (progress, total, message) => {
    if (progressToken === undefined || signal.aborted) return;
    await sctx.mcpReq.notify({
      method: "notifications/progress",
      params: { progressToken, progress, ...(total !== undefined ? { total } : {}), ...(message ? { message } : {}) },
    });
  };
  return toolCtx;
}

/** 2025-11-25: URL elicitation is a real `elicitation/create`, completed later by `notifications/elicitation/complete`. */
function legacyContext(d: CallDeps, sctx: ServerContext): ToolContext {
  const toolCtx = baseContext(d, sctx);
  const handle = d.sessionHandle();
  if (handle) {
    toolCtx.session = handle;
    toolCtx.elicitUrl = async ({ url, message, elicitationId, timeoutMs }) => {
      const res = await d.server.elicitInput(
        { mode: "url", url, message, elicitationId },
        { relatedRequestId: sctx.mcpReq.id, ...(timeoutMs ? { timeout: timeoutMs } : {}) },
      );
      return res.action === "accept";
    };
  }
  return toolCtx;
}

/**
 * 2026-07-28: no server-to-client requests. A client that declared URL elicitation gets the
 * consent URL back as `input_required` with a signed requestState; its retry (verified by the
 * SDK's requestState hook before this runs) carries the person's answer to the tool.
 */
async function callModern(d: CallDeps, tool: AnyToolDefinition, args: unknown, sctx: ServerContext): Promise<CallResult> {
  const toolCtx = baseContext(d, sctx);
  const env = envelope(sctx);
  if (env?.[LOG_LEVEL_META_KEY] !== undefined) toolCtx.clientLog = (level, data) => sctx.mcpReq.log(level, data);
  const state = sctx.mcpReq.requestState<ConsentState>();
  if (state !== undefined) {
    if (typeof state !== "object" || state.t !== tool.name)
      throw new ProtocolError(ProtocolErrorCode.InvalidParams, "Invalid or expired requestState", { reason: "invalid_request_state" });
    const answer = consentAnswerOf(state, sctx.mcpReq.inputResponses);
    if (!answer)
      throw new ProtocolError(ProtocolErrorCode.InvalidParams, `The retry carries no answer to the "${CONSENT_INPUT}" input request.`);
    toolCtx.consentAnswer = answer;
    return invokeTool(tool, args, toolCtx);
  }
  const caps = env?.[CLIENT_CAPABILITIES_META_KEY] as ClientCapabilities | undefined;
  const box: { url?: { url: string; message: string; connector_id: string; expires_at: string } } = {};
  if (caps?.elicitation?.url) toolCtx.returnUrl = (req) => (box.url = req);
  const result = await invokeTool(tool, args, toolCtx);
  if (!box.url || result.isError) return result;
  const requestState = await mintConsentState(d.ctx, tool.name, d.session.workspace_id, box.url);
  return inputRequired({
    inputRequests: { [CONSENT_INPUT]: inputRequired.elicitUrl({ message: box.url.message, url: box.url.url }) },
    requestState,
  });
}
