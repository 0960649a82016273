// `npm run bench [-- --quick]`: the durations the tests no longer assert, measured on the real
// parts (the built server over stdio, the sandbox OAuth server, SQLite). Prints a table and one
// JSON line (`BENCH {...}`). Not part of `npm test`; the performance issue adds scenarios and
// budgets here. Scenarios:
//   wake_same_process   wait_for_connector woken by a callback the same server handled
//   wake_cross_process  the same, with the callback handled by a second server on the database
//                       (noticed through PRAGMA data_version polling)
//   refresh_50          50 concurrent test_connector calls on a token about to expire
import { performance } from "node:perf_hooks";
import { consentOverHttp } from "../test/sandbox/consent.js";
import { HUBSPOT_SCOPES } from "../test/sandbox/hubspot.js";
import { startProviderSandbox } from "../test/sandbox/provider.js";
import { reservePort, startHarness } from "../test/support/harness.js";
import { type StdioServer, startStdioHubSpot, startStdioServer, waitForStderr } from "../test/support/stdio.js";

const quick = process.argv.includes("--quick");
const RUNS = quick ? 3 : 10;
const REFRESH_RUNS = quick ? 1 : 5;
/** How slow the sandbox's token endpoint is in the refresh scenario (a provider's round trip). */
const TOKEN_DELAY_MS = 150;
const MIN = 60_000;

interface Row {
  scenario: string;
  metric: string;
  unit: string;
  samples: number[];
  note?: string;
}

const rows: Row[] = [];
const now = () => performance.now();
const round = (x: number) => Math.round(x * 10) / 10;

function stats(xs: number[]): { n: number; median: number; p95: number; max: number } {
  const s = [...xs].sort((a, b) => a - b);
  const at = (q: number) => s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))] ?? NaN;
  return { n: s.length, median: at(0.5), p95: at(0.95), max: s.at(-1) ?? NaN };
}

/**
 * One grant on `starter`, waited for on `waiter`: start, begin the wait, consent, send the
 * callback; the times of the callback's answer and of the wait's result, from the callback's start.
 */
async function wakeOnce(
  starter: StdioServer,
  waiter: StdioServer,
  redirectUri: string,
  login: string,
): Promise<{ callbackMs: number; returnedMs: number }> {
  const { connector_id, authorization_url } = await starter.call("start_connector_oauth", { provider: "hubspot" });
  let returnedAt = 0;
  let began = () => {};
  const waitBegan = new Promise<void>((r) => (began = r));
  const waiting = waiter.client
    .callTool({ name: "wait_for_connector", arguments: { connector_id, timeout_seconds: 60 } }, undefined, {
      onprogress: () => began(),
      timeout: 70_000,
    })
    .then(() => (returnedAt = now()));
  await waitBegan;
  const { callbackUrl } = await consentOverHttp(authorization_url, { login, redirectPrefix: redirectUri });
  const sentAt = now();
  const page = await fetch(callbackUrl);
  const answeredAt = now();
  if (page.status !== 200) throw new Error(`callback answered ${page.status}`);
  await waiting;
  await waitForStderr(waiter.transport, `"connector_id":"${connector_id}","end":"settled"`);
  return { callbackMs: answeredAt - sentAt, returnedMs: returnedAt - sentAt };
}

async function wakeSameProcess(): Promise<void> {
  const stdio = await startStdioHubSpot();
  try {
    const callback: number[] = [];
    const returned: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      const r = await wakeOnce(stdio.server, stdio.server, stdio.redirectUri, `same${i}`);
      callback.push(r.callbackMs);
      returned.push(r.returnedMs);
    }
    rows.push({
      scenario: "wake_same_process",
      metric: "callback answered",
      unit: "ms",
      samples: callback,
      note: "from the callback request's start",
    });
    rows.push({
      scenario: "wake_same_process",
      metric: "wait returned",
      unit: "ms",
      samples: returned,
      note: "from the callback request's start",
    });
  } finally {
    await stdio.close();
  }
}

