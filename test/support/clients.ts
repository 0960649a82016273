// MCP clients of both generations for the protocol tests: the v2 SDK client pinned to
// 2026-07-28 (over stdio or Streamable HTTP) and the 1.32 SDK client (2025-11-25), each
// recording the URL elicitations it was asked for and answering them as a test decides.
import { type FetchLike, Client as ModernClient, StreamableHTTPClientTransport as ModernHttpTransport } from "@modelcontextprotocol/client";
import { StdioClientTransport as ModernStdioTransport } from "@modelcontextprotocol/client/stdio";
import { Client as LegacyClient } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport as LegacyHttpTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { ElicitationCompleteNotificationSchema, ElicitRequestSchema } from "@modelcontextprotocol/sdk/types.js";
import { CLI, ROOT } from "./stdio.js";

export type Action = "accept" | "decline" | "cancel";
/** What the person does when a client shows a URL elicitation; called with its params. */
export type Answer = (params: Record<string, unknown>) => Promise<Action> | Action;

export const MODERN = "2026-07-28";
export const LEGACY = "2025-11-25";
export const URL_ELICITATION = { elicitation: { url: {} } };

export interface Modern {
  client: ModernClient;
  /** Params of every elicitation/create the client fulfilled (2026-07-28: from input_required). */
  elicitations: Array<Record<string, unknown>>;
  /** The answer the next elicitation gets (default accept). */
  answer: Answer;
  /** stderr of a spawned stdio server. */
  stderr(): string;
  close(): Promise<void>;
}

function modernClient(caps: Record<string, unknown>): Modern {
  const client = new ModernClient(
    { name: "tenex-test-2026", version: "1.0.0" },
    { capabilities: caps, versionNegotiation: { mode: { pin: MODERN } } },
  );
  const m: Modern = { client, elicitations: [], answer: () => "accept", stderr: () => "", close: () => client.close() };
  if ((caps as { elicitation?: unknown }).elicitation) {
    client.setRequestHandler("elicitation/create", async (req) => {
      const params = req.params as Record<string, unknown>;
      m.elicitations.push(params);
      return { action: await m.answer(params) };
    });
  }
  return m;
}

/** A 2026-07-28 client of `node dist/src/cli.js serve` (stdio) with `env`. */
export async function modernStdio(env: Record<string, string>, caps: Record<string, unknown> = URL_ELICITATION): Promise<Modern> {
  const m = modernClient(caps);
  const transport = new ModernStdioTransport({
    command: process.execPath,
    args: [CLI, "serve"],
    env: { PATH: process.env.PATH ?? "", ...env },
    cwd: ROOT,
    stderr: "pipe",
  });
  let stderr = "";
  transport.stderr?.on("data", (d: Buffer) => (stderr += d.toString("utf8")));
  m.stderr = () => stderr;
  await m.client.connect(transport);
  return m;
}

/** A 2026-07-28 client of `${baseUrl}/mcp` with a key; `fetch` may route each request elsewhere. */
export async function modernHttp(
  baseUrl: string,
  key: string,
  caps: Record<string, unknown> = URL_ELICITATION,
  fetch?: FetchLike,
): Promise<Modern> {
  const m = modernClient(caps);
  const transport = new ModernHttpTransport(new URL(`${baseUrl}/mcp`), {
    requestInit: { headers: { Authorization: `Bearer ${key}` } },
    ...(fetch ? { fetch } : {}),
  });
  await m.client.connect(transport);
  return m;
}

export interface Legacy {
  client: LegacyClient;
  elicitations: Array<Record<string, unknown>>;
  /** elicitationIds of the notifications/elicitation/complete received. */
  completed: string[];
  close(): Promise<void>;
}

/** A 2025-11-25 client (SDK 1.32) on a transport, declaring URL elicitation and accepting it. */
export async function legacyClient(transport: Parameters<LegacyClient["connect"]>[0]): Promise<Legacy> {
  const client = new LegacyClient({ name: "tenex-test-2025", version: "1.0.0" }, { capabilities: URL_ELICITATION });
  const l: Legacy = { client, elicitations: [], completed: [], close: () => client.close() };
  client.setRequestHandler(ElicitRequestSchema, async (req) => {
    l.elicitations.push(req.params as Record<string, unknown>);
    return { action: "accept" };
  });
  client.setNotificationHandler(ElicitationCompleteNotificationSchema, (n) => {
    l.completed.push(n.params.elicitationId);
  });
  await client.connect(transport);
  return l;
}

/** A 2025-11-25 client of `${baseUrl}/mcp` with a key. */
export function legacyHttp(baseUrl: string, key: string): Promise<Legacy> {
  return legacyClient(new LegacyHttpTransport(new URL(`${baseUrl}/mcp`), { requestInit: { headers: { Authorization: `Bearer ${key}` } } }));
}
