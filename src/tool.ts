import type { z } from "zod";
import type { Context } from "./context.js";

export interface ToolAnnotations {
  readOnlyHint: boolean;
  destructiveHint: boolean;
  idempotentHint: boolean;
  openWorldHint: boolean;
}

/** What a tool handler gets: the core context plus who is calling and from which session. */
export interface ToolContext extends Context {
  workspace_id: string;
  signal: AbortSignal;
  /** Reports progress when the client asked for it; a no-op otherwise. */
  progress: (progress: number, total?: number, message?: string) => Promise<void>;
  /**
   * Asks the client to open a URL (URL-mode elicitation); present only when the client declared
   * `elicitation.url`. Resolves true when the person accepted; `timeoutMs` bounds the wait for that answer.
   */
  elicitUrl?: (req: { url: string; message: string; elicitationId: string; timeoutMs?: number }) => Promise<boolean>;
  /** Remembers which session to notify when an elicitation completes. */
  session?: SessionHandle;
  /** Opens a URL in the person's default browser (stdio mode with --open-browser); absent otherwise. */
  openUrl?: (url: string) => void;
}

export interface SessionHandle {
  notifyElicitationComplete(elicitationId: string): Promise<void>;
}

export interface ToolDefinition<I extends z.ZodObject = z.ZodObject, O extends z.ZodObject = z.ZodObject> {
  name: string;
  title: string;
  description: string;
  inputSchema: I;
  outputSchema: O;
  annotations: ToolAnnotations;
  handler: (input: z.output<I>, ctx: ToolContext) => Promise<z.input<O>>;
}

/** Identity helper that keeps a tool's input and output types tied to its schemas. */
export function defineTool<I extends z.ZodObject, O extends z.ZodObject>(def: ToolDefinition<I, O>): ToolDefinition<I, O> {
  return def;
}
