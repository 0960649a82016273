/**
 * The proxy's per-process state: one undici Agent (a connection pool per provider origin, reused by
 * every call), the per-connector concurrency slots, and the batched writer of call records.
 *
 * undici is imported at the first proxied call, not at start: loading it is a large share of a
 * stdio server's cold start (issue 14), and most sessions never proxy a call.
 */
import type { Dispatcher, request } from "undici";
import { ConnectorError } from "../common/errors.js";
import type { Logger } from "../common/log.js";
import type { CredentialDeps } from "../credentials/deps.js";
import { type CallRecord, callRecordId, insertCallRecords, purgeCallRecords } from "../store/calls.js";
import type { DB } from "../store/db.js";

/** Call records are kept this long, then purged (by the recorder, at most once an hour). */
export const CALL_RETENTION_MS = 30 * 86_400_000;
const PURGE_EVERY_MS = 3_600_000;
/** A flush writes at most this many records per statement; a queue this long is written at once. */
const BATCH = 200;
/** Queued records are written this long after the first of them at the latest. */
const FLUSH_EVERY_MS = 1000;

export interface ProxyOptions {
  /** Concurrent proxied calls per connector (TENEX_PROXY_CONCURRENCY, default 8). */
  concurrency: number;
  /** Calls that may wait for a slot per connector beyond `concurrency`; more are refused (`rate_limited`). */
  maxQueued?: number;
  /** The raw REST proxy's ceiling on a response's bytes (TENEX_PROXY_STREAM_MAX_BYTES, default 100 MiB). */
  streamMaxBytes: number;
  /** How long a provider has to answer (and call_connector to read its body): 30 s. */
  timeoutMs?: number;
}

/** Per-connector concurrency: `concurrency` calls run, up to `maxQueued` wait in order, more are refused. */
export class ConnectorSlots {
  private readonly active = new Map<string, number>();
  private readonly queues = new Map<string, Array<() => void>>();

  constructor(
    readonly concurrency: number,
    readonly maxQueued: number,
  ) {}

  /** Wait for a slot of this connector; the function returned gives it back (call it exactly once). */
  async acquire(connectorId: string, signal?: AbortSignal): Promise<() => void> {
    const running = this.active.get(connectorId) ?? 0;
    if (running < this.concurrency) {
      this.active.set(connectorId, running + 1);
      return this.releaser(connectorId);
    }
    const queue = this.queues.get(connectorId) ?? [];
    if (queue.length >= this.maxQueued) {
      throw new ConnectorError(
        "rate_limited",
        `Connector ${connectorId} already has ${this.concurrency} calls running and ${queue.length} waiting; wait for some to finish and retry (an operator can raise TENEX_PROXY_CONCURRENCY).`,
        { retryable: true },
      );
    }
    this.queues.set(connectorId, queue);
    await new Promise<void>((resolve, reject) => {
      const turn = () => {
        signal?.removeEventListener("abort", onAbort);
        resolve();
      };
      const onAbort = () => {
        const i = queue.indexOf(turn);
        if (i >= 0) queue.splice(i, 1);
        reject(new ConnectorError("provider_error", "The call was cancelled while it waited for a free slot."));
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      queue.push(turn);
    });
    return this.releaser(connectorId);
  }

  /** Calls running now for this connector (for tests and the bench). */
  running(connectorId: string): number {
    return this.active.get(connectorId) ?? 0;
  }

  /** Calls waiting for a slot of this connector. */
  waiting(connectorId: string): number {
    return this.queues.get(connectorId)?.length ?? 0;
  }

  private releaser(connectorId: string): () => void {
    let done = false;
    return () => {
      if (done) return;
      done = true;
      const next = this.queues.get(connectorId)?.shift();
      if (next) return next(); // the slot passes to the next caller as it is
      if (this.queues.get(connectorId)?.length === 0) this.queues.delete(connectorId);
      const n = (this.active.get(connectorId) ?? 1) - 1;
      if (n <= 0) this.active.delete(connectorId);
      else this.active.set(connectorId, n);
    };
  }
}

/**
 * Call records written off the hot path: `record` only queues; the queue is written in one insert
 * per batch within a second (or at once when 200 are queued), after the responses went out. `flush`
 * writes what is queued now (get_connector_status calls it first, so a call is always in recent_calls
 * after it returned; shutdown calls it too). A crash loses at most the last second's records.
 */
export class CallRecorder {
  private queue: Array<CallRecord & { id: string }> = [];
  private scheduled = false;
  private writing: Promise<void> = Promise.resolve();
  private lastPurge = 0;
  /** Writes chained on `writing` that have not finished. */
  private running = 0;

