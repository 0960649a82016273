// Two HTTP instances (two built server processes, `serve --http`) on one SQLite database, no
// session affinity: one 2026-07-28 client's consecutive requests go to them alternately, and
// the retry of an input_required start lands on the instance that did not start it. Neither
// process is given TENEX_STATE_KEY: they start together and agree on the key generated into
// the database.
import { spawnSync } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { consentOverHttp } from "./sandbox/consent.js";
import { type HubSpotSandbox, startHubSpotSandbox } from "./sandbox/hubspot.js";
import { modernHttp } from "./support/clients.js";
import { testDatabaseEnv } from "./support/database.js";
import { freePort, tempDir } from "./support/http.js";
import { CLI, type HttpInstance, ROOT, startHttpInstance, waitForOutput } from "./support/stdio.js";

type Sc = Record<string, any>;

describe("two HTTP instances on one database, no session affinity", () => {
  let sandbox: HubSpotSandbox;
  let instances: HttpInstance[] = [];
  let key: string;
  let publicUrl: string;

  beforeAll(async () => {
    const dir = tempDir("tenex-two-");
    const [portA, portB] = [await freePort(), await freePort()];
    publicUrl = `http://127.0.0.1:${portA}`;
    sandbox = await startHubSpotSandbox({ redirectUri: `${publicUrl}/oauth/callback` });
    // One public URL, as behind a load balancer: the provider sends the person back to instance A.
    const env = {
      PATH: process.env.PATH ?? "",
      ...testDatabaseEnv(dir),
      TENEX_PUBLIC_URL: publicUrl,
      TENEX_ALLOWED_HOSTS: "127.0.0.1",
      // Connect links are followed without a member signed in (test/people-connect.test.ts covers sign-in).
      TENEX_CONNECT_SIGNIN: "optional",
      ...sandbox.env,
    };
    const run = (...args: string[]) => spawnSync(process.execPath, [CLI, ...args], { env, cwd: ROOT, encoding: "utf8" });
    expect(run("workspaces", "create", "acme").status).toBe(0);
    key = run("keys", "create", "--workspace", "acme").stdout.trim();
    instances = [startHttpInstance(portA, env), startHttpInstance(portB, env)];
    // Woken by each instance's own output, not by polling.
    await Promise.all(instances.map((i) => waitForOutput(i.child, i.child.stderr!, i.stderr, "ready on http")));
  });
  afterAll(async () => {
    for (const i of instances) i.child.kill("SIGTERM");
    await Promise.all(instances.map((i) => i.exited));
    await sandbox?.close();
  });

  it("answers consecutive requests alternately, including an input_required retry on the other instance", async () => {
    const seen: Array<{ port: number; method: string; retry: boolean }> = [];
    let n = 0;
    const alternate = async (url: string | URL, init?: RequestInit) => {
      const target = instances[n++ % 2]!;
      const u = new URL(url);
      u.port = String(target.port);
      const body = typeof init?.body === "string" ? (JSON.parse(init.body) as Sc) : undefined;
      seen.push({ port: target.port, method: String(body?.method), retry: typeof body?.params?.requestState === "string" });
      return fetch(u, init);
    };
    const m = await modernHttp(publicUrl, key, undefined, alternate);
    try {
      const listed = await m.client.listTools();
      expect(listed.tools.length).toBeGreaterThan(0);
      const started = (await m.client.callTool({ name: "start_connector_oauth", arguments: { provider: "hubspot" } })) as Sc;
      expect(started.structuredContent).toMatchObject({ status: "pending", authorization_url: m.elicitations[0]!.url });
      const { callbackUrl, cookie } = await consentOverHttp(started.structuredContent.authorization_url, {
        login: "alice",
        redirectPrefix: `${publicUrl}/oauth/callback`,
      });
      expect((await fetch(callbackUrl, { headers: { cookie } })).status).toBe(200);
      const waited = (await m.client.callTool({
        name: "wait_for_connector",
        arguments: { connector_id: started.structuredContent.connector_id, timeout_seconds: 30 },
      })) as Sc;
      expect(waited.structuredContent.status).toBe("connected");
    } finally {
      await m.close();
    }
    // Every request went to the other instance than the one before; both served.
    const posts = seen.filter((s) => s.method !== "undefined");
    for (let i = 1; i < posts.length; i++) expect(posts[i]!.port).not.toBe(posts[i - 1]!.port);
    const calls = posts.filter((s) => s.method === "tools/call");
    const retryAt = calls.findIndex((s) => s.retry);
    expect(retryAt).toBeGreaterThan(0);
    expect(calls[retryAt]!.port).not.toBe(calls[retryAt - 1]!.port);
    for (const i of instances) expect(i.stderr()).not.toContain(key);
  });
});
