// The bench's PostgreSQL column (issue 15): the floor comparison's database-bound figures on a
// local PostgreSQL (a throwaway cluster, scripts/pg-cluster.mjs, as `npm test` starts), HTTP
// calls/s with one and with two `serve --http` instances on the same database (a client-side
// round robin), and the cross-instance wake: a grant's callback finished on instance B, then
// instance A's wait_for_connector returns (woken by LISTEN/NOTIFY). Skipped, saying so, when
// PostgreSQL's binaries are not on the machine (or `--no-pg`).
import { performance } from "node:perf_hooks";
import { findPgBin, startCluster } from "../scripts/pg-cluster.mjs";
import { consentOverHttp } from "../test/sandbox/consent.js";
import { startHubSpotSandbox } from "../test/sandbox/hubspot.js";
import { reservePort } from "../test/support/harness.js";
import { CLI, type Figure, httpRate, httpServer, pinSelf, type Sizes, seedDatabase, stdioFigures, throughput } from "./compare.js";
import { ENVELOPE, httpCall, V2026 } from "./raw.js";
import type { SeededDb } from "./seed.js";

export interface BenchRow {
  scenario: string;
  metric: string;
  unit: string;
  samples: number[];
  note?: string;
}

export interface PgResult {
  /** Why the column is missing, when it is. */
  skipped?: string;
  version?: string;
  figures: Figure[];
  rows: BenchRow[];
  notes: string[];
}

const now = () => performance.now();
const port = async () => (await reservePort()).port;
type Json = Record<string, any>;

/**
 * One 2026-07-28 tools/call over HTTP with a progress token, read as it streams: `onProgress` is
 * called at the first progress notification; resolves with the result and the time it arrived.
 */
async function streamedCall(
  base: string,
  name: string,
  args: Record<string, unknown>,
  onProgress?: () => void,
): Promise<{ result: Json; at: number }> {
  const body = { jsonrpc: "2.0", id: 1, method: "tools/call", params: { name, arguments: args, _meta: { ...ENVELOPE, progressToken: 1 } } };
  const res = await fetch(`${base}/mcp`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      accept: "application/json, text/event-stream",
      "mcp-protocol-version": V2026,
      "mcp-method": "tools/call",
      "mcp-name": name,
    },
    body: JSON.stringify(body),
  });
  if (res.status !== 200 || !res.body) throw new Error(`${name} answered ${res.status}: ${(await res.text()).slice(0, 300)}`);
  const decoder = new TextDecoder();
  let text = "";
  let progressed = false;
  const messages = function* (): Generator<Json> {
    // SSE: events separated by a blank line, each with `data:` lines; a plain JSON answer is one message.
    if (!(res.headers.get("content-type") ?? "").includes("text/event-stream")) return;
    let cut = text.indexOf("\n\n");
    while (cut >= 0) {
      const event = text.slice(0, cut);
      text = text.slice(cut + 2);
      const data = event
        .split("\n")
        .filter((l) => l.startsWith("data:"))
        .map((l) => l.slice(5).trim())
        .join("\n");
      if (data) yield JSON.parse(data) as Json;
      cut = text.indexOf("\n\n");
    }
  };
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    text += decoder.decode(chunk, { stream: true });
    for (const m of messages()) {
      if (m.method === "notifications/progress" && !progressed) {
        progressed = true;
        onProgress?.();
      } else if (m.id === 1) {
        const at = now();
        if (m.error || m.result?.isError) throw new Error(`${name} failed: ${JSON.stringify(m).slice(0, 300)}`);
        return { result: m.result, at };
      }
    }
  }
  const at = now();
  const m = JSON.parse(text) as Json;
  if (m.error || m.result?.isError) throw new Error(`${name} failed: ${JSON.stringify(m).slice(0, 300)}`);
  return { result: m.result, at };
}

/**
 * The cross-instance wake: A and B `serve --http` on one database, the provider sending the
 * person back to B (as behind a load balancer). A grant started on A; A's wait_for_connector
 * begun (its first progress notification seen); consent; the callback sent to B. Times from the
 * callback request's start: B's answer, and A's wait result.
 */
