import { Server } from "@modelcontextprotocol/sdk/server/index.js";
import { Protocol, type RequestHandlerExtra } from "@modelcontextprotocol/sdk/shared/protocol.js";
import { ListToolsRequestSchema, type CallToolResult, type ServerNotification, type ServerRequest, type Tool } from "@modelcontextprotocol/sdk/types.js";
import { z } from "zod";
import type { GrantDeps } from "../grants/deps.js";
import { errorResult, invokeTool, refusal, toolErrorSchema, unknownToolMessage } from "./boundary.js";
import type { SessionHandle, ToolContext, ToolDefinition } from "./tool.js";

export const SERVER_NAME = "tenex-connectors";
export const SERVER_VERSION = "0.1.0";

type JsonSchema = Record<string, unknown> & { properties?: Record<string, unknown>; required?: string[] };

/** A tool's JSON input schema, as clients see it. */
export function inputJsonSchema(tool: ToolDefinition): Tool["inputSchema"] {
  const { $schema: _drop, ...schema } = z.toJSONSchema(tool.inputSchema, { target: "draft-7", io: "input" }) as JsonSchema;
  return schema as Tool["inputSchema"];
}

/**
 * A tool's JSON output schema. A failure's structuredContent is `{ error }` and clients
 * validate it against this schema too, so the success shape's required fields apply only
 * when there is no `error` (draft-07 if/then/else, no anyOf at the top).
 */
export function outputJsonSchema(tool: ToolDefinition): NonNullable<Tool["outputSchema"]> {
  const { $schema: _drop, required, ...schema } = z.toJSONSchema(tool.outputSchema, { target: "draft-7", io: "output" }) as JsonSchema;
  const { $schema: _e, ...error } = z.toJSONSchema(toolErrorSchema, { target: "draft-7" }) as JsonSchema;
  return {
    ...schema,
    type: "object",
    properties: { ...(schema.properties ?? {}), error },
    if: { required: ["error"] },
    then: { required: ["error"] },
    else: { required: required ?? [] },
  } as NonNullable<Tool["outputSchema"]>;
}

export function toolListing(tools: ToolDefinition[]): Tool[] {
  return tools.map((t) => ({
    name: t.name,
    title: t.title,
    description: t.description,
    inputSchema: inputJsonSchema(t),
    outputSchema: outputJsonSchema(t),
    annotations: { title: t.title, ...t.annotations },
  }));
}

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
}

/**
 * tools/call with params of any shape. The SDK's Server.setRequestHandler validates every
 * tools/call against its own CallToolRequestSchema before our handler runs, so a missing name
 * or non-object arguments would leave as a JSON-RPC error carrying a raw zod dump. Registered
 * through the base Protocol's setRequestHandler (same dispatch, capability check and
 * MethodNotFound behaviour), such calls reach our boundary and get `invalid_input`.
 */
const AnyToolCallRequestSchema = z.looseObject({ method: z.literal("tools/call"), params: z.unknown().optional() });

type CallExtra = RequestHandlerExtra<ServerRequest, ServerNotification>;

const INSTRUCTIONS =
  "tenex-connectors connects this workspace's SaaS accounts. Use list_providers to see what can be connected, " +
  "start_connector_oauth to begin an OAuth connection (show the person the authorization_url), then wait_for_connector or get_connector_status. " +
  "Secrets never appear in results.";

/** The ToolContext of one MCP request: progress, cancellation, and the session's ways to reach the person. */
function requestContext(ctx: GrantDeps, server: Server, session: SessionOptions, extra: CallExtra, sessionHandle: () => SessionHandle | undefined): ToolContext {
  const progressToken = extra._meta?.progressToken;
  const toolCtx: ToolContext = {
    ...ctx,
    workspace_id: session.workspace_id,
    key_id: session.key_id ?? null,
    signal: extra.signal,
    progress: async (progress, total, message) => {
      if (progressToken === undefined || extra.signal.aborted) return;
      await extra.sendNotification({
        method: "notifications/progress",
        params: { progressToken, progress, ...(total !== undefined ? { total } : {}), ...(message ? { message } : {}) },
      });
    },
    ...(session.openUrl ? { openUrl: session.openUrl } : {}),
  };
  const handle = sessionHandle();
  if (handle) {
    toolCtx.session = handle;
    toolCtx.elicitUrl = async ({ url, message, elicitationId, timeoutMs }) => {
      const res = await server.elicitInput({ mode: "url", url, message, elicitationId }, { relatedRequestId: extra.requestId, ...(timeoutMs ? { timeout: timeoutMs } : {}) });
      return res.action === "accept";
    };
  }
  return toolCtx;
}

/**
 * An MCP server for one session. Registered on the low-level Server with our own dispatch,
 * so bad arguments and unknown tools get the contract's error shape rather than the SDK's;
 * the call itself goes through the SDK-independent boundary (invokeTool).
 * Cheap and free of side effects: the transport is connected by the caller.
 */
export function createMcpServer(ctx: GrantDeps, tools: ToolDefinition[], session: SessionOptions): Server {
  const server = new Server(
    { name: SERVER_NAME, version: SERVER_VERSION, title: "tenex-connectors" },
    { capabilities: { tools: { listChanged: false }, logging: {} }, instructions: INSTRUCTIONS },
  );
  const byName = new Map(tools.map((t) => [t.name, t]));
  const listing = toolListing(tools);

  // One handle per session: the callback (outside any request, maybe in another process)
  // notifies through it. The SDK's notifier throws unless the client declared URL elicitation.
  let handle: SessionHandle | undefined;
  const sessionHandle = () => {
    if (!server.getClientCapabilities()?.elicitation?.url) return undefined;
    handle ??= { notifyElicitationComplete: (elicitationId) => server.createElicitationCompletionNotifier(elicitationId)() };
    return handle;
  };
  server.onclose = () => {
    if (handle) ctx.elicitations.forgetSession(handle);
  };

  server.setRequestHandler(ListToolsRequestSchema, async () => ({ tools: listing }));

  const callTool = async (params: unknown, extra: CallExtra): Promise<CallToolResult> => {
    if (typeof params !== "object" || params === null || Array.isArray(params) || typeof (params as { name?: unknown }).name !== "string") {
      return refusal(ctx.log, "invalid_input", "tools/call needs params { name, arguments }: name is the tool's name (a string), arguments an object. Call tools/list to see the tools.", "tools/call");
    }
    const { name, arguments: args } = params as { name: string; arguments?: unknown };
    if (session.authorize) {
      try {
        await session.authorize();
      } catch (err) {
        return errorResult(ctx.log, err, name);
      }
    }
    const tool = byName.get(name);
    if (!tool) return refusal(ctx.log, "not_found", unknownToolMessage(name), "tools/call");
    return invokeTool(tool, args, requestContext(ctx, server, session, extra, sessionHandle));
  };
  Protocol.prototype.setRequestHandler.call(server, AnyToolCallRequestSchema, (req, extra) => callTool(req.params, extra));

  return server;
}
