#!/usr/bin/env node
// The package's bin. It stays at this path because client configurations point at dist/src/cli.js; the CLI is src/cli/cli.ts.
import { runCli } from "./cli/cli.js";

runCli(process.argv.slice(2));
