import {
  type CallToolResult,
  type JSONRPCRequest,
  ResourceNotFoundError,
  type Result,
  Server,
  type ServerContext,
  type Tool,
} from "@modelcontextprotocol/server";
import { z } from "zod";
import type { GrantDeps } from "../grants/deps.js";
import { toolErrorSchema } from "./boundary.js";
import { appResources, appToolMeta, MCP_APP_MIME_TYPE, MCP_APPS_EXTENSION, readAppResource } from "./mcp-app.js";
import { isMalformedCall, type SessionOptions, toolCaller } from "./mcp-call.js";
import { consentStateVerifier } from "./request-state.js";
import type { SessionHandle, ToolDefinition } from "./tool.js";

export type { SessionOptions } from "./mcp-call.js";

export const SERVER_NAME = "tenex-connectors";
export const SERVER_VERSION = "0.1.0";

/** MCP 2026-07-28: stateless, `server/discover`, per-request `_meta`. */
export const MODERN_PROTOCOL_VERSION = "2026-07-28";
/** MCP 2025-11-25: the `initialize` handshake and sessions. */
export const LEGACY_PROTOCOL_VERSION = "2025-11-25";
/** Both generations, newest first: in `server/discover` and in the unsupported-version error. */
export const SUPPORTED_PROTOCOL_VERSIONS = [MODERN_PROTOCOL_VERSION, LEGACY_PROTOCOL_VERSION];

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
  errorJsonSchema ??= errorSchema();
  const error = errorJsonSchema;
  return {
    ...schema,
    type: "object",
    properties: { ...(schema.properties ?? {}), error },
    if: { required: ["error"] },
    // biome-ignore lint/suspicious/noThenProperty: JSON Schema's if/then/else keyword, not a thenable.
    then: { required: ["error"] },
    else: { required: required ?? [] },
  } as NonNullable<Tool["outputSchema"]>;
}

/** The `{ error }` member every output schema carries: the same for all tools, converted once. */
let errorJsonSchema: JsonSchema | undefined;
function errorSchema(): JsonSchema {
  const { $schema: _e, ...error } = z.toJSONSchema(toolErrorSchema, { target: "draft-7" }) as JsonSchema;
  return error;
}

export function toolListing(tools: ToolDefinition[]): Tool[] {
  return tools.map((t) => ({
    name: t.name,
    title: t.title,
    description: t.description,
    inputSchema: inputJsonSchema(t),
    outputSchema: outputJsonSchema(t),
    annotations: { title: t.title, ...t.annotations },
    ...(t.ui ? { _meta: appToolMeta(t.ui.resourceUri) } : {}),
  }));
}

const INSTRUCTIONS =
  "tenex-connectors connects this workspace's SaaS accounts. Use list_providers to see what can be connected, " +
  "start_connector_oauth to begin an OAuth connection (show the person the authorization_url), then wait_for_connector or get_connector_status. " +
  "Secrets never appear in results.";

/**
 * The tools/list listing, built once per registry on the first tools/list: a 2026-07-28 HTTP
 * request gets a fresh server, and converting every tool's zod schemas to JSON Schema per request
 * cost more than the call; a stdio server answering `initialize` does not need it at all. A
 * registry given a built listing (`useBuiltListing`) imports it from that module instead.
 */
const listings = new WeakMap<ToolDefinition[], Promise<Tool[]>>();
const builtListings = new WeakMap<ToolDefinition[], URL>();
function listingOf(tools: ToolDefinition[]): Promise<Tool[]> {
  let listing = listings.get(tools);
  if (!listing) {
    listing = importBuiltListing(tools).then((built) => built ?? toolListing(tools));
    listings.set(tools, listing);
  }
  return listing;
}

/**
 * Where the build writes the registry's listing (scripts/build-listing.mjs): dist/tools/listing.js,
 * two folders up from this module in dist/src/transports/ and from the server bundle's chunks in
 * dist/src/cli/ (scripts/bundle-server.mjs). From the sources (tsx, vitest) it names
 * tools/listing.js, which never exists there, so the listing is built live.
 */
export const BUILT_LISTING = new URL("../../tools/listing.js", import.meta.url);

