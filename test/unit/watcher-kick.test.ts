/**
 * The watcher's answer to a commit announced while it is already checking (PostgreSQL's
 * LISTEN/NOTIFY): it checks again as soon as that check ends, not a poll interval later. The poll
 * interval here is an hour, so only the announcement can bring the second check.
 */
import { describe, expect, it } from "vitest";
import { ConnectorEvents } from "../../src/common/events.js";
import { createLogger } from "../../src/common/log.js";
import { ConnectorWatcher } from "../../src/grants/watcher.js";
import type { ChangeFeed } from "../../src/store/change-feed.js";
import { openDatabase } from "../../src/store/db.js";
import { createConnector } from "../../src/store/status.js";
import { newConnectorRow } from "../support/rows.js";

describe("connector watcher", () => {
  it("checks again at once when a commit is announced during a check", async () => {
    const opened = await openDatabase(":memory:");
    const events = new ConnectorEvents();
    const log = createLogger({ write: () => undefined });
    const deps = { db: opened.db, clock: () => Date.now(), log, events };
    // A pending connector: the checks find it still pending, so it stays watched.
    await createConnector(opened.db, deps, newConnectorRow("con_watched", "pending"), { move: "start", events: [] });
    let announce = () => {};
    let release = () => {};
    const firstCheckHeld = new Promise<void>((r) => (release = r));
    let checks = 0;
    let secondCheck = () => {};
    const secondCheckSeen = new Promise<void>((r) => (secondCheck = r));
    const feed: ChangeFeed = {
      async changed() {
        checks++;
        if (checks === 1) await firstCheckHeld;
        if (checks === 2) secondCheck();
        return true;
      },
      reset() {},
      onChange(listener) {
        announce = listener;
        return () => {};
      },
      async close() {},
    };
    const watcher = new ConnectorWatcher({ db: opened.db, events, log, feed }, 60 * 60 * 1000);
    try {
      watcher.watch("con_watched", () => {});
      // The first check starts only at the poll; an announcement starts it now.
      announce();
      expect(checks).toBe(1);
      // A second announcement while the first check is held: nothing runs yet.
      announce();
      expect(checks).toBe(1);
      release();
      await secondCheckSeen;
      expect(checks).toBe(2);
    } finally {
      watcher.close();
      await opened.close();
    }
  });
});
