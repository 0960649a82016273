// Build step after tsc: the tools/list listing written as a module, dist/tools/listing.js, so a
// fresh server's first tools/list imports it instead of converting every tool's zod schemas to
// JSON Schema (issue 14, cold start; useBuiltListing in src/transports/mcp-server.ts). It is made
// by the built code itself (toolListing over the registry), so it is what the live listing would
// be; test/tool-listing-built.test.ts fails when the module and the sources part. A module rather
// than a JSON file: the module hook of test/cold-start-modules.test.ts sees the server load it.
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const dist = path.join(path.dirname(fileURLToPath(import.meta.url)), "..", "dist");
const { tools } = await import(pathToFileURL(path.join(dist, "tools", "index.js")).href);
const { BUILT_LISTING, toolListing } = await import(pathToFileURL(path.join(dist, "src", "transports", "mcp-server.js")).href);
const json = JSON.stringify(toolListing(tools));
// JSON.parse of a string literal: V8 reads it faster than the same object literal.
fs.writeFileSync(
  BUILT_LISTING,
  `// Written by scripts/build-listing.mjs from the registry: do not edit.\nexport default JSON.parse(${JSON.stringify(json)});\n`,
);