/**
 * Serve `tools`' listing from `module`, which the build writes from this same code
 * (scripts/build-listing.mjs; test/tool-listing-built.test.ts fails when it and the sources part),
 * so the first tools/list of a fresh process skips converting every tool's zod schemas to JSON
 * Schema (≈25 ms of a cold start in `--cpu-prof`; issue 14). Imported on the first tools/list; a
 * module that is missing (a run from the sources), broken or lists other tools than `tools` is
 * ignored and the listing is built live, as it always is without this call.
 */
export function useBuiltListing(tools: ToolDefinition[], module: URL): void {
  builtListings.set(tools, module);
}

async function importBuiltListing(tools: ToolDefinition[]): Promise<Tool[] | undefined> {
  const module = builtListings.get(tools);
  if (!module) return undefined;
  let listing: unknown;
  try {
    listing = ((await import(module.href)) as { default?: unknown }).default;
  } catch {
    return undefined;
  }
  // Another registry's listing (dist/ compiled by tsc alone after a tool was added or renamed).
  const same =
    Array.isArray(listing) && listing.length === tools.length && listing.every((t: { name?: unknown }, i) => t?.name === tools[i]?.name);
  return same ? (listing as Tool[]) : undefined;
}

type Handler = (request: JSONRPCRequest, ctx: ServerContext) => Promise<Result>;

/**
 * True when `value` has the one shape our boundary gives every tool result (boundary.ts:
 * invokeTool and errorResult): text blocks, structured content that is a plain object, maybe
 * isError, nothing else. The SDK's CallToolResult wire schemas of both revisions accept every
 * such result as it is, and their copy of it says the same, key for key and in the same order
 * (test/tool-result-wire.test.ts holds our answers to a bare SDK server's for the same results).
 */
export function isPlainToolResult(value: unknown): value is CallToolResult {
  if (!isPlainRecord(value)) return false;
  for (const key in value) if (key !== "content" && key !== "structuredContent" && key !== "isError") return false;
  const { content, structuredContent, isError } = value;
  if (!Array.isArray(content)) return false;
  for (const block of content) {
    if (!isPlainRecord(block) || block.type !== "text" || typeof block.text !== "string") return false;
    for (const key in block) if (key !== "type" && key !== "text") return false;
  }
  return (structuredContent === undefined || isPlainRecord(structuredContent)) && (isError === undefined || typeof isError === "boolean");
}

