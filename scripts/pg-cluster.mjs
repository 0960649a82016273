// A throwaway PostgreSQL cluster: initdb in a temporary folder, started on a free loopback port
// (as the `postgres` user when run as root: PostgreSQL refuses root), no fsync, stopped and
// removed by stop(). Used by `npm test` (scripts/test.mjs) for its PostgreSQL pass and by
// `npm run bench` (bench/postgres.ts) for its PostgreSQL column.
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";

/** The folder holding initdb and pg_ctl: $PG_BIN, the PATH, or Debian's /usr/lib/postgresql/N/bin (newest first); undefined when none. */
export function findPgBin() {
  const candidates = [];
  if (process.env.PG_BIN) candidates.push(process.env.PG_BIN);
  for (const dir of (process.env.PATH ?? "").split(path.delimiter)) candidates.push(dir);
  const debian = "/usr/lib/postgresql";
  if (fs.existsSync(debian)) {
    const versions = fs
      .readdirSync(debian)
      .filter((v) => /^\d+$/.test(v))
      .sort((a, b) => Number(b) - Number(a));
    for (const v of versions) candidates.push(path.join(debian, v, "bin"));
  }
  return candidates.find((dir) => dir && fs.existsSync(path.join(dir, "initdb")) && fs.existsSync(path.join(dir, "pg_ctl")));
}

export function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** PostgreSQL refuses to run as root: as root, the cluster runs as the `postgres` user (made by Debian's package). */
function asClusterUser(cmd, cmdArgs) {
  if (process.getuid?.() !== 0) return [cmd, cmdArgs];
  return ["runuser", ["-u", "postgres", "--", cmd, ...cmdArgs]];
}

/** Start a throwaway cluster with the binaries in `pgBin`: its admin URL, its server version, and stop() (stops it and removes its folder). */
export async function startCluster(pgBin) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tenex-pg-"));
  if (process.getuid?.() === 0) spawnSync("chown", ["postgres", dir]);
  const data = path.join(dir, "data");
  const port = await freePort();
  const step = (cmd, cmdArgs) => {
    const [c, a] = asClusterUser(path.join(pgBin, cmd), cmdArgs);
    const r = spawnSync(c, a, { encoding: "utf8" });
    if (r.status !== 0) throw new Error(`${cmd} failed: ${r.stderr || r.stdout || r.error?.message}`);
  };
  step("initdb", ["-D", data, "-U", "postgres", "-A", "trust", "--no-sync", "-E", "UTF8", "--locale=C"]);
  // Throwaway: no fsync; connections for every server the suite starts at once.
  const opts = `-c listen_addresses=127.0.0.1 -p ${port} -k ${dir} -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=400`;
  step("pg_ctl", ["-D", data, "-o", opts, "-l", path.join(dir, "log"), "-w", "start"]);
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    version: spawnSync(path.join(pgBin, "postgres"), ["--version"], { encoding: "utf8" }).stdout.trim(),
    stop() {
      try {
        step("pg_ctl", ["-D", data, "-m", "immediate", "-w", "stop"]);
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}
