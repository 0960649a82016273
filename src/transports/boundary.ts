/**
 * The tool boundary: the one place a tool call is checked, run and turned into a result, for
 * every transport (the MCP server and the REST API). It knows nothing of the MCP SDK: it takes a
 * tool definition, raw arguments and a ToolContext, and returns the CallToolResult shape.
 */
import { z } from "zod";
import { ConnectorError, ERROR_CODES, type ErrorCode, isConnectorError } from "../common/errors.js";
import { newId } from "../common/ids.js";
import type { Logger } from "../common/log.js";
import type { AnyToolDefinition, ToolContext } from "./tool.js";

/** Arguments larger than this are refused before parsing. */
export const MAX_ARGUMENTS_BYTES = 64 * 1024;

/** `structuredContent.error` of a failed call. */
export const toolErrorSchema = z
  .object({
    code: z.enum(ERROR_CODES),
    message: z.string(),
    retryable: z.boolean().optional(),
  })
  .strict();

export type ToolError = z.infer<typeof toolErrorSchema>;

type TextContent = Array<{ type: "text"; text: string }>;

/** A tool call's result: `structuredContent` plus the same JSON as text; a failure carries `{ error }`. */
export type ToolResult =
  | { isError?: undefined; content: TextContent; structuredContent: Record<string, unknown> }
  | { isError: true; content: TextContent; structuredContent: { error: ToolError } };

const isPlainObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

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

/**
 * Any failure as a result: a ConnectorError keeps its code and message; anything else becomes
 * `internal` with a log id, the raw message and stack going to the log only.
 */
export function errorResult(log: Logger, err: unknown, toolName: string): ToolResult {
  let error: ToolError;
  if (isConnectorError(err)) {
    error = { code: err.code, message: err.message, ...(err.retryable ? { retryable: true } : {}) };
    if (err.code === "internal") log.error("tool failed", { tool: toolName, error: err });
  } else {
    const logId = newId("err", 6);
    log.error("tool failed with an unexpected error", {
      tool: toolName,
      log_id: logId,
      error: err,
      stack: err instanceof Error ? err.stack : undefined,
    });
    error = {
      code: "internal",
      message: `An internal error occurred in ${toolName}. The operator can find it in the server log under ${logId}.`,
    };
  }
  return { isError: true, content: [{ type: "text", text: JSON.stringify({ error }) }], structuredContent: { error } };
}

/** A refusal before any tool runs (malformed call, unknown tool), in the same shape. */
export function refusal(log: Logger, code: ErrorCode, message: string, where: string): ToolResult {
  return errorResult(log, new ConnectorError(code, message), where);
}

/** The message for a tools/call naming no tool this server has: `not_found` of a tool, not of a connector. */
export function unknownToolMessage(name: string): string {
  return `Unknown tool "${name.slice(0, 80)}": this server has no tool of that name (no connector was looked up). Call tools/list to see the tools.`;
}

/**
 * True when a flat object of short values is certainly within `limit` bytes of JSON, without
 * writing it out (most calls: an id or two); anything nested is measured by JSON.stringify. A
 * character takes at most 6 bytes of JSON (`\uXXXX`), plus quotes, colon and comma per entry.
 */
function surelyWithin(args: Record<string, unknown>, limit: number): boolean {
  let bound = 2;
  for (const k in args) {
    const v = args[k];
    if (typeof v === "string") bound += 6 * v.length;
    else if (typeof v === "number" || typeof v === "boolean" || v === null) bound += 24;
    else return false;
    bound += 6 * k.length + 4;
    if (bound > limit) return false;
  }
  return true;
}

/** Raw arguments → the tool's parsed input, or the `invalid_input` error that says what is wrong. */
function parseArguments(tool: AnyToolDefinition, args: unknown): { ok: true; input: unknown } | { ok: false; error: ConnectorError } {
  if (args !== undefined && args !== null && !isPlainObject(args)) {
    const what = Array.isArray(args) ? "an array" : typeof args;
    return {
      ok: false,
      error: new ConnectorError(
        "invalid_input",
        `Invalid arguments for ${tool.name}: arguments must be an object of named arguments, not ${what}.`,
      ),
    };
  }
  const raw = args ?? {};
  const limit = tool.maxArgumentsBytes ?? MAX_ARGUMENTS_BYTES;
  if (!surelyWithin(raw as Record<string, unknown>, limit) && JSON.stringify(raw).length > limit) {
    return { ok: false, error: new ConnectorError("invalid_input", `Arguments are too large (limit ${limit / 1024} KiB).`) };
  }
  const parsed = tool.inputSchema.safeParse(raw);
  if (!parsed.success)
    return {
      ok: false,
      error: new ConnectorError("invalid_input", `Invalid arguments for ${tool.name}: ${describeIssues(parsed.error)}.`),
    };
  return { ok: true, input: parsed.data };
}

/** The text of frozen results (answers kept by store/read-cache.ts, which cannot change), made once each. */
const frozenText = new WeakMap<object, string>();

/** A result as JSON text: the text block beside structuredContent. */
function textOf(out: Record<string, unknown>): string {
  if (!Object.isFrozen(out)) return JSON.stringify(out);
  let text = frozenText.get(out);
  if (text === undefined) {
    text = JSON.stringify(out);
    frozenText.set(out, text);
  }
  return text;
}

/**
 * Run one tool: check the raw arguments with its input schema, run the handler, and return the
 * result. Never throws.
 *
 * The output is not parsed with the output schema on every call (a page of 25 connectors took tens
 * of microseconds of it, issue 14): handlers are typed by their schema, and every result the test
 * suite sees is checked against it, strictly and unchanged by the parse (test/support/calls.ts).
 */
export async function invokeTool(tool: AnyToolDefinition, args: unknown, ctx: ToolContext): Promise<ToolResult> {
  const parsed = parseArguments(tool, args);
  if (!parsed.ok) return errorResult(ctx.log, parsed.error, tool.name);
  try {
    const out = (await tool.handler(parsed.input, ctx)) as Record<string, unknown>;
    return { content: [{ type: "text", text: textOf(out) }], structuredContent: out };
  } catch (err) {
    return errorResult(ctx.log, err, tool.name);
  }
}
