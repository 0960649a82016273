// `npm test`: build, then type-check the tests (tsconfig.test.json) while vitest runs, so the
// check costs no wall-clock time of its own. Arguments after `npm test --` go to vitest.
// Fails when either fails; the type errors are printed after vitest's report.
import { spawn, spawnSync } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const bin = (name) => path.join(root, "node_modules", ".bin", name);

const build = spawnSync(bin("tsc"), ["-p", "tsconfig.json"], { cwd: root, stdio: "inherit" });
if (build.status !== 0) process.exit(build.status ?? 1);

const run = (cmd, args, stdio) =>
  new Promise((resolve) => {
    const child = spawn(cmd, args, { cwd: root, stdio });
    let out = "";
    child.stdout?.on("data", (d) => (out += d));
    child.on("exit", (code, signal) => resolve({ code: code ?? (signal ? 1 : 0), out }));
  });

const [typecheck, vitest] = await Promise.all([
  run(bin("tsc"), ["-p", "tsconfig.test.json"], ["ignore", "pipe", "inherit"]),
  run(bin("vitest"), ["run", ...process.argv.slice(2)], "inherit"),
]);
if (typecheck.code !== 0) {
  process.stdout.write(`\ntsc -p tsconfig.test.json failed:\n${typecheck.out}`);
}
process.exit(vitest.code !== 0 ? vitest.code : typecheck.code);
