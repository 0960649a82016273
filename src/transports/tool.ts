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
  signal: AbortSignal;
  /** Reports progress when the client asked for it; a no-op otherwise. */
  progress: (progress: number, total?: number, message?: string) => Promise<void>;
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