  constructor(private readonly deps: { db: DB; clock: () => number; log: Logger }) {}

  record(r: CallRecord): void {
    this.queue.push({ ...r, id: callRecordId(Date.parse(r.at)) });
    if (this.queue.length >= BATCH) {
      void this.flush();
      return;
    }
    if (this.scheduled) return;
    this.scheduled = true;
    // A commit is about 1 ms with synchronous=FULL (more on a busy disk) and blocks the process: once a
    // second at most, however many calls ran, never once per call.
    setTimeout(() => {
      this.scheduled = false;
      void this.flush();
    }, FLUSH_EVERY_MS).unref();
  }

  /** True when nothing is queued, no write is running and no purge is due: `flush` would have nothing to do. */
  get idle(): boolean {
    return this.queue.length === 0 && this.running === 0 && this.deps.clock() - this.lastPurge < PURGE_EVERY_MS;
  }

  /** Write everything queued so far (and purge old records at most once an hour); never throws. */
  flush(): Promise<void> {
    // Nothing queued and no purge due: nothing to wait for but a write already running (get_connector_status reads often).
    if (this.queue.length === 0 && this.deps.clock() - this.lastPurge < PURGE_EVERY_MS) return this.writing;
    const batch = this.queue;
    this.queue = [];
    this.running++;
    this.writing = this.writing.then(async () => {
      try {
        for (let i = 0; i < batch.length; i += BATCH) await insertCallRecords(this.deps.db, batch.slice(i, i + BATCH));
        const now = this.deps.clock();
        if (now - this.lastPurge >= PURGE_EVERY_MS) {
          this.lastPurge = now;
          await purgeCallRecords(this.deps.db, new Date(now - CALL_RETENTION_MS).toISOString());
        }
      } catch (err) {
        this.deps.log.warn("call records could not be written", { count: batch.length, error: err });
      } finally {
        this.running--;
      }
    });
    return this.writing;
  }
}

/** undici's `request` and the one Agent every provider shares (undici keeps a pool of connections per origin). */
export interface ProxyHttp {
  request: typeof request;
  dispatcher: Dispatcher;
}

export interface ProxyEngine {
  /** undici and the Agent, loaded and made at the first call. */
  http(): Promise<ProxyHttp>;
  slots: ConnectorSlots;
  recorder: CallRecorder;
  timeoutMs: number;
  streamMaxBytes: number;
  /** What the raw proxy held at most in one response's redaction window (bytes), for tests and the bench. */
  stats: { maxStreamHeldBytes: number };
  close(): Promise<void>;
}

/** What proxied calls need: credentials and the proxy engine. */
export interface ProxyDeps extends CredentialDeps {
  proxy: ProxyEngine;
}

export function createProxyEngine(deps: { db: DB; clock: () => number; log: Logger }, opts: ProxyOptions): ProxyEngine {
  const timeoutMs = opts.timeoutMs ?? 30_000;
  let loading: Promise<ProxyHttp> | undefined;
  const http = () =>
    (loading ??= import("undici").then(({ Agent, request }) => ({
      request,
      dispatcher: new Agent({ headersTimeout: timeoutMs, bodyTimeout: timeoutMs, keepAliveTimeout: 30_000, connections: 64 }),
    })));
  const recorder = new CallRecorder(deps);
  return {
    http,
    slots: new ConnectorSlots(opts.concurrency, opts.maxQueued ?? opts.concurrency * 4),
    recorder,
    timeoutMs,
    streamMaxBytes: opts.streamMaxBytes,
    stats: { maxStreamHeldBytes: 0 },
    close: async () => {
      await recorder.flush();
      const loaded = await loading?.catch(() => undefined);
      if (!loaded) return;
      const { dispatcher } = loaded;
      // Let calls still running finish for a moment, then cut them: shutdown must not hang on a slow provider.
      let timer: NodeJS.Timeout | undefined;
      const cut = new Promise<void>((resolve) => {
        timer = setTimeout(() => resolve(dispatcher.destroy().catch(() => undefined)), 5_000);
        timer.unref();
      });
      await Promise.race([dispatcher.close(), cut]);
      clearTimeout(timer);
    },
  };
}
