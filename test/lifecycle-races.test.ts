// Regressions: disable/enable decide from a read that no other connection can overtake before
// their write (a revoke or a finishing callback committed from another connection in between was
// overwritten); reconnecting in place after the link lapsed works without anything reading the
// connector first; a reconnected connector's earlier, long-finished grant does not keep it pending.
//
// The interleaving is deterministic: the lifecycle function runs with a context whose clock, the
// first time it is read (which is after the decision's read: nowIso for the write), commits the
// other writer's change from a second SQLite connection on the same file (busy_timeout 0). When
// that connection finds the write lock held, the two are serialized and the change is applied
// after the call returns, as the other process would once the lock is released.
import SQLite from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Context } from "../src/app/context.js";
import { disableConnector, enableConnector } from "../src/connectors/pause.js";
import { GRANT_TTL_MS } from "../src/store/grants.js";
import { LOCAL_WORKSPACE_ID } from "../src/store/workspaces.js";
import { consentOverHttp } from "./sandbox/consent.js";
import type { HubSpotSandbox } from "./sandbox/hubspot.js";
import { type Harness, movableClock, startHubSpotHarness } from "./support/harness.js";

let sandbox: HubSpotSandbox;
let h: Harness;
let other: SQLite.Database;
const { advance } = movableClock(() => h);

beforeAll(async () => {
  ({ sandbox, h } = await startHubSpotHarness());
  other = new SQLite(h.dbPath);
  other.pragma("busy_timeout = 0");
});
afterAll(async () => {
  other?.close();
  await h?.close();
  await sandbox?.close();
});

/** Run `fn` with a context that lets `write` (another connection's commit) in at its first clock read. */
async function interleaved<T>(fn: (ctx: Context) => Promise<T>, write: () => void): Promise<{ result: T | Error; serialized: boolean }> {
  let fired = false;
  let serialized = false;
  const ctx: Context = {
    ...h.ctx,
    clock: () => {
      if (!fired) {
        fired = true;
        try {
          write();
        } catch (err) {
          if ((err as { code?: string }).code !== "SQLITE_BUSY") throw err;
          serialized = true;
        }
      }
      return h.ctx.clock();
    },
  };
  const result = await fn(ctx).catch((err: Error) => err);
  expect(fired).toBe(true);
  if (serialized) write(); // the other connection got the lock once the call released it
  return { result, serialized };
}

/** What revoke_connector commits: grants and secrets gone, status revoked. */
const revokeFromOtherConnection = (id: string) => () =>
  other.transaction(() => {
    other.prepare("delete from oauth_grants where connector_id = ?").run(id);
    other.prepare("delete from connector_secrets where connector_id = ?").run(id);
    other.prepare("update connectors set status = 'revoked', status_detail = 'revoked: elsewhere' where id = ?").run(id);
  })();

const secretRows = (id: string) =>
  (other.prepare("select count(*) as n from connector_secrets where connector_id = ?").get(id) as { n: number }).n;
const statusOf = (id: string) =>
  other.prepare("select status, status_before_disable from connectors where id = ?").get(id) as {
    status: string;
    status_before_disable: string | null;
  };

describe("disable and enable against a concurrent writer", () => {
  it("enable does not undo a revoke committed between its read and its write", async () => {
    const { connector_id } = await h.connect("hubspot", {}, "race-enable");
    await h.ok("disable_connector", { connector_id });
    const { result, serialized } = await interleaved(
      (ctx) => enableConnector(ctx, LOCAL_WORKSPACE_ID, connector_id),
      revokeFromOtherConnection(connector_id),
    );
    // Never connected without credentials: the revoke is not overwritten.
    expect(statusOf(connector_id).status).toBe("revoked");
    expect(secretRows(connector_id)).toBe(0);
    expect(serialized).toBe(true);
    expect(result).toMatchObject({ status: "connected" }); // enabled first, then revoked
    expect((await h.fail("enable_connector", { connector_id })).code).toBe("invalid_state");
  });

  it("disable does not turn a connector revoked between its read and its write into a disabled one", async () => {
    const { connector_id } = await h.connect("hubspot", {}, "race-disable");
    const { serialized } = await interleaved(
      (ctx) => disableConnector(ctx, LOCAL_WORKSPACE_ID, connector_id),
      revokeFromOtherConnection(connector_id),
    );
    expect(statusOf(connector_id).status).toBe("revoked");
    expect(serialized).toBe(true);
    expect((await h.fail("enable_connector", { connector_id })).code).toBe("invalid_state");
  });

  it("disable records the status it actually replaced when a callback connects the pending connector meanwhile", async () => {
    const { connector_id } = await h.ok("start_connector_oauth", { provider: "hubspot" });
    let callbackConnected = 0;
    // The callback's final write, guarded on pending as settlePending is.
    const callback = () => {
      callbackConnected = other
        .prepare("update connectors set status = 'connected', status_detail = null where id = ? and status = 'pending'")
        .run(connector_id).changes;
    };
    const { serialized } = await interleaved((ctx) => disableConnector(ctx, LOCAL_WORKSPACE_ID, connector_id), callback);
    // Whichever committed first, status_before_disable is the status the disable replaced.
    const after = statusOf(connector_id);
    expect(after.status).toBe("disabled");
    expect(after.status_before_disable).toBe(callbackConnected === 1 && !serialized ? "connected" : "pending");
    // Here the disable held the lock: the late callback found the connector no longer pending and changed nothing.
    expect(serialized).toBe(true);
    expect(callbackConnected).toBe(0);
  });
});

describe("reconnecting after the authorization link lapsed", () => {
  it("reconnects a connector whose link expired without anything reading it first", async () => {
    const { connector_id } = await h.ok("start_connector_oauth", { provider: "hubspot" });
    advance(GRANT_TTL_MS + 1_000);
    // No get_connector_status / list_connectors in between: the row still says pending.
    expect(statusOf(connector_id).status).toBe("pending");
    const again = await h.call("start_connector_oauth", { provider: "hubspot", connector_id });
    expect(again.connector_id).toBe(connector_id);
    const { callbackUrl, cookie } = await consentOverHttp(again.authorization_url, { login: "lapsed", redirectPrefix: h.redirectUri });
    expect((await fetch(callbackUrl, { headers: { cookie } })).status).toBe(200);
    expect((await h.ok("get_connector_status", { connector_id })).status).toBe("connected");
  });

  it("settles a reconnected connector whose new link lapsed; its earlier finished grant does not keep it pending", async () => {
    const { connector_id } = await h.connect("hubspot", {}, "twice");
    sandbox.oauth.failNextTokenCalls(1, 400, { error: "invalid_grant" });
    await h.fail("refresh_connector", { connector_id });
    expect((await h.ok("get_connector_status", { connector_id })).status).toBe("expired");

    await h.ok("start_connector_oauth", { provider: "hubspot", connector_id });
    expect(await h.ctx.db.selectFrom("oauth_grants").select("used_at").where("connector_id", "=", connector_id).execute()).toHaveLength(2);
    advance(GRANT_TTL_MS + 60_000);
    const s = await h.ok("get_connector_status", { connector_id });
    expect(s.status).toBe("error");
    expect(s.status_reason).toBe("state_expired");
    expect(s.status_detail).toMatch(/^The authorization link expired/);
  });
});