async function wakeCrossInstance(db: SeededDb, runs: number): Promise<BenchRow[]> {
  const [portA, portB] = [await port(), await port()];
  const b = `http://127.0.0.1:${portB}`;
  const sandbox = await startHubSpotSandbox({ redirectUri: `${b}/oauth/callback` });
  // The connect page without a signed-in member (the bench measures the wake, not the sign-in; the
  // workspace has no members, so `required` would refuse the page).
  const env = { ...db.env, ...sandbox.env, TENEX_PUBLIC_URL: b, TENEX_ALLOWED_HOSTS: "127.0.0.1", TENEX_CONNECT_SIGNIN: "optional" };
  const serve = (p: number) => httpServer([CLI, "serve", "--http", "--port", String(p), "--no-auth-loopback"], env, p);
  const A = await serve(portA);
  const B = await serve(portB);
  const a = `http://127.0.0.1:${portA}`;
  try {
    const callback: number[] = [];
    const returned: number[] = [];
    const after: number[] = [];
    for (let i = 0; i < runs; i++) {
      const started = await streamedCall(a, "start_connector_oauth", { provider: "hubspot" });
      const { connector_id, authorization_url } = started.result.structuredContent as Json;
      let began = () => {};
      const waitBegan = new Promise<void>((r) => (began = r));
      const waiting = streamedCall(a, "wait_for_connector", { connector_id, timeout_seconds: 60 }, () => began());
      await waitBegan;
      // As a person's browser: Continue on the connect page, the provider's consent, then the
      // callback with the browser binding cookie Continue set.
      const { callbackUrl, cookie } = await consentOverHttp(authorization_url, { login: `pg${i}`, redirectPrefix: `${b}/oauth/callback` });
      const sentAt = now();
      const page = await fetch(callbackUrl, { headers: { cookie } });
      const answeredAt = now();
      await page.text();
      if (page.status !== 200) throw new Error(`callback answered ${page.status}`);
      const waited = await waiting;
      if ((waited.result.structuredContent as Json)?.status !== "connected")
        throw new Error(`wait ended with ${JSON.stringify(waited.result).slice(0, 300)}`);
      // Woken while watching (not a connector already settled when the wait began).
      for (let t = 0; t < 100 && !A.s.stderr.includes(`"connector_id":"${connector_id}","end":"settled"`); t++)
        await new Promise((r) => setTimeout(r, 20));
      if (!A.s.stderr.includes(`"connector_id":"${connector_id}","end":"settled"`))
        throw new Error(`A's wait for ${connector_id} did not end settled: ${A.s.stderr.slice(-500)}`);
      callback.push(answeredAt - sentAt);
      returned.push(waited.at - sentAt);
      after.push(waited.at - answeredAt);
    }
    return [
      { scenario: "wake_cross_instance_pg", metric: "callback answered", unit: "ms", samples: callback, note: "by instance B (HTTP)" },
      {
        scenario: "wake_cross_instance_pg",
        metric: "wait returned",
        unit: "ms",
        samples: returned,
        note: "on instance A, from the callback's start (LISTEN/NOTIFY)",
      },
      {
        scenario: "wake_cross_instance_pg",
        metric: "wait returned − callback answered",
        unit: "ms",
        samples: after,
        note: "A's result after B's answer (negative: before)",
      },
    ];
  } finally {
    await Promise.all([A.pool.close(), B.pool.close(), A.s.close(), B.s.close()]);
    await sandbox.close();
  }
}

/**
 * Streamable HTTP calls/s (stateless 2026-07-28 get_connector_status, 16 concurrent clients) on
 * one instance and on two instances of the same database with a client-side round robin, in
 * alternating 0.5 s windows over fresh instance pairs. Both instances share this machine's cores
 * with the bench, the database and each other.
 */
