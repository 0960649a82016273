import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Spawned servers and local OAuth servers: keep parallelism modest on a 2-core machine.
    maxWorkers: 2,
    // expect.poll waits for an event, not for a duration: poll often, give up late.
    expect: { poll: { timeout: 10_000, interval: 10 } },
  },
});
