/** The stable error codes of the public contract (DESIGN.md), plus `internal`. */
export const ERROR_CODES = [
  "invalid_input",
  "not_found",
  "unknown_provider",
  "provider_not_configured",
  "auth_type_unsupported",
  "role_not_allowed",
  "invalid_state",
  "state_expired",
  "consent_denied",
  "provider_error",
  "conflict",
  "quota_exceeded",
  // Declared for the contract only: nothing raises it yet. The per-key rate limiter that answers it
  // (TENEX_RATE_LIMIT, REST 429 with Retry-After) lands with the protocol work's transport.
  "rate_limited",
  "internal",
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

/** Failures of the HTTP transport itself, before any tool runs (HTTP mode only). */
export const TRANSPORT_ERROR_CODES = [
  "unauthorized",
  "forbidden",
  "method_not_allowed",
  "payload_too_large",
  "unsupported_media_type",
  "unavailable",
] as const;

export type TransportErrorCode = (typeof TRANSPORT_ERROR_CODES)[number];

/**
 * The one table of HTTP statuses, for tool codes and transport codes alike: the REST API, every
 * transport error, the OpenAPI document and the README read it. `note` says when a code is used,
 * where the name alone does not.
 */
export const HTTP_STATUS: Record<ErrorCode | TransportErrorCode, { status: number; note?: string }> = {
  invalid_input: { status: 400 },
  unknown_provider: { status: 400 },
  auth_type_unsupported: { status: 400 },
  role_not_allowed: { status: 400 },
  unauthorized: { status: 401, note: "missing, malformed, unknown or revoked key" },
  forbidden: { status: 403, note: "Host or Origin not allowed" },
  not_found: { status: 404, note: "also: a connector of another workspace, an unknown tool, or no such route" },
  method_not_allowed: { status: 405 },
  conflict: { status: 409 },
  provider_not_configured: { status: 409 },
  invalid_state: { status: 409 },
  consent_denied: { status: 409 },
  quota_exceeded: { status: 409, note: "a workspace quota is full" },
  state_expired: { status: 410 },
  payload_too_large: { status: 413 },
  unsupported_media_type: { status: 415, note: "a body that is not `application/json`" },
  rate_limited: { status: 429, note: "retryable, with `Retry-After`; not raised yet" },
  internal: { status: 500 },
  provider_error: { status: 502 },
  unavailable: { status: 503, note: "shutting down, too many sessions" },
};

/** The HTTP status of an error code. */
export function httpStatusOf(code: ErrorCode | TransportErrorCode): number {
  return HTTP_STATUS[code].status;
}

/**
 * A failure the caller can act on. The message is written for the model and the person, and says
 * what to do next (there is no separate hint field: MCP clients show the text, so the advice
 * belongs there); it never carries a secret or a raw provider body.
 */
export class ConnectorError extends Error {
  readonly code: ErrorCode;
  readonly retryable: boolean;

  constructor(code: ErrorCode, message: string, opts: { retryable?: boolean; cause?: unknown } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = "ConnectorError";
    this.code = code;
    this.retryable = opts.retryable ?? false;
  }
}

export function isConnectorError(err: unknown): err is ConnectorError {
  return err instanceof ConnectorError;
}
