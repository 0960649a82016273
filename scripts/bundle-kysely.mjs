// Build step after tsc: kysely bundled into dist/node_modules/kysely, so the built server loads a
// few files instead of kysely's 263 ES modules (≈150 ms of a cold start on the 2-core development
// machine; issue 14). Node resolves `kysely` from dist/ to this copy before the project's
// node_modules; tests (vitest, from src/) keep using the package itself. Each of kysely's ESM
// entry points becomes one entry here, code-split so they share a single copy of its classes.
// The bundle is made from the installed package, so its version is always the installed one.
// Without esbuild (a devDependency) the step is skipped and dist/ uses the package as is.
import fs from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), "..");
const out = path.join(root, "dist", "node_modules", "kysely");
fs.rmSync(out, { recursive: true, force: true });

let esbuild;
try {
  esbuild = await import("esbuild");
} catch {
  process.stderr.write("bundle-kysely: esbuild not installed; dist/ loads kysely from node_modules\n");
  process.exit(0);
}

const pkgDir = path.dirname(createRequire(import.meta.url).resolve("kysely")).replace(/dist[\\/]cjs$/, "");
const pkg = JSON.parse(fs.readFileSync(path.join(pkgDir, "package.json"), "utf8"));
const entryPoints = {};
const exportsMap = {};
for (const [subpath, targets] of Object.entries(pkg.exports)) {
  const name = subpath === "." ? "index" : subpath.replace(/^\.\//, "").replaceAll("/", "-");
  entryPoints[name] = path.join(pkgDir, targets.import);
  exportsMap[subpath] = `./${name}.js`;
}
await esbuild.build({
  entryPoints,
  outdir: out,
  bundle: true,
  splitting: true,
  format: "esm",
  platform: "node",
  target: "node20",
  logLevel: "warning",
});
const vendored = { name: "kysely", version: pkg.version, type: "module", private: true, exports: exportsMap };
fs.writeFileSync(path.join(out, "package.json"), `${JSON.stringify(vendored, null, 2)}\n`);
