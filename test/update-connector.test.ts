// update_connector under concurrency: a read-merge-write in a write-locked transaction, so
// concurrent updates of different settings keys all survive, in one process and across two
// built stdio servers on one database. A Sanity key checked against new settings also
// refreshes the account facts.
import crypto from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ToolInput } from "../tools/index.js";
import { type FakeApi, type FakeRoute, startFakeApi } from "./sandbox/fake-api.js";
import { testDatabaseEnv } from "./support/database.js";
import { type Harness, startHarness } from "./support/harness.js";
import { type StdioServer, startStdioServer, tempDir, waitForStderr } from "./support/stdio.js";

const SANITY_KEY = "skSanityRobotToken0123456789abcdefABCDEF";
const VERSIONS = ["v2025-02-19", "v2024-06-01", "v2023-08-01"];
const DATASETS = ["production", "other"];

/** Sanity's query endpoint for a few API versions and two datasets; only SANITY_KEY is accepted. */
function sanityRoutes(): Record<string, FakeRoute> {
  const routes: Record<string, FakeRoute> = {};
  for (const v of VERSIONS) {
    for (const d of DATASETS) {
      routes[`GET /${v}/data/query/${d}`] = (req) =>
        req.token === SANITY_KEY ? { json: { result: { _id: "doc1" }, ms: 1 } } : { status: 401, json: { message: "Session not found" } };
    }
  }
  return routes;
}

const SETTINGS = { project_id: "abc123", dataset: "production" };

describe("update_connector in one process", () => {
  let api: FakeApi;
  let h: Harness;
  let id: string;

  beforeAll(async () => {
    api = await startFakeApi(sanityRoutes());
    h = await startHarness({ env: { TENEX_SANITY_API_BASE_URL: api.url } });
    id = (await h.ok("submit_connector_key", { provider: "sanity", api_key: SANITY_KEY, settings: SETTINGS })).id;
  });
  afterAll(async () => {
    await h?.close();
    await api?.close();
  });

  it("keeps concurrent updates of different settings keys (and the label), round after round", async () => {
    for (let i = 1; i <= 30; i++) {
      const version = VERSIONS[i % VERSIONS.length]!;
      const results = await Promise.all([
        h.ok("update_connector", { connector_id: id, settings: { api_version: version } }),
        h.ok("update_connector", { connector_id: id, settings: { perspective: `p${i}` } }),
        h.ok("update_connector", { connector_id: id, label: `CMS ${i}` }),
      ]);
      expect(results).toHaveLength(3);
      const c = await h.ok("get_connector_status", { connector_id: id });
      expect({ round: i, settings: c.settings, label: c.label }).toEqual({
        round: i,
        settings: { ...SETTINGS, api_version: version, perspective: `p${i}` },
        label: `CMS ${i}`,
      });
      // The API version changes where the test read goes: the key was checked and the facts follow.
      expect(c.account).toEqual({ project_id: "abc123", dataset: "production", api_version: version });
    }
  });

  it("keeps a concurrent settings change while the other one waits for the key check (dataset switch)", async () => {
    for (let i = 1; i <= 10; i++) {
      const dataset = DATASETS[i % 2]!;
      await Promise.all([
        h.ok("update_connector", { connector_id: id, settings: { dataset } }),
        h.ok("update_connector", { connector_id: id, settings: { perspective: `q${i}` } }),
      ]);
      const c = await h.ok("get_connector_status", { connector_id: id });
      expect({ round: i, dataset: c.settings.dataset, perspective: c.settings.perspective }).toEqual({
        round: i,
        dataset,
        perspective: `q${i}`,
      });
      expect(c.account.dataset).toBe(dataset);
    }
  });

  it("checks the key again when a concurrent update moved what it was checked against (version and dataset at once)", async () => {
    for (let i = 1; i <= 6; i++) {
      const version = VERSIONS[i % VERSIONS.length]!;
      const dataset = DATASETS[i % 2]!;
      const calls = api.calls.length;
      await Promise.all([
        h.ok("update_connector", { connector_id: id, settings: { api_version: version } }),
        h.ok("update_connector", { connector_id: id, settings: { dataset } }),
      ]);
      const c = await h.ok("get_connector_status", { connector_id: id });
      expect({ round: i, settings: c.settings, account: c.account }).toMatchObject({
        round: i,
        settings: { api_version: version, dataset },
        account: { api_version: version, dataset },
      });
      // The combination that was saved was itself checked.
      expect(api.calls.slice(calls).map((x) => x.path)).toContain(`/${version}/data/query/${dataset}`);
    }
  });

  it("updates the account facts from the key check after a dataset change (not stale)", async () => {
    await h.ok("update_connector", { connector_id: id, settings: { dataset: "production" } });
    const calls = api.calls.length;
    const c = await h.ok("update_connector", { connector_id: id, settings: { dataset: "other" } });
    expect(api.calls.slice(calls).map((x) => x.path)).toEqual([expect.stringMatching(/\/data\/query\/other$/)]);
    expect(c.settings.dataset).toBe("other");
    expect(c.account).toMatchObject({ project_id: "abc123", dataset: "other" });
    expect(c.health).toBe("healthy");
    const events = (await h.ok("get_connector_status", { connector_id: id })).recent_events!;
    expect(events[0]!.detail).toContain("key checked against the new settings");
  });

  it("does not call the provider for a setting the test read does not depend on", async () => {
    const calls = api.calls.length;
    await h.ok("update_connector", { connector_id: id, settings: { perspective: "drafts" } });
    expect(api.calls.length).toBe(calls);
  });
});

describe("update_connector across two processes on one database", () => {
  let api: FakeApi;
  const servers: StdioServer[] = [];
  let id: string;

  beforeAll(async () => {
    api = await startFakeApi(sanityRoutes());
    const dir = tempDir("tenex-upd-");
    const env = {
      ...testDatabaseEnv(dir),
      TENEX_MASTER_KEY: crypto.randomBytes(32).toString("base64"),
      TENEX_CALLBACK_PORT: "0",
      TENEX_SANITY_API_BASE_URL: api.url,
    };
    for (let i = 0; i < 2; i++) {
      const s = await startStdioServer(env);
      servers.push(s);
      await waitForStderr(s.transport, "ready on stdio");
    }
    id = (await servers[0]!.call("submit_connector_key", { provider: "sanity", api_key: SANITY_KEY, settings: SETTINGS })).id;
  });
  afterAll(async () => {
    for (const s of servers) await s.close();
    await api?.close();
  });

  const update = (s: StdioServer, args: Omit<ToolInput<"update_connector">, "connector_id">) =>
    s.call("update_connector", { connector_id: id, ...args });

  it("keeps concurrent updates of different settings keys made by different processes", async () => {
    const [a, b] = servers as [StdioServer, StdioServer];
    for (let i = 1; i <= 15; i++) {
      const version = VERSIONS[i % VERSIONS.length]!;
      await Promise.all([
        update(a, { settings: { perspective: `a${i}` } }),
        update(b, { settings: { api_version: version } }),
        update(a, { label: `A ${i}` }),
        update(b, { roles: i % 2 ? ["source"] : ["sink"] }),
      ]);
      const c = await b.call("get_connector_status", { connector_id: id });
      expect({ round: i, settings: c.settings, label: c.label, roles: c.roles }).toEqual({
        round: i,
        settings: { ...SETTINGS, api_version: version, perspective: `a${i}` },
        label: `A ${i}`,
        roles: i % 2 ? ["source"] : ["sink"],
      });
    }
  });
});
