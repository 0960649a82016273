/**
 * The one sanitiser for what a provider says when it refuses something.
 *
 * Providers put arbitrary text in `error`, `error_description` and error bodies; a provider
 * (or anything in between) may echo the request back, client secret, code, PKCE verifier and
 * refresh token included, or write instructions aimed at the model. So nothing a provider
 * wrote reaches a tool result, a page, a log line or the database as free text: OAuth errors
 * keep only a registered error code (anything else becomes `other`), `error_description` is
 * never used, and API errors keep the HTTP status plus a short code-shaped word.
 */
import { bodyTooLarge } from "./bounded-body.js";
import { openidIfLoaded } from "./openid.js";

/**
 * Error codes registered for OAuth 2.0 and OpenID Connect (RFC 6749 §4.1.2.1 and §5.2,
 * RFC 6750, RFC 7009, RFC 8628, RFC 8693/8707, RFC 9449, OpenID Connect Core §3.1.2.6).
 */
export const OAUTH_ERROR_CODES: ReadonlySet<string> = new Set([
  "invalid_request",
  "invalid_client",
  "invalid_grant",
  "unauthorized_client",
  "unsupported_grant_type",
  "invalid_scope",
  "access_denied",
  "unsupported_response_type",
  "server_error",
  "temporarily_unavailable",
  "unsupported_token_type",
  "invalid_token",
  "insufficient_scope",
  "invalid_target",
  "authorization_pending",
  "slow_down",
  "expired_token",
  "invalid_dpop_proof",
  "use_dpop_nonce",
  "interaction_required",
  "login_required",
  "account_selection_required",
  "consent_required",
  "invalid_request_uri",
  "invalid_request_object",
  "request_not_supported",
  "request_uri_not_supported",
  "registration_not_supported",
]);

/** A registered OAuth error code, or `other` for anything a provider made up (or echoed). */
export function oauthErrorCode(value: unknown): string {
  return typeof value === "string" && OAUTH_ERROR_CODES.has(value) ? value : "other";
}

/**
 * Thrown by provider hooks (Meta's token exchange, Webflow's and Meta's revocation) when the
 * provider answers with an error: only the status and a numeric provider code travel on.
 */
export class ProviderHttpError extends Error {
  readonly status: number;
  readonly providerCode: number | undefined;

  constructor(what: string, status: number, providerCode?: unknown) {
    const code =
      typeof providerCode === "number" && Number.isInteger(providerCode) && providerCode >= 0 && providerCode < 1e6
        ? providerCode
        : undefined;
    super(`${what} answered HTTP ${status}${code === undefined ? "" : ` (code ${code})`}`);
    this.name = "ProviderHttpError";
    this.status = status;
    this.providerCode = code;
  }
}

/** Library error codes (openid-client / oauth4webapi constants) are upper-case identifiers. */
const LIBRARY_CODE = /^[A-Z][A-Z0-9_]{0,59}$/;

/** Why a network call failed, from the error's type (never from a provider's text). */
export function networkFailure(err: unknown): "timed out" | "network error" {
  const name = (err as { name?: unknown } | null)?.name;
  return name === "TimeoutError" || name === "AbortError" ? "timed out" : "network error";
}

/** A failed call to a provider's OAuth endpoints, in words safe for any audience. */
export interface ProviderFailure {
  /** HTTP status, when the provider answered. */
  status?: number;
  /** A registered OAuth error code or `other`, when the provider sent one. */
  code?: string;
  /** Short text: "400 invalid_grant", "HTTP 503", "network error", … */
  text: string;
}

/**
 * Describe an error from a token, revocation or authorization response (openid-client), a
 * provider hook, or the network, without any text the provider wrote.
 */
export function describeProviderFailure(err: unknown): ProviderFailure {
  const big = bodyTooLarge(err);
  if (big) return { text: big.short };
  // Not loaded yet: the error cannot be one of openid-client's.
  const client = openidIfLoaded();
  if (client && err instanceof client.ResponseBodyError) {
    const code = oauthErrorCode(err.error);
    return { status: err.status, code, text: `${err.status} ${code}` };
  }
  if (client && err instanceof client.AuthorizationResponseError) {
    const code = oauthErrorCode(err.error);
    return { code, text: code };
  }
  if (client && err instanceof client.WWWAuthenticateChallengeError)
    return { status: err.status, text: `HTTP ${err.status} with an authentication challenge` };
  if (err instanceof ProviderHttpError)
    return { status: err.status, text: `HTTP ${err.status}${err.providerCode === undefined ? "" : ` (code ${err.providerCode})`}` };
  const cause = (err as { cause?: unknown } | null)?.cause;
  if (cause instanceof Response) return { status: cause.status, text: `HTTP ${cause.status}` };
  if (client && err instanceof client.ClientError) {
    const code = typeof err.code === "string" && LIBRARY_CODE.test(err.code) ? err.code : "unknown";
    return { text: `invalid response (${code})` };
  }
  return { text: networkFailure(err) };
}

/** A short code-shaped word an API error body may carry: `invalid_api_key`, `UNAUTHENTICATED`, `Unauthorized`, `190`. */
const API_CODE = /^(?:[a-z][a-z0-9]*|[A-Z][A-Z0-9]*|[A-Z][a-z]+)(?:[_.-](?:[a-z0-9]+|[A-Z0-9]+|[A-Z][a-z]+))*$|^[0-9]{1,6}$/;
/** Words that say nothing beyond the HTTP status. */
const GENERIC = new Set(["error", "errors", "fail", "failed", "failure", "false", "true", "null", "ok"]);
const CODE_FIELDS = ["error", "error_code", "errorCode", "code", "category", "type", "reason", "status"];

function pickCode(body: unknown, status: number, credential: string | undefined, depth: number): string | null {
  if (depth > 2 || body === null || typeof body !== "object") return null;
  if (Array.isArray(body)) return pickCode(body[0], status, credential, depth + 1);
  const b = body as Record<string, unknown>;
  for (const k of CODE_FIELDS) {
    const v = b[k];
    const s = typeof v === "string" ? v : typeof v === "number" && Number.isInteger(v) ? String(v) : null;
    if (s !== null && s !== String(status) && isSafeCode(s, credential)) return s;
  }
  for (const k of ["error", "errors"]) {
    const nested = pickCode(b[k], status, credential, depth + 1);
    if (nested) return nested;
  }
  return null;
}

function isSafeCode(s: string, credential: string | undefined): boolean {
  if (s.length < 1 || s.length > 40 || !API_CODE.test(s) || GENERIC.has(s.toLowerCase())) return false;
  // A code-shaped fragment of the credential itself is not a code.
  if (credential && s.length >= 4 && credential.toLowerCase().includes(s.toLowerCase())) return false;
  return true;
}

/**
 * What may be said about a provider API's error response: `HTTP <status>`, plus the body's
 * short error code when it has a recognisable one (never its message, description or any
 * other free text, which could carry the credential or instructions aimed at the model).
 */
export function apiErrorSummary(status: number, body: unknown, credential?: string): string {
  const code = pickCode(body, status, credential, 0);
  return code ? `HTTP ${status} ${code}` : `HTTP ${status}`;
}
