// Spawn the built server over stdio and talk to it with the SDK's Client. The transport
// records every raw stdout line so tests can assert stdout carries only JSON-RPC.
import { type ChildProcess, type ChildProcessWithoutNullStreams, spawn } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import type { Readable } from "node:stream";
import { fileURLToPath } from "node:url";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { ReadBuffer, serializeMessage } from "@modelcontextprotocol/sdk/shared/stdio.js";
import type { Transport } from "@modelcontextprotocol/sdk/shared/transport.js";
import type { JSONRPCMessage } from "@modelcontextprotocol/sdk/types.js";
import { type HubSpotSandbox, startHubSpotSandbox } from "../sandbox/hubspot.js";
import { type ToolCalls, toolCalls } from "./calls.js";
import { testDatabaseEnv } from "./database.js";

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
export const CLI = path.join(ROOT, "dist/src/cli.js");

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

export function tempDir(prefix = "tenex-test-"): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/** A stdio client transport around a spawned process that keeps the raw stdout lines. */
export class RecordingStdioTransport implements Transport {
  readonly stdoutLines: string[] = [];
  /** Every message the client wrote to stdin, in order. */
  readonly sent: JSONRPCMessage[] = [];
  stderr = "";
  child!: ChildProcessWithoutNullStreams;
  onclose?: () => void;
  onerror?: (error: Error) => void;
  onmessage?: (message: JSONRPCMessage) => void;
  private readonly buffer = new ReadBuffer();
  private partial = "";
  private exited: Promise<number | null> | undefined;

  constructor(private readonly opts: { env: Record<string, string>; args?: string[]; cwd?: string }) {}

  async start(): Promise<void> {
    this.child = spawn(process.execPath, [CLI, ...(this.opts.args ?? ["serve"])], {
      env: { PATH: process.env.PATH ?? "", ...this.opts.env },
      cwd: this.opts.cwd ?? ROOT,
      stdio: ["pipe", "pipe", "pipe"],
    });
    this.exited = new Promise((resolve) => this.child.once("exit", (code) => resolve(code)));
    this.child.stderr.setEncoding("utf8");
    this.child.stderr.on("data", (d: string) => (this.stderr += d));
    this.child.stdout.on("data", (chunk: Buffer) => {
      const text = this.partial + chunk.toString("utf8");
      const lines = text.split("\n");
      this.partial = lines.pop() ?? "";
      this.stdoutLines.push(...lines.filter((l) => l.length > 0));
      this.buffer.append(chunk);
      for (;;) {
        let msg: JSONRPCMessage | null;
        try {
          msg = this.buffer.readMessage();
        } catch (err) {
          this.onerror?.(err as Error);
          continue;
        }
        if (!msg) break;
        this.onmessage?.(msg);
      }
    });
    this.child.once("exit", () => this.onclose?.());
    this.child.once("error", (err) => this.onerror?.(err));
  }

  async send(message: JSONRPCMessage): Promise<void> {
    this.sent.push(message);
    await new Promise<void>((resolve) => {
      if (this.child.stdin.write(serializeMessage(message))) resolve();
      else this.child.stdin.once("drain", resolve);
    });
  }

  async close(): Promise<void> {
    if (this.child.exitCode === null) {
      this.child.stdin.end();
      const timer = setTimeout(() => this.child.kill("SIGKILL"), 3000);
      await this.exited;
      clearTimeout(timer);
    }
  }

  /** Resolves with the exit code once the process has ended. */
  waitForExit(): Promise<number | null> {
    return this.exited ?? Promise.resolve(null);
  }
}

/** A progress notification's params as the server wrote them. */
export interface WireProgress {
  progressToken: string | number;
  progress: number;
  total?: number;
  message?: string;
}

/**
 * The progress notifications of the request that carried `progressToken`, as the server wrote them
 * to stdout, in order, and whether that request's answer came after the last of them. Read on the
 * wire, not through the client's onprogress: the 1.x SDK client handles a notification a microtask
 * after the messages of the same read, so when the final notification and the result arrive in one
 * read (a loaded machine), it sees the result first and drops the notification as "unknown token".
 */
export function progressOnWire(
  t: RecordingStdioTransport,
  progressToken: string | number,
): { notifications: WireProgress[]; answeredAfter: boolean } {
  type Message = { id?: string | number; method?: string; params?: { _meta?: { progressToken?: unknown } } };
  const request = (t.sent as Message[]).find((m) => m.method !== undefined && m.params?._meta?.progressToken === progressToken);
  if (request?.id === undefined) throw new Error(`no request carried the progress token ${JSON.stringify(progressToken)}`);
  type Line = { id?: string | number; method?: string; params?: WireProgress };
  const wire = t.stdoutLines.map((l) => JSON.parse(l) as Line);
  const mine = (m: Line) => m.method === "notifications/progress" && m.params?.progressToken === progressToken;
  const last = wire.findLastIndex(mine);
  const answer = wire.findIndex((m) => m.method === undefined && m.id === request.id);
  return { notifications: wire.filter(mine).map((m) => m.params!), answeredAfter: answer > last && last >= 0 };
}

