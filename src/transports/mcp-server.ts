import { Server } from "@modelcontextprotocol/sdk/server/index.js";
import { Protocol, type RequestHandlerExtra } from "@modelcontextprotocol/sdk/shared/protocol.js";
import { ListToolsRequestSchema, type CallToolResult, type ServerNotification, type ServerRequest, type Tool } from "@modelcontextprotocol/sdk/types.js";
import { z } from "zod";
import { ConnectorError, ERROR_CODES, isConnectorError } from "../common/errors.js";
import { newId } from "../common/ids.js";
import type { SessionHandle, ToolContext, ToolDefinition } from "./tool.js";
import type { GrantDeps } from "../grants/deps.js";

export const SERVER_NAME = "tenex-connectors";
export const SERVER_VERSION = "0.1.0";

/** Arguments larger than this are refused before parsing. */
export const MAX_ARGUMENTS_BYTES = 64 * 1024;

const errorSchema = z
  .object({
    code: z.enum(ERROR_CODES),
    message: z.string(),
    hint: z.string().optional(),
    retryable: z.boolean().optional(),
  })
  .strict();

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
  const { $schema: _e, ...error } = z.toJSONSchema(errorSchema, { target: "draft-7" }) as JsonSchema;
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

function describeIssues(error: z.ZodError): string {
  return error.issues
    .slice(0, 5)
    .map((i) => {
      const where = i.path.length ? i.path.join(".") : "arguments";
      if (i.code === "unrecognized_keys") return `unknown argument(s) ${i.keys.map((k) => JSON.stringify(k.slice(0, 40))).join(", ")}`;
      return `${where}: ${i.message}`;
    })
    .join("; ");
}

/** The one error boundary: every failure leaves as `{ isError, structuredContent: { error } }`. */
export function errorResult(ctx: Pick<GrantDeps, "log">, err: unknown, toolName: string): CallToolResult {
  let error: z.infer<typeof errorSchema>;
  if (isConnectorError(err)) {
    error = { code: err.code, message: err.message, ...(err.hint ? { hint: err.hint } : {}), ...(err.retryable ? { retryable: true } : {}) };
    if (err.code === "internal") ctx.log.error("tool failed", { tool: toolName, error: err });
  } else {
    const logId = newId("err", 6);
    ctx.log.error("tool failed with an unexpected error", { tool: toolName, log_id: logId, error: err, stack: err instanceof Error ? err.stack : undefined });
    error = { code: "internal", message: `An internal error occurred in ${toolName}. The operator can find it in the server log under ${logId}.` };
  }
  return { isError: true, content: [{ type: "text", text: JSON.stringify({ error }) }], structuredContent: { error } };
}

export interface SessionOptions {
  workspace_id: string;
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

const isPlainObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/**
 * An MCP server for one session. Registered on the low-level Server with our own dispatch,
 * so bad arguments and unknown tools get the contract's error shape rather than the SDK's.
 * Cheap and free of side effects: the transport is connected by the caller.
 */
export function createMcpServer(ctx: GrantDeps, tools: ToolDefinition[], session: SessionOptions): Server {
  const server = new Server(
    { name: SERVER_NAME, version: SERVER_VERSION, title: "tenex-connectors" },
    {
      capabilities: { tools: { listChanged: false }, logging: {} },
      instructions:
        "tenex-connectors connects this workspace's SaaS accounts. Use list_providers to see what can be connected, " +
        "start_connector_oauth to begin an OAuth connection (show the person the authorization_url), then wait_for_connector or get_connector_status. " +
        "Secrets never appear in results.",
    },
  );
  const byName = new Map(tools.map((t) => [t.name, t]));
  const listing = toolListing(tools);

  // One handle per session: the callback (outside any request, maybe in another process)
  // notifies through it. The SDK's notifier throws unless the client declared URL elicitation.
  let sessionHandle: SessionHandle | undefined;
  const urlElicitation = () => Boolean(server.getClientCapabilities()?.elicitation?.url);
  server.onclose = () => {
    if (sessionHandle) ctx.elicitations.forgetSession(sessionHandle);
  };

  server.setRequestHandler(ListToolsRequestSchema, async () => ({ tools: listing }));

  const callTool = async (params: unknown, extra: CallExtra): Promise<CallToolResult> => {
    if (!isPlainObject(params) || typeof params.name !== "string") {
      return errorResult(ctx, new ConnectorError("invalid_input", "tools/call needs params { name, arguments }: name is the tool's name (a string), arguments an object. Call tools/list to see the tools."), "tools/call");
    }
    const name = params.name;
    if (session.authorize) {
      try {
        await session.authorize();
      } catch (err) {
        return errorResult(ctx, err, name);
      }
    }
    const tool = byName.get(name);
    if (!tool) {
      return errorResult(ctx, new ConnectorError("not_found", `Unknown tool "${name.slice(0, 80)}". Call tools/list to see the tools.`), "tools/call");
    }
    if (params.arguments !== undefined && params.arguments !== null && !isPlainObject(params.arguments)) {
      return errorResult(ctx, new ConnectorError("invalid_input", `Invalid arguments for ${name}: arguments must be an object of named arguments, not ${Array.isArray(params.arguments) ? "an array" : typeof params.arguments}.`), name);
    }
    const args = params.arguments ?? {};
    if (JSON.stringify(args).length > MAX_ARGUMENTS_BYTES) {
      return errorResult(ctx, new ConnectorError("invalid_input", `Arguments are too large (limit ${MAX_ARGUMENTS_BYTES / 1024} KiB).`), name);
    }
    const parsed = tool.inputSchema.safeParse(args);
    if (!parsed.success) {
      return errorResult(ctx, new ConnectorError("invalid_input", `Invalid arguments for ${name}: ${describeIssues(parsed.error)}.`), name);
    }
    const progressToken = extra._meta?.progressToken;
    const toolCtx: ToolContext = {
      ...ctx,
      workspace_id: session.workspace_id,
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
    if (urlElicitation()) {
      sessionHandle ??= { notifyElicitationComplete: (elicitationId) => server.createElicitationCompletionNotifier(elicitationId)() };
      toolCtx.session = sessionHandle;
      toolCtx.elicitUrl = async ({ url, message, elicitationId, timeoutMs }) => {
        const res = await server.elicitInput(
          { mode: "url", url, message, elicitationId },
          { relatedRequestId: extra.requestId, ...(timeoutMs ? { timeout: timeoutMs } : {}) },
        );
        return res.action === "accept";
      };
    }
    try {
      const out = tool.outputSchema.parse(await tool.handler(parsed.data, toolCtx)) as Record<string, unknown>;
      return { content: [{ type: "text", text: JSON.stringify(out) }], structuredContent: out };
    } catch (err) {
      return errorResult(ctx, err, name);
    }
  };
  Protocol.prototype.setRequestHandler.call(server, AnyToolCallRequestSchema, (req, extra) => callTool(req.params, extra));

  return server;
}
