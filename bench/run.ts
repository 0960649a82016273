// `npm run bench [-- --quick]`: the durations the tests no longer assert, measured on the real
// parts (the built server over stdio, the sandbox OAuth server, SQLite). Prints a table and one
// JSON line (`BENCH {...}`). Not part of `npm test`; the performance issue adds scenarios and
// budgets here. Scenarios:
//   wake_same_process   wait_for_connector woken by a callback the same server handled
//   wake_cross_process  the same, with the callback handled by a second server on the database
//                       (noticed through PRAGMA data_version polling)
//   refresh_50          50 concurrent test_connector calls on a token about to expire
//   call_connector      p50/p99 of a proxied read (the core call and the tool through the MCP client)
//                       next to a direct request to the same fake API on a warm undici pool
// Then the floor comparison (bench/compare.ts): this project against the bare v2 SDK server
// (bench/floor.mjs) on the same transport, ratio, goal, meets/misses (issue 14), run three times
// (`--runs N`) with each ratio's spread; `--only-floor` runs just that part.
// Then the PostgreSQL column (bench/postgres.ts, issue 15), once, on a throwaway cluster when
// PostgreSQL's binaries are on the machine (`--no-pg` skips it, `--only-pg` runs just it; it says so
// when it is skipped):
// the same figures on PostgreSQL, and the rows
//   http_instances_pg       HTTP calls/s with one and with two instances on the same database
//   wake_cross_instance_pg  wait_for_connector on instance A woken by a callback on instance B
import { performance } from "node:perf_hooks";
import { Agent, request } from "undici";
import { callConnector } from "../src/connectors/proxy.js";
import { LOCAL_WORKSPACE_ID } from "../src/store/workspaces.js";
import { consentOverHttp } from "../test/sandbox/consent.js";
import { HUBSPOT_SCOPES } from "../test/sandbox/hubspot.js";
import { startProviderSandbox } from "../test/sandbox/provider.js";
import { reservePort, startHarness } from "../test/support/harness.js";
import { type StdioServer, startStdioHubSpot, startStdioServer, waitForStderr } from "../test/support/stdio.js";
import { type Figure, httpRate, pinSelf, type Sizes, seedDatabase, sessionMemory, stdioFigures } from "./compare.js";
import { type PgResult, postgresColumn, printPgFigures } from "./postgres.js";

const quick = process.argv.includes("--quick");
const onlyFloor = process.argv.includes("--only-floor");
/** `--only-proxy`: just the call_connector scenario. */
const onlyProxy = process.argv.includes("--only-proxy");
/** `--no-pg`: no PostgreSQL column. `--only-pg`: just the PostgreSQL column (no SQLite figures beside it). */
const noPg = process.argv.includes("--no-pg");
const onlyPg = process.argv.includes("--only-pg");
const SIZES: Sizes = quick
  ? { coldRuns: 2, warmMs: 400, measureMs: 400, bigN: 10_000, httpPairs: 1, httpSeconds: 2 }
  : { coldRuns: 10, warmMs: 4000, measureMs: 4000, bigN: 100_000, httpPairs: 3, httpSeconds: 6 };
const RUNS = quick ? 3 : 10;
/** Floor comparisons run this many times (`--runs N`; 3 by default, 1 with --quick): each figure reports its median and spread. */
const runsArg = process.argv.indexOf("--runs");
const FLOOR_RUNS = runsArg > 0 ? Math.max(1, Number(process.argv[runsArg + 1]) || 1) : quick ? 1 : 3;
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

function stats(xs: number[]): { n: number; median: number; p95: number; p99: number; max: number } {
  const s = [...xs].sort((a, b) => a - b);
  const at = (q: number) => s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))] ?? NaN;
  return { n: s.length, median: at(0.5), p95: at(0.95), p99: at(0.99), max: s.at(-1) ?? NaN };
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
  // As a person's browser: the connect page's Continue (authorization_url is {base}/connect/{id}), the
  // provider's consent, then the callback with the browser binding cookie Continue set.
  const { callbackUrl, cookie } = await consentOverHttp(authorization_url, { login, redirectPrefix: redirectUri });
  const sentAt = now();
  const page = await fetch(callbackUrl, { headers: { cookie } });
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
    routes: { "GET /account-info/2026-03/details": () => ({ json: { portalId: 4242, timeZone: "Europe/Berlin" } }) },
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
      const failed = results.find((r) => !r.ok);
      if (failed) throw new Error(`a test_connector call failed: ${JSON.stringify(failed).slice(0, 500)}`);
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