function isPlainRecord(value: unknown): value is Record<string, unknown> {
  if (typeof value !== "object" || value === null) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/** What the SDK's wrapper validates in place of a plain result (see TenexServer). */
const STAND_IN: CallToolResult = Object.freeze({ content: Object.freeze([]) as unknown as CallToolResult["content"] });

/**
 * The SDK's Server, with three changes through `_wrapHandler`, the SDK's documented hook for
 * subclasses (everything else keeps the SDK's wrapping: request validation, the input_required
 * seam, cache hints):
 * - a tools/call whose params its wire schema would refuse (no name, arguments not an object)
 *   is answered by our own dispatch, so it gets the contract's `invalid_input` instead of a
 *   JSON-RPC error carrying a schema dump;
 * - a tools/call result of the plain shape (isPlainToolResult) is not parsed again by the SDK's
 *   result schema, which copies the whole answer on every call to prove what the shape check
 *   already proved (issue 14: 2–5% of a get_connector_status answered from the read cache, in an
 *   A/B of the two builds). The SDK's wrapper still runs, on a stand-in with no content: its
 *   request validation, requestState and input_required handling are untouched, and its copy
 *   of the stand-in carries what the revision adds to every result (2026-07-28's resultType),
 *   to which the real content is put back. Anything else (an input_required result, a result of
 *   another shape) goes through the SDK's validation as before;
 * - `server/discover`, which the SDK's serving entries install themselves and which lists only
 *   modern revisions there, also lists 2025-11-25: this server speaks it (through initialize).
 */
class TenexServer extends Server {
  malformedCall?: (params: unknown, ctx: ServerContext) => Promise<CallToolResult>;

  protected override _wrapHandler(method: string, handler: Handler): Handler {
    if (method === "server/discover") {
      const wrapped = super._wrapHandler(method, handler);
      return async (request, ctx) => ({ ...(await wrapped(request, ctx)), supportedVersions: SUPPORTED_PROTOCOL_VERSIONS });
    }
    if (method !== "tools/call") return super._wrapHandler(method, handler);
    // The plain results of the calls under way, by their request: the handler parks one here and
    // hands the SDK the stand-in. A request the SDK did not hand on as it came is not in the map,
    // so its result is validated as usual (never an empty answer).
    const parked = new Map<JSONRPCRequest, CallToolResult | undefined>();
    const wrapped = super._wrapHandler(method, async (request, ctx) => {
      const result = await handler(request, ctx);
      if (!parked.has(request) || !isPlainToolResult(result)) return result;
      parked.set(request, result);
      return STAND_IN;
    });
    const call = async (request: JSONRPCRequest, ctx: ServerContext): Promise<Result> => {
      parked.set(request, undefined);
      try {
        const validated = await wrapped(request, ctx);
        const plain = parked.get(request);
        if (!plain) return validated;
        const answer = Object.isFrozen(validated) ? { ...validated } : validated;
        // Onto the stand-in's copy (which has what the revision adds, 2026-07-28's resultType, where
        // the SDK puts it), in the order the SDK's copy has them: content, structuredContent, isError.
        answer.content = plain.content;
        if (plain.structuredContent !== undefined) answer.structuredContent = plain.structuredContent;
        if (plain.isError !== undefined) answer.isError = plain.isError;
        return answer;
      } finally {
        parked.delete(request);
      }
    };
    return (request, ctx) => {
      const params: unknown = request.params;
      // null arguments mean "no arguments".
      if (params && typeof params === "object" && "arguments" in params && params.arguments === null) {
        const { arguments: _none, ...rest } = params as Record<string, unknown>;
        return call({ ...request, params: rest }, ctx);
      }
      if (this.malformedCall && isMalformedCall(params)) return this.malformedCall(params, ctx);
      return call(request, ctx);
    };
  }
}

/**
 * An MCP server for one 2025-11-25 session, one 2026-07-28 request (HTTP) or one stdio
 * connection. Registered on the low-level Server with our own dispatch, so bad arguments and
 * unknown tools get the contract's error shape; the call itself goes through the SDK-independent
 * boundary (invokeTool). Cheap and free of side effects: the transport is connected by the caller.
 */
export function createMcpServer(ctx: GrantDeps, tools: ToolDefinition[], session: SessionOptions): Server {
  const server = new TenexServer(
    { name: SERVER_NAME, version: SERVER_VERSION, title: "tenex-connectors" },
    {
      // resources: only the MCP Apps cards (extension io.modelcontextprotocol/ui); a client without
      // apps never reads them and gets the same tool results.
      capabilities: {
        tools: { listChanged: false },
        resources: { listChanged: false },
        logging: {},
        extensions: { [MCP_APPS_EXTENSION]: { mimeTypes: [MCP_APP_MIME_TYPE] } },
      },
      instructions: INSTRUCTIONS,
      cacheHints: { "tools/list": { ttlMs: 60_000, cacheScope: "private" } },
      requestState: { verify: consentStateVerifier(ctx, () => session.workspace_id) },
      // 2025-11-25 sessions get real elicitation/create from our own code; an input_required there is a bug.
      inputRequired: { legacyShim: false },
    },
  );

  // One handle per 2025 session: the callback (outside any request, maybe in another process)
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

  server.setRequestHandler("tools/list", async () => ({ tools: await listingOf(tools) }));
  server.setRequestHandler("resources/list", async () => ({ resources: appResources() }));
  server.setRequestHandler("resources/read", async (req) => {
    const read = await readAppResource(req.params.uri);
    if (!read) throw new ResourceNotFoundError(req.params.uri);
    return read;
  });
  const call = toolCaller({ ctx, server, tools: new Map(tools.map((t) => [t.name, t])), session, sessionHandle });
  server.setRequestHandler("tools/call", (req, sctx) => call(req.params, sctx));
  server.malformedCall = (params, sctx) => call(params, sctx) as Promise<CallToolResult>;
  return server;
}