async function wakeCrossProcess(): Promise<void> {
  const stdio = await startStdioHubSpot();
  const other = await startStdioServer(stdio.env);
  try {
    await waitForStderr(other.transport, "held by another tenex-connectors process");
    const callback: number[] = [];
    const returned: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      // Started and waited for on the server without the port; the port's owner finishes the grant.
      const r = await wakeOnce(other, other, stdio.redirectUri, `cross${i}`);
      callback.push(r.callbackMs);
      returned.push(r.returnedMs);
    }
    rows.push({ scenario: "wake_cross_process", metric: "callback answered", unit: "ms", samples: callback, note: "by the port's owner" });
    rows.push({
      scenario: "wake_cross_process",
      metric: "wait returned",
      unit: "ms",
      samples: returned,
      note: "on the other process, from the callback's start",
    });
  } finally {
    await other.close();
    await stdio.close();
  }
}

async function refresh50(): Promise<void> {
  const { port, redirectUri } = await reservePort();
  const sandbox = await startProviderSandbox({
    provider: "hubspot",
    redirectUri,
    scopes: HUBSPOT_SCOPES,
    routes: { "GET /account-info/v3/details": () => ({ json: { portalId: 4242, timeZone: "Europe/Berlin" } }) },
  });
  const h = await startHarness({ env: sandbox.env, port });
  try {
    const grants: number[] = [];
    const total: number[] = [];
    for (let i = 0; i < REFRESH_RUNS; i++) {
      const { connector_id, status } = await h.connect("hubspot", { roles: ["crm_sink"] }, `refresh${i}`);
      if (status !== 200) throw new Error(`connect answered ${status}`);
      const before = sandbox.oauth.tokenCalls.filter((c) => c.grant_type === "refresh_token").length;
      h.advance(27 * MIN); // a 30-minute token with 3 minutes left
      sandbox.oauth.setTokenDelay(TOKEN_DELAY_MS);
      const t0 = now();
      const results = await Promise.all(Array.from({ length: 50 }, () => h.call("test_connector", { connector_id })));
      total.push(now() - t0);
      sandbox.oauth.setTokenDelay(0);
      h.advance(-27 * MIN);
      if (!results.every((r) => r.ok)) throw new Error("a test_connector call failed");
      grants.push(sandbox.oauth.tokenCalls.filter((c) => c.grant_type === "refresh_token").length - before);
    }
    rows.push({
      scenario: "refresh_50",
      metric: "refresh grants",
      unit: "count",
      samples: grants,
      note: "50 concurrent test_connector calls",
    });
    rows.push({
      scenario: "refresh_50",
      metric: "all 50 answered",
      unit: "ms",
      samples: total,
      note: `token endpoint delayed ${TOKEN_DELAY_MS} ms`,
    });
  } finally {
    await h.close();
    await sandbox.close();
  }
}

function print(): void {
  const header = ["scenario", "metric", "n", "median", "p95", "max", "unit", "note"];
  const body = rows.map((r) => {
    const s = stats(r.samples);
    const f = (x: number) => (r.unit === "count" ? String(x) : x.toFixed(1));
    return [r.scenario, r.metric, String(s.n), f(s.median), f(s.p95), f(s.max), r.unit, r.note ?? ""];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i]!))
      .join("  ")
      .trimEnd();
  console.log(line(header));
  console.log(line(widths.map((w) => "-".repeat(w))));
  for (const b of body) console.log(line(b));
  const json = {
    quick,
    node: process.version,
    at: new Date().toISOString(),
    results: rows.map((r) => {
      const { n, median, p95, max } = stats(r.samples);
      return {
        scenario: r.scenario,
        metric: r.metric,
        unit: r.unit,
        n,
        median: round(median),
        p95: round(p95),
        max: round(max),
        samples: r.samples.map(round),
      };
    }),
  };
  console.log(`BENCH ${JSON.stringify(json)}`);
}

await wakeSameProcess();
await wakeCrossProcess();
await refresh50();
print();