export interface StdioServer extends ToolCalls {
  client: Client;
  /** Every tool result's JSON, for leak checks. */
  results: string[];
  transport: RecordingStdioTransport;
  close(): Promise<void>;
}

/** Spawn `node dist/src/cli.js serve` with the given environment and connect an SDK Client. */
export async function startStdioServer(
  env: Record<string, string>,
  opts: { clientCapabilities?: Record<string, unknown> } = {},
): Promise<StdioServer> {
  const transport = new RecordingStdioTransport({ env });
  const client = new Client({ name: "tenex-test", version: "1.0.0" }, { capabilities: (opts.clientCapabilities ?? {}) as never });
  await client.connect(transport);
  const results: string[] = [];
  return {
    ...toolCalls(client, results),
    results,
    client,
    transport,
    close: async () => {
      await client.close().catch(() => undefined);
      await transport.close();
    },
  };
}

/**
 * How long waitForOutput waits by default. It only catches a hang (a process that never says what it
 * should), with the output so far in the error: a server's start-up on a loaded 2-core machine, on
 * the PostgreSQL pass, has taken longer than 10 s. Hooks get more than this (vitest.config.ts), so
 * this error, not a bare hook timeout, is what a hang shows.
 */
export const OUTPUT_WAIT_MS = 60_000;

/**
 * Resolves when a child process's output shows `text`: `read()` returns all of it so far and is
 * checked on every chunk the stream emits (no polling). Fails if the process exits first or
 * nothing shows within `timeoutMs`. Usable in hooks, where expect.poll is not.
 */
export function waitForOutput(
  child: ChildProcess,
  stream: Readable,
  read: () => string,
  text: string,
  timeoutMs = OUTPUT_WAIT_MS,
): Promise<void> {
  return new Promise((resolve, reject) => {
    const done = (err?: Error) => {
      clearTimeout(timer);
      stream.off("data", check);
      child.off("exit", exited);
      if (err) reject(err);
      else resolve();
    };
    // Registered after the caller's own "data" listener, so read() already holds the chunk.
    const check = () => read().includes(text) && done();
    const exited = () => done(new Error(`the process exited before "${text}" showed in its output:\n${read()}`));
    const timer = setTimeout(() => done(new Error(`"${text}" did not show within ${timeoutMs} ms:\n${read()}`)), timeoutMs);
    stream.on("data", check);
    child.once("exit", exited);
    if (read().includes(text)) done();
    else if (child.exitCode !== null || child.signalCode !== null) exited();
  });
}

/** Resolves when the server's stderr shows a line containing `text` (see waitForOutput). */
export function waitForStderr(t: RecordingStdioTransport, text: string, timeoutMs = OUTPUT_WAIT_MS): Promise<void> {
  return waitForOutput(t.child, t.child.stderr, () => t.stderr, text, timeoutMs);
}

export interface StdioHubSpot {
  sandbox: HubSpotSandbox;
  /** The built server over stdio, its callback listener ready. */
  server: StdioServer;
  port: number;
  redirectUri: string;
  /** The server's data directory (database, generated master key). */
  dir: string;
  dbPath: string;
  /** The server's environment: start another process with it to share the database and the port. */
  env: Record<string, string>;
  close(): Promise<void>;
}

/**
 * The usual stdio set-up: a fresh callback port, a HubSpot stand-in redirecting to it, and the
 * built server over stdio on a fresh database, once its callback listener is ready.
 */
export async function startStdioHubSpot(opts: { clientCapabilities?: Record<string, unknown> } = {}): Promise<StdioHubSpot> {
  const port = await freePort();
  const redirectUri = `http://127.0.0.1:${port}/oauth/callback`;
  const sandbox = await startHubSpotSandbox({ redirectUri });
  const dir = tempDir();
  const env = { ...testDatabaseEnv(dir), TENEX_CALLBACK_PORT: String(port), ...sandbox.env };
  let server: StdioServer | undefined;
  try {
    server = await startStdioServer(env, opts);
    await waitForStderr(server.transport, "oauth callback listener ready");
  } catch (err) {
    await server?.close();
    await sandbox.close();
    throw err;
  }
  const started = server;
  return {
    sandbox,
    server: started,
    port,
    redirectUri,
    dir,
    dbPath: env.TENEX_DB,
    env,
    close: async () => {
      await started.close();
      await sandbox.close();
    },
  };
}

/** A built `serve --http` process on a port, with its stderr collected (two-instance tests). */
export interface HttpInstance {
  port: number;
  url: string;
  child: ChildProcess;
  stderr: () => string;
  exited: Promise<unknown>;
}

export function startHttpInstance(port: number, env: Record<string, string>): HttpInstance {
  const child = spawn(process.execPath, [CLI, "serve", "--http", "--port", String(port)], {
    env,
    cwd: ROOT,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stderr = "";
  child.stderr!.setEncoding("utf8").on("data", (d: string) => (stderr += d));
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    child,
    stderr: () => stderr,
    exited: new Promise((resolve) => child.once("exit", resolve)),
  };
}
