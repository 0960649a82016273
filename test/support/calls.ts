// Typed tool calls through any SDK Client (in-process, stdio, HTTP): the registry's ToolName,
// ToolInput and ToolOutput give each call its argument and result types, so tests read
// `(await h.call("get_connector_status", { connector_id })).status` without casts.

import { isDeepStrictEqual } from "node:util";
import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import type { z } from "zod";
import type { ErrorCode } from "../../src/common/errors.js";
import { toolErrorSchema } from "../../src/transports/boundary.js";
import { type ToolInput, type ToolName, type ToolOutput, tools } from "../../tools/index.js";

/** The error object of a failed call, as the contract defines it. */
export interface ToolError {
  code: ErrorCode;
  message: string;
  hint?: string;
  retryable?: boolean;
}

/** A tool result as it arrives: success or `{ error }`, with the same JSON in its text content. */
export interface CallResult<T = Record<string, unknown>> {
  isError?: boolean;
  structuredContent: T & { error?: ToolError };
  content: CallToolResult["content"];
}

export interface ToolCalls {
  /** Call a tool and expect success: its structured result, typed by the registry. */
  call<N extends ToolName>(name: N, args: ToolInput<N>): Promise<ToolOutput<N>>;
  /** Call a tool and expect failure: the error object `{ code, message, hint?, retryable? }`. */
  callError(name: string, args?: Record<string, unknown>): Promise<ToolError>;
  /**
   * The raw result, for tests about the envelope itself or that take either outcome. Typed as the
   * tool's output; on failure only `error` is there (check `isError` first).
   */
  callRaw<N extends ToolName>(name: N, args?: Record<string, unknown>): Promise<CallResult<ToolOutput<N>>>;
}

/** The text of a result's first content block (the JSON twin of structuredContent). */
export function textOf(res: Pick<CallResult, "content">): string {
  const first = res.content[0];
  if (first?.type !== "text") throw new Error(`the result has no text content: ${JSON.stringify(res.content)}`);
  return first.text;
}

const registrySchemas: ReadonlyMap<string, z.ZodType> = new Map(tools.map((t) => [t.name, t.outputSchema]));

/**
 * The output contract, checked on every result a test sees (the server does not parse its own
 * outputs per call, issue 14): a success parses with its tool's output schema and comes out of the
 * parse unchanged (no key stripped, no default or transform applied), a failure is `{ error }`.
 * Throws, naming the tool and the mismatch.
 */
export function assertOutputContract(name: string, structured: unknown, isError: boolean, schemas = registrySchemas): void {
  const schema = isError ? undefined : schemas.get(name);
  if (!isError && !schema) return; // a tool made by the test itself, with no schema given
  const parsed = isError
    ? toolErrorSchema.safeParse((structured as { error?: unknown } | undefined)?.error)
    : schema!.safeParse(structured);
  if (!parsed.success)
    throw new Error(`${name}'s result does not match its ${isError ? "error" : "output"} schema: ${parsed.error.message}`);
  if (!isError && !isDeepStrictEqual(JSON.parse(JSON.stringify(parsed.data)), JSON.parse(JSON.stringify(structured))))
    throw new Error(
      `${name}'s result changes when parsed with its output schema (a key it does not declare, or a default): ${JSON.stringify(structured).slice(0, 500)}`,
    );
}

/**
 * Typed calls over `client`; every raw result's JSON is appended to `results` (for leak checks), and
 * every result is checked against its tool's schema (`schemas`: the registry's output schemas by tool name).
 */
export function toolCalls(client: Client, results: string[] = [], schemas = registrySchemas): ToolCalls {
  const callRaw = async <T>(name: string, args: Record<string, unknown> = {}): Promise<CallResult<T>> => {
    const res = await client.callTool({ name, arguments: args });
    results.push(JSON.stringify(res));
    const content = res.content;
    if (!Array.isArray(content)) throw new Error(`${name} answered without content: ${JSON.stringify(res)}`);
    assertOutputContract(name, res.structuredContent, res.isError === true, schemas);
    const structuredContent = (res.structuredContent ?? {}) as CallResult<T>["structuredContent"];
    return {
      ...(res.isError !== undefined ? { isError: res.isError === true } : {}),
      structuredContent,
      content: content as CallToolResult["content"],
    };
  };
  return {
    callRaw,
    call: async (name, args) => {
      const res = await callRaw<ToolOutput<typeof name>>(name, args as Record<string, unknown>);
      if (res.isError) throw new Error(`${name} failed: ${JSON.stringify(res.structuredContent)}`);
      return res.structuredContent;
    },
    callError: async (name, args) => {
      const res = await callRaw<object>(name, args);
      if (!res.isError || !res.structuredContent.error)
        throw new Error(`${name} unexpectedly succeeded: ${JSON.stringify(res.structuredContent)}`);
      return res.structuredContent.error;
    },
  };
}
