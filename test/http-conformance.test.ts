// The official MCP conformance suite (@modelcontextprotocol/conformance 0.1.13, pinned: the
// last version that runs on Node 20; 0.1.14+ fail at load there) against the real CLI in HTTP
// mode, for the 2025-11-25 scenarios. It has no 2026-07-28 scenarios: those are our own
// protocol tests, written against the spec text (protocol-2026-http.test.ts and friends). The suite's client
// cannot send an Authorization header, so the server runs in its deliberate key-free loopback
// mode (`serve --http --no-auth-loopback`, refused off loopback), acting for the local
// workspace. README "## HTTP mode" lists why the other scenarios do not apply.
import { type ChildProcess, spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { testDatabaseEnv } from "./support/database.js";
import { freePort, tempDir } from "./support/http.js";
import { CLI, ROOT, waitForOutput } from "./support/stdio.js";

const SUITE = path.join(ROOT, "node_modules/@modelcontextprotocol/conformance/dist/index.js");

/** Every server scenario of 0.1.13 that applies to a tools-only server with logging over Streamable HTTP. */
const APPLICABLE_SCENARIOS = [
  "server-initialize",
  "ping",
  "tools-list",
  "logging-set-level",
  "tools-call-error",
  "server-sse-multiple-streams",
  "dns-rebinding-protection",
];

interface Check {
  id: string;
  status: "SUCCESS" | "FAILURE" | "WARNING" | "INFO";
  description: string;
  errorMessage?: string;
}

function runScenario(url: string, scenario: string, outDir: string): Promise<{ code: number | null; output: string; checks: Check[] }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [SUITE, "server", "--url", url, "--scenario", scenario, "-o", outDir], {
      cwd: ROOT,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stdout.on("data", (d: Buffer) => (output += d.toString()));
    child.stderr.on("data", (d: Buffer) => (output += d.toString()));
    child.once("error", reject);
    child.once("exit", (code) => {
      const dir = fs.readdirSync(outDir).find((d) => d.startsWith(`server-${scenario}-`));
      const checks = dir ? (JSON.parse(fs.readFileSync(path.join(outDir, dir, "checks.json"), "utf8")) as Check[]) : [];
      resolve({ code, output, checks });
    });
  });
}

describe("official MCP conformance suite against HTTP mode", () => {
  let child: ChildProcess;
  let url: string;
  let stderr = "";
  const outDir = tempDir("tenex-conformance-");

  beforeAll(async () => {
    const dir = tempDir("tenex-conformance-db-");
    const port = await freePort();
    child = spawn(process.execPath, [CLI, "serve", "--http", "--no-auth-loopback", "--host", "127.0.0.1", "--port", String(port)], {
      env: { PATH: process.env.PATH ?? "", ...testDatabaseEnv(dir) },
      cwd: ROOT,
      stdio: ["ignore", "pipe", "pipe"],
    });
    child.stderr!.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    await waitForOutput(child, child.stderr!, () => stderr, "ready on http");
    expect(stderr).toContain("key-free loopback mode");
    url = `http://127.0.0.1:${port}/mcp`;
  });

  afterAll(async () => {
    if (child && child.exitCode === null) {
      const exited = new Promise((resolve) => child.once("exit", resolve));
      child.kill("SIGTERM");
      await exited;
    }
  });

  it("passes every applicable scenario with no failed or warning check", async () => {
    const results: Record<string, { code: number | null; output: string; checks: Check[] }> = {};
    // Two at a time: each run is a Node process of its own.
    const queue = [...APPLICABLE_SCENARIOS];
    await Promise.all(
      [0, 1].map(async () => {
        for (let s = queue.shift(); s; s = queue.shift()) results[s] = await runScenario(url, s, outDir);
      }),
    );
    const summary: string[] = [];
    for (const scenario of APPLICABLE_SCENARIOS) {
      const r = results[scenario]!;
      const bad = r.checks.filter((c) => c.status === "FAILURE" || c.status === "WARNING");
      expect(r.checks.length, `${scenario} produced no checks:\n${r.output}`).toBeGreaterThan(0);
      expect(bad, `${scenario}:\n${r.output}`).toEqual([]);
      expect(r.code, `${scenario}:\n${r.output}`).toBe(0);
      summary.push(`${scenario}: ${r.checks.filter((c) => c.status === "SUCCESS").length} checks passed`);
    }
    console.log(`conformance 0.1.13\n${summary.join("\n")}`);
    // The README's table says the same.
    const readme = fs.readFileSync(path.join(ROOT, "README.md"), "utf8");
    for (const scenario of APPLICABLE_SCENARIOS) expect(readme).toMatch(new RegExp(`\\| \`${scenario}\` \\| passes`));
  }, 120_000); // seven suite processes, two at a time: slow on a loaded 2-core machine
});
