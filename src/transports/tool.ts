import type { z } from "zod";
import type { ConsentPorts } from "../grants/consent.js";
import type { GrantDeps } from "../grants/deps.js";

export type { SessionHandle } from "../grants/elicitations.js";

export interface ToolAnnotations {
  readOnlyHint: boolean;
  destructiveHint: boolean;
  idempotentHint: boolean;
  openWorldHint: boolean;
}

/** What a tool handler gets: the core context plus who is calling, from which session, and how to reach the person. */
export interface ToolContext extends GrantDeps, ConsentPorts {
  /** The API key the caller authenticated with; absent or null without one (the local stdio workspace). */
  key_id?: string | null;
  /** The name the MCP client gave itself (clientInfo), when known: shown on the connect page as who asked. */
  client_name?: string | undefined;
  signal: AbortSignal;
  /** Reports progress when the client asked for it; a no-op otherwise. */
  progress: (progress: number, total?: number, message?: string) => Promise<void>;
  /**
   * Sends a log message to the client; present only on an MCP 2026-07-28 request that asked for
   * logging (`_meta` log level), which the SDK honours. The server's own log (stderr) is separate.
   */
  clientLog?: (level: "debug" | "info" | "warning", data: Record<string, unknown>) => Promise<void>;
}

/**
 * A tool's REST route under /api/v1. Path parameters name tool arguments (`{id}` is the
 * connector_id); the other arguments come from the query string (GET, DELETE) or the JSON body
 * (POST, PATCH). The response is the tool's structured result.
 */
export interface RestBinding {
  method: "GET" | "POST" | "PATCH" | "DELETE";
  /** OpenAPI-style template under /api/v1, e.g. `/connectors/{id}`. */
  path: string;
  /** Success status; 200 unless the call creates something. */
  status?: 200 | 201;
  /** The OpenAPI operationId when a tool has several routes (the tool's name otherwise). */
  operation?: string;
}

export interface ToolDefinition<I extends z.ZodObject = z.ZodObject, O extends z.ZodObject = z.ZodObject> {
  name: string;
  title: string;
  description: string;
  inputSchema: I;
  outputSchema: O;
  annotations: ToolAnnotations;
  /**
   * The tool's REST route, or null for a tool deliberately offered over MCP only (say why next to
   * it). Required, so a tool without a route is a visible decision.
   */
  rest: RestBinding | readonly RestBinding[] | null;
  /**
   * An MCP Apps card (a `ui://` resource of src/transports/mcp-app.ts) that hosts which render apps
   * show with this tool's result; listed as the tool's `_meta.ui.resourceUri`. Others ignore it.
   */
  ui?: { resourceUri: string };
  /** Arguments larger than this are refused before parsing (default: the boundary's 64 KiB; call_connector carries request bodies). */
  maxArgumentsBytes?: number;
  handler: (input: z.output<I>, ctx: ToolContext) => Promise<z.input<O>>;
}

/**
 * A tool of any input and output, as registries and transports hold it. Handlers are contravariant
 * in their input, so a specific tool is assignable here only with `any` in the input position.
 */
// biome-ignore lint/suspicious/noExplicitAny: see above; the registry keeps each tool's own types.
export type AnyToolDefinition = ToolDefinition<any, any>;

/** Identity helper that keeps a tool's input and output types tied to its schemas. */
export function defineTool<I extends z.ZodObject, O extends z.ZodObject>(def: ToolDefinition<I, O>): ToolDefinition<I, O> {
  return def;
}
