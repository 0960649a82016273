// Build step after tsc: the command line and all of our code it reaches bundled by esbuild, so a
// fresh server loads a few files of ours instead of ≈120 modules (issue 14, cold start: each
// module is a resolve, a read and a compile before the first answer; ≈100 ms of a stdio start on
// the 2-core development machine). The bundle replaces dist/src/cli/cli.js, the module the bin
// (dist/src/cli.js) imports, and is code-split at every dynamic import, so what the code loads on
// first use (the HTTP mode, the admin commands, each migration, the connect page, …) still waits
// for it. Its chunks sit next to it in dist/src/cli/: a module that finds a file from its own
// place (BUILT_LISTING, the package folder in app/config.ts) finds the same one from a chunk as
// from its folder under dist/src/. Packages stay imports (kysely resolves to the build's own
// bundle, dist/node_modules/kysely). bundle-meta.json lists each chunk's modules, for
// test/cold-start-modules.test.ts. The rest of dist/ (tsc's output) stays as it is; without
// esbuild (a devDependency) the step is skipped and the bin runs tsc's output.
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const dist = path.join(path.dirname(fileURLToPath(import.meta.url)), "..", "dist");
const outdir = path.join(dist, "src", "cli");
const PREFIX = "bundle-";

let esbuild;
try {
  esbuild = await import("esbuild");
} catch {
  process.stderr.write("bundle-server: esbuild not installed; the bin runs tsc's output\n");
  process.exit(0);
}

const entry = path.join(outdir, "cli.js");
if (fs.readFileSync(entry, "utf8").includes(`"./${PREFIX}`)) {
  process.stderr.write("bundle-server: dist/src/cli/cli.js is already a bundle; run tsc first (npm run build does)\n");
  process.exit(1);
}
// A previous bundle's chunks (the entry itself is tsc's fresh output).
for (const f of fs.readdirSync(outdir)) if (f.startsWith(PREFIX)) fs.rmSync(path.join(outdir, f));

const result = await esbuild.build({
  entryPoints: [entry],
  outdir,
  allowOverwrite: true,
  bundle: true,
  splitting: true,
  format: "esm",
  platform: "node",
  target: "node20",
  packages: "external",
  chunkNames: `${PREFIX}[name]-[hash]`,
  // tsc's source maps are read and carried through, so a stack mapped by --enable-source-maps names src/.
  sourcemap: "linked",
  metafile: true,
  logLevel: "warning",
});

const fromDist = (p) => path.relative(dist, path.resolve(p)).split(path.sep).join("/");
const chunks = {};
for (const [file, out] of Object.entries(result.metafile.outputs)) {
  if (file.endsWith(".map")) continue;
  chunks[fromDist(file)] = Object.keys(out.inputs).map(fromDist).sort();
}
fs.writeFileSync(path.join(outdir, `${PREFIX}meta.json`), `${JSON.stringify(chunks, null, 2)}\n`);
