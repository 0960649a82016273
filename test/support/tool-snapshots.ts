// Per-tool snapshot files of the MCP tool listing (test/__snapshots__/tools/<name>.json): a
// contract change is a visible diff in the one file of the tool that changed. Compared exactly;
// regenerate after a deliberate change with `UPDATE_TOOLSNAPS=1 npx vitest run test/tools.test.ts`.
import fs from "node:fs";
import path from "node:path";
import type { Tool } from "@modelcontextprotocol/sdk/types.js";
import { expect } from "vitest";
import { ROOT } from "./stdio.js";

export const TOOL_SNAPSHOTS = path.join(ROOT, "test/__snapshots__/tools");
export const UPDATE_TOOL_SNAPSHOTS = process.env.UPDATE_TOOLSNAPS === "1";

export const toolSnapshotFile = (name: string) => path.join(TOOL_SNAPSHOTS, `${name}.json`);

/** The snapshot files there are, by tool name. */
export function toolSnapshotNames(): string[] {
  if (!fs.existsSync(TOOL_SNAPSHOTS)) return [];
  return fs
    .readdirSync(TOOL_SNAPSHOTS)
    .filter((f) => f.endsWith(".json"))
    .map((f) => f.replace(/\.json$/, ""));
}

/** The listing of one tool equals its snapshot file, byte for byte (or rewrites it under UPDATE_TOOLSNAPS=1). */
export function expectToolSnapshot(tool: Tool): void {
  const file = toolSnapshotFile(tool.name);
  const text = `${JSON.stringify(tool, null, 2)}\n`;
  if (UPDATE_TOOL_SNAPSHOTS) {
    fs.mkdirSync(TOOL_SNAPSHOTS, { recursive: true });
    fs.writeFileSync(file, text);
    return;
  }
  const how = "review the change, then run UPDATE_TOOLSNAPS=1 npx vitest run test/tools.test.ts";
  expect(fs.existsSync(file), `${path.relative(ROOT, file)} is missing: ${how}`).toBe(true);
  const stored = fs.readFileSync(file, "utf8");
  expect(JSON.parse(text), `${tool.name}'s listing differs from ${path.relative(ROOT, file)}: ${how}`).toEqual(JSON.parse(stored));
  expect(text, `${path.relative(ROOT, file)} is not formatted as written: ${how}`).toBe(stored);
}
