import type { Logger } from "../common/log.js";

/** One thing to close at shutdown, named for the log if closing it fails. */
export interface ShutdownStep {
  what: string;
  close: () => Promise<void>;
}

/**
 * The shutdown of a serving process (stdio and HTTP alike): once only, closes each part in order,
 * logs (never swallows) a part that fails to close and goes on with the next, then exits 0.
 * Wired to SIGINT and SIGTERM here; the caller adds its own triggers (stdin closing).
 */
export function onShutdown(
  log: Logger,
  steps: ShutdownStep[],
  opts: { message?: string; exit?: (code: number) => void } = {},
): (why: string) => Promise<void> {
  let closing = false;
  const shutdown = async (why: string) => {
    if (closing) return;
    closing = true;
    log.info(opts.message ?? "shutting down", { why });
    for (const step of steps) {
      await step.close().catch((err: unknown) => log.error(`${step.what} failed`, { error: err }));
    }
    log.info("stopped");
    (opts.exit ?? process.exit)(0);
  };
  process.on("SIGINT", () => void shutdown("SIGINT"));
  process.on("SIGTERM", () => void shutdown("SIGTERM"));
  return shutdown;
}