/**
 * call_connector's added cost: the same read of a fake HubSpot contact, directly (undici request on a
 * warm Agent, Bearer header, JSON parsed) and through the proxy (the core call, then the tool through
 * the in-memory MCP client), interleaved so drift hits both alike.
 */
async function callConnectorBench(): Promise<void> {
  const N = quick ? 300 : 3000;
  const { port, redirectUri } = await reservePort();
  const contact = { id: "1", properties: { email: "ada@example.com", firstname: "Ada", lastname: "Lovelace" } };
  const sandbox = await startProviderSandbox({
    provider: "hubspot",
    redirectUri,
    scopes: HUBSPOT_SCOPES,
    validateTokens: false, // the fake API answers at once, so the figures are the client side's
    routes: {
      "GET /account-info/2026-03/details": () => ({ json: { portalId: 4242 } }),
      "GET /crm/objects/2026-03/contacts/1": () => ({ json: contact }),
    },
  });
  const h = await startHarness({ env: { ...sandbox.env, TENEX_LOG_LEVEL: "warn" }, port });
  const agent = new Agent({ keepAliveTimeout: 30_000 });
  try {
    const { connector_id } = await h.connect("hubspot", {}, "bench");
    const url = `${sandbox.api.url}/crm/objects/2026-03/contacts/1`;
    const direct = async () => {
      const res = await request(url, { dispatcher: agent, headers: { authorization: "Bearer direct-token", accept: "application/json" } });
      await res.body.json();
    };
    const req = { method: "GET" as const, path: "/crm/objects/2026-03/contacts/1" };
    const core = () => callConnector(h.ctx, LOCAL_WORKSPACE_ID, { connector_id }, req);
    const tool = () => h.call("call_connector", { connector_id, ...req });
    for (let i = 0; i < 50; i++) {
      await direct();
      await core();
      await tool();
    }
    const d: number[] = [];
    const c: number[] = [];
    const t: number[] = [];
    // Blocks of 25, alternating, so drift hits all three alike. Call records are written on the turn after
    // each proxied call (a synchronous SQLite commit): that cost lands in the proxied blocks, where it belongs,
    // and the queue is flushed before a direct block so none of it is charged to the direct requests.
    const block = async (fn: () => Promise<unknown>, into: number[]) => {
      for (let i = 0; i < 25; i++) {
        const t0 = now();
        await fn();
        into.push(now() - t0);
      }
    };
    while (d.length < N) {
      await h.ctx.proxy.recorder.flush();
      await block(direct, d);
      await block(core, c);
      await block(tool, t);
    }
    await h.ctx.proxy.recorder.flush();
    rows.push({ scenario: "call_connector", metric: "direct request", unit: "ms", samples: d, note: "undici, warm pool" });
    rows.push({ scenario: "call_connector", metric: "proxied (core)", unit: "ms", samples: c, note: "connectors/proxy.ts callConnector" });
    rows.push({ scenario: "call_connector", metric: "tool via MCP client", unit: "ms", samples: t, note: "in-memory transport" });
    rows.push({
      scenario: "call_connector",
      metric: "added p50 (core)",
      unit: "ms",
      samples: [stats(c).median - stats(d).median],
      note: "goal ≤ 1 ms",
    });
  } finally {
    await agent.close();
    await h.close();
    await sandbox.close();
  }
}

/** Each run's figures, in the same order. */
const runs: Figure[][] = [];
const notes: string[] = [];

