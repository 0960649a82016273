#!/usr/bin/env node
// The package's bin. It stays at this path because client configurations point at dist/src/cli.js; the CLI is src/main/cli.ts.
import { runCli } from "./main/cli.js";

runCli(process.argv.slice(2));