async function twoInstances(db: SeededDb, s: Sizes): Promise<BenchRow[]> {
  const one: number[] = [];
  const two: number[] = [];
  for (let pair = 0; pair < s.httpPairs; pair++) {
    const [pa, pb] = [await port(), await port()];
    const serve = (p: number) => httpServer([CLI, "serve", "--http", "--port", String(p), "--no-auth-loopback"], db.env, p);
    const A = await serve(pa);
    const B = await serve(pb);
    try {
      let rr = 0;
      const args = { connector_id: db.firstId };
      const single = (id: number) => httpCall(A.pool, "get_connector_status", args, id);
      const both = (id: number) => httpCall(rr++ % 2 ? B.pool : A.pool, "get_connector_status", args, id);
      await throughput(single, 1000);
      await throughput(both, 1000);
      for (let w = 0; w < s.httpSeconds; w++) {
        one.push(await throughput(single, 500));
        two.push(await throughput(both, 500));
      }
    } finally {
      await Promise.all([A.pool.close(), B.pool.close(), A.s.close(), B.s.close()]);
    }
  }
  const ratio = one.map((x, i) => two[i]! / x);
  const note = `${s.httpPairs} pairs × ${s.httpSeconds} windows of 0.5 s, 16 clients`;
  return [
    { scenario: "http_instances_pg", metric: "calls/s, one instance", unit: "calls/s", samples: one, note },
    { scenario: "http_instances_pg", metric: "calls/s, two instances", unit: "calls/s", samples: two, note: "client-side round robin" },
    { scenario: "http_instances_pg", metric: "two ÷ one", unit: "×", samples: ratio, note: "per window pair; 2 cores shared by all" },
  ];
}

/** The PostgreSQL column: a throwaway cluster, the seeded databases, the figures, the two-instance rows, then the cluster stopped. */
export async function postgresColumn(s: Sizes, wakeRuns: number): Promise<PgResult> {
  const pgBin = findPgBin();
  if (!pgBin)
    return {
      skipped:
        "no PostgreSQL binaries (initdb, pg_ctl) on this machine: the PostgreSQL column was SKIPPED (apt-get install -y postgresql, or PG_BIN=<folder holding initdb>)",
      figures: [],
      rows: [],
      notes: [],
    };
  const cluster = await startCluster(pgBin);
  try {
    const notes: string[] = [`${cluster.version}, throwaway cluster (fsync off, as npm test's) at ${cluster.url}`];
    const t0 = now();
    const one = await seedDatabase(1, cluster.url);
    const small = await seedDatabase(1000, cluster.url);
    const big = await seedDatabase(s.bigN, cluster.url);
    notes.push(`seeded 1, 1,000 and ${s.bigN.toLocaleString("en")} connectors on PostgreSQL in ${Math.round(now() - t0)} ms`);
    const figures: Figure[] = [];
    const pinned = pinSelf("0");
    notes.push(
      pinned
        ? "stdio: bench and servers pinned to CPU 0 (taskset); the PostgreSQL server is not pinned"
        : "stdio: taskset unavailable, unpinned",
    );
    try {
      figures.push(...(await stdioFigures(one, small, big, s)));
    } finally {
      if (pinned) pinSelf("0-1023");
    }
    figures.push(await httpRate(one, s, port));
    const rows = [...(await twoInstances(one, s)), ...(await wakeCrossInstance(one, wakeRuns))];
    return { version: cluster.version, figures, rows, notes };
  } finally {
    cluster.stop();
  }
}

/** SQLite's figures (medians over the runs) next to PostgreSQL's (one run), each with its ratio to the floor measured beside it. */
export function printPgFigures(sqlite: Figure[], result: PgResult): void {
  if (result.skipped) {
    console.log(`PostgreSQL column: ${result.skipped}\n`);
    return;
  }
  const f = (x: number) => (Number.isNaN(x) ? "" : x >= 100 ? Math.round(x).toLocaleString("en") : x.toFixed(2));
  const header = ["figure", "SQLite", "PostgreSQL", "PG ÷ SQLite", "÷ floor (SQLite)", "÷ floor (PG)", "n (PG, floor/project)"];
  const body = result.figures
    .filter((p) => !p.figure.startsWith("A/A"))
    .map((p) => {
      const q = sqlite.find((x) => x.figure === p.figure);
      const unit = p.unit === "×" ? "" : ` ${p.unit}`;
      return [
        p.figure,
        q ? `${f(q.project)}${unit}` : "—",
        `${f(p.project)}${unit}`,
        q ? `${(p.project / q.project).toFixed(2)}×` : "—",
        q ? `${q.ratio.toFixed(2)}×` : "—",
        `${p.ratio.toFixed(2)}×`,
        p.n,
      ];
    });
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(" | ")} |`;
  console.log(`PostgreSQL column (${result.version}; one run):`);
  console.log(line(header));
  console.log(line(widths.map((w) => "-".repeat(w))));
  for (const b of body) console.log(line(b));
  for (const n of result.notes) console.log(`note: ${n}`);
  console.log("");
}
