// `npm test`: build, then run the suite twice: on SQLite, and on PostgreSQL when its binaries are
// on this machine (a throwaway cluster in a temporary folder on a free loopback port, stopped and
// removed at the end; no database anyone started by hand is used). Without them the PostgreSQL
// pass is skipped, loudly. The tests are type-checked (tsconfig.test.json) while the SQLite pass
// runs. Arguments after `npm test --` go to vitest, on both passes; a JSON report
// (`--outputFile.json=F`) is written for each pass (F.sqlite.json, F.pg.json) and merged into F,
// so one "N passed, M failed" counts both. Fails when any part fails.
import { spawn, spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
// PostgreSQL: find the binaries, start a throwaway cluster.
import { findPgBin, startCluster } from "./pg-cluster.mjs";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const bin = (name) => path.join(root, "node_modules", ".bin", name);

/** Files about SQLite's own files (modes, WAL, pragmas): run on the SQLite pass only. */
export const SQLITE_ONLY = [
  "test/db-files.test.ts",
  "test/hardening-files.test.ts",
  // Interleaves a second SQLite connection synchronously inside a call (SQLITE_BUSY); the PostgreSQL
  // counterparts are test/postgres-instances.test.ts and the two-process tests that run on both.
  "test/lifecycle-races.test.ts",
];

// The same build as `npm run build`: tsc, then kysely bundled into dist/ (scripts/bundle-kysely.mjs)
// the tools/list listing written (scripts/build-listing.mjs) and our code bundled (scripts/bundle-server.mjs),
// so the tests that spawn dist/ run what ships.
const build = spawnSync(bin("tsc"), ["-p", "tsconfig.json"], { cwd: root, stdio: "inherit" });
if (build.status !== 0) process.exit(build.status ?? 1);
for (const step of ["bundle-kysely.mjs", "build-listing.mjs", "bundle-server.mjs"]) {
  const done = spawnSync(process.execPath, [path.join(root, "scripts", step)], { cwd: root, stdio: "inherit" });
  if (done.status !== 0) process.exit(done.status ?? 1);
}

const run = (cmd, args, stdio, env = process.env) =>
  new Promise((resolve) => {
    const child = spawn(cmd, args, { cwd: root, stdio, env });
    let out = "";
    child.stdout?.on("data", (d) => (out += d));
    child.on("exit", (code, signal) => resolve({ code: code ?? (signal ? 1 : 0), out }));
  });

const args = process.argv.slice(2);
const jsonArg = args.findIndex((a) => a.startsWith("--outputFile.json="));
const jsonOut = jsonArg >= 0 ? path.resolve(root, args[jsonArg].slice("--outputFile.json=".length)) : undefined;
const passArgs = (suffix) =>
  jsonOut ? args.map((a, i) => (i === jsonArg ? `--outputFile.json=${jsonOut.replace(/\.json$/, "")}.${suffix}.json` : a)) : args;

const pgBin = findPgBin();
const t0 = Date.now();
const [typecheck, sqlitePass] = await Promise.all([
  run(bin("tsc"), ["-p", "tsconfig.test.json"], ["ignore", "pipe", "inherit"]),
  run(bin("vitest"), ["run", ...passArgs("sqlite")], "inherit"),
]);
const sqliteSeconds = Math.round((Date.now() - t0) / 1000);

let pgPass;
let pgSeconds = 0;
if (pgBin) {
  let cluster;
  try {
    cluster = await startCluster(pgBin);
    process.stdout.write(`\n=== PostgreSQL pass (${cluster.version}, throwaway cluster at ${cluster.url}) ===\n\n`);
    const t1 = Date.now();
    const exclude = SQLITE_ONLY.flatMap((f) => ["--exclude", f]);
    pgPass = await run(bin("vitest"), ["run", ...passArgs("pg"), ...exclude], "inherit", { ...process.env, TENEX_TEST_PG: cluster.url });
    pgSeconds = Math.round((Date.now() - t1) / 1000);
  } catch (err) {
    process.stdout.write(`\nThe PostgreSQL pass could not start: ${err.message}\n`);
    pgPass = { code: 1 };
  } finally {
    cluster?.stop();
  }
} else {
  const bar = "!".repeat(78);
  process.stdout.write(
    `\n${bar}\n` +
      "!! The PostgreSQL pass was SKIPPED: no PostgreSQL binaries (initdb, pg_ctl) on this machine.\n" +
      "!! Only SQLite was tested. To run both passes, install PostgreSQL's server package\n" +
      "!! (Debian/Ubuntu: apt-get install -y postgresql; or set PG_BIN to the folder holding initdb);\n" +
      "!! npm test then starts and removes its own throwaway cluster. .ci/run installs it.\n" +
      `${bar}\n`,
  );
}

if (jsonOut) mergeReports(jsonOut, pgPass !== undefined);
process.stdout.write(`\nSQLite pass: ${sqliteSeconds} s${pgBin ? `; PostgreSQL pass: ${pgSeconds} s` : "; PostgreSQL pass: skipped"}\n`);
if (typecheck.code !== 0) {
  process.stdout.write(`\ntsc -p tsconfig.test.json failed:\n${typecheck.out}`);
}
const failed = [sqlitePass.code, pgPass?.code ?? 0, typecheck.code].find((c) => c !== 0);
process.exit(failed ?? 0);

/** One report for both passes: counts summed, the PostgreSQL pass's files named as such. */
function mergeReports(out, withPg) {
  const read = (suffix) => {
    const f = `${out.replace(/\.json$/, "")}.${suffix}.json`;
    return fs.existsSync(f) ? JSON.parse(fs.readFileSync(f, "utf8")) : undefined;
  };
  const sqlite = read("sqlite");
  const pg = withPg ? read("pg") : undefined;
  const parts = [sqlite, pg].filter(Boolean);
  // A pass that crashed before writing its report counts as one failure.
  const missing = 1 + (withPg ? 1 : 0) - parts.length;
  const sum = (k) => parts.reduce((n, r) => n + (r[k] ?? 0), 0);
  const merged = {
    ...(sqlite ?? pg ?? {}),
    numTotalTestSuites: sum("numTotalTestSuites"),
    numPassedTestSuites: sum("numPassedTestSuites"),
    numFailedTestSuites: sum("numFailedTestSuites"),
    numPendingTestSuites: sum("numPendingTestSuites"),
    numTotalTests: sum("numTotalTests") + missing,
    numPassedTests: sum("numPassedTests"),
    numFailedTests: sum("numFailedTests") + missing,
    numPendingTests: sum("numPendingTests"),
    numTodoTests: sum("numTodoTests"),
    success: parts.every((r) => r.success) && missing === 0,
    passes: {
      sqlite: sqlite ? { passed: sqlite.numPassedTests, failed: sqlite.numFailedTests } : "no report",
      postgres: withPg ? (pg ? { passed: pg.numPassedTests, failed: pg.numFailedTests } : "no report") : "skipped",
    },
    testResults: [...(sqlite?.testResults ?? []), ...(pg?.testResults ?? []).map((r) => ({ ...r, name: `${r.name} [postgres]` }))],
  };
  fs.writeFileSync(out, JSON.stringify(merged));
}
