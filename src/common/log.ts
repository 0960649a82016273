/**
 * Structured logging to stderr (stdout belongs to JSON-RPC in stdio mode). Secrets are
 * redacted here, at the logger, so a careless call site cannot leak one.
 */
export type LogLevel = "debug" | "info" | "warn" | "error";
const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
}

const SECRET_KEY = /(secret|token|password|verifier|api[_-]?key|authorization|cookie|code$|^code|master|ciphertext)/i;

/** Mask credentials that may hide inside free text. */
export function redactText(s: string): string {
  return (
    s
      .replace(/Bearer\s+[A-Za-z0-9._~+/=-]+/gi, "Bearer [redacted]")
      .replace(/tnx_[A-Za-z0-9_-]+/g, "tnx_[redacted]")
      // The password of a URL with credentials (a TENEX_DB postgres:// URL in an error message).
      .replace(/\b([a-z][a-z0-9+.-]*:\/\/[^:/?#@\s]*):[^@/?#\s]*@/gi, "$1:[redacted]@")
      .replace(/((?:access|refresh|id)_token|client_secret|code_verifier|code|api_key|password)=([^&\s"']+)/gi, "$1=[redacted]")
      .replace(
        /("?(?:access|refresh|id)_token"?|"?client_secret"?|"?code_verifier"?|"?api_key"?|"?password"?)(\s*:\s*)("[^"]*"|[^\s,}]+)/gi,
        '$1$2"[redacted]"',
      )
  );
}

/** Deep copy with secret-looking fields masked. */
export function redact(value: unknown, depth = 0): unknown {
  if (depth > 6) return "[deep]";
  if (typeof value === "string") return redactText(value);
  if (Array.isArray(value)) return value.map((v) => redact(v, depth + 1));
  if (value instanceof Error) return { name: value.name, message: redactText(value.message) };
  if (value && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = SECRET_KEY.test(k) ? "[redacted]" : redact(v, depth + 1);
    return out;
  }
  return value;
}

export function createLogger(opts: { level?: LogLevel; write?: (line: string) => void } = {}): Logger {
  const min = ORDER[opts.level ?? "info"];
  const write = opts.write ?? ((line: string) => process.stderr.write(`${line}\n`));
  const emit = (level: LogLevel, msg: string, fields?: Record<string, unknown>) => {
    if (ORDER[level] < min) return;
    const rec = { time: new Date().toISOString(), level, msg: redactText(msg), ...(fields ? (redact(fields) as object) : {}) };
    write(JSON.stringify(rec));
  };
  return {
    debug: (m, f) => emit("debug", m, f),
    info: (m, f) => emit("info", m, f),
    warn: (m, f) => emit("warn", m, f),
    error: (m, f) => emit("error", m, f),
  };
}

/**
 * Log a promise rejection nobody handled (stderr, redacted) instead of letting Node end the
 * server over it. Such a rejection is a bug in a background task (a sweep, a notifier); the
 * request paths have their own error boundaries, so serving on is the better failure.
 */
export function logUnhandledRejections(log: Logger, proc: Pick<NodeJS.Process, "on"> = process): void {
  proc.on("unhandledRejection", (reason: unknown) => {
    log.error("unhandled promise rejection in a background task; still serving", {
      error: reason,
      ...(reason instanceof Error && reason.stack ? { stack: reason.stack } : {}),
    });
  });
}
