// Issue 12, finding 7: provider bodies were read whole. A hostile provider streams a body without end
// (256 MiB, no content-length) from its API and from its token endpoint; the server must stop reading at
// its cap and answer provider_error saying so. The bound is asserted on the bytes the server pulled
// through its fetch, not on memory or time.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { API_BODY_LIMIT, TOKEN_BODY_LIMIT } from "../src/catalog/bounded-body.js";
import { getConnectorRow } from "../src/store/connectors.js";
import { LOCAL_WORKSPACE_ID } from "../src/store/workspaces.js";
import { HUBSPOT_SCOPES } from "./sandbox/hubspot.js";
import { type ProviderSandbox, startProviderSandbox } from "./sandbox/provider.js";
import { type Harness, reservePort, startHarness } from "./support/harness.js";
import { countingFetch, type Listener, startStreamingListener } from "./support/hostile.js";

/** One read chunk of slack past the cap: the reader sees the chunk that crosses it, then stops. */
const SLACK = 128 * 1024;

let hostile: Listener;
const sandboxes: ProviderSandbox[] = [];
const harnesses: Harness[] = [];
const counter = countingFetch();

async function hubspotWith(env: (sandbox: ProviderSandbox) => Record<string, string>): Promise<Harness> {
  const { port, redirectUri } = await reservePort();
  const sandbox = await startProviderSandbox({ provider: "hubspot", redirectUri, scopes: HUBSPOT_SCOPES });
  sandboxes.push(sandbox);
  const h = await startHarness({ env: { ...sandbox.env, ...env(sandbox) }, port, fetch: counter.fetch });
  harnesses.push(h);
  return h;
}

beforeAll(async () => {
  hostile = await startStreamingListener();
});

afterAll(async () => {
  await Promise.all(harnesses.map((h) => h.close()));
  await Promise.all(sandboxes.map((s) => s.close()));
  await hostile?.close();
});

describe("finding 7: provider bodies read whole", () => {
  it("stops an API read at 1 MiB and reports provider data too large, without reading the rest", async () => {
    const h = await hubspotWith(() => ({ TENEX_HUBSPOT_API_BASE_URL: `${hostile.url}/api` }));
    const before = counter.bytesFrom(hostile.url);
    const { connector_id, page } = await h.connect("hubspot");
    expect(page).toContain("Connected HubSpot");
    const first = counter.bytesFrom(hostile.url) - before;
    expect(first).toBeGreaterThan(API_BODY_LIMIT / 2);
    expect(first).toBeLessThanOrEqual(API_BODY_LIMIT + SLACK);
    const t = await h.ok("test_connector", { connector_id });
    expect(t.ok).toBe(false);
    expect(t.error).toContain("HubSpot's API sent an answer larger than 1 MiB; it was not read");
    expect(counter.bytesFrom(hostile.url) - before).toBeLessThanOrEqual(2 * (API_BODY_LIMIT + SLACK));
  });

  it("stops a token endpoint answer at 256 KiB: the code exchange fails with provider_error, nothing is stored", async () => {
    const h = await hubspotWith(() => ({ TENEX_HUBSPOT_TOKEN_URL: `${hostile.url}/oauth/token` }));
    const before = counter.bytesFrom(hostile.url);
    const { connector_id, page, status } = await h.connect("hubspot");
    expect(status).toBe(502);
    expect(page).toContain("larger than 256 KiB");
    const read = counter.bytesFrom(hostile.url) - before;
    expect(read).toBeGreaterThan(0);
    expect(read).toBeLessThanOrEqual(TOKEN_BODY_LIMIT + SLACK);
    const row = await getConnectorRow(h.ctx.db, LOCAL_WORKSPACE_ID, connector_id);
    expect(row).toMatchObject({ status: "error", status_reason: "provider_error" });
    expect(row?.status_detail).toContain("larger than 256 KiB");
  });
});
