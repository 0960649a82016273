// Workspace names cannot shadow ids: `--workspace ID_OR_NAME` always means the id when one matches.
import { spawnSync } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type OpenedDatabase, openDatabase } from "../src/store/db.js";
import { createWorkspace, findWorkspace, LOCAL_WORKSPACE_ID } from "../src/store/workspaces.js";
import { testDatabase, testDatabaseEnv } from "./support/database.js";
import { CLI, ROOT, tempDir } from "./support/stdio.js";

const now = () => new Date().toISOString();

describe("workspace names and ids", () => {
  let database: OpenedDatabase;
  let dir: string;
  beforeAll(async () => {
    dir = tempDir("tenex-ws-");
    database = await openDatabase(testDatabase(dir));
  });
  afterAll(async () => {
    await database?.close();
  });

  it("refuses a name that looks like a workspace id", async () => {
    for (const name of [LOCAL_WORKSPACE_ID, "ws_abc12345", "WS_Local"]) {
      await expect(createWorkspace(database.db, name, now()), name).rejects.toMatchObject({
        code: "invalid_input",
        message: expect.stringContaining('"ws_"'),
      });
    }
    const ws = await createWorkspace(database.db, "news_team", now());
    expect(ws.name).toBe("news_team");
    expect(await findWorkspace(database.db, "news_team")).toEqual(ws);
  });

  it("matches the id first, even against a name stored before names were checked", async () => {
    const target = await createWorkspace(database.db, "target", now());
    // A row as an older version could have written it: its name is another workspace's id.
    // (The old `id = ? OR name = ?` query found the id first only by the planner's choice.)
    await database.db.insertInto("workspaces").values({ id: "ws_0legacy", name: target.id, created_at: now() }).execute();
    expect(await findWorkspace(database.db, target.id)).toEqual(target);
    expect(await findWorkspace(database.db, LOCAL_WORKSPACE_ID)).toMatchObject({ id: LOCAL_WORKSPACE_ID });
    expect(await findWorkspace(database.db, "ws_0legacy")).toEqual({ id: "ws_0legacy", name: target.id });
    await expect(findWorkspace(database.db, "nobody")).rejects.toMatchObject({ code: "not_found" });
  });

  it("`workspaces create ws_local` fails on stderr with a non-zero exit", () => {
    const r = spawnSync(process.execPath, [CLI, "workspaces", "create", "ws_local"], {
      env: { PATH: process.env.PATH ?? "", ...testDatabaseEnv(dir, "cli.db") },
      cwd: ROOT,
      encoding: "utf8",
    });
    expect(r.status).toBe(1);
    expect(r.stdout).toBe("");
    expect(r.stderr).toContain('cannot start with "ws_"');
  });
});
