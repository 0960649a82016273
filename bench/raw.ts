// A raw JSON-RPC client for the bench: newline-delimited messages over a spawned server's pipes
// (no SDK Client, so the client's own cost does not pull ratios toward 1), and undici for HTTP.
import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process";
import fs from "node:fs";
import type { Pool } from "undici";

export type Msg = { id?: number; result?: any; error?: any; method?: string };

export const V2026 = "2026-07-28";
export const ENVELOPE = {
  "io.modelcontextprotocol/protocolVersion": V2026,
  "io.modelcontextprotocol/clientInfo": { name: "bench", version: "1.0.0" },
  "io.modelcontextprotocol/clientCapabilities": {},
};

export class RawStdio {
  readonly child: ChildProcessWithoutNullStreams;
  readonly spawnedAt = performance.now();
  private nextId = 1;
  private partial = "";
  private readonly waiting = new Map<number, (m: Msg) => void>();
  stderr = "";

  /** `cpu`: pin the server with taskset (the bench pins itself to the same CPU). */
  constructor(args: string[], env: Record<string, string>, cpu?: number) {
    const argv = cpu === undefined ? [process.execPath, ...args] : ["taskset", "-c", String(cpu), process.execPath, ...args];
    this.child = spawn(argv[0]!, argv.slice(1), { env: { PATH: process.env.PATH ?? "", ...env }, stdio: ["pipe", "pipe", "pipe"] });
    this.child.stderr.setEncoding("utf8");
    this.child.stderr.on("data", (d: string) => (this.stderr = (this.stderr + d).slice(-20_000)));
    this.child.stdout.setEncoding("utf8");
    this.child.stdout.on("data", (chunk: string) => {
      const lines = (this.partial + chunk).split("\n");
      this.partial = lines.pop() ?? "";
      for (const line of lines) {
        if (!line) continue;
        const m = JSON.parse(line) as Msg;
        if (m.id !== undefined && !m.method) {
          const w = this.waiting.get(m.id);
          this.waiting.delete(m.id);
          w?.(m);
        }
      }
    });
  }

  request(method: string, params: Record<string, unknown> = {}): Promise<Msg> {
    const id = this.nextId++;
    return new Promise((resolve) => {
      this.waiting.set(id, resolve);
      this.child.stdin.write(`${JSON.stringify({ jsonrpc: "2.0", id, method, params })}\n`);
    });
  }

  notify(method: string): void {
    this.child.stdin.write(`${JSON.stringify({ jsonrpc: "2.0", method })}\n`);
  }

  async initialize(): Promise<Msg> {
    const r = await this.request("initialize", {
      protocolVersion: "2025-11-25",
      capabilities: {},
      clientInfo: { name: "bench", version: "1.0.0" },
    });
    this.notify("notifications/initialized");
    return r;
  }

  /** tools/call, asserting success (a bench of errors measures nothing). */
  async call(name: string, args: Record<string, unknown>): Promise<Msg> {
    const m = await this.request("tools/call", { name, arguments: args });
    if (m.error || m.result?.isError) throw new Error(`${name} failed: ${JSON.stringify(m).slice(0, 300)}`);
    return m;
  }

  rssMb(): number {
    const status = fs.readFileSync(`/proc/${this.child.pid}/status`, "utf8");
    return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? NaN) / 1024;
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      if (this.child.exitCode !== null) return resolve();
      this.child.once("exit", () => resolve());
      this.child.stdin.end();
      setTimeout(() => this.child.kill("SIGKILL"), 3000).unref();
    });
  }
}

/** One 2026-07-28 tools/call over Streamable HTTP (stateless: no session). */
export async function httpCall(pool: Pool, name: string, args: Record<string, unknown>, id: number): Promise<void> {
  const body = JSON.stringify({ jsonrpc: "2.0", id, method: "tools/call", params: { name, arguments: args, _meta: ENVELOPE } });
  const res = await pool.request({
    path: "/mcp",
    method: "POST",
    headers: {
      "content-type": "application/json",
      accept: "application/json, text/event-stream",
      "mcp-protocol-version": V2026,
      "mcp-method": "tools/call",
      "mcp-name": name,
    },
    body,
  });
  const text = await res.body.text();
  if (res.statusCode !== 200 || text.includes('"isError":true'))
    throw new Error(`HTTP ${name} answered ${res.statusCode}: ${text.slice(0, 300)}`);
}
