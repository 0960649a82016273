// Build step after tsc: the tools/list listing written to dist/tools/listing.json, so a fresh
// server's first tools/list reads it instead of converting every tool's zod schemas to JSON
// Schema (issue 14, cold start; src/transports/mcp-server.ts useBuiltListing). It is made by the
// built code itself (toolListing over the registry), so it is what the live listing would be;
// test/tool-listing-built.test.ts fails when the file and the sources part.
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const dist = path.join(path.dirname(fileURLToPath(import.meta.url)), "..", "dist");
const { builtListingFile, tools } = await import(pathToFileURL(path.join(dist, "tools", "index.js")).href);
const { toolListing } = await import(pathToFileURL(path.join(dist, "src", "transports", "mcp-server.js")).href);
fs.writeFileSync(builtListingFile, `${JSON.stringify(toolListing(tools))}\n`);