async function floorComparison(): Promise<void> {
  const t0 = now();
  const one = await seedDatabase(1);
  const small = await seedDatabase(1000);
  const big = await seedDatabase(SIZES.bigN);
  notes.push(`seeded 1, 1,000 and ${SIZES.bigN.toLocaleString("en")} connectors in ${Math.round(now() - t0)} ms`);
  for (let r = 0; r < FLOOR_RUNS; r++) {
    const figures: Figure[] = [];
    const pinned = pinSelf("0");
    if (r === 0) notes.push(pinned ? "stdio: bench and servers pinned to CPU 0 (taskset)" : "stdio: taskset unavailable, unpinned");
    figures.push(...(await stdioFigures(one, small, big, SIZES)));
    if (pinned) pinSelf("0-1023");
    figures.push(await httpRate(one, SIZES, async () => (await reservePort()).port));
    figures.push(await sessionMemory(small, async () => (await reservePort()).port));
    runs.push(figures);
    process.stderr.write(`floor comparison: run ${r + 1} of ${FLOOR_RUNS} done\n`);
  }
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

/**
 * The figures over all runs: medians, and each ratio's spread (lowest–highest). A goal whose
 * threshold lies inside a ratio's spread is `unsettled`: the runs disagree on it.
 */
function combined(): Array<Figure & { low: number; high: number; result: string }> {
  return runs[0]!.map((first, i) => {
    const all = runs.map((r) => r[i]!);
    const ratios = all.map((f) => f.ratio);
    const ratio = median(ratios);
    const low = Math.min(...ratios);
    const high = Math.max(...ratios);
    const threshold = Number(/[\d.]+/.exec(first.goal)?.[0] ?? NaN);
    const higherIsBetter = first.goal.startsWith("≥");
    const meets = first.meets === null ? null : higherIsBetter ? ratio >= threshold : ratio <= threshold;
    const unsettled = first.meets !== null && runs.length > 1 && low <= threshold && threshold <= high && low !== high;
    return {
      ...first,
      floor: median(all.map((f) => f.floor)),
      project: median(all.map((f) => f.project)),
      ratio,
      meets,
      low,
      high,
      result: meets === null ? "—" : unsettled ? `unsettled (${meets ? "meets" : "misses"} at the median)` : meets ? "meets" : "misses",
    };
  });
}

function printFigures(): void {
  const f = (x: number) => (Number.isNaN(x) ? "" : x >= 100 ? Math.round(x).toLocaleString("en") : x.toFixed(2));
  const header = [
    "figure",
    "SDK floor",
    "tenex-connectors",
    "ratio",
    runs.length > 1 ? `spread (${runs.length} runs)` : "spread",
    "goal",
    "result",
    "n (floor/project)",
  ];
  const body = combined().map((r) => [
    r.figure,
    `${f(r.floor)} ${Number.isNaN(r.floor) ? "" : r.unit}`.trim(),
    `${f(r.project)} ${r.unit === "×" ? "" : r.unit}`.trim(),
    `${r.ratio.toFixed(2)}×`,
    runs.length > 1 ? `${r.low.toFixed(2)}–${r.high.toFixed(2)}×` : "",
    r.goal,
    r.result,
    r.n,
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(" | ")} |`;
  console.log(line(header));
  console.log(line(widths.map((w) => "-".repeat(w))));
  for (const b of body) console.log(line(b));
  for (const n of notes) console.log(`note: ${n}`);
  console.log("");
}

function print(pg?: PgResult): void {
  const header = ["scenario", "metric", "n", "median", "p95", "p99", "max", "unit", "note"];
  const body = rows.map((r) => {
    const s = stats(r.samples);
    const f = (x: number) => (r.unit === "count" ? String(x) : x.toFixed(r.scenario === "call_connector" || r.unit === "×" ? 2 : 1));
    return [r.scenario, r.metric, String(s.n), f(s.median), f(s.p95), f(s.p99), f(s.max), r.unit, r.note ?? ""];
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
    figures: runs.length
      ? combined().map((r) => ({
          ...r,
          floor: round(r.floor),
          project: round(r.project),
          ratio: Math.round(r.ratio * 100) / 100,
          low: Math.round(r.low * 100) / 100,
          high: Math.round(r.high * 100) / 100,
        }))
      : [],
    runs: runs.map((figs) =>
      figs.map((r) => ({ figure: r.figure, floor: round(r.floor), project: round(r.project), ratio: Math.round(r.ratio * 100) / 100 })),
    ),
    postgres: pg
      ? pg.skipped
        ? { skipped: pg.skipped }
        : {
            version: pg.version,
            figures: pg.figures.map((r) => ({
              figure: r.figure,
              floor: round(r.floor),
              project: round(r.project),
              ratio: Math.round(r.ratio * 100) / 100,
            })),
          }
      : null,
    at: new Date().toISOString(),
    results: rows.map((r) => {
      const { n, median, p95, p99, max } = stats(r.samples);
      return {
        scenario: r.scenario,
        metric: r.metric,
        unit: r.unit,
        n,
        median: round(median),
        p95: round(p95),
        p99: round(p99),
        max: round(max),
        samples: r.samples.map(round),
      };
    }),
  };
  console.log(`BENCH ${JSON.stringify(json)}`);
}

if (onlyProxy) {
  await callConnectorBench();
  print();
  process.exit(0);
}
if (!onlyFloor && !onlyPg) {
  await wakeSameProcess();
  await wakeCrossProcess();
  await refresh50();
  await callConnectorBench();
}
if (!onlyPg) await floorComparison();
let pg: PgResult | undefined;
if (!noPg) {
  pg = await postgresColumn(SIZES, RUNS);
  rows.push(...pg.rows);
  process.stderr.write(pg.skipped ? `PostgreSQL column skipped: ${pg.skipped}\n` : "PostgreSQL column: done\n");
}
if (runs.length) printFigures();
if (pg) printPgFigures(runs.length ? combined() : [], pg);
print(pg);
