import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 30_000,
    // Hooks start servers, sandboxes and processes: their timeout only catches a hang, and must be
    // longer than a start-up wait (OUTPUT_WAIT_MS, 60 s, in test/support/stdio.ts) so that wait's
    // error, with the process's output, is what a hang shows.
    hookTimeout: 90_000,
    // Spawned servers and local OAuth servers: keep parallelism modest on a 2-core machine.
    maxWorkers: 2,
    // expect.poll waits for an event, not for a duration: poll often, give up late.
    expect: { poll: { timeout: 10_000, interval: 10 } },
  },
});
