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
  "internal",
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

/**
 * A failure the caller can act on. The message is written for the model and the person:
 * it never carries a secret or a raw provider body.
 */
export class ConnectorError extends Error {
  readonly code: ErrorCode;
  readonly hint: string | undefined;
  readonly retryable: boolean;

  constructor(code: ErrorCode, message: string, opts: { hint?: string; retryable?: boolean; cause?: unknown } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = "ConnectorError";
    this.code = code;
    this.hint = opts.hint;
    this.retryable = opts.retryable ?? false;
  }
}

export function isConnectorError(err: unknown): err is ConnectorError {
  return err instanceof ConnectorError;
}
